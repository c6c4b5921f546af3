"""Margin-loss modules: each subclasses its :mod:`torch.nn` twin (constructor with the deprecated
``size_average``/``reduce``, ``weight`` buffers, ``state_dict``, repr) and overrides only
``forward``, one line into :mod:`manualgrad.functional`."""

from __future__ import annotations

import torch

from .. import functional as MF

__all__ = ["MarginRankingLoss", "HingeEmbeddingLoss", "SoftMarginLoss", "CosineEmbeddingLoss", "MultiMarginLoss",
           "MultiLabelMarginLoss", "TripletMarginLoss", "TripletMarginWithDistanceLoss"]


class MarginRankingLoss(torch.nn.MarginRankingLoss):
    """:class:`torch.nn.MarginRankingLoss`; ``forward`` runs :func:`manualgrad.functional.margin_ranking_loss`."""

    def forward(self, input1: torch.Tensor, input2: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return MF.margin_ranking_loss(input1, input2, target, margin=self.margin, reduction=self.reduction)


class HingeEmbeddingLoss(torch.nn.HingeEmbeddingLoss):
    """:class:`torch.nn.HingeEmbeddingLoss`; ``forward`` runs :func:`manualgrad.functional.hinge_embedding_loss`."""

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return MF.hinge_embedding_loss(input, target, margin=self.margin, reduction=self.reduction)


class SoftMarginLoss(torch.nn.SoftMarginLoss):
    """:class:`torch.nn.SoftMarginLoss`; ``forward`` runs :func:`manualgrad.functional.soft_margin_loss`."""

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return MF.soft_margin_loss(input, target, reduction=self.reduction)


class CosineEmbeddingLoss(torch.nn.CosineEmbeddingLoss):
    """:class:`torch.nn.CosineEmbeddingLoss`; ``forward`` runs
    :func:`manualgrad.functional.cosine_embedding_loss`."""

    def forward(self, input1: torch.Tensor, input2: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return MF.cosine_embedding_loss(input1, input2, target, margin=self.margin, reduction=self.reduction)


class MultiMarginLoss(torch.nn.MultiMarginLoss):
    """:class:`torch.nn.MultiMarginLoss` (``p``, ``margin``, ``weight`` buffer); ``forward`` runs
    :func:`manualgrad.functional.multi_margin_loss`."""

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return MF.multi_margin_loss(input, target, p=self.p, margin=self.margin, weight=self.weight,
                                    reduction=self.reduction)


class MultiLabelMarginLoss(torch.nn.MultiLabelMarginLoss):
    """:class:`torch.nn.MultiLabelMarginLoss`; ``forward`` runs
    :func:`manualgrad.functional.multilabel_margin_loss`."""

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return MF.multilabel_margin_loss(input, target, reduction=self.reduction)


class TripletMarginLoss(torch.nn.TripletMarginLoss):
    """:class:`torch.nn.TripletMarginLoss` (``margin``, ``p``, ``eps``, ``swap``); ``forward`` runs
    :func:`manualgrad.functional.triplet_margin_loss`."""

    def forward(self, anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
        return MF.triplet_margin_loss(anchor, positive, negative, margin=self.margin, p=self.p, eps=self.eps,
                                      swap=self.swap, reduction=self.reduction)


class TripletMarginWithDistanceLoss(torch.nn.TripletMarginWithDistanceLoss):
    """:class:`torch.nn.TripletMarginWithDistanceLoss`; ``forward`` runs
    :func:`manualgrad.functional.triplet_margin_with_distance_loss` (a ``distance_function`` of
    the user's stays the user's; None is our ``pairwise_distance``)."""

    def forward(self, anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
        return MF.triplet_margin_with_distance_loss(anchor, positive, negative,
                                                    distance_function=self.distance_function,
                                                    margin=self.margin, swap=self.swap, reduction=self.reduction)
