"""``torch.nn``-compatible modules: same class names, constructor arguments, parameter and buffer
names, initialisation and ``state_dict`` keys; ``forward`` goes through
:mod:`manualgrad.functional`, so every backward is hand-derived."""

from .dropout import Dropout
from .linear import Linear

# ---- BEGIN activation modules ----
from .activation import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, SiLU, Sigmoid, Softmax, Softplus, Tanh
# ---- END activation modules ----
# ---- BEGIN loss modules ----
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss, NLLLoss,
                   SmoothL1Loss)
# ---- END loss modules ----
# ---- BEGIN conv modules ----
from .conv import Conv1d, Conv2d
# ---- END conv modules ----
# ---- BEGIN pooling modules ----
from .pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
# ---- END pooling modules ----
# ---- BEGIN norm modules ----
from .batchnorm import BatchNorm1d, BatchNorm2d
from .normalization import GroupNorm, LayerNorm, RMSNorm
# ---- END norm modules ----
# ---- BEGIN embedding modules ----
from .embedding import Embedding
# ---- END embedding modules ----
# ---- BEGIN fused modules ----
# ---- END fused modules ----
# ---- BEGIN linear_cross_entropy modules ----
from .linear_cross_entropy import LinearCrossEntropyLoss
# ---- END linear_cross_entropy modules ----
# ---- BEGIN attention modules ----
from .attention import MultiheadAttention
# ---- END attention modules ----

__all__ = [
    "Linear", "Dropout",
    # ---- BEGIN activation names ----
    "ReLU", "LeakyReLU", "ELU", "GELU", "SiLU", "Softplus", "Sigmoid", "Tanh", "Softmax", "LogSoftmax",
    # ---- END activation names ----
    # ---- BEGIN loss names ----
    "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "BCELoss", "BCEWithLogitsLoss",
    "NLLLoss", "CrossEntropyLoss",
    # ---- END loss names ----
    # ---- BEGIN conv names ----
    "Conv1d", "Conv2d",
    # ---- END conv names ----
    # ---- BEGIN pooling names ----
    "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d",
    # ---- END pooling names ----
    # ---- BEGIN norm names ----
    "BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm", "RMSNorm",
    # ---- END norm names ----
    # ---- BEGIN embedding names ----
    "Embedding",
    # ---- END embedding names ----
    # ---- BEGIN fused names ----
    # ---- END fused names ----
    # ---- BEGIN linear_cross_entropy names ----
    "LinearCrossEntropyLoss",
    # ---- END linear_cross_entropy names ----
    # ---- BEGIN attention names ----
    "MultiheadAttention",
    # ---- END attention names ----
]

# Names torch does not have: manualgrad's own ops/modules (memory-saving fusions and the like).
EXTENSIONS = [
    # ---- BEGIN fused extensions ----
    # ---- END fused extensions ----
    # ---- BEGIN linear_cross_entropy extensions ----
    "LinearCrossEntropyLoss",  # torch has it from 2.13 (then the twin test checks it)
    # ---- END linear_cross_entropy extensions ----
]
