"""``torch.nn.functional``-compatible wrappers around manualgrad's hand-derived Functions.

Same names, signatures, defaults, semantics and error messages as ``torch.nn.functional``: swap
``import torch.nn.functional as F`` for ``import manualgrad.functional as F`` and every backward
below runs the derivative written out in ``manualgrad/functions/``. One private module per op
family (``_<family>.py``, the stem of ``functions/<family>.py``); this file only re-exports.
"""

from ._linear import linear
from ._dropout import dropout
from ._activations import elu, gelu, leaky_relu, log_softmax, relu, sigmoid, silu, softmax, softplus, tanh
from ._activations import celu, selu, softmin
from ._activations_piecewise import hardshrink, hardsigmoid, hardswish, hardtanh, relu6, softshrink, threshold
from ._activations_slopes import prelu, rrelu
from ._activations_sigmoidal import glu, logsigmoid, mish, softsign, tanhshrink
from ._losses import (binary_cross_entropy, binary_cross_entropy_with_logits, huber_loss, l1_loss, mse_loss,
                      smooth_l1_loss)
from ._cross_entropy import cross_entropy, nll_loss
from ._conv import conv1d, conv2d
from ._pooling import adaptive_avg_pool2d, avg_pool2d, max_pool2d
from ._batch_norm import batch_norm
from ._norms import group_norm, layer_norm, rms_norm
from ._embedding import embedding
from ._linear_cross_entropy import linear_cross_entropy
from ._attention import scaled_dot_product_attention
from ._resample import interpolate
from ._padding import pad

__all__ = [
    "linear", "dropout",
    "relu", "leaky_relu", "elu", "gelu", "silu", "softplus", "sigmoid", "tanh", "softmax", "log_softmax",
    "hardswish", "hardsigmoid", "relu6", "hardtanh", "threshold", "softshrink", "hardshrink",
    "prelu", "rrelu", "selu", "celu", "mish", "glu", "logsigmoid", "softsign", "tanhshrink", "softmin",
    "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
    "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "nll_loss", "cross_entropy",
    "conv1d", "conv2d",
    "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d",
    "batch_norm", "layer_norm", "group_norm", "rms_norm",
    "embedding",
    "linear_cross_entropy",
    "scaled_dot_product_attention",
    "interpolate",
    "pad",
]

# Names torch does not have: manualgrad's own ops/modules (memory-saving fusions and the like).
EXTENSIONS = [
    "linear_cross_entropy",  # torch has it from 2.13 (then the signature test compares it)
]
