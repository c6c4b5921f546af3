"""Regression and binary losses: mse, l1, smooth_l1, huber, binary_cross_entropy(_with_logits)."""

from __future__ import annotations

import warnings

import torch

from ..functions._reduction import REDUCTIONS as _REDUCTIONS
from ..functions._precision import dtype_name
from ..functions.binary_losses import BinaryCrossEntropyFunction, BinaryCrossEntropyWithLogitsFunction
from ..functions.regression_losses import HuberLossFunction, L1LossFunction, MSELossFunction, SmoothL1LossFunction
from ._autocast import BANNED, FP32, autocast_policy
from ._util import _reduction, _refuse_complex_grad, _refuse_grad


def _check_target(input: torch.Tensor, target: torch.Tensor) -> None:
    """torch's regression-target checks: warn (from the caller's line) when the sizes differ,
    since the two are broadcast anyway, and raise torch's error when they do not broadcast."""
    if target.size() != input.size():
        warnings.warn(
            f"Using a target size ({target.size()}) that is different to the input size ({input.size()}). "
            "This will likely lead to incorrect results due to broadcasting. "
            "Please ensure they have the same size.",
            stacklevel=5,  # the caller of the loss: past this helper, the loss, its autocast and one_op wrappers
        )
    torch.broadcast_tensors(input.detach(), target.detach())


def _kind(dtype: torch.dtype) -> int:
    """torch's dtype categories, in promotion order: bool, integer, floating, complex."""
    return 3 if dtype.is_complex else 2 if dtype.is_floating_point else int(dtype != torch.bool)


def _kernel_operands(kernel: str, input: torch.Tensor, target: torch.Tensor, into_input: bool = False):
    """torch's elementwise loss kernels (``mse``, ``smooth_l1``, ``huber``) on input and target:
    they run in the promoted dtype, which must be a real floating type (``into_input``: the
    result is written into input's dtype, so it must also cast there, as huber's). Returns the
    two operands with a bool one promoted (torch's kernel reads it as 0/1; bool has no ``-``)."""
    common = torch.promote_types(input.dtype, target.dtype)  # torch broadcasts the two first: no 0-d rule
    if into_input and _kind(common) > _kind(input.dtype):  # torch.can_cast: no cast to a lower kind
        raise RuntimeError(f"result type {dtype_name(common)} can't be cast to the desired output type "
                           f"{dtype_name(input.dtype)}")
    if not common.is_floating_point:
        raise NotImplementedError(f'"{kernel}_{input.device.type}" not implemented for \'{dtype_name(common)}\'')
    return tuple(v.to(common) if v.dtype == torch.bool else v for v in (input, target))


def _refuse_complex(weight: torch.Tensor | None, *operands: torch.Tensor) -> None:
    """torch's weighted regression losses are plain tensor arithmetic, so they take complex
    numbers; ours would need conjugates in the backward (a complex weight, mse's d² of a complex
    d) that the hand-derived formulas do not take: refused rather than a wrong gradient."""
    if weight is not None and any(v.is_complex() for v in (weight, *operands)):
        raise NotImplementedError("manualgrad: complex numbers in a weighted regression loss (a complex weight, "
                                  "or a complex input of mse_loss) are not supported")


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


@autocast_policy(FP32, MSELossFunction)
def mse_loss(input: torch.Tensor, target: torch.Tensor, size_average: bool | None = None,
             reduce: bool | None = None, reduction: str = "mean",
             weight: torch.Tensor | None = None) -> torch.Tensor:
    """R((input − target)² ⊙ weight); a weighted 'mean' divides by Σ weight.
    See :class:`~manualgrad.functions.regression_losses.MSELossFunction`."""
    _check_target(input, target)
    reduction = _loss_reduction(size_average, reduce, reduction, input, weight)
    if weight is None:  # torch's kernel; the weighted path is torch's plain tensor arithmetic
        input, target = _kernel_operands("mse", input, target)
    _refuse_complex(weight, input, target)
    return MSELossFunction.apply(input, target, weight, reduction, None)


def _refuse_bool_subtraction(input: torch.Tensor, target: torch.Tensor) -> None:
    """torch's l1_loss is ``input - target``: the ``-`` operator refuses a bool operand."""
    if (input.dtype == torch.bool) != (target.dtype == torch.bool):
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying "
                           "to invert a mask, use the `~` or `logical_not()` operator instead.")


@autocast_policy(FP32, L1LossFunction)
def l1_loss(input: torch.Tensor, target: torch.Tensor, size_average: bool | None = None,
            reduce: bool | None = None, reduction: str = "mean",
            weight: torch.Tensor | None = None) -> torch.Tensor:
    """R(|input − target| ⊙ weight); a weighted 'mean' divides by Σ weight.
    See :class:`~manualgrad.functions.regression_losses.L1LossFunction`."""
    _check_target(input, target)
    reduction = _loss_reduction(size_average, reduce, reduction, input, weight)
    _refuse_bool_subtraction(input, target)
    _refuse_complex(weight)
    return L1LossFunction.apply(input, target, weight, reduction, None)


@autocast_policy(FP32, SmoothL1LossFunction)
def smooth_l1_loss(input: torch.Tensor, target: torch.Tensor, size_average: bool | None = None,
                   reduce: bool | None = None, reduction: str = "mean", beta: float = 1.0) -> torch.Tensor:
    """Quadratic below ``beta``, L1 above (``beta=0`` is ``l1_loss``).
    See :class:`~manualgrad.functions.regression_losses.SmoothL1LossFunction`."""
    _check_target(input, target)
    bad = "smooth_l1_loss does not support negative values for beta." if beta < 0 else None
    reduction = _loss_reduction(size_average, reduce, reduction, input, None, bad)
    if beta == 0:  # torch's l1_loss
        _refuse_bool_subtraction(input, target)
    if beta != 0:  # β = 0 is torch's l1_loss, plain tensor arithmetic
        input, target = _kernel_operands("smooth_l1", input, target)
    return SmoothL1LossFunction.apply(input, target, None, reduction, float(beta))


@autocast_policy(FP32, HuberLossFunction)
def huber_loss(input: torch.Tensor, target: torch.Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: torch.Tensor | None = None) -> torch.Tensor:
    """Quadratic below ``delta``, ``delta``-scaled L1 above; a weighted 'mean' is the plain mean.
    See :class:`~manualgrad.functions.regression_losses.HuberLossFunction`."""
    _check_target(input, target)
    bad = "huber_loss does not support non-positive values for delta." if delta <= 0 else None
    reduction = _loss_reduction(None, None, reduction, input, weight, bad)
    input, target = _kernel_operands("huber", input, target, into_input=True)
    _refuse_complex(weight)
    return HuberLossFunction.apply(input, target, weight, reduction, float(delta))


@autocast_policy(BANNED, BinaryCrossEntropyFunction, cpu=FP32)
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


@autocast_policy(FP32, BinaryCrossEntropyWithLogitsFunction)
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
    loss = BinaryCrossEntropyWithLogitsFunction.apply(input, target, weight, pos_weight, reduction)
    _refuse_complex_grad("binary_cross_entropy_with_logits", loss.dtype, input, target)  # a complex target
    return loss
