"""Swap manualgrad into a model written with plain torch.nn, prove it equal, then train it.

1. A small ResNet-style CNN (Conv2d, BatchNorm2d, ReLU, MaxPool2d, a residual add,
   AdaptiveAvgPool2d, Dropout, Linear), built with torch.nn only, as any existing model is.
2. ``manualgrad.swap(model)`` turns every module manualgrad implements into its manualgrad twin, in
   place: the same Parameter objects, buffers, state_dict, mode and hooks. The report lists each.
3. ``manualgrad.check(swapped, original, x)`` runs both on one batch with one random upstream
   gradient and compares the outputs and every parameter's gradient.
4. A few SGD steps on the bundled digits: the loss falls, and every backward ran the
   hand-derived derivatives.

Run: python examples/swap_into_model.py
"""

import copy

import torch
from torch import nn

import manualgrad as mg
from manualgrad import data

# ---- config -------------------------------------------------------------------------------
SEED = 0
BATCH = 64          # digits (1×8×8) per step
CLASSES = 10
STEPS = 40          # SGD steps after the check
LR = 0.05
DTYPE = torch.float64  # float64: the check is tight (use float32 for speed)
# -------------------------------------------------------------------------------------------


class Residual(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
                                  nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
        self.relu = nn.ReLU()  # a module, not F.relu: swap replaces modules, not function calls

    def forward(self, x):
        return self.relu(x + self.body(x))


def make_model():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        Residual(16),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.1), nn.Linear(16, CLASSES),
    )


def main():
    torch.manual_seed(SEED)
    original = make_model().to(DTYPE)
    model = copy.deepcopy(original)

    report = mg.swap(model)
    print(report)

    images, labels = data.load_digits()
    images = images.to(DTYPE)
    x = images[:BATCH]
    result = mg.check(model, original, x)  # outputs and every parameter gradient, same dy
    print("\nmanualgrad.check(swapped, original, x):")
    print(result)
    if not result:
        raise SystemExit("the swapped model disagrees with torch")

    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    loss_fn = mg.nn.CrossEntropyLoss()
    print()
    for step in range(STEPS):
        pick = torch.randint(0, len(images), (BATCH,))
        xb, yb = images[pick], labels[pick]
        opt.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        if step % 5 == 0 or step == STEPS - 1:
            print(f"step {step:3d}  loss {loss.item():.4f}  (grad_fn {type(loss.grad_fn).__name__})")


if __name__ == "__main__":
    main()
