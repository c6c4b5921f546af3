"""``torch.nn.functional``-compatible wrappers around manualgrad's hand-derived Functions.

Same names, signatures, defaults, semantics and error messages as ``torch.nn.functional``: swap
``import torch.nn.functional as F`` for ``import manualgrad.functional as F`` and every backward
below runs the derivative written out in ``manualgrad/functions/``. One private module per op
family (``_<family>.py``, the stem of ``functions/<family>.py``); this file only re-exports.
"""

from ..functions._base import one_op
from ._linear import linear
from ._bilinear import bilinear
from ._dropout import alpha_dropout, dropout, dropout1d, dropout2d, dropout3d, feature_alpha_dropout
from ._activations import elu, gelu, leaky_relu, log_softmax, relu, sigmoid, silu, softmax, softplus, tanh
from ._activations import celu, selu, softmin
from ._activations_piecewise import hardshrink, hardsigmoid, hardswish, hardtanh, relu6, softshrink, threshold
from ._activations_slopes import prelu, rrelu
from ._activations_sigmoidal import glu, logsigmoid, mish, softsign, tanhshrink
from ._losses import (binary_cross_entropy, binary_cross_entropy_with_logits, huber_loss, l1_loss, mse_loss,
                      smooth_l1_loss)
from ._cross_entropy import cross_entropy, nll_loss
from ._conv import conv1d, conv2d
from ._conv import conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d
from ._fold import fold, unfold
from ._pooling import (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d, adaptive_max_pool1d,
                       adaptive_max_pool2d, adaptive_max_pool3d, avg_pool1d, avg_pool2d, avg_pool3d, lp_pool1d,
                       lp_pool2d, lp_pool3d, max_pool1d, max_pool2d, max_pool3d, max_unpool1d, max_unpool2d,
                       max_unpool3d)
from ._pooling_fractional import fractional_max_pool2d, fractional_max_pool3d
from ._batch_norm import batch_norm, instance_norm
from ._norms import group_norm, layer_norm, local_response_norm, rms_norm
from ._embedding import embedding
from ._embedding_bag import embedding_bag
from ._linear_cross_entropy import linear_cross_entropy
from ._attention import scaled_dot_product_attention
from ._resample import interpolate
from ._padding import pad
from ._distances import cosine_similarity, normalize, pairwise_distance
from ._margin_losses import (cosine_embedding_loss, hinge_embedding_loss, margin_ranking_loss, multi_margin_loss,
                             multilabel_margin_loss, soft_margin_loss, triplet_margin_loss,
                             triplet_margin_with_distance_loss)
from ._probabilistic_losses import gaussian_nll_loss, kl_div, multilabel_soft_margin_loss, poisson_nll_loss
from ._ctc import ctc_loss

__all__ = [
    "linear", "dropout", "bilinear",
    "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout",
    "relu", "leaky_relu", "elu", "gelu", "silu", "softplus", "sigmoid", "tanh", "softmax", "log_softmax",
    "hardswish", "hardsigmoid", "relu6", "hardtanh", "threshold", "softshrink", "hardshrink",
    "prelu", "rrelu", "selu", "celu", "mish", "glu", "logsigmoid", "softsign", "tanhshrink", "softmin",
    "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
    "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "nll_loss", "cross_entropy",
    "conv1d", "conv2d",
    "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "fold", "unfold",
    "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d",
    "max_pool1d", "max_pool3d", "avg_pool1d", "avg_pool3d", "adaptive_avg_pool1d", "adaptive_avg_pool3d",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d", "lp_pool1d", "lp_pool2d", "lp_pool3d",
    "max_unpool1d", "max_unpool2d", "max_unpool3d",
    "fractional_max_pool2d", "fractional_max_pool3d",
    "batch_norm", "layer_norm", "group_norm", "rms_norm",
    "instance_norm", "local_response_norm",
    "embedding", "embedding_bag",
    "linear_cross_entropy",
    "scaled_dot_product_attention",
    "interpolate",
    "pad",
    "pairwise_distance", "cosine_similarity", "normalize",
    "margin_ranking_loss", "hinge_embedding_loss", "soft_margin_loss", "cosine_embedding_loss",
    "multi_margin_loss", "multilabel_margin_loss", "triplet_margin_loss", "triplet_margin_with_distance_loss",
    "kl_div", "poisson_nll_loss", "gaussian_nll_loss", "multilabel_soft_margin_loss",
    "ctc_loss",
]

# Each wrapper is one op to the torch function modes (``one_op``), as a Function is; not the one
# that calls the user's own code, which functional routing must still reach.
_CALLS_USER_CODE = {"triplet_margin_with_distance_loss"}
for _name in __all__:
    if _name not in _CALLS_USER_CODE:
        globals()[_name] = one_op(globals()[_name])
del _name

# Names torch does not have: manualgrad's own ops/modules (memory-saving fusions and the like).
EXTENSIONS = [
    "linear_cross_entropy",  # torch has it from 2.13 (then the signature test compares it)
]
