"""Samples for the reductions (``functions/reductions.py``)."""

from __future__ import annotations

import functools

import torch

from .. import math as _math
from ..functions import reductions as _fn
from ..opspec import OpSpec
from . import ErrorSample, Sample, expanded, make, noncontiguous

INF, NAN = float("inf"), float("nan")


def _ties(device, dtype):
    """Rows with ties, an all-equal row, zeros and a NaN-free -inf row."""
    return torch.tensor([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0], [0.0, 0.0, 0.0, 0.0],
                         [-1.0, 3.0, -3.0, 0.5]], device=device, dtype=dtype).requires_grad_()


def _dims(device, dtype, options, extra=(), zero_d=((), {}), expanded_gradcheck=True):
    """The shapes every reduction is sampled on, with each ``(args, kwargs)`` option (the 0-d
    input with ``zero_d``'s)."""
    kw = dict(device=device, dtype=dtype)
    for args, kwargs in options:
        yield Sample((make(3, 4, **kw), *args), dict(kwargs))
    args, kwargs = options[0]
    yield Sample((make(2, 3, 4, **kw), *args), dict(kwargs), name="rank 3")
    yield Sample((make(**kw), *zero_d[0]), dict(zero_d[1]), name="0-d")
    yield Sample((noncontiguous(3, 4, **kw), *args), dict(kwargs), name="non-contiguous")
    yield Sample((expanded(3, 4, **kw), *args), dict(kwargs), name="expanded", gradcheck=expanded_gradcheck)
    yield Sample((_ties(device, dtype), *args), dict(kwargs), name="ties and zeros", gradcheck=False)
    yield from extra


def _empty(device, dtype, *args, **kwargs):
    return Sample((make(0, 3, device=device, dtype=dtype), *args), kwargs, name="empty")


def sum(device, dtype):  # noqa: A001
    opts = [((1,), {}), ((), {}), ((), {"dim": (0, 1), "keepdim": True}), ((-1, True), {}),
            ((0,), {"dtype": torch.float64})]
    yield from _dims(device, dtype, opts, [_empty(device, dtype, 1), _empty(device, dtype)])
    yield Sample((torch.arange(6, device=device).reshape(2, 3), 1), name="integer input")


def mean(device, dtype):
    opts = [((1,), {}), ((), {}), ((), {"dim": (0, 1), "keepdim": True}), ((-1, True), {}),
            ((0,), {"dtype": torch.float64})]
    yield from _dims(device, dtype, opts, [_empty(device, dtype, 1)])


def var(device, dtype):
    opts = [((1,), {}), ((), {}), ((0,), {"correction": 0}), ((), {"dim": (0, 1), "keepdim": True}),
            ((1,), {"correction": 2, "keepdim": True})]
    yield from _dims(device, dtype, opts, [_empty(device, dtype, 1)], zero_d=((), {"correction": 0}))
    one = make(3, 1, device=device, dtype=dtype)
    yield Sample((one, 1), name="N = correction (inf/nan)", gradcheck=False)


std = var


def var_mean(device, dtype):
    """The mean output of var_mean/std_mean (var's own gradient is sampled by var and std)."""
    kw = dict(device=device, dtype=dtype)
    yield Sample((make(3, 4, **kw), 1))
    yield Sample((make(2, 3, 4, **kw),), {"dim": (0, 2), "correction": 0, "keepdim": True}, name="rank 3")
    yield Sample((make(**kw),), {"correction": 0}, name="0-d")


def amax(device, dtype):
    opts = [((1,), {}), ((), {}), ((0, True), {}), ((), {"dim": (0, 1)})]
    yield from _dims(device, dtype, opts)


amin = amax


def max_dim(device, dtype):
    opts = [((1,), {}), ((0, True), {}), ((-1,), {})]
    yield from _dims(device, dtype, opts, [_empty(device, dtype, 1)], zero_d=((0,), {}))


def max_all(device, dtype):
    yield from _dims(device, dtype, [((), {})], expanded_gradcheck=False)  # expanded: equal rows tie


def logsumexp(device, dtype):
    opts = [((1,), {}), ((0, True), {}), (((0, 1),), {})]
    big = make(3, 4, device=device, dtype=dtype, low=-1e4, high=1e4)
    inf = torch.tensor([[-INF, 0.0, 1.0], [INF, 0.0, 1.0], [-INF, -INF, -INF]], device=device,
                       dtype=dtype).requires_grad_()
    yield from _dims(device, dtype, opts, [Sample((big, 1), name="huge", gradcheck=False),
                                           Sample((inf, 1), name="inf rows", gradcheck=False),
                                           _empty(device, dtype, 1)], zero_d=((0,), {}))


def cumsum(device, dtype):
    opts = [((1,), {}), ((0,), {}), ((-1,), {"dtype": torch.float64})]
    yield from _dims(device, dtype, opts, [_empty(device, dtype, 0)], zero_d=((0,), {}))
    yield Sample((torch.arange(6, device=device), 0), name="integer input")


def vector_norm(device, dtype):
    opts = [((), {}), ((2, 1), {}), ((1, 0, True), {}), ((INF, 1), {}), ((-INF, 1), {}),
            ((3, 1), {}), ((1.5, 1), {}), ((0.5, 1), {}), ((), {"ord": 2, "dim": (0, 1), "dtype": torch.float64})]
    yield from _dims(device, dtype, opts, [_empty(device, dtype, 2, 1)])
    # ord 0 (a count): torch's backward gives no gradient (None), and so does ours; node=False
    # keeps the completeness check (every input needing a gradient gets one) off this sample
    yield Sample((make(3, 4, device=device, dtype=dtype), 0, 1), name="ord 0", node=False)
    zero = torch.zeros(2, 3, device=device, dtype=dtype).requires_grad_()
    for p in (2, 1.5, 0.5, INF):
        yield Sample((zero, p, 1), name=f"zero rows, ord {p}", gradcheck=False)
    for p in (2, 3, 0.5, INF):
        yield Sample((_ties(device, dtype), p, 1), name=f"ties and zeros, ord {p}", gradcheck=False)


def _t(device, *shape):
    return make(*shape, device=device, dtype=None, requires_grad=False)


def dim_errors(device):
    yield ErrorSample((_t(device, 3, 4), 2), name="dim out of range")


def var_errors(device):
    yield ErrorSample((_t(device, 3, 4), 2), name="dim out of range")
    yield ErrorSample((torch.arange(4, device=device),), name="integer input")


def amax_errors(device):
    yield from dim_errors(device)
    yield ErrorSample((_t(device, 0, 3), 0), name="empty reduced dim")


def max_dim_errors(device):
    yield from amax_errors(device)


def vector_norm_errors(device):
    yield ErrorSample((_t(device, 3, 4), 2, 2), name="dim out of range")
    yield ErrorSample((torch.arange(4, device=device),), name="integer input")
    yield ErrorSample((_t(device, 0, 3), INF, 0), name="inf norm of an empty reduced dim")


def first(fn):
    """``fn`` with a tuple result cut to its first output (the op table compares one)."""
    @functools.wraps(fn)
    def run(*args, **kwargs):
        out = fn(*args, **kwargs)
        return out[0] if isinstance(out, tuple) else out
    return run


def second(fn):
    """``fn``'s second output (var_mean's mean)."""
    @functools.wraps(fn)
    def run(*args, **kwargs):
        return fn(*args, **kwargs)[1]
    return run


# op-table entries, collected by manualgrad/ops.py
OPS = [
    OpSpec("sum", _math.sum, torch.sum, _fn.SumFunction, sum, dim_errors),
    OpSpec("mean", _math.mean, torch.mean, _fn.SumFunction, mean, var_errors),
    OpSpec("var", _math.var, torch.var, _fn.VarMeanFunction, var, var_errors),
    OpSpec("std", _math.std, torch.std, _fn.VarMeanFunction, std, var_errors),
    OpSpec("var_mean.mean", second(_math.var_mean), second(torch.var_mean), _fn.VarMeanFunction, var_mean,
           var_errors),
    OpSpec("std_mean.mean", second(_math.std_mean), second(torch.std_mean), _fn.VarMeanFunction, var_mean),
    OpSpec("amax", _math.amax, torch.amax, _fn.AmaxFunction, amax, amax_errors),
    OpSpec("amin", _math.amin, torch.amin, _fn.AmaxFunction, amin, amax_errors),
    OpSpec("max", first(_math.max), first(torch.max), _fn.MaxDimFunction, max_dim, max_dim_errors),
    OpSpec("min", first(_math.min), first(torch.min), _fn.MaxDimFunction, max_dim, max_dim_errors),
    OpSpec("max.all", _math.max, torch.max, _fn.AmaxFunction, max_all),
    OpSpec("logsumexp", _math.logsumexp, torch.logsumexp, _fn.LogsumexpFunction, logsumexp, dim_errors),
    OpSpec("cumsum", _math.cumsum, torch.cumsum, _fn.CumsumFunction, cumsum, dim_errors),
    OpSpec("linalg.vector_norm", _math.linalg.vector_norm, torch.linalg.vector_norm, _fn.VectorNormFunction,
           vector_norm, vector_norm_errors),
]
