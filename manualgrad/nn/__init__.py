"""``torch.nn``-compatible modules: same class names, constructor arguments, parameter and buffer
names, initialisation and ``state_dict`` keys; ``forward`` goes through
:mod:`manualgrad.functional`, so every backward is hand-derived."""

from .dropout import Dropout
from .linear import Linear

from .activation import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, SiLU, Sigmoid, Softmax, Softplus, Tanh
from .activation import (CELU, GLU, Hardshrink, Hardsigmoid, Hardswish, Hardtanh, LogSigmoid, Mish, PReLU, ReLU6,
                         RReLU, SELU, Softmax2d, Softmin, Softshrink, Softsign, Tanhshrink, Threshold)
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss, NLLLoss,
                   SmoothL1Loss)
from .conv import Conv1d, Conv2d
from .pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from .batchnorm import BatchNorm1d, BatchNorm2d
from .normalization import GroupNorm, LayerNorm, RMSNorm
from .embedding import Embedding
from .linear_cross_entropy import LinearCrossEntropyLoss
from .attention import MultiheadAttention
from .transformer import (Transformer, TransformerDecoder, TransformerDecoderLayer, TransformerEncoder,
                          TransformerEncoderLayer)
from .resample import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d
from .padding import (CircularPad1d, CircularPad2d, CircularPad3d, ConstantPad1d, ConstantPad2d, ConstantPad3d,
                      ReflectionPad1d, ReflectionPad2d, ReflectionPad3d, ReplicationPad1d, ReplicationPad2d,
                      ReplicationPad3d, ZeroPad1d, ZeroPad2d, ZeroPad3d)

__all__ = [
    "Linear", "Dropout",
    "ReLU", "LeakyReLU", "ELU", "GELU", "SiLU", "Softplus", "Sigmoid", "Tanh", "Softmax", "LogSoftmax",
    "Hardswish", "Hardsigmoid", "ReLU6", "Hardtanh", "Threshold", "Softshrink", "Hardshrink",
    "PReLU", "RReLU", "SELU", "CELU", "Mish", "GLU", "LogSigmoid", "Softsign", "Tanhshrink", "Softmin", "Softmax2d",
    "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "BCELoss", "BCEWithLogitsLoss",
    "NLLLoss", "CrossEntropyLoss",
    "Conv1d", "Conv2d",
    "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d",
    "BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm", "RMSNorm",
    "Embedding",
    "LinearCrossEntropyLoss",
    "MultiheadAttention",
    "TransformerEncoderLayer", "TransformerDecoderLayer", "TransformerEncoder", "TransformerDecoder", "Transformer",
    "Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d",
    "ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
    "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d",
    "ReplicationPad3d", "CircularPad1d", "CircularPad2d", "CircularPad3d",
]

# Twins that keep torch's forward: their arithmetic is in their submodules (made manualgrad's by their
# __init__ as by swap) and, for the layers, in the feed-forward block (_ff_block).
TORCH_FORWARD = [
    "TransformerEncoderLayer", "TransformerDecoderLayer", "TransformerEncoder", "TransformerDecoder", "Transformer",
]

# Names torch does not have: manualgrad's own ops/modules (memory-saving fusions and the like).
EXTENSIONS = [
    "LinearCrossEntropyLoss",  # torch has it from 2.13 (then the twin test checks it)
]
