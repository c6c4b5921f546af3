"""Likelihood losses: kl_div, poisson_nll_loss, gaussian_nll_loss, multilabel_soft_margin_loss.

Each resolves its reduction exactly as torch's wrapper does (they differ: kl_div takes
'batchmean' and warns on 'mean'; poisson_nll_loss, gaussian_nll_loss and
multilabel_soft_margin_loss do not take the deprecated 'elementwise_mean'). Under autocast
kl_div and poisson_nll_loss run in float32 (torch's fp32 lists); the other two are Python
composites in torch, whose CUDA log/pow/sum run in float32 and whose CPU ops run as given.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch.nn import _reduction as _torch_reduction

from ..functions.probabilistic_losses import (GaussianNLLLossFunction, KLDivFunction,
                                              MultiLabelSoftMarginLossFunction, PoissonNLLLossFunction)
from ._autocast import FP32, autocast_policy
from ._util import _reduction

_KL_MEAN_WARNING = (
    "reduction: 'mean' divides the total loss by both the batch size and the support size."
    "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
    "'mean' will be changed to behave the same as 'batchmean' in the next major release.")


def _legacy_string(size_average, reduce, reduction: str) -> str:
    """The reduction the deprecated pair stands for (with torch's warning), else ``reduction``."""
    if size_average is not None or reduce is not None:
        return _torch_reduction.legacy_get_string(size_average, reduce)
    return reduction


@autocast_policy(FP32, KLDivFunction)
def kl_div(input: torch.Tensor, target: torch.Tensor, size_average: bool | None = None, reduce: bool | None = None,
           reduction: str = "mean", log_target: bool = False) -> torch.Tensor:
    """R(target · (log target − input)) (``log_target``: R(e^target · (target − input))); 'batchmean'
    divides the sum by the batch size. See :class:`~manualgrad.functions.probabilistic_losses.KLDivFunction`."""
    if size_average is not None or reduce is not None:
        kernel = _reduction(size_average, reduce, reduction)
    else:
        if reduction == "mean":
            warnings.warn(_KL_MEAN_WARNING, stacklevel=3)  # the caller, past the autocast wrapper
        kernel = "sum" if reduction == "batchmean" else _reduction(None, None, reduction)
    # torch divides whatever the kernel reduced by the batch size (after a legacy pair too)
    scale = input.size()[0] if reduction == "batchmean" and input.dim() != 0 else None
    return KLDivFunction.apply(input, target, log_target, kernel, scale)


@autocast_policy(FP32, PoissonNLLLossFunction)
def poisson_nll_loss(input: torch.Tensor, target: torch.Tensor, log_input: bool = True, full: bool = False,
                     size_average: bool | None = None, eps: float = 1e-8, reduce: bool | None = None,
                     reduction: str = "mean") -> torch.Tensor:
    """R(e^input − target · input) (``log_input=False``: R(input − target · log(input + eps))), plus
    the Stirling term of target where ``full``.
    See :class:`~manualgrad.functions.probabilistic_losses.PoissonNLLLossFunction`."""
    reduction = _legacy_string(size_average, reduce, reduction)
    if reduction != "none" and reduction != "mean" and reduction != "sum":
        raise ValueError(reduction + " is not a valid value for reduction")
    return PoissonNLLLossFunction.apply(input, target, log_input, full, eps, reduction)


def _shaped_var(input: torch.Tensor, var) -> torch.Tensor:
    """torch's checks and homoscedastic shapes of ``var``: a float is a constant of input's
    shape; a var one dim short gets that dim back (size 1); otherwise it must equal input's
    size or differ in exactly one dim of size 1. Negative entries raise torch's ValueError."""
    if isinstance(var, float):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        return var * torch.ones_like(input)
    if torch.any(var < 0):
        raise ValueError("var has negative entry/entries")
    if var.size() != input.size():
        if input.size()[:-1] == var.size():
            return torch.unsqueeze(var, -1)
        if not (input.ndim == var.ndim and sum(y for x, y in zip(input.size(), var.size()) if x != y) == 1):
            raise ValueError("var is of incorrect size")
    return var


@autocast_policy(FP32, GaussianNLLLossFunction, cpu=None)
def gaussian_nll_loss(input: torch.Tensor, target: torch.Tensor, var: torch.Tensor | float, full: bool = False,
                      eps: float = 1e-6, reduction: str = "mean") -> torch.Tensor:
    """R(½ (log v̂ + (input − target)² / v̂)) [+ ½ log 2π], v̂ = max(var, eps) with the gradient
    passed straight through the clamp, as torch's.
    See :class:`~manualgrad.functions.probabilistic_losses.GaussianNLLLossFunction`."""
    var = _shaped_var(input, var)
    if reduction != "none" and reduction != "mean" and reduction != "sum":
        raise ValueError(reduction + " is not valid")
    if not var.is_floating_point():  # torch clamps a clone of var in place: its error for an integer var
        with torch.no_grad():
            var.clone().clamp_(min=eps)
    return GaussianNLLLossFunction.apply(input, target, var, full, eps, reduction)


@autocast_policy(FP32, MultiLabelSoftMarginLossFunction, cpu=None)
def multilabel_soft_margin_loss(input: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
                                size_average: bool | None = None, reduce: bool | None = None,
                                reduction: str = "mean") -> torch.Tensor:
    """R(Σ_c weight · (softplus(input) − target · input) / C), the logistic loss per label averaged
    over the last dim. See
    :class:`~manualgrad.functions.probabilistic_losses.MultiLabelSoftMarginLossFunction`."""
    reduction = _legacy_string(size_average, reduce, reduction)
    if reduction not in ("none", "mean", "sum"):  # torch computes the loss, then raises its error
        with torch.no_grad():
            return F.multilabel_soft_margin_loss(input, target, weight, reduction=reduction)
    return MultiLabelSoftMarginLossFunction.apply(input, target, weight, reduction)
