"""Samples for ``pairwise_distance``, ``cosine_similarity`` and ``normalize``."""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F

from .. import functional as MF
from ..functions.distances import CosineSimilarityFunction, NormalizeFunction, PairwiseDistanceFunction
from ..opspec import OpSpec
from . import ErrorSample, Sample, expanded, make, noncontiguous

NORMS = (2.0, 1.0, 3.0, float("inf"), 0.5, -1.0, 0.0)  # p = 0 counts: no gradient, as torch


def pairwise_distance(device, dtype):
    x = partial(make, device=device, dtype=dtype)
    for p in NORMS:
        yield Sample((x(4, 5), x(4, 5)), {"p": p}, name=f"p={p}")
    yield Sample((x(4, 5), x(4, 5)), {"keepdim": True}, name="keepdim")
    yield Sample((x(4, 5), x(4, 5), 1.0, 1e-3, True), name="positional p, eps, keepdim")
    yield Sample((x(5), x(4, 5)), name="broadcast 1-d against 2-d")
    yield Sample((x(2, 1, 5), x(3, 5)), {"p": 3.0}, name="broadcast rank 3")
    yield Sample((x(5), x(5)), name="1-d")
    yield Sample((x(), x()), name="0-d")
    yield Sample((x(0, 5), x(0, 5)), name="empty batch")
    yield Sample((x(3, 0), x(3, 0)), name="empty vectors")
    yield Sample((noncontiguous(3, 4, device=device, dtype=dtype), expanded(3, 4, device=device, dtype=dtype)),
                 name="non-contiguous and expanded")
    yield Sample((x(3, 4), x(3, 4, requires_grad=False)), name="x2 without grad")
    yield Sample((x(3, 4), x(3, 4, dtype=torch.float64)), name="float64 x2")
    ints = torch.randint(-3, 4, (3, 4), device=device)
    yield Sample((ints, ints.flip(0)), name="integer inputs (no grad)")
    same = x(3, 4, requires_grad=False)
    yield Sample((same.clone().requires_grad_(), same.clone().requires_grad_()), {"eps": 0.0},
                 name="x1 = x2, eps=0: y = 0", gradcheck=False)


def pairwise_distance_errors(device):
    t = partial(make, device=device, dtype=None, requires_grad=False)
    yield ErrorSample((t(3, 4), t(3, 5)), name="sizes do not broadcast")


def cosine_similarity(device, dtype):
    x = partial(make, device=device, dtype=dtype)
    yield Sample((x(4, 5), x(4, 5)), name="dim=1")
    yield Sample((x(4, 5), x(4, 5)), {"dim": 0}, name="dim=0")
    yield Sample((x(2, 3, 4), x(2, 3, 4)), {"dim": -1}, name="dim=-1 rank 3")
    yield Sample((x(4, 5), x(4, 5), 1, 0.5), name="positional dim, eps")
    yield Sample((x(5), x(5)), {"dim": 0}, name="1-d: 0-d result")
    yield Sample((x(4, 1, 5), x(3, 5)), {"dim": -1}, name="broadcast")
    yield Sample((x(0, 5), x(0, 5)), name="empty batch")
    yield Sample((noncontiguous(3, 4, device=device, dtype=dtype), expanded(3, 4, device=device, dtype=dtype)),
                 name="non-contiguous and expanded")
    yield Sample((x(3, 4), x(3, 4, dtype=torch.float64)), name="float64 x2")
    yield Sample((x(3, 4), x(3, 4, requires_grad=False)), name="x2 without grad")
    small = make(3, 4, device=device, dtype=dtype, requires_grad=False) * 0.05
    small[1] = 0  # a zero row: r = 0, ∂r/∂x taken as 0
    # below eps torch passes the gradient through the clamped norm as if unclamped (not the
    # derivative of the clamped function, so no gradcheck); ours equals torch's there
    yield Sample((small.requires_grad_(), x(3, 4)), {"eps": 0.5}, name="norms below eps", gradcheck=False)


def cosine_similarity_errors(device):
    t = partial(make, device=device, dtype=None, requires_grad=False)
    ints = torch.randint(-3, 4, (3, 4), device=device)
    yield ErrorSample((ints, ints.flip(0)), name="integer inputs")
    yield ErrorSample((t(3, 4), t(3, 5)), name="sizes do not broadcast")
    yield ErrorSample((t(3, 4), t(3, 4)), {"dim": 2}, name="dim out of range")


def normalize(device, dtype):
    x = partial(make, device=device, dtype=dtype)
    for p in (2.0, 1.0, 3.0, float("inf")):
        yield Sample((x(4, 5),), {"p": p}, name=f"p={p}")
    for dim in (0, -1):
        yield Sample((x(2, 3, 4),), {"dim": dim}, name=f"dim={dim}")
    yield Sample((x(4, 5), 1.0, 0, 1e-3), name="positional p, dim, eps")
    yield Sample((x(5),), {"dim": 0}, name="1-d")
    yield Sample((x(0, 5),), name="empty batch")
    yield Sample((noncontiguous(3, 4, device=device, dtype=dtype),), name="non-contiguous")
    rows = make(3, 4, device=device, dtype=dtype, requires_grad=False)
    rows[0] *= 0.01  # below eps = 0.5: x / eps, the clamp is constant there
    rows[1] = 0
    yield Sample((rows.requires_grad_(),), {"eps": 0.5}, name="norms below eps and a zero row")


def normalize_errors(device):
    t = partial(make, device=device, dtype=None, requires_grad=False)
    yield ErrorSample((t(3, 4),), {"dim": 2}, name="dim out of range")
    yield ErrorSample((torch.ones(3, 4, dtype=torch.long, device=device),), name="integer input")


# op-table entries, collected by manualgrad/ops.py
OPS = [
    OpSpec("pairwise_distance", MF.pairwise_distance, F.pairwise_distance, PairwiseDistanceFunction,
           pairwise_distance, pairwise_distance_errors),
    OpSpec("cosine_similarity", MF.cosine_similarity, F.cosine_similarity, CosineSimilarityFunction,
           cosine_similarity, cosine_similarity_errors),
    OpSpec("normalize", MF.normalize, F.normalize, NormalizeFunction, normalize, normalize_errors),
]
