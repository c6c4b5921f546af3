"""Samples for ``l1_l2_penalty`` (not a torch.nn.functional op: its reference is written with torch
autograd ops in ``manualgrad.regularization.reference_penalty``)."""

from __future__ import annotations

import torch

from .. import regularization as _reg
from ..functions.regularization import PenaltyFunction
from ..opspec import OpSpec
from . import ErrorSample, Sample, make, noncontiguous


def samples(device, dtype):
    kw = dict(device=device, dtype=dtype)
    for l1, l2 in ((0.1, 0.0), (0.0, 0.3), (0.05, 0.2)):
        yield Sample((make(4, 3, **kw), l1, l2), name=f"l1={l1},l2={l2}")
    yield Sample((make(3, 2, 2, **kw),), dict(l1=0.01, l2=0.01), name="keywords, rank 3")
    yield Sample((make(5, **kw), 0.0, 0.0), name="no penalty")
    yield Sample((make(**kw), 0.2, 0.1), name="0-d")
    yield Sample((make(0, 3, **kw), 0.2, 0.1), name="empty")
    yield Sample((noncontiguous(3, 4, **kw), 0.2, 0.1), name="non-contiguous")
    kink = torch.tensor([-1.0, 0.0, 0.0, 2.0], device=device, dtype=dtype).requires_grad_()
    yield Sample((kink, 0.5, 0.1), name="exact 0 (sign(0) = 0)", gradcheck=False)


def errors(device):
    w = make(3, device=device, dtype=None, requires_grad=False)
    yield ErrorSample((w, -0.1, 0.0), name="negative l1", error=ValueError, match="must be >= 0")
    yield ErrorSample((w, 0.0, -1.0), name="negative l2", error=ValueError, match="must be >= 0")


# op-table entries, collected by manualgrad/ops.py
OPS = [OpSpec("l1_l2_penalty", _reg.l1_l2_penalty, _reg.reference_penalty, PenaltyFunction, samples, errors)]
