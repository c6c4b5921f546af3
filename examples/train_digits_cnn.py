"""Train a small CNN of manualgrad modules (Conv2d → BatchNorm2d → ReLU → MaxPool2d, twice, then
AdaptiveAvgPool2d → Linear) on the bundled 8×8 digits.

Every convolution, batch norm and pooling backward is the hand-derived one. TensorBoard shows the
same health views as the MLP plus the BatchNorm-stabilised gradient norms of each conv layer.

Run: python examples/train_digits_cnn.py        then: tensorboard --logdir tb_logs
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
CHANNELS = (16, 32)     # conv channels per stage
BATCH = 32
EPOCHS = 15
LR = 3e-3               # Adam
# -------------------------------------------------------------------------------------------


def main(epochs=EPOCHS):
    torch.manual_seed(SEED)
    train, val, test = data.get_dataset("digits")
    model = models.cnn((1, 8, 8), 10, CHANNELS)
    trainer = Trainer(model, mopt.Adam(model.parameters(), lr=LR), mnn.CrossEntropyLoss(),
                      name="digits_cnn_example", hparams={"channels": str(CHANNELS), "lr": LR, "batch": BATCH})
    loader = DataLoader(train, batch_size=BATCH, shuffle=True, generator=torch.Generator().manual_seed(SEED))
    trainer.fit(loader, DataLoader(val, batch_size=512), epochs=epochs)
    metrics = trainer.evaluate(DataLoader(test, batch_size=512))
    print(f"test/loss {metrics['loss']:.4f}  test/acc {metrics['acc']:.4f}  run folder: {trainer.run_dir}")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=EPOCHS)
    main(p.parse_args().epochs)
