"""Margin losses: margin_ranking, hinge_embedding, soft_margin, cosine_embedding, multi_margin,
multilabel_margin, triplet_margin, triplet_margin_with_distance.

torch runs every one of them in float32 under autocast (its fp32 lists, CUDA and CPU), except
``triplet_margin_with_distance_loss``, plain Python around the user's distance.
"""

from __future__ import annotations

from typing import Callable

import torch

from ..functions.elementwise_binary import MinMaxFunction
from ..functions.margin_losses import (CosineEmbeddingLossFunction, HingeEmbeddingLossFunction,
                                       MarginRankingLossFunction, MultiLabelMarginLossFunction,
                                       MultiMarginLossFunction, SoftMarginLossFunction,
                                       TripletMarginLossFunction)
from ._autocast import FP32, autocast_policy
from ._util import _check_fill, _reduction, _refuse_grad


@autocast_policy(FP32, MarginRankingLossFunction)
def margin_ranking_loss(input1: torch.Tensor, input2: torch.Tensor, target: torch.Tensor, margin: float = 0,
                        size_average: bool | None = None, reduce: bool | None = None,
                        reduction: str = "mean") -> torch.Tensor:
    """R(max(0, −target · (input1 − input2) + margin)).
    See :class:`~manualgrad.functions.margin_losses.MarginRankingLossFunction`."""
    reduction = _reduction(size_average, reduce, reduction)
    if input1.dim() != input2.dim() or input1.dim() != target.dim():
        raise RuntimeError(
            f"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
            f"input1: {input1.size()}, input2: {input2.size()}, target: {target.size()} ")
    return MarginRankingLossFunction.apply(input1, input2, target, float(margin), reduction)  # a double, as torch's


@autocast_policy(FP32, HingeEmbeddingLossFunction)
def hinge_embedding_loss(input: torch.Tensor, target: torch.Tensor, margin: float = 1.0,
                         size_average: bool | None = None, reduce: bool | None = None,
                         reduction: str = "mean") -> torch.Tensor:
    """R(input where target = 1, max(0, margin − input) where target = −1).
    See :class:`~manualgrad.functions.margin_losses.HingeEmbeddingLossFunction`."""
    reduction = _reduction(size_average, reduce, reduction)
    _check_fill(float(margin), input.dtype)  # torch's kernel fills a tensor like input with the margin
    # torch's kernel takes the margin in input's dtype: a double, or truncated for an integer input
    margin = float(margin) if input.is_floating_point() else int(margin)
    return HingeEmbeddingLossFunction.apply(input, target, margin, reduction)


@autocast_policy(FP32, SoftMarginLossFunction)
def soft_margin_loss(input: torch.Tensor, target: torch.Tensor, size_average: bool | None = None,
                     reduce: bool | None = None, reduction: str = "mean") -> torch.Tensor:
    """R(log(1 + exp(−target · input))).
    See :class:`~manualgrad.functions.margin_losses.SoftMarginLossFunction`."""
    reduction = _reduction(size_average, reduce, reduction)
    _refuse_grad("soft_margin_loss", target=target)
    return SoftMarginLossFunction.apply(input, target, reduction)


@autocast_policy(FP32, CosineEmbeddingLossFunction)
def cosine_embedding_loss(input1: torch.Tensor, input2: torch.Tensor, target: torch.Tensor, margin: float = 0,
                          size_average: bool | None = None, reduce: bool | None = None,
                          reduction: str = "mean") -> torch.Tensor:
    """R(1 − cos where target = 1, max(0, cos − margin) where target = −1).
    See :class:`~manualgrad.functions.margin_losses.CosineEmbeddingLossFunction`."""
    reduction = _reduction(size_average, reduce, reduction)
    return CosineEmbeddingLossFunction.apply(input1, input2, target, margin, reduction)


@autocast_policy(FP32, MultiMarginLossFunction)
def multi_margin_loss(input: torch.Tensor, target: torch.Tensor, p: int = 1, margin: float = 1.0,
                      weight: torch.Tensor | None = None, size_average: bool | None = None,
                      reduce: bool | None = None, reduction: str = "mean") -> torch.Tensor:
    """Multi-class hinge: R(Σ_{j ≠ y} w_y · max(0, margin − x_y + x_j)ᵖ / C).
    See :class:`~manualgrad.functions.margin_losses.MultiMarginLossFunction`."""
    reduction = _reduction(size_average, reduce, reduction)
    if p != 1 and p != 2:
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.dim() != 1:
        raise ValueError("weight must be one-dimensional")
    _refuse_grad("multi_margin_loss", weight=weight)
    return MultiMarginLossFunction.apply(input, target, p, margin, weight, reduction)


@autocast_policy(FP32, MultiLabelMarginLossFunction)
def multilabel_margin_loss(input: torch.Tensor, target: torch.Tensor, size_average: bool | None = None,
                           reduce: bool | None = None, reduction: str = "mean") -> torch.Tensor:
    """Multi-label hinge over (target class, non-target class) pairs.
    See :class:`~manualgrad.functions.margin_losses.MultiLabelMarginLossFunction`."""
    reduction = _reduction(size_average, reduce, reduction)
    return MultiLabelMarginLossFunction.apply(input, target, reduction)


def _check_triplet_dims(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor) -> None:
    a, p, n = anchor.ndim, positive.ndim, negative.ndim
    if not (a == p and p == n):
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the same number of "
                           f"dimensions, but got: anchor {a}D, positive {p}D, and negative {n}D inputs")


@autocast_policy(FP32, TripletMarginLossFunction)
def triplet_margin_loss(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor,
                        margin: float = 1.0, p: float = 2, eps: float = 1e-6, swap: bool = False,
                        size_average: bool | None = None, reduce: bool | None = None,
                        reduction: str = "mean") -> torch.Tensor:
    """R(max(0, margin + ‖a − p‖ − ‖a − n‖)) with torch's pairwise distances (p, eps) and the
    distance swap. See :class:`~manualgrad.functions.margin_losses.TripletMarginLossFunction`."""
    reduction = _reduction(size_average, reduce, reduction)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    _check_triplet_dims(anchor, positive, negative)
    return TripletMarginLossFunction.apply(anchor, positive, negative, margin, p, eps, swap, reduction)


def triplet_margin_with_distance_loss(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor, *,
                                      distance_function: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
                                      | None = None, margin: float = 1.0, swap: bool = False,
                                      reduction: str = "mean") -> torch.Tensor:
    """The triplet hinge on ``distance_function``: None is torch's pairwise_distance, so the loss is
    :class:`~manualgrad.functions.margin_losses.TripletMarginLossFunction` at p = 2; a callable of
    the user's runs as given (differentiated by whatever it is made of), and our minimum and
    margin-ranking hinge take its distances."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    _check_triplet_dims(anchor, positive, negative)
    if distance_function is None:  # torch's pairwise_distance: the triplet loss at p = 2, eps = 1e-6
        return TripletMarginLossFunction.apply(anchor, positive, negative, margin, 2.0, 1e-6, swap, reduction)
    dist_pos = distance_function(anchor, positive)
    dist_neg = distance_function(anchor, negative)
    if swap:  # ties share the gradient, as torch.minimum's
        dist_neg = MinMaxFunction.apply(dist_neg, distance_function(positive, negative), True)
    one = torch.ones((), dtype=dist_neg.dtype, device=dist_neg.device)
    return MarginRankingLossFunction.apply(dist_neg, dist_pos, one, float(margin), reduction)  # max(0, m + dp − dn)
