"""Samples for the arithmetic (``functions/arithmetic.py``): add, sub, mul, div, neg, addcmul, addcdiv."""

from __future__ import annotations

import torch

from .. import math as _math
from ..functions import arithmetic as _arithmetic
from ..opspec import OpSpec
from . import ErrorSample, Sample, expanded, make
from .elementwise import _strided


def _binary(alpha=False, divisor=False, bool_other=True):
    """Samples of ``op(input, other)``: broadcasting, numbers on either side, 0-d, empty, strided,
    integer/bool operands and mixed dtypes (torch's promotion); ``alpha``: its option;
    ``divisor``: ``other`` kept away from 0."""
    def samples(device, dtype):
        kw = dict(device=device, dtype=dtype)
        a = lambda *s, **k: make(*s, **{**kw, **k})  # noqa: E731
        b = (lambda *s, **k: make(*s, **{**kw, "low": 0.5, "high": 2.0, **k})) if divisor else a  # noqa: E731
        yield Sample((a(3, 4), b(3, 4)))
        yield Sample((a(3, 1), b(4)), name="broadcast")
        yield Sample((a(4), b(2, 3, 1)), name="broadcast input up")
        yield Sample((a(3, 4), 2.5), name="tensor, number")
        yield Sample((1.5, b(3, 4)), name="number, tensor")
        yield Sample((a(3, 4), 3), name="tensor, int")
        yield Sample((a(), b(2, 3)), name="0-d input")
        yield Sample((a(2, 3), b()), name="0-d other")
        yield Sample((a(0, 3), b(3)), name="empty")
        yield Sample((_strided(a(3, 8)), b(1, 4, requires_grad=False).expand(3, 4).requires_grad_()),
                     name="non-contiguous, expanded")
        yield Sample((a(3, 4), b(3, 4, requires_grad=False)), name="other without grad")
        yield Sample((a(3, 4, requires_grad=False), b(3, 4)), name="input without grad")
        ints = torch.arange(1, 5, device=device)
        yield Sample((a(3, 4), ints), name="integer other (promoted)")
        yield Sample((ints, b(3, 4)), name="integer input (promoted)")
        if bool_other:  # sub refuses a bool tensor, div would divide by False
            yield Sample((a(3, 4), torch.tensor([True, False, True, True], device=device)), name="bool other")
        other = torch.float32 if dtype == torch.float64 else torch.float64
        yield Sample((a(3, 4), b(dtype=other)), name="0-d of another dtype", gradcheck=False)
        yield Sample((a(3, 4, dtype=other), b(3, 4)), name="two float dtypes", gradcheck=False)
        yield Sample((ints, torch.arange(2, 6, device=device)), name="integer tensors")
        if alpha:
            yield Sample((a(3, 4), b(4)), {"alpha": 2}, name="alpha=2")
            yield Sample((a(3, 4), b(4)), {"alpha": -0.5}, name="alpha=-0.5")
            yield Sample((ints, ints), {"alpha": 3}, name="integer tensors, alpha=3")
        if divisor:
            yield Sample((a(3, 4), b(3, 4)), {"rounding_mode": None}, name="rounding_mode=None")
            yield Sample((a(3, 4), b(3, 4)), {"rounding_mode": "floor"}, name="rounding_mode='floor' (torch's)",
                         node=False, gradcheck=False)
        if not alpha and not divisor:
            yield Sample((a(3, 4), True), name="tensor, bool number")
    return samples


add = _binary(alpha=True)
sub = _binary(alpha=True, bool_other=False)
mul = _binary()
div = _binary(divisor=True, bool_other=False)


def neg(device, dtype):
    kw = dict(device=device, dtype=dtype)
    yield Sample((make(3, 4, **kw),))
    yield Sample((make(**kw),), name="0-d")
    yield Sample((make(0, 3, **kw),), name="empty")
    yield Sample((_strided(make(3, 8, **kw)),), name="non-contiguous")
    yield Sample((expanded(3, 4, **kw),), name="expanded")
    yield Sample((torch.arange(-2, 3, device=device),), name="integer input")


def _addc(divide):
    def samples(device, dtype):
        kw = dict(device=device, dtype=dtype)
        x = lambda *s, **k: make(*s, **{**kw, **k})  # noqa: E731
        d = (lambda *s, **k: make(*s, **{**kw, "low": 0.5, "high": 2.0, **k})) if divide else x  # noqa: E731
        yield Sample((x(3, 4), x(3, 4), d(3, 4)))
        yield Sample((x(3, 4), x(3, 4), d(3, 4)), {"value": 0.5}, name="value=0.5")
        yield Sample((x(3, 4), x(3, 4), d(3, 4)), {"value": -2}, name="value=-2")
        yield Sample((x(4), x(3, 1), d(2, 1, 1)), name="broadcast all three")
        yield Sample((x(), x(2, 3), d()), name="0-d")
        yield Sample((x(0, 3), x(3), d(0, 1)), name="empty")
        yield Sample((_strided(x(3, 8)), expanded(3, 4, **kw), d(3, 4)), name="non-contiguous, expanded")
        yield Sample((x(3, 4), x(3, 4, requires_grad=False), d(3, 4)), name="tensor1 without grad")
        yield Sample((x(3, 4), x(3, 4), d(3, 4, requires_grad=False)), name="tensor2 without grad")
        yield Sample((x(3, 4, requires_grad=False), x(3, 4), d(3, 4)), name="input without grad")
        other = torch.float32 if dtype == torch.float64 else torch.float64
        yield Sample((x(3, 4), x(dtype=other), d(3, 4)), name="0-d of another dtype", gradcheck=False)
        ints = torch.arange(1, 5, device=device)
        yield Sample((x(3, 4), ints, d(3, 4)), name="integer tensor1 (promoted)")
        if not divide:
            yield Sample((ints, ints, ints), {"value": 2}, name="integer tensors")
    return samples


addcmul = _addc(False)
addcdiv = _addc(True)


def _t(*shape, device, dtype=None):
    return make(*shape, device=device, dtype=dtype, requires_grad=False)


def binary_errors(device):
    yield ErrorSample((_t(2, 3, device=device), _t(4, device=device)), name="shape mismatch")


def add_errors(device):
    yield from binary_errors(device)
    ints = torch.arange(3, device=device)
    yield ErrorSample((ints, ints), {"alpha": 0.5}, name="integer tensors, float alpha")
    yield ErrorSample((ints > 0, ints > 1), {"alpha": 2.5}, name="bool tensors, float alpha")


def sub_errors(device):
    yield from add_errors(device)
    yield ErrorSample((torch.arange(3, device=device) > 0,) * 2, name="bool - bool")
    yield ErrorSample((_t(3, device=device), torch.arange(3, device=device) > 0), name="tensor - bool tensor")


def neg_errors(device):
    yield ErrorSample((torch.tensor([True, False], device=device),), name="bool tensor")


def addcmul_errors(device):
    t = lambda *s: _t(*s, device=device)  # noqa: E731
    yield ErrorSample((t(3), t(2, 3), t(4)), name="shape mismatch")


def addcdiv_errors(device):
    t = lambda *s: _t(*s, device=device)  # noqa: E731
    yield ErrorSample((t(3), t(2, 3), t(4)), name="shape mismatch")
    ints = torch.arange(1, 4, device=device)
    yield ErrorSample((ints, ints, ints), name="integer tensors (integer division)")


OPS = [
    OpSpec("add", _math.add, torch.add, _arithmetic.AddFunction, add, add_errors),
    OpSpec("sub", _math.sub, torch.sub, _arithmetic.AddFunction, sub, sub_errors),
    OpSpec("mul", _math.mul, torch.mul, _arithmetic.MulFunction, mul, binary_errors),
    OpSpec("div", _math.div, torch.div, _arithmetic.DivFunction, div, binary_errors),
    OpSpec("neg", _math.neg, torch.neg, _arithmetic.NegFunction, neg, neg_errors),
    OpSpec("addcmul", _math.addcmul, torch.addcmul, _arithmetic.AddcFunction, addcmul, addcmul_errors),
    OpSpec("addcdiv", _math.addcdiv, torch.addcdiv, _arithmetic.AddcFunction, addcdiv, addcdiv_errors),
]
