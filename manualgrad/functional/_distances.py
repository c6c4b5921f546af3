"""Distances: ``pairwise_distance``, ``cosine_similarity``, ``normalize``.

Under CUDA autocast torch's norms run in float32 (so do these three); on the CPU they run in the
inputs' dtypes, as torch's.
"""

from __future__ import annotations

import torch

from ..functions.distances import (CosineSimilarityFunction, NormalizeFunction, PairwiseDistanceFunction,
                                   _refuse_complex)
from ._autocast import FP32, autocast_policy


@autocast_policy(FP32, PairwiseDistanceFunction, cpu=None)
def pairwise_distance(x1: torch.Tensor, x2: torch.Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> torch.Tensor:
    """‖x1 − x2 + eps‖_p over the last dim.
    See :class:`~manualgrad.functions.distances.PairwiseDistanceFunction`."""
    _refuse_complex(x1, x2)
    return PairwiseDistanceFunction.apply(x1, x2, p, eps, keepdim)


@autocast_policy(FP32, CosineSimilarityFunction, cpu=None)
def cosine_similarity(x1: torch.Tensor, x2: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """Σ x1·x2 / (max(‖x1‖, eps) · max(‖x2‖, eps)) along ``dim``.
    See :class:`~manualgrad.functions.distances.CosineSimilarityFunction`."""
    _refuse_complex(x1, x2)
    return CosineSimilarityFunction.apply(x1, x2, dim, eps)


@autocast_policy(FP32, NormalizeFunction, cpu=None)
def normalize(input: torch.Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12,
              out: torch.Tensor | None = None) -> torch.Tensor:
    """input / max(‖input‖_p, eps) along ``dim``. With ``out=`` torch's own runs (an ``out=``
    result has no gradient). See :class:`~manualgrad.functions.distances.NormalizeFunction`."""
    if out is not None:
        return torch.nn.functional.normalize(input, p, dim, eps, out)
    _refuse_complex(input)
    return NormalizeFunction.apply(input, p, dim, eps)
