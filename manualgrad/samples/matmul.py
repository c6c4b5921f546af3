"""Samples for the matrix products (``functions/matmul.py``): every rank case of matmul."""

from __future__ import annotations

import torch

from .. import math as _math
from ..functions.matmul import AddmmFunction, MatmulFunction
from ..opspec import OpSpec
from . import ErrorSample, Sample, expanded, make, noncontiguous

# (a, b) shapes of torch.matmul's rank cases
MATMUL_SHAPES = [
    ((3,), (3,), "1-d dot"),
    ((3,), (3, 4), "1-d @ 2-d"),
    ((2, 3), (3,), "2-d @ 1-d"),
    ((2, 3), (3, 4), "2-d @ 2-d"),
    ((3,), (2, 3, 4), "1-d @ batched"),
    ((2, 2, 3), (3,), "batched @ 1-d"),
    ((2, 2, 3), (3, 4), "batched @ 2-d"),
    ((2, 3), (2, 3, 4), "2-d @ batched"),
    ((2, 2, 3), (2, 3, 4), "batched @ batched"),
    ((2, 1, 2, 3), (3, 3, 2), "broadcast batch dims"),
    ((1, 2, 3), (2, 3, 2), "size-1 batch dim"),
    ((0, 2, 3), (3, 4), "empty batch"),
    ((2, 0), (0, 3), "k = 0"),
    ((0,), (0,), "empty dot"),
]


def matmul(device, dtype):
    kw = dict(device=device, dtype=dtype)
    for sa, sb, name in MATMUL_SHAPES:
        yield Sample((make(sa, **kw), make(sb, **kw)), name=name)
    yield Sample((noncontiguous(2, 3, **kw), noncontiguous(3, 4, **kw)), name="non-contiguous")
    t = make(4, 3, **kw, requires_grad=False).t().requires_grad_()
    yield Sample((make(2, 2, 3, **kw), t), name="transposed b")
    yield Sample((expanded(3, 2, 3, **kw), make(3, 2, **kw)), name="expanded batch")
    yield Sample((make(2, 3, **kw, requires_grad=False), make(2, 3, 4, **kw)), name="a without grad")
    yield Sample((make(2, 2, 3, **kw), make(3, 4, **kw, requires_grad=False)), name="b without grad")


def mm(device, dtype):
    kw = dict(device=device, dtype=dtype)
    yield Sample((make(2, 3, **kw), make(3, 4, **kw)))
    yield Sample((make(0, 3, **kw), make(3, 2, **kw)), name="empty")
    yield Sample((noncontiguous(2, 3, **kw), make(4, 3, **kw, requires_grad=False).t().requires_grad_()),
                 name="non-contiguous, transposed")


def bmm(device, dtype):
    kw = dict(device=device, dtype=dtype)
    yield Sample((make(2, 2, 3, **kw), make(2, 3, 4, **kw)))
    yield Sample((make(0, 2, 3, **kw), make(0, 3, 4, **kw)), name="empty batch")
    yield Sample((expanded(2, 2, 3, **kw), noncontiguous(2, 3, 4, **kw)), name="expanded, non-contiguous")


def addmm(device, dtype):
    kw = dict(device=device, dtype=dtype)
    yield Sample((make(2, 4, **kw), make(2, 3, **kw), make(3, 4, **kw)))
    yield Sample((make(4, **kw), make(2, 3, **kw), make(3, 4, **kw)), {"beta": 0.5, "alpha": 2.0},
                 name="broadcast row, beta, alpha")
    yield Sample((make(**kw), make(2, 3, **kw), make(3, 4, **kw)), {"alpha": -1.0}, name="0-d input")
    yield Sample((make(2, 1, **kw), make(2, 0, **kw), make(0, 4, **kw)), name="k = 0, column input")
    nan = torch.full((2, 4), float("nan"), **kw).requires_grad_()
    yield Sample((nan, make(2, 3, **kw), make(3, 4, **kw)), {"beta": 0}, name="beta 0 ignores nan",
                 gradcheck=False)
    yield Sample((make(2, 4, **kw), make(2, 3, **kw), make(3, 4, **kw)), {"beta": 0}, name="beta 0")


def baddbmm(device, dtype):
    kw = dict(device=device, dtype=dtype)
    yield Sample((make(2, 2, 4, **kw), make(2, 2, 3, **kw), make(2, 3, 4, **kw)))
    yield Sample((make(1, 4, **kw), make(2, 2, 3, **kw), make(2, 3, 4, **kw)), {"beta": 0.5, "alpha": 2.0},
                 name="broadcast input, beta, alpha")
    yield Sample((make(2, 2, 4, **kw, requires_grad=False), noncontiguous(2, 2, 3, **kw),
                  make(2, 3, 4, **kw)), name="input without grad, non-contiguous")


def _t(device):
    return lambda *s, dtype=None: make(*s, device=device, dtype=dtype, requires_grad=False)  # noqa: E731


def matmul_errors(device):
    t = _t(device)
    yield ErrorSample((t(2, 3), t(4, 5)), name="inner dims mismatch")
    yield ErrorSample((t(3), t(4)), name="dot size mismatch")
    yield ErrorSample((t(2, 2, 3), t(3, 3, 4)), name="batch dims do not broadcast")
    yield ErrorSample((t(), t(3)), name="0-d input")
    yield ErrorSample((t(2, 3), t(3, 4, dtype=torch.float64)), name="dtype mismatch")


def mm_errors(device):
    t = _t(device)
    yield ErrorSample((t(2, 2, 3), t(3, 4)), name="3-d input")
    yield ErrorSample((t(2, 3), t(4, 5)), name="inner dims mismatch")


def bmm_errors(device):
    t = _t(device)
    yield ErrorSample((t(2, 3), t(3, 4)), name="2-d input")
    yield ErrorSample((t(2, 2, 3), t(3, 3, 4)), name="batch mismatch")


def addmm_errors(device):
    t = _t(device)
    yield ErrorSample((t(3, 4), t(2, 3), t(3, 4)), name="input does not broadcast")
    yield ErrorSample((t(2, 4), t(2, 3), t(2, 4)), name="inner dims mismatch")


def baddbmm_errors(device):
    t = _t(device)
    yield ErrorSample((t(3, 2, 4), t(2, 2, 3), t(2, 3, 4)), name="input does not broadcast")
    yield ErrorSample((t(2, 2, 4), t(2, 2, 3), t(3, 3, 4)), name="batch mismatch")


# op-table entries, collected by manualgrad/ops.py
OPS = [
    OpSpec("matmul", _math.matmul, torch.matmul, MatmulFunction, matmul, matmul_errors),
    OpSpec("mm", _math.mm, torch.mm, MatmulFunction, mm, mm_errors),
    OpSpec("bmm", _math.bmm, torch.bmm, MatmulFunction, bmm, bmm_errors),
    OpSpec("addmm", _math.addmm, torch.addmm, AddmmFunction, addmm, addmm_errors),
    OpSpec("baddbmm", _math.baddbmm, torch.baddbmm, AddmmFunction, baddbmm, baddbmm_errors),
]
