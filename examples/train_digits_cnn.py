"""Train a small CNN of manualgrad modules (Conv2d → BatchNorm2d → ReLU → MaxPool2d, twice, then
AdaptiveAvgPool2d → Linear) on the bundled 8×8 digits.

Every convolution, batch norm and pooling backward is the hand-derived one. TensorBoard shows the
same health views as the MLP plus the BatchNorm-stabilised gradient norms of each conv layer.

Run: python examples/train_digits_cnn.py        then: tensorboard --logdir tb_logs
"""

import argparse

from train_digits_mlp import run  # the same loop as the MLP example (examples/ is on sys.path)

from manualgrad.train import models

# ---- config -------------------------------------------------------------------------------
CHANNELS = (16, 32)     # conv channels per stage
BATCH = 32
EPOCHS = 15
LR = 3e-3               # Adam
# -------------------------------------------------------------------------------------------


def main(epochs=EPOCHS):
    run(models.config("cnn", (1, 8, 8), 10, channels=CHANNELS), "digits_cnn_example", LR, BATCH, epochs)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=EPOCHS)
    main(p.parse_args().epochs)
