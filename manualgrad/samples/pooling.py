"""Samples for the pooling ops (``functions/pooling.py``)."""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from .. import functional as MF
from ..functions.pooling import AvgPoolFunction, MaxPoolFunction
from ..functions.pooling_adaptive import AdaptiveAvgPoolFunction
from ..opspec import OpSpec
from . import ErrorSample, Sample, make, noncontiguous

INF, NAN = float("inf"), float("nan")


def values_only(fn):
    """``fn`` with a ``(values, indices)`` result cut to its values: the op table compares one
    output (``return_indices=True`` indices are compared with torch's in tests/test_pooling.py)."""
    @functools.wraps(fn)
    def values(*args, **kwargs):
        out = fn(*args, **kwargs)
        return out[0] if isinstance(out, tuple) else out
    return values


def _inputs(device, dtype):
    """(name, x) pairs every pooling op runs on: batched, unbatched, empty batch, strided views."""
    kw = dict(device=device, dtype=dtype)
    yield "batched", make(2, 3, 5, 6, **kw)
    yield "unbatched", make(2, 5, 6, **kw)
    yield "empty batch", make(0, 2, 5, 6, **kw)
    yield "non-contiguous", noncontiguous(1, 2, 5, 6, **kw)
    yield "channels_last", make(2, 3, 5, 6, **kw, requires_grad=False).contiguous(
        memory_format=torch.channels_last).requires_grad_()


def _plane(device, dtype, values):
    """One (1, 1, H, W) plane with the given rows."""
    return torch.tensor([[values]], device=device, dtype=dtype).requires_grad_()


def _small(device, dtype):
    return make(1, 2, 5, 6, device=device, dtype=dtype)


def _windowed(device, dtype):
    """Samples max_pool2d and avg_pool2d share: every input kind, overlapping windows, gaps,
    leftover rows, ceil_mode's partial last window, list arguments."""
    for name, x in _inputs(device, dtype):
        yield Sample((x, 2), name=f"{name}, k=2")
        yield Sample((x, 3, 1, 1), name=f"{name}, k=3 s=1 p=1 (overlapping)")
    x = lambda: _small(device, dtype)  # noqa: E731
    yield Sample((x(), (2, 3)), {"stride": (1, 2)}, name="rectangular kernel and stride")
    yield Sample((x(), 3, 3), name="stride = kernel, leftover rows")
    yield Sample((x(), 2, 3), name="stride > kernel (gaps)")
    yield Sample((x(), 2), {"stride": 2, "ceil_mode": True}, name="ceil_mode: partial last window")
    yield Sample((x(), [2]), {"stride": [], "padding": [1]}, name="one-element lists, empty stride")


def max_pool2d(device, dtype):
    yield from _windowed(device, dtype)
    x = lambda: _small(device, dtype)  # noqa: E731
    yield Sample((x(), 3), {"stride": 2, "padding": 1, "ceil_mode": True}, name="ceil_mode, padding")
    yield Sample((x(), 2), {"stride": 3, "padding": 1, "ceil_mode": True},
                 name="ceil_mode: last window would start in the right padding")
    yield Sample((x(), 2), {"stride": 1, "dilation": 2}, name="dilation")
    yield Sample((x(), (3, 2), (2, 1), (1, 1), (2, 3)), name="dilation, padding, all tuples")
    yield Sample((x(), 2, None, 0, 1, False, False), name="every argument positional")
    yield Sample((x(), 2), {"return_indices": True}, name="return_indices")
    yield Sample((x(), 3, 1, 1, 1, True, True), name="return_indices positional, overlapping, ceil")
    yield Sample((_plane(device, dtype, [[1.0] * 6] * 5), 3, 1, 1), name="ties: constant plane",
                 gradcheck=False)
    ties = [[0.0, 2.0, 2.0, 0.0], [2.0, 1.0, 2.0, 2.0], [1.0, 2.0, 0.0, 2.0]]
    yield Sample((_plane(device, dtype, ties), 2, 1), name="ties in overlapping windows", gradcheck=False)
    special = [[NAN, 1.0, -INF, 0.0], [2.0, NAN, -INF, -INF], [INF, 0.0, NAN, 1.0]]
    yield Sample((_plane(device, dtype, special), 2, 1, 1), name="nan/inf", gradcheck=False)


def avg_pool2d(device, dtype):
    yield from _windowed(device, dtype)
    x = lambda: _small(device, dtype)  # noqa: E731
    for pad in (True, False):
        yield Sample((x(), 3, 2, 1), {"ceil_mode": True, "count_include_pad": pad},
                     name=f"ceil_mode, padding, count_include_pad={pad}")
        yield Sample((x(), 2, 3, 1), {"ceil_mode": True, "count_include_pad": pad},
                     name=f"ceil_mode: last window past the right padding, count_include_pad={pad}")
        yield Sample((x(), (3, 2), (1, 2), (1, 1)), {"count_include_pad": pad},
                     name=f"tuples, padding, count_include_pad={pad}")
    yield Sample((x(), 3, 2, 1, True, False, 4), name="divisor_override, every argument positional")
    yield Sample((x(), 2), {"divisor_override": 3}, name="divisor_override")


def adaptive_avg_pool2d(device, dtype):
    for size, what in (((2, 4), "overlapping windows"), (1, "global average")):
        for name, x in _inputs(device, dtype):
            yield Sample((x, size), name=f"{name}, {size}: {what}")
    x = lambda: _small(device, dtype)  # noqa: E731
    yield Sample((x(), 3), name="int output_size")
    yield Sample((x(), (None, 4)), name="None keeps H")
    yield Sample((x(), (3, None)), name="None keeps W")
    yield Sample((x(), (None, None)), name="None, None: identity")
    yield Sample((x(), (7, 8)), name="larger than the input (repeats)")
    yield Sample((x(), [4, 5]), name="list output_size")


def _t(*shape, device):
    return make(*shape, device=device, dtype=None, requires_grad=False)


def _common_errors(device):
    """Bad input every windowed pool rejects with the same message (kernel_size as 2nd arg)."""
    x = _t(1, 2, 5, 6, device=device)
    yield ErrorSample((x, 2), {"padding": 2}, name="padding above half the kernel")
    yield ErrorSample((x, 3), {"padding": -1}, name="negative padding")
    yield ErrorSample((x, 7), name="output size too small")
    yield ErrorSample((x, 0), name="zero kernel")
    yield ErrorSample((x, 2), {"stride": 0}, name="zero stride")
    yield ErrorSample((x, (2, 2, 2)), name="3-tuple kernel")
    yield ErrorSample((x, 2), {"stride": (1, 2, 3)}, name="3-tuple stride")
    yield ErrorSample((x, 2), {"padding": (1, 1, 1)}, name="3-tuple padding")
    yield ErrorSample((_t(5, 6, device=device), 2), name="2-d input")
    yield ErrorSample((_t(1, 1, 2, 5, 6, device=device), 2), name="5-d input")
    yield ErrorSample((_t(1, 0, 5, 6, device=device), 2), name="zero channels")
    yield ErrorSample((_t(1, 2, 0, 6, device=device), 2), name="zero height")


def max_pool2d_errors(device):
    yield from _common_errors(device)
    x = _t(1, 2, 5, 6, device=device)
    yield ErrorSample((x, 2), {"dilation": 0}, name="zero dilation")
    yield ErrorSample((x, 3), {"dilation": 2, "padding": 2}, name="padding above half the kernel, dilated")
    yield ErrorSample((x, 3), {"dilation": 2, "padding": 3}, name="padding above half the dilated kernel")
    yield ErrorSample((x, 2), {"return_indices": True, "padding": 2}, name="return_indices, bad padding")


def avg_pool2d_errors(device):
    yield from _common_errors(device)
    yield ErrorSample((_t(1, 2, 5, 6, device=device), 2), {"divisor_override": 0}, name="zero divisor_override")


def adaptive_avg_pool2d_errors(device):
    x = _t(1, 2, 5, 6, device=device)
    yield ErrorSample((x, (-1, 2)), name="negative output size")
    yield ErrorSample((x, (2,)), name="1-tuple output_size")
    yield ErrorSample((x, (2, 2, 2)), name="3-tuple output_size")
    yield ErrorSample((x, None), name="output_size None")
    yield ErrorSample((_t(5, 6, device=device), 2), name="2-d input")
    yield ErrorSample((_t(5, 6, device=device), (2, 2)), name="2-d input, tuple output_size")
    yield ErrorSample((_t(1, 1, 2, 5, 6, device=device), 2), name="5-d input")
    yield ErrorSample((_t(1, 2, 0, 6, device=device), 2), name="zero height")


# op-table entries, collected by manualgrad/ops.py
OPS = [
    OpSpec("max_pool2d", values_only(MF.max_pool2d), values_only(F.max_pool2d), MaxPoolFunction,
           max_pool2d, max_pool2d_errors),
    OpSpec("avg_pool2d", MF.avg_pool2d, F.avg_pool2d, AvgPoolFunction, avg_pool2d, avg_pool2d_errors),
    OpSpec("adaptive_avg_pool2d", MF.adaptive_avg_pool2d, F.adaptive_avg_pool2d, AdaptiveAvgPoolFunction,
           adaptive_avg_pool2d, adaptive_avg_pool2d_errors),
]
