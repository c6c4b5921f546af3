"""Samples for the elementwise math (``functions/elementwise.py``, ``elementwise_binary.py``)."""

from __future__ import annotations

import torch

from .. import math as _math
from ..functions import elementwise as _unary_fn
from ..functions.elementwise_binary import ClampFunction, MinMaxFunction, PowFunction, WhereFunction
from ..opspec import OpSpec
from . import ErrorSample, Sample, expanded, make

INF, NAN = float("inf"), float("nan")
SPECIAL = [-INF, -100.0, -2.0, -0.5, -0.0, 0.0, 1e-30, 0.5, 2.0, 100.0, INF, NAN]


def _leaf(values, device, dtype):
    return torch.tensor(values, device=device, dtype=dtype).requires_grad_()


def _unary(low, high, signed=False):
    """Samples of ``f(input)`` on its smooth domain [low, high) (``signed``: ±[low, high)), plus
    kinks and non-finite values (no gradcheck) and an integer input (torch's result dtype)."""
    def samples(device, dtype):
        kw = dict(device=device, dtype=dtype)

        def x(*shape):
            t = make(*shape, **kw, requires_grad=False)
            t = low + (t + 2) / 4 * (high - low)  # [-2, 2) onto [low, high)
            if signed:
                t = t * torch.where(torch.arange(t.numel(), device=device).reshape(t.shape) % 2 == 0, 1, -1)
            return t.requires_grad_()

        yield Sample((x(3, 4),))
        yield Sample((x(),), name="0-d")
        yield Sample((x(0, 3),), name="empty")
        yield Sample((x(2, 1, 2, 3),), name="rank 4")
        yield Sample((_strided(x(3, 8)),), name="non-contiguous")
        yield Sample((x(1, 4).detach().expand(3, 4).requires_grad_(),), name="expanded")
        yield Sample((_leaf(SPECIAL, device, dtype),), name="kinks, inf/nan", gradcheck=False)
        yield Sample((torch.arange(-2, 3, device=device),), name="integer input")
    return samples


def _strided(t):
    return t.detach()[:, ::2].requires_grad_()


exp = _unary(-2.0, 2.0)
expm1 = _unary(-2.0, 2.0)
log = _unary(0.2, 3.0)
log1p = _unary(-0.8, 3.0)
sqrt = _unary(0.2, 3.0)
rsqrt = _unary(0.2, 3.0)
reciprocal = _unary(0.3, 3.0, signed=True)
sin = _unary(-4.0, 4.0)
cos = _unary(-4.0, 4.0)
abs = _unary(0.1, 2.0, signed=True)  # noqa: A001


def pow(device, dtype):  # noqa: A001
    kw = dict(device=device, dtype=dtype)
    pos = lambda *s, **k: make(*s, **kw, low=0.5, high=2.0, **k)  # noqa: E731
    for p in (2, 3, 0.5, -1.5, 1, 0, -1):
        yield Sample((pos(3, 4), p), name=f"tensor ** {p}")
    yield Sample((make(3, 4, **kw), 2), name="negative base ** 2")
    yield Sample((make(3, 4, **kw), 3.0), name="negative base ** 3.0")
    for base in (2.0, 0.5):
        yield Sample((base, make(3, 4, **kw)), name=f"{base} ** tensor")
    yield Sample((pos(3, 4), make(3, 4, **kw)), name="tensor ** tensor")
    yield Sample((pos(3, 1), make(4, **kw)), name="broadcast")
    yield Sample((pos(3, 4), make(**kw)), name="0-d exponent")
    yield Sample((pos(), make(2, 3, **kw)), name="0-d base")
    yield Sample((pos(0, 3), make(3, **kw)), name="empty")
    yield Sample((pos(3, 4, requires_grad=False), make(3, 4, **kw)), name="base without grad")
    yield Sample((pos(3, 4), make(3, 4, **kw, requires_grad=False)), name="exponent without grad")
    yield Sample((_strided(pos(3, 8)), expanded(3, 4, **kw)), name="non-contiguous, expanded")
    x = _leaf([0.0, 0.0, 0.0, 0.0, 1.0, -1.0, 2.0, -2.0, INF, NAN], device, dtype)
    e = _leaf([0.0, 1.0, 2.0, -1.0, 0.5, 2.0, 0.0, 0.5, 2.0, 1.0], device, dtype)
    yield Sample((x, e), name="kinks: 0 ** e, x ** 0", gradcheck=False)
    yield Sample((x, 0), name="kinks ** 0", gradcheck=False)
    yield Sample((x, 2), name="kinks ** 2", gradcheck=False)
    yield Sample((x, 0.5), name="kinks ** 0.5", gradcheck=False)
    yield Sample((0.0, e), name="0 ** kinks", gradcheck=False)
    yield Sample((torch.arange(4, device=device), 2), name="integer ** 2")
    yield Sample((torch.arange(4, device=device), 0.5), name="integer ** 0.5")


def pow_errors(device):
    yield ErrorSample((torch.arange(1, 4, device=device), -1), name="integer ** negative integer")
    t = make(2, 3, device=device, dtype=None, requires_grad=False)
    yield ErrorSample((t, make(4, device=device, dtype=None, requires_grad=False)), name="shape mismatch")


def clamp(device, dtype):
    kw = dict(device=device, dtype=dtype)
    x = lambda *s: make(*s, **kw)  # noqa: E731
    yield Sample((x(3, 4), -0.5, 0.5), name="number bounds")
    yield Sample((x(3, 4),), {"min": -0.5}, name="min only")
    yield Sample((x(3, 4),), {"max": 0.5}, name="max only")
    yield Sample((x(3, 4), x(3, 4) - 1, x(3, 4) + 1), name="tensor bounds")
    yield Sample((x(3, 4), x(4) - 1, x(3, 1) + 1), name="broadcast bounds")
    yield Sample((x(4), x(3, 1)), name="tensor min only, broadcast up")
    yield Sample((x(3, 4),), {"max": x(4)}, name="tensor max only")
    yield Sample((x(3, 4), x(3, 4) + 3, x(3, 4) - 3), name="min > max (tensors)")
    yield Sample((x(3, 4), 1.0, -1.0), name="min > max (numbers)")
    yield Sample((x(), -0.5, 0.5), name="0-d")
    yield Sample((x(0, 3), -0.5, 0.5), name="empty")
    yield Sample((_strided(x(3, 8)), expanded(3, 4, **kw) - 1, None), name="non-contiguous, expanded")
    t = _leaf([-1.0, -0.5, 0.0, 0.5, 1.0, NAN, -INF, INF], device, dtype)
    yield Sample((t, -0.5, 0.5), name="ties at number bounds, inf/nan", gradcheck=False)
    lo = _leaf([-1.0, -0.5, 0.0, 0.5, 1.0, 0.0, 0.0, 0.0], device, dtype)
    hi = _leaf([-1.0, 0.5, 0.0, 0.5, 2.0, 1.0, 1.0, 1.0], device, dtype)
    yield Sample((t, lo, hi), name="ties at tensor bounds, min = max", gradcheck=False)
    yield Sample((torch.arange(-3, 3, device=device), -1, 1), name="integer input")


def clamp_errors(device):
    t = make(3, device=device, dtype=None, requires_grad=False)
    yield ErrorSample((t,), name="no bounds")
    yield ErrorSample((t, make(4, device=device, dtype=None, requires_grad=False)), name="bound shape mismatch")


def _min_max(device, dtype):
    kw = dict(device=device, dtype=dtype)
    yield Sample((make(3, 4, **kw), make(3, 4, **kw)))
    yield Sample((make(3, 1, **kw), make(4, **kw)), name="broadcast")
    yield Sample((make(**kw), make(2, 3, **kw)), name="0-d")
    yield Sample((make(0, 3, **kw), make(3, **kw)), name="empty")
    yield Sample((_strided(make(3, 8, **kw)), expanded(3, 4, **kw)), name="non-contiguous, expanded")
    yield Sample((make(3, 4, **kw), make(3, 4, **kw, requires_grad=False)), name="other without grad")
    a = _leaf([1.0, 0.0, -2.0, 3.0, NAN, 1.0, INF], device, dtype)
    b = _leaf([1.0, 0.0, -1.0, 2.0, 1.0, NAN, INF], device, dtype)
    yield Sample((a, b), name="ties, nan, inf", gradcheck=False)


minimum = maximum = _min_max


def min_max_errors(device):
    t = lambda *s: make(*s, device=device, dtype=None, requires_grad=False)  # noqa: E731
    yield ErrorSample((t(2, 3), t(4)), name="shape mismatch")


def where(device, dtype):
    kw = dict(device=device, dtype=dtype)
    cond = lambda *s: torch.rand(s, device=device) > 0.5  # noqa: E731
    yield Sample((cond(3, 4), make(3, 4, **kw), make(3, 4, **kw)))
    yield Sample((cond(3, 1), make(4, **kw), make(2, 1, 1, **kw)), name="broadcast all three")
    yield Sample((cond(3, 4), make(3, 4, **kw), 0.0), name="number other")
    yield Sample((cond(3, 4), -1.0, make(3, 4, **kw)), name="number input")
    yield Sample((torch.tensor(True, device=device), make(2, 3, **kw), make(3, **kw)), name="0-d condition")
    yield Sample((cond(0, 3), make(0, 3, **kw), make(3, **kw)), name="empty")
    yield Sample((cond(3, 4), _strided(make(3, 8, **kw)), expanded(3, 4, **kw)), name="non-contiguous, expanded")
    nan = _leaf([NAN, INF, 1.0], device, dtype)
    yield Sample((torch.tensor([False, False, True], device=device), nan, make(3, **kw)), name="nan not taken",
                 gradcheck=False)


def where_errors(device):
    t = lambda *s: make(*s, device=device, dtype=None, requires_grad=False)  # noqa: E731
    yield ErrorSample((t(3) > 0, t(2, 3), t(4)), name="shape mismatch")
    yield ErrorSample((t(3), t(3), t(3)), name="condition not bool")


# op-table entries, collected by manualgrad/ops.py
_UNARY = [("exp", "ExpFunction", exp), ("expm1", "Expm1Function", expm1), ("log", "LogFunction", log),
          ("log1p", "Log1pFunction", log1p), ("sqrt", "SqrtFunction", sqrt), ("rsqrt", "RsqrtFunction", rsqrt),
          ("reciprocal", "ReciprocalFunction", reciprocal), ("sin", "SinFunction", sin),
          ("cos", "CosFunction", cos), ("abs", "AbsFunction", abs)]
OPS = [
    *[OpSpec(name, getattr(_math, name), getattr(torch, name), getattr(_unary_fn, cls), samples)
      for name, cls, samples in _UNARY],
    OpSpec("pow", _math.pow, torch.pow, PowFunction, pow, pow_errors),
    OpSpec("clamp", _math.clamp, torch.clamp, ClampFunction, clamp, clamp_errors),
    OpSpec("minimum", _math.minimum, torch.minimum, MinMaxFunction, minimum, min_max_errors),
    OpSpec("maximum", _math.maximum, torch.maximum, MinMaxFunction, maximum, min_max_errors),
    OpSpec("where", _math.where, torch.where, WhereFunction, where, where_errors),
]
