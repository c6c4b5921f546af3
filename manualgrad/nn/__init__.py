"""``torch.nn``-compatible modules: same class names, constructor arguments, parameter and buffer
names, initialisation and ``state_dict`` keys; ``forward`` goes through
:mod:`manualgrad.functional`, so every backward is hand-derived."""

from .dropout import Dropout
from .linear import Bilinear, Linear

from .activation import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, SiLU, Sigmoid, Softmax, Softplus, Tanh
from .activation import (CELU, GLU, Hardshrink, Hardsigmoid, Hardswish, Hardtanh, LogSigmoid, Mish, PReLU, ReLU6,
                         RReLU, SELU, Softmax2d, Softmin, Softshrink, Softsign, Tanhshrink, Threshold)
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss, NLLLoss,
                   SmoothL1Loss)
from .conv import Conv1d, Conv2d
from .pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d, AdaptiveMaxPool1d, AdaptiveMaxPool2d,
                      AdaptiveMaxPool3d, AvgPool1d, AvgPool2d, AvgPool3d, LPPool1d, LPPool2d, LPPool3d, MaxPool1d,
                      MaxPool2d, MaxPool3d, MaxUnpool1d, MaxUnpool2d, MaxUnpool3d)
from .batchnorm import BatchNorm1d, BatchNorm2d, BatchNorm3d, InstanceNorm1d, InstanceNorm2d, InstanceNorm3d
from .batchnorm import SyncBatchNorm
from .normalization import GroupNorm, LayerNorm, LocalResponseNorm, RMSNorm
from .embedding import Embedding, EmbeddingBag
from .linear_cross_entropy import LinearCrossEntropyLoss
from .attention import MultiheadAttention

__all__ = [
    "Linear", "Dropout", "Bilinear",
    "ReLU", "LeakyReLU", "ELU", "GELU", "SiLU", "Softplus", "Sigmoid", "Tanh", "Softmax", "LogSoftmax",
    "Hardswish", "Hardsigmoid", "ReLU6", "Hardtanh", "Threshold", "Softshrink", "Hardshrink",
    "PReLU", "RReLU", "SELU", "CELU", "Mish", "GLU", "LogSigmoid", "Softsign", "Tanhshrink", "Softmin", "Softmax2d",
    "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "BCELoss", "BCEWithLogitsLoss",
    "NLLLoss", "CrossEntropyLoss",
    "Conv1d", "Conv2d",
    "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d",
    "MaxPool1d", "MaxPool3d", "AvgPool1d", "AvgPool3d", "AdaptiveAvgPool1d", "AdaptiveAvgPool3d",
    "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "LPPool1d", "LPPool2d", "LPPool3d",
    "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d",
    "BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm", "RMSNorm",
    "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "LocalResponseNorm",
    "SyncBatchNorm",
    "Embedding", "EmbeddingBag",
    "LinearCrossEntropyLoss",
    "MultiheadAttention",
]

# Names torch does not have: manualgrad's own ops/modules (memory-saving fusions and the like).
EXTENSIONS = [
    "LinearCrossEntropyLoss",  # torch has it from 2.13 (then the twin test checks it)
]
