"""Train an MLP of manualgrad modules on the bundled UCI digits, from Python.

The same run as `manualgrad train` with its defaults, written out with the library's pieces:
data splits, a model whose every backward is hand-derived, a hand-written Adam, and the Trainer
(TensorBoard under tb_logs/digits_mlp_example/version_N, checkpoints, gradient health).

Run: python examples/train_digits_mlp.py        then: tensorboard --logdir tb_logs
"""

import argparse

import torch
from torch.utils.data import DataLoader

import manualgrad.nn as mnn
import manualgrad.optim as mopt
from manualgrad import data
from manualgrad.train import Trainer, models

# ---- config -------------------------------------------------------------------------------
SEED = 0
HIDDEN = (128, 64)      # hidden layer sizes
ACTIVATION = "relu"
DROPOUT = 0.0
BATCH_NORM = True       # Linear → BatchNorm1d → activation
BATCH = 32              # mini-batch size
EPOCHS = 30
LR = 1e-3               # Adam
CHECK_GRADS_EVERY = 200 # recompute the gradients with torch autograd every K steps
# -------------------------------------------------------------------------------------------


def run(config, name, lr, batch, epochs, **trainer_options):
    """Train the model ``config`` describes (``models.config``) on the digits with Adam, evaluate
    on the test split, print the figures. The config goes into the checkpoints, so
    ``manualgrad.train.load_model(".../best.pt")`` gives the model back; the hparams use the
    names ``manualgrad train`` uses, so these runs line up with the CLI's in the HPARAMS tab."""
    torch.manual_seed(SEED)
    model = models.build(config)
    train, val, test = data.get_dataset("digits")
    sizes = config.get("hidden", config.get("channels"))
    hparams = {"model": config["builder"], "hidden": ",".join(map(str, sizes)),
               **{k: config[k] for k in ("activation", "batch_norm", "dropout") if k in config}}
    trainer = Trainer(model, mopt.Adam(model.parameters(), lr=lr), mnn.CrossEntropyLoss(), name=name,
                      hparams=hparams, model_config=config, **trainer_options)  # + optimizer, lr, batch size
    loader = DataLoader(train, batch_size=batch, shuffle=True, generator=torch.Generator().manual_seed(SEED))
    metrics = trainer.fit(loader, DataLoader(val, batch_size=512), epochs=epochs,
                          test_loader=DataLoader(test, batch_size=512))
    print(f"test/loss {metrics['test/loss']:.4f}  test/acc {metrics['test/acc']:.4f}  run folder: {trainer.run_dir}")


def main(epochs=EPOCHS):
    config = models.config("mlp", (1, 8, 8), 10, hidden=HIDDEN, activation=ACTIVATION, dropout=DROPOUT,
                           batch_norm=BATCH_NORM)
    run(config, "digits_mlp_example", LR, BATCH, epochs, check_grads_every=CHECK_GRADS_EVERY)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=EPOCHS)
    main(p.parse_args().epochs)
