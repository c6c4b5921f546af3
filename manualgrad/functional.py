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
from .functions.activations import (ELUFunction, GELUFunction, LeakyReLUFunction, ReLUFunction, SigmoidFunction,
                                    SiLUFunction, SoftplusFunction, TanhFunction)
from .functions.softmax import LogSoftmaxFunction, SoftmaxFunction
# ---- END activation imports ----
# ---- BEGIN loss imports ----
import warnings

from .functions._reduction import REDUCTIONS as _REDUCTIONS
from .functions.binary_losses import BinaryCrossEntropyFunction, BinaryCrossEntropyWithLogitsFunction
from .functions.regression_losses import HuberLossFunction, L1LossFunction, MSELossFunction, SmoothL1LossFunction
# ---- END loss imports ----
# ---- BEGIN cross_entropy imports ----
from .functions.cross_entropy import CrossEntropyFunction, check_cross_entropy
from .functions.nll import NLLLossFunction, check_class_target
# ---- END cross_entropy imports ----

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
]


def _reduction(size_average, reduce, reduction: str) -> str:
    """Resolve the deprecated ``size_average``/``reduce`` pair and validate ``reduction`` with
    torch's own rules (same warning, same ``ValueError``)."""
    if size_average is not None or reduce is not None:
        reduction = _torch_reduction.legacy_get_string(size_average, reduce)
    _torch_reduction.get_enum(reduction)  # raises "<x> is not a valid value for reduction"
    return reduction


def _check_inplace(input: torch.Tensor) -> None:
    """Refuse to overwrite a leaf that requires grad before touching it (torch's message)."""
    if input.is_leaf and input.requires_grad and torch.is_grad_enabled():
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")


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
    if inplace:
        _check_inplace(input)
    return DropoutFunction.apply(input, float(p), inplace)[0]


# ---- BEGIN activation wrappers ----
def _refuse_negative_inplace(input, value, what):
    """torch runs these in place and fails only in backward; refuse up front, same message."""
    if value < 0 and input.requires_grad and torch.is_grad_enabled():
        raise RuntimeError(
            f"In-place {what} backward calculation is triggered with a negative slope which is not supported. "
            "This is caused by calling in-place forward function with a negative slope, please call "
            "out-of-place version instead.")


def relu(input: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """max(input, 0). See :class:`~manualgrad.functions.activations.ReLUFunction`."""
    if inplace:
        _check_inplace(input)
    return ReLUFunction.apply(input, inplace)


def leaky_relu(input: torch.Tensor, negative_slope: float = 0.01, inplace: bool = False) -> torch.Tensor:
    """input if > 0 else negative_slope·input. See :class:`~manualgrad.functions.activations.LeakyReLUFunction`."""
    if inplace:
        _check_inplace(input)
        _refuse_negative_inplace(input, negative_slope, "leakyReLu")
    return LeakyReLUFunction.apply(input, negative_slope, inplace)


def elu(input: torch.Tensor, alpha: float = 1.0, inplace: bool = False) -> torch.Tensor:
    """input if > 0 else alpha·(exp(input) − 1). See :class:`~manualgrad.functions.activations.ELUFunction`."""
    if inplace:
        _check_inplace(input)
        _refuse_negative_inplace(input, alpha, "elu")
    return ELUFunction.apply(input, alpha, inplace)


def gelu(input: torch.Tensor, approximate: str = "none") -> torch.Tensor:
    """input·Φ(input), exact or tanh-approximated. See :class:`~manualgrad.functions.activations.GELUFunction`."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    return GELUFunction.apply(input, approximate)


def silu(input: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """input·σ(input). See :class:`~manualgrad.functions.activations.SiLUFunction`."""
    if inplace:
        _check_inplace(input)
    return SiLUFunction.apply(input, inplace)[0]


def softplus(input: torch.Tensor, beta: float = 1.0, threshold: float = 20.0) -> torch.Tensor:
    """log(1 + exp(β·input))/β, linear above ``threshold``. See :class:`~manualgrad.functions.activations.SoftplusFunction`."""
    return SoftplusFunction.apply(input, beta, threshold)


def sigmoid(input: torch.Tensor) -> torch.Tensor:
    """1/(1 + exp(−input)). See :class:`~manualgrad.functions.activations.SigmoidFunction`."""
    return SigmoidFunction.apply(input)


def tanh(input: torch.Tensor) -> torch.Tensor:
    """tanh(input). See :class:`~manualgrad.functions.activations.TanhFunction`."""
    return TanhFunction.apply(input)


def _softmax_dim(name: str, input: torch.Tensor, dim, stacklevel: int) -> int:
    """``dim=None`` picks torch's deprecated implicit dim, with torch's warning."""
    if dim is None:
        from torch.nn.functional import _get_softmax_dim
        dim = _get_softmax_dim(name, input.dim(), stacklevel + 1)
    return dim


def softmax(input: torch.Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype: torch.dtype | None = None) -> torch.Tensor:
    """exp(input)/Σ exp(input) along ``dim``. See :class:`~manualgrad.functions.softmax.SoftmaxFunction`."""
    return SoftmaxFunction.apply(input, _softmax_dim("softmax", input, dim, _stacklevel), dtype)


def log_softmax(input: torch.Tensor, dim: int | None = None, _stacklevel: int = 3,
                dtype: torch.dtype | None = None) -> torch.Tensor:
    """input − logsumexp(input) along ``dim``. See :class:`~manualgrad.functions.softmax.LogSoftmaxFunction`."""
    return LogSoftmaxFunction.apply(input, _softmax_dim("log_softmax", input, dim, _stacklevel), dtype)
# ---- END activation wrappers ----

# ---- BEGIN loss wrappers ----
def _check_target(input: torch.Tensor, target: torch.Tensor) -> None:
    """torch's regression-target checks: warn (from the caller's line) when the sizes differ,
    since the two are broadcast anyway, and raise torch's error when they do not broadcast."""
    if target.size() != input.size():
        warnings.warn(
            f"Using a target size ({target.size()}) that is different to the input size ({input.size()}). "
            "This will likely lead to incorrect results due to broadcasting. "
            "Please ensure they have the same size.",
            stacklevel=3,
        )
    torch.broadcast_tensors(input.detach(), target.detach())


def _loss_reduction(size_average, reduce, reduction: str, input: torch.Tensor,
                    weight: torch.Tensor | None, bad_param: str | None = None) -> str:
    """Reduction of a regression loss with an optional ``weight`` of ``input``'s size, checked
    in torch's order: unweighted, the (legacy) reduction up front; weighted, the weight's size,
    and a bad reduction last under the weighted path's own message. ``bad_param``: the message
    of the op's invalid β/δ (torch's RuntimeError), raised in between."""
    if weight is None or size_average is not None or reduce is not None:
        reduction = _reduction(size_average, reduce, reduction)
    if weight is not None and weight.size() != input.size():
        raise ValueError("Weights and input must have the same size.")
    if bad_param:
        raise RuntimeError(bad_param)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"Invalid reduction mode: {reduction}. Expected one of 'none', 'mean', 'sum'.")
    return reduction


def _refuse_grad(op: str, **constants) -> None:
    """torch's error for a non-differentiable tensor argument that requires grad."""
    if not torch.is_grad_enabled():
        return
    for name, t in constants.items():
        if t is not None and t.requires_grad:
            raise RuntimeError(f"The function '{op}' is not differentiable with respect to argument "
                               f"'{name}'. This input cannot have requires_grad True.")


def mse_loss(input: torch.Tensor, target: torch.Tensor, size_average: bool | None = None,
             reduce: bool | None = None, reduction: str = "mean",
             weight: torch.Tensor | None = None) -> torch.Tensor:
    """R((input − target)² ⊙ weight); a weighted 'mean' divides by Σ weight.
    See :class:`~manualgrad.functions.regression_losses.MSELossFunction`."""
    _check_target(input, target)
    reduction = _loss_reduction(size_average, reduce, reduction, input, weight)
    return MSELossFunction.apply(input, target, weight, reduction, None)


def l1_loss(input: torch.Tensor, target: torch.Tensor, size_average: bool | None = None,
            reduce: bool | None = None, reduction: str = "mean",
            weight: torch.Tensor | None = None) -> torch.Tensor:
    """R(|input − target| ⊙ weight); a weighted 'mean' divides by Σ weight.
    See :class:`~manualgrad.functions.regression_losses.L1LossFunction`."""
    _check_target(input, target)
    reduction = _loss_reduction(size_average, reduce, reduction, input, weight)
    return L1LossFunction.apply(input, target, weight, reduction, None)


def smooth_l1_loss(input: torch.Tensor, target: torch.Tensor, size_average: bool | None = None,
                   reduce: bool | None = None, reduction: str = "mean", beta: float = 1.0) -> torch.Tensor:
    """Quadratic below ``beta``, L1 above (``beta=0`` is ``l1_loss``).
    See :class:`~manualgrad.functions.regression_losses.SmoothL1LossFunction`."""
    _check_target(input, target)
    bad = "smooth_l1_loss does not support negative values for beta." if beta < 0 else None
    reduction = _loss_reduction(size_average, reduce, reduction, input, None, bad)
    return SmoothL1LossFunction.apply(input, target, None, reduction, float(beta))


def huber_loss(input: torch.Tensor, target: torch.Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: torch.Tensor | None = None) -> torch.Tensor:
    """Quadratic below ``delta``, ``delta``-scaled L1 above; a weighted 'mean' is the plain mean.
    See :class:`~manualgrad.functions.regression_losses.HuberLossFunction`."""
    _check_target(input, target)
    bad = "huber_loss does not support non-positive values for delta." if delta <= 0 else None
    reduction = _loss_reduction(None, None, reduction, input, weight, bad)
    return HuberLossFunction.apply(input, target, weight, reduction, float(delta))


def binary_cross_entropy(input: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
                         size_average: bool | None = None, reduce: bool | None = None,
                         reduction: str = "mean") -> torch.Tensor:
    """−R(weight ⊙ (target · log input + (1 − target) · log(1 − input))), logs floored at −100.
    See :class:`~manualgrad.functions.binary_losses.BinaryCrossEntropyFunction`."""
    reduction = _reduction(size_average, reduce, reduction)
    if target.size() != input.size():
        raise ValueError(
            f"Using a target size ({target.size()}) that is different to the input size ({input.size()}) is deprecated. "
            "Please ensure they have the same size."
        )
    if weight is not None:
        weight = weight.expand(torch.broadcast_shapes(target.size(), weight.size()))
    _refuse_grad("binary_cross_entropy", weight=weight)
    return BinaryCrossEntropyFunction.apply(input, target, weight, reduction)


def binary_cross_entropy_with_logits(input: torch.Tensor, target: torch.Tensor,
                                     weight: torch.Tensor | None = None, size_average: bool | None = None,
                                     reduce: bool | None = None, reduction: str = "mean",
                                     pos_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Binary cross-entropy of σ(input), computed stably from the logits; ``pos_weight`` scales
    the positive term. See
    :class:`~manualgrad.functions.binary_losses.BinaryCrossEntropyWithLogitsFunction`."""
    reduction = _reduction(size_average, reduce, reduction)
    if not (target.size() == input.size()):
        raise ValueError(f"Target size ({target.size()}) must be the same as input size ({input.size()})")
    _refuse_grad("binary_cross_entropy_with_logits", weight=weight, pos_weight=pos_weight)
    return BinaryCrossEntropyWithLogitsFunction.apply(input, target, weight, pos_weight, reduction)
# ---- END loss wrappers ----

# ---- BEGIN cross_entropy wrappers ----
def nll_loss(input: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
             size_average: bool | None = None, ignore_index: int = -100, reduce: bool | None = None,
             reduction: str = "mean") -> torch.Tensor:
    """R(−weight[target] · input[target]) over the positions whose target is not ``ignore_index``;
    a 'mean' divides by the summed weight of those targets.
    See :class:`~manualgrad.functions.nll.NLLLossFunction`."""
    reduction = _reduction(size_average, reduce, reduction)
    target, weight = check_class_target(input, target, weight, ignore_index)
    return NLLLossFunction.apply(input, target, weight, ignore_index, reduction)


def cross_entropy(input: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
                  size_average: bool | None = None, ignore_index: int = -100, reduce: bool | None = None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> torch.Tensor:
    """Cross-entropy of the logits ``input`` against class indices or class probabilities (a
    target of ``input``'s shape), log_softmax and the pick fused into one Function, stable for
    large logits. See :class:`~manualgrad.functions.cross_entropy.CrossEntropyFunction`."""
    reduction = _reduction(size_average, reduce, reduction)
    label_smoothing = float(label_smoothing)
    target, weight = check_cross_entropy(input, target, weight, ignore_index, label_smoothing)
    return CrossEntropyFunction.apply(input, target, weight, ignore_index, reduction, label_smoothing)[0]
# ---- END cross_entropy wrappers ----
