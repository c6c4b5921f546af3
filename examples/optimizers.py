"""Full-batch gradient descent vs mini-batch SGD vs momentum vs RMSprop vs Adam on the digits,
every update rule hand-written in manualgrad.optim.

Full-batch GD takes one exact step per epoch; mini-batch SGD takes many noisy ones; momentum
averages the steps (v ← μv + g, w ← w − ηv); RMSprop divides by a running RMS of the gradient;
Adam does both, bias-corrected. The table prints the validation loss after a few epochs and at
the end; in TensorBoard overlay `loss/val` of the runs under tb_logs/optimizers/ (choose the
`schedule/epoch` scalar or the "relative" x-axis: full-batch runs have one step per epoch).

Run: python examples/optimizers.py        then: tensorboard --logdir tb_logs/optimizers
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
EPOCHS = 20
EARLY = 3               # also report the validation loss after this many epochs
VARIANTS = {            # name: (batch size or None for the full batch, optimizer factory)
    "full-batch GD": (None, lambda p: mopt.SGD(p, lr=0.5)),
    "mini-batch SGD": (32, lambda p: mopt.SGD(p, lr=0.05)),
    "momentum": (32, lambda p: mopt.SGD(p, lr=0.05, momentum=0.9)),
    "RMSprop": (32, lambda p: mopt.RMSprop(p, lr=1e-3)),
    "Adam": (32, lambda p: mopt.Adam(p, lr=1e-3)),
}
# -------------------------------------------------------------------------------------------


def main(epochs=EPOCHS):
    train, val, _ = data.get_dataset("digits")
    val_loader = DataLoader(val, batch_size=512)
    rows = []
    for name, (batch, make_opt) in VARIANTS.items():
        torch.manual_seed(SEED)
        model = models.mlp((1, 8, 8), 10, (64,))
        trainer = Trainer(model, make_opt(model.parameters()), mnn.CrossEntropyLoss(),
                          name=f"optimizers/{name.replace(' ', '_')}", quiet=True, hist_every=0,
                          log_every=1 if batch is None else 10, hparams={"variant": name})
        loader = DataLoader(train, batch_size=batch or len(train), shuffle=True,
                            generator=torch.Generator().manual_seed(SEED))
        early = trainer.fit(loader, val_loader, epochs=min(EARLY, epochs))
        final = trainer.fit(loader, val_loader, epochs=epochs, resume=trainer.run_dir / "checkpoints" / "last.pt")
        rows.append((name, trainer.step, early["val/loss"], final["val/loss"], final["val/acc"]))
    print(f"{'optimizer':<16} {'steps':>6} {f'val loss @{EARLY}':>12} {'val loss':>9} {'val acc':>8}")
    for name, steps, early, loss, acc in rows:
        print(f"{name:<16} {steps:>6} {early:>12.4f} {loss:>9.4f} {acc:>8.3f}")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=EPOCHS)
    main(p.parse_args().epochs)
