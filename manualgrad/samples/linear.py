"""Samples for ``linear``."""

from __future__ import annotations

import torch.nn.functional as F

from .. import functional as MF
from ..functions.linear import LinearFunction
from ..opspec import OpSpec
from . import ErrorSample, Sample, expanded, make, noncontiguous


def samples(device, dtype):
    kw = dict(device=device, dtype=dtype)
    w = lambda *s, **k: make(*s, **kw, **k)  # noqa: E731
    yield Sample((make(4, 3, **kw), w(5, 3), w(5)), name="batched")
    yield Sample((make(4, 3, **kw), w(5, 3)), name="no bias")
    yield Sample((make(4, 3, **kw), w(5, 3), None), name="bias None")
    yield Sample((make(3, **kw), w(5, 3), w(5)), name="unbatched")
    yield Sample((make(2, 3, 2, 3, **kw), w(4, 3), w(4)), name="rank 4")
    yield Sample((make(0, 3, **kw), w(4, 3), w(4)), name="empty batch")
    yield Sample((make(4, 0, **kw), w(5, 0), w(5)), name="zero in_features")
    yield Sample((noncontiguous(4, 3, **kw), noncontiguous(5, 3, **kw), w(5)), name="non-contiguous")
    yield Sample((expanded(4, 3, **kw), w(5, 3), expanded(5, **kw)), name="expanded")
    yield Sample((make(4, 3, **kw), make(3, 5, **kw, requires_grad=False).t().requires_grad_(), w(1)), name="transposed weight, broadcast bias")
    yield Sample((make(3, **kw), w(5, 3), w(1, 5)), name="1-d input, (1, out) bias")
    yield Sample((make(3, **kw), w(5, 3), w(1)), name="1-d input, (1,) bias")
    yield Sample((make(4, 3, **kw), w(5, 3), w(4, 1)), name="(N, 1) bias")
    yield Sample((make(4, 3, **kw), w(3)), name="1-d weight")
    yield Sample((make(3, **kw), w(3)), name="1-d input and weight")
    yield Sample((make(4, 3, **kw, requires_grad=False), w(5, 3), w(5)), name="input without grad")
    yield Sample((make(4, 3, **kw), w(5, 3, requires_grad=False), w(5)), name="weight without grad")


def errors(device):
    t = lambda *s: make(*s, device=device, dtype=None, requires_grad=False)  # noqa: E731
    yield ErrorSample((t(4, 3), t(5, 4)), name="in_features mismatch")
    yield ErrorSample((t(4, 3), t(5, 3), t(4)), name="bias size mismatch")
    yield ErrorSample((t(), t(5, 1)), name="0-d input")


# op-table entries, collected by manualgrad/ops.py
OPS = [OpSpec("linear", MF.linear, F.linear, LinearFunction, samples, errors)]
