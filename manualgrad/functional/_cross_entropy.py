"""Class-target losses: nll_loss and cross_entropy."""

from __future__ import annotations

import torch

from ..functions.cross_entropy import CrossEntropyFunction, check_cross_entropy
from ..functions._transform import values_hidden
from ..functions.nll import NLLLossFunction, check_class_target
from ._autocast import FP32, autocast_policy
from ._util import _reduction


@autocast_policy(FP32, NLLLossFunction)
def nll_loss(input: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
             size_average: bool | None = None, ignore_index: int = -100, reduce: bool | None = None,
             reduction: str = "mean") -> torch.Tensor:
    """R(−weight[target] · input[target]) over the positions whose target is not ``ignore_index``;
    a 'mean' divides by the summed weight of those targets.
    See :class:`~manualgrad.functions.nll.NLLLossFunction`."""
    reduction = _reduction(size_average, reduce, reduction)
    target, weight, _ = check_class_target(input, target, weight, ignore_index, reduction)
    return NLLLossFunction.apply(input, target, weight, ignore_index, reduction)


@autocast_policy(FP32, CrossEntropyFunction)
def cross_entropy(input: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
                  size_average: bool | None = None, ignore_index: int = -100, reduce: bool | None = None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> torch.Tensor:
    """Cross-entropy of the logits ``input`` against class indices or class probabilities (a
    target of ``input``'s shape), log_softmax and the pick fused into one Function, stable for
    large logits. See :class:`~manualgrad.functions.cross_entropy.CrossEntropyFunction`."""
    reduction = _reduction(size_average, reduce, reduction)
    label_smoothing = float(label_smoothing)
    byte_target = target.dtype == torch.uint8
    target, weight, classes = check_cross_entropy(input, target, weight, ignore_index, label_smoothing, reduction)
    if byte_target and label_smoothing > 0 and weight is not None and reduction == "mean":
        refuse_byte_smoothing(target, ignore_index)
    return CrossEntropyFunction.apply(input, target, weight, ignore_index, reduction, label_smoothing, classes)[0]


def refuse_byte_smoothing(target: torch.Tensor, ignore_index: int) -> None:
    """torch's weighted, smoothed 'mean' gathers the class weights with the uint8 target itself,
    which gather refuses once any target is kept (an empty or all-ignored batch passes)."""
    if not values_hidden() and bool((target != ignore_index).any()):
        raise RuntimeError("gather(): Expected dtype int32/int64 for index")
