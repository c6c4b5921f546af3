"""Overfitting and the usual cures, on a deliberately small training set: no regularisation vs L2
vs L1 vs dropout vs early stopping.

A wide MLP memorises 150 digits (train accuracy → 100 %) while validation accuracy lags: the
train/val gap is overfitting. L2 (½·λ·Σw², gradient λ·w) pulls every weight towards 0, L1
(λ·Σ|w|, gradient λ·sign(w)) drives many to exactly 0, dropout trains a different thinned network
at each step, and early stopping keeps the weights of the best validation epoch. The printed table
shows each run's train and validation loss and accuracy and the gap; in TensorBoard compare `train/loss`
with `val/loss` per run under tb_logs/overfitting/.

Run: python examples/overfitting.py        then: tensorboard --logdir tb_logs/overfitting
"""

import argparse

import torch
from torch.utils.data import DataLoader, Subset

import manualgrad.nn as mnn
import manualgrad.optim as mopt
from manualgrad import data
from manualgrad.train import EarlyStopping, Trainer, models

# ---- config -------------------------------------------------------------------------------
SEED = 0
TRAIN_SIZE = 60         # a small training set makes overfitting easy to see
HIDDEN = (256, 256)
EPOCHS = 200
BATCH = 60              # full batch
LR = 3e-3               # Adam
VARIANTS = {            # name: Trainer/model options
    "none": {},
    "L2 1e-2": {"l2": 1e-2},
    "L1 1e-3": {"l1": 1e-3},
    "dropout 0.5": {"dropout": 0.5},
    "early stopping 20": {"patience": 20},
}
# -------------------------------------------------------------------------------------------


def main(epochs=EPOCHS):
    train, val, _ = data.get_dataset("digits")
    small = Subset(train, range(TRAIN_SIZE))
    rows = []
    for name, opts in VARIANTS.items():
        torch.manual_seed(SEED)
        model = models.mlp((1, 8, 8), 10, HIDDEN, dropout=opts.get("dropout", 0.0))
        stopper = EarlyStopping(opts["patience"]) if "patience" in opts else None
        trainer = Trainer(model, mopt.Adam(model.parameters(), lr=LR), mnn.CrossEntropyLoss(),
                          name=f"overfitting/{name.replace(' ', '_')}", l1=opts.get("l1", 0.0), l2=opts.get("l2", 0.0),
                          early_stopping=stopper, quiet=True, hist_every=0, hparams={"variant": name})
        loader = DataLoader(small, batch_size=BATCH, shuffle=True, generator=torch.Generator().manual_seed(SEED))
        val_loader = DataLoader(val, batch_size=512)
        trainer.fit(loader, val_loader, epochs=epochs)
        tr, va = trainer.evaluate(DataLoader(small, batch_size=512)), trainer.evaluate(val_loader)
        rows.append((name, trainer.epoch, tr, va))
    print(f"{'variant':<18} {'epochs':>6} {'train loss':>10} {'val loss':>9} {'loss gap':>9} {'train acc':>9} {'val acc':>8}")
    for name, ep, tr, va in rows:
        print(f"{name:<18} {ep:>6} {tr['loss']:>10.4f} {va['loss']:>9.4f} {va['loss'] - tr['loss']:>9.4f}"
              f" {tr['acc']:>9.3f} {va['acc']:>8.3f}")
    print("\nUnregularised, the memorised training loss goes to ~0 while the validation loss grows"
          " (overconfident wrong answers);\nL2, L1, dropout and early stopping each keep the validation loss lower.")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=EPOCHS)
    main(p.parse_args().epochs)
