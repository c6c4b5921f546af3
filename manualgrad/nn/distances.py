"""Distance modules: torch's ``CosineSimilarity`` and ``PairwiseDistance`` (constructor, repr)
with ``forward`` through :mod:`manualgrad.functional`."""

from __future__ import annotations

import torch

from .. import functional as MF

__all__ = ["CosineSimilarity", "PairwiseDistance"]


class CosineSimilarity(torch.nn.CosineSimilarity):
    """:class:`torch.nn.CosineSimilarity` (``dim``, ``eps``); ``forward`` runs
    :func:`manualgrad.functional.cosine_similarity`."""

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        return MF.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(torch.nn.PairwiseDistance):
    """:class:`torch.nn.PairwiseDistance` (``p`` stored as ``norm``, ``eps``, ``keepdim``);
    ``forward`` runs :func:`manualgrad.functional.pairwise_distance`."""

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        return MF.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)
