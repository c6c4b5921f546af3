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
# ---- END conv imports ----
# ---- BEGIN pooling imports ----
# ---- END pooling imports ----
# ---- BEGIN norm imports ----
# ---- END norm imports ----
# ---- BEGIN embedding imports ----
# ---- END embedding imports ----
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
    # ---- END conv names ----
    # ---- BEGIN pooling names ----
    # ---- END pooling names ----
    # ---- BEGIN norm names ----
    # ---- END norm names ----
    # ---- BEGIN embedding names ----
    # ---- END embedding names ----
    # ---- BEGIN attention names ----
    "scaled_dot_product_attention",
    # ---- END attention names ----
]
