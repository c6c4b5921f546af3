"""Samples for ``dropout`` (the op table seeds both sides alike)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import functional as MF
from ..functions.dropout import DropoutFunction
from ..opspec import OpSpec
from . import ErrorSample, Sample, make, noncontiguous


def samples(device, dtype):
    kw = dict(device=device, dtype=dtype)
    yield Sample((make(8, 5, **kw),), name="default p")
    for p in (0.1, 0.3, 0.9):
        yield Sample((make(3, 4, 5, **kw), p), name=f"p={p}")
    yield Sample((make(7, **kw), 1.0), name="p=1 drops all")
    yield Sample((make(6, **kw), 0.0), name="p=0 is identity", node=False)
    yield Sample((make(4, 5, **kw), 0.5, False), name="eval is identity", node=False)
    yield Sample((make(**kw), 0.4), name="0-d")
    yield Sample((make(0, 3, **kw), 0.4), name="empty", node=False)
    yield Sample((noncontiguous(4, 6, **kw), 0.5), name="non-contiguous")
    yield Sample((make(5, 3, **kw), 0.5, True, True), name="inplace", clone_input=True)
    yield Sample((make(13, **kw), 0.5), name="odd numel (bit padding)")


def errors(device):
    x = make(4, device=device, dtype=None, requires_grad=False)
    yield ErrorSample((x, 1.5), name="p > 1")
    yield ErrorSample((x, -0.1), name="p < 0")


# op-table entries, collected by manualgrad/ops.py
def dropout_reference(input, p=0.5, training=True, inplace=False):
    """Dropout written with torch autograd ops, drawing its mask exactly as ours does (on CPU it
    equals ``F.dropout`` under the same seed; tests/test_dropout.py checks that)."""
    if not 0 <= p <= 1:
        return F.dropout(input, p, training, inplace)  # torch's own error
    if not training or p == 0:
        return input
    noise = torch.empty_like(input).bernoulli_(1 - p)
    return input * noise.div_(1 - p) if p < 1 else input * 0


OPS = [OpSpec("dropout", MF.dropout, dropout_reference, DropoutFunction, samples, errors, seeded=True)]
