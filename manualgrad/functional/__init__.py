"""``torch.nn.functional``-compatible wrappers around manualgrad's hand-derived Functions.

Same names, signatures, defaults, semantics and error messages as ``torch.nn.functional``: swap
``import torch.nn.functional as F`` for ``import manualgrad.functional as F`` and every backward
below runs the derivative written out in ``manualgrad/functions/``. One private module per op
family (``_<family>.py``, the stem of ``functions/<family>.py``); this file only re-exports.
"""

from ._linear import linear
from ._dropout import dropout

# ---- BEGIN activation imports ----
from ._activations import elu, gelu, leaky_relu, log_softmax, relu, sigmoid, silu, softmax, softplus, tanh
# ---- END activation imports ----
# ---- BEGIN loss imports ----
from ._losses import (binary_cross_entropy, binary_cross_entropy_with_logits, huber_loss, l1_loss, mse_loss,
                      smooth_l1_loss)
# ---- END loss imports ----
# ---- BEGIN cross_entropy imports ----
from ._cross_entropy import cross_entropy, nll_loss
# ---- END cross_entropy imports ----
# ---- BEGIN conv imports ----
from ._conv import conv1d, conv2d
# ---- END conv imports ----
# ---- BEGIN pooling imports ----
from ._pooling import adaptive_avg_pool2d, avg_pool2d, max_pool2d
# ---- END pooling imports ----
# ---- BEGIN norm imports ----
from ._batch_norm import batch_norm
from ._norms import group_norm, layer_norm, rms_norm
# ---- END norm imports ----
# ---- BEGIN embedding imports ----
from ._embedding import embedding
# ---- END embedding imports ----
# ---- BEGIN fused imports ----
# ---- END fused imports ----
# ---- BEGIN linear_cross_entropy imports ----
from ._linear_cross_entropy import linear_cross_entropy
# ---- END linear_cross_entropy imports ----
# ---- BEGIN attention imports ----
from ._attention import scaled_dot_product_attention
# ---- END attention imports ----

__all__ = [
    "linear", "dropout",
    # ---- BEGIN activation names ----
    "relu", "leaky_relu", "elu", "gelu", "silu", "softplus", "sigmoid", "tanh", "softmax", "log_softmax",
    # ---- END activation names ----
    # ---- BEGIN loss names ----
    "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
    "binary_cross_entropy", "binary_cross_entropy_with_logits",
    # ---- END loss names ----
    # ---- BEGIN cross_entropy names ----
    "nll_loss", "cross_entropy",
    # ---- END cross_entropy names ----
    # ---- BEGIN conv names ----
    "conv1d", "conv2d",
    # ---- END conv names ----
    # ---- BEGIN pooling names ----
    "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d",
    # ---- END pooling names ----
    # ---- BEGIN norm names ----
    "batch_norm", "layer_norm", "group_norm", "rms_norm",
    # ---- END norm names ----
    # ---- BEGIN embedding names ----
    "embedding",
    # ---- END embedding names ----
    # ---- BEGIN fused names ----
    # ---- END fused names ----
    # ---- BEGIN linear_cross_entropy names ----
    "linear_cross_entropy",
    # ---- END linear_cross_entropy names ----
    # ---- BEGIN attention names ----
    "scaled_dot_product_attention",
    # ---- END attention names ----
]

# Names torch does not have: manualgrad's own ops/modules (memory-saving fusions and the like).
EXTENSIONS = [
    # ---- BEGIN fused extensions ----
    # ---- END fused extensions ----
    # ---- BEGIN linear_cross_entropy extensions ----
    "linear_cross_entropy",  # torch has it from 2.13 (then the signature test compares it)
    # ---- END linear_cross_entropy extensions ----
]
