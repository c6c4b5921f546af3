"""Samples for ``bilinear`` (``functions/bilinear.py``)."""

from __future__ import annotations

import torch.nn.functional as F

from .. import functional as MF
from ..functions.bilinear import BilinearFunction
from ..opspec import OpSpec
from . import ErrorSample, Sample, make, noncontiguous


def samples(device, dtype):
    kw = dict(device=device, dtype=dtype)
    yield Sample((make(4, 3, **kw), make(4, 2, **kw), make(5, 3, 2, **kw), make(5, **kw)), name="batch, bias")
    yield Sample((make(4, 3, **kw), make(4, 2, **kw), make(5, 3, 2, **kw)), name="no bias")
    yield Sample((make(3, **kw), make(2, **kw), make(5, 3, 2, **kw), make(5, **kw)), name="unbatched")
    yield Sample((make(2, 3, 3, **kw), make(2, 3, 2, **kw), make(4, 3, 2, **kw), make(4, **kw)), name="3-d input")
    yield Sample((make(0, 3, **kw), make(0, 2, **kw), make(5, 3, 2, **kw), make(5, **kw)), name="empty batch")
    yield Sample((noncontiguous(4, 3, **kw), noncontiguous(4, 2, **kw), noncontiguous(5, 3, 2, **kw)),
                 name="non-contiguous")
    yield Sample((make(4, 3, **kw), make(4, 2, **kw, requires_grad=False), make(5, 3, 2, **kw)),
                 name="second input without grad")
    yield Sample((make(4, 1, **kw), make(4, 1, **kw), make(1, 1, 1, **kw), make(1, **kw)), name="one feature each")


def errors(device):
    t = lambda *s: make(*s, device=device, dtype=None, requires_grad=False)  # noqa: E731
    yield ErrorSample((t(2, 3), t(3, 4), t(5, 3, 4)), name="batch sizes differ")
    yield ErrorSample((t(2, 3), t(2, 4), t(5, 3, 5)), name="input2 size")
    yield ErrorSample((t(2, 3), t(2, 4), t(5, 4, 4)), name="input1 size")
    yield ErrorSample((t(2, 3), t(2, 4), t(5, 3, 4), t(4)), name="bias size")
    yield ErrorSample((t(2, 3), t(2, 4), t(3, 4)), name="2-d weight")
    yield ErrorSample((t(2, 3), t(2, 4).double(), t(5, 3, 4)), name="dtypes differ")


# op-table entries, collected by manualgrad/ops.py
OPS = [OpSpec("bilinear", MF.bilinear, F.bilinear, BilinearFunction, samples, errors)]
