"""``torch.nn.functional``-compatible wrappers around manualgrad's hand-derived Functions.

Same names, signatures, defaults, semantics and error messages as ``torch.nn.functional``: swap
``import torch.nn.functional as F`` for ``import manualgrad.functional as F`` and every backward
below runs the derivative written out in ``manualgrad/functions/``.
"""

from __future__ import annotations

import torch
from torch.nn import _reduction as _torch_reduction

from .functions.dropout import DropoutFunction
from .functions.linear import LinearFunction

# ---- BEGIN activation imports ----
# ---- END activation imports ----
# ---- BEGIN loss imports ----
# ---- END loss imports ----
# ---- BEGIN cross_entropy imports ----
# ---- END cross_entropy imports ----

__all__ = [
    "linear", "dropout",
    # ---- BEGIN activation names ----
    # ---- END activation names ----
    # ---- BEGIN loss names ----
    # ---- END loss names ----
    # ---- BEGIN cross_entropy names ----
    # ---- END cross_entropy names ----
]


def _reduction(size_average, reduce, reduction: str) -> str:
    """Resolve the deprecated ``size_average``/``reduce`` pair and validate ``reduction`` with
    torch's own rules (same warning, same ``ValueError``)."""
    if size_average is not None or reduce is not None:
        reduction = _torch_reduction.legacy_get_string(size_average, reduce)
    _torch_reduction.get_enum(reduction)  # raises "<x> is not a valid value for reduction"
    return reduction


def linear(input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """y = input @ weightᵀ + bias. See :class:`~manualgrad.functions.linear.LinearFunction`."""
    return LinearFunction.apply(input, weight, bias)


def dropout(input: torch.Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> torch.Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1/(1 − p) while training.
    See :class:`~manualgrad.functions.dropout.DropoutFunction`."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0 or input.numel() == 0:
        return input  # as torch: nothing to drop, the input itself comes back
    return DropoutFunction.apply(input, float(p), inplace)[0]


# ---- BEGIN activation wrappers ----
# ---- END activation wrappers ----

# ---- BEGIN loss wrappers ----
# ---- END loss wrappers ----

# ---- BEGIN cross_entropy wrappers ----
# ---- END cross_entropy wrappers ----
