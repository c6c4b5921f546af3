"""Samples for the 1-d and 3-d poolings, adaptive max pooling, lp_pool and max_unpool
(``functions/pooling.py``, ``functions/pooling_adaptive.py``); the 2-d windowed and adaptive-average
samples are in ``samples/pooling.py``."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import functional as MF
from ..functions.elementwise_binary import PowFunction
from ..functions.pooling import AvgPoolFunction, MaxPoolFunction
from ..functions.pooling_adaptive import AdaptiveAvgPoolFunction, AdaptiveMaxPoolFunction, MaxUnpoolFunction
from ..opspec import OpSpec
from . import ErrorSample, Sample, make, noncontiguous
from .pooling import values_only

_SPACE = {1: (7,), 2: (5, 6), 3: (4, 5, 3)}


def _inputs(nd, device, dtype):
    """(name, x) pairs every pooling op runs on, with nd pooled dims."""
    kw, space = dict(device=device, dtype=dtype), _SPACE[nd]
    yield "batched", make(2, 3, *space, **kw)
    yield "unbatched", make(2, *space, **kw)
    yield "empty batch", make(0, 2, *space, **kw)
    yield "non-contiguous", noncontiguous(1, 2, *space, **kw)
    if nd == 3:
        yield "channels_last_3d", make(2, 3, *space, **kw, requires_grad=False).contiguous(
            memory_format=torch.channels_last_3d).requires_grad_()


def _small(nd, device, dtype):
    return make(1, 2, *_SPACE[nd], device=device, dtype=dtype)


def _windowed(nd, device, dtype):
    for name, x in _inputs(nd, device, dtype):
        yield Sample((x, 2), name=f"{name}, k=2")
        yield Sample((x, 3, 1, 1), name=f"{name}, k=3 s=1 p=1 (overlapping)")
    x = lambda: _small(nd, device, dtype)  # noqa: E731
    yield Sample((x(), 3, 3), name="stride = kernel, leftover")
    yield Sample((x(), 2, 3), name="stride > kernel (gaps)")
    yield Sample((x(), 2), {"stride": 2, "ceil_mode": True}, name="ceil_mode: partial last window")
    yield Sample((x(), 3, 2, 1), {"ceil_mode": True}, name="ceil_mode, padding")
    yield Sample((x(), [2]), {"stride": [], "padding": [1]}, name="one-element lists, empty stride")
    if nd == 3:
        yield Sample((x(), (2, 3, 1)), {"stride": (1, 2, 1)}, name="per-dim kernel and stride")


def max_pool(nd):
    def samples(device, dtype):
        yield from _windowed(nd, device, dtype)
        x = lambda: _small(nd, device, dtype)  # noqa: E731
        yield Sample((x(), 2), {"stride": 1, "dilation": 2}, name="dilation")
        yield Sample((x(), 2), {"stride": 1, "dilation": 3, "padding": 1}, name="dilation, padding")
        yield Sample((x(), 2), {"return_indices": True}, name="return_indices")
        yield Sample((x(), 3, 1, 1, 1, True, True), name="every argument positional, return_indices")
        ties = torch.ones(1, 1, *_SPACE[nd], device=device, dtype=dtype).requires_grad_()
        yield Sample((ties, 3, 1, 1), name="ties: constant input", gradcheck=False)
    return samples


def _unsupported(nd, device, dtype) -> bool:
    """torch has no CPU avg_pool3d kernel in bfloat16/float16 (it raises NotImplementedError, and so
    do we: tests/test_pooling.py checks it)."""
    return nd == 3 and torch.device(device).type == "cpu" and dtype in (torch.bfloat16, torch.float16)


def avg_pool(nd):
    def samples(device, dtype):
        if _unsupported(nd, device, dtype):
            return
        yield from _windowed(nd, device, dtype)
        x = lambda: _small(nd, device, dtype)  # noqa: E731
        for pad in (True, False):
            yield Sample((x(), 3, 2, 1), {"ceil_mode": True, "count_include_pad": pad},
                         name=f"ceil_mode, padding, count_include_pad={pad}")
        if nd == 3:
            yield Sample((x(), 2), {"divisor_override": 3}, name="divisor_override")
            yield Sample((x(), 3, 2, 1, True, False, 5), name="divisor_override, every argument positional")
    return samples


def adaptive(nd):
    sizes = {1: [3, 1, 7, 10, [4]], 2: [(2, 4), 1, (None, 4), (7, 8)], 3: [(2, 3, 2), 1, (None, 2, None), (5, 6, 4)]}

    def samples(device, dtype):
        for name, x in _inputs(nd, device, dtype):
            yield Sample((x, sizes[nd][0]), name=f"{name}, overlapping windows")
        for size in sizes[nd][1:]:
            yield Sample((_small(nd, device, dtype), size), name=f"output_size={size}")
    return samples


def adaptive_max(nd):
    def samples(device, dtype):
        yield from adaptive(nd)(device, dtype)
        yield Sample((_small(nd, device, dtype), 2, True), name="return_indices")
    return samples


def lp_pool(nd):
    def samples(device, dtype):
        if _unsupported(nd, device, dtype):  # lp_pool is an avg_pool
            return
        positive = lambda: make(1, 2, *_SPACE[nd], device=device, dtype=dtype, low=0.5, high=2.0)  # noqa: E731
        for name, x in _inputs(nd, device, dtype):
            yield Sample((x, 2, 2), name=f"{name}, p=2")
        yield Sample((positive(), 3, 2), {"stride": 1}, name="p=3, overlapping, positive input")
        yield Sample((positive(), 1.5, 3, 2), {"ceil_mode": True}, name="p=1.5, ceil_mode")
        yield Sample((_small(nd, device, dtype), 1, 2), name="p=1 (sum of x, signed)")
        yield Sample((_small(nd, device, dtype), float("inf"), 2), name="p=inf: max |x|", node=False)
    return samples


def max_unpool(nd):
    def samples(device, dtype):
        pool = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[nd]
        for name, x in _inputs(nd, device, dtype):
            y, idx = pool(x.detach(), 2, return_indices=True)
            size = x.shape[-nd:]  # without it, the default size (2·pooled) may not hold the indices
            yield Sample((y.clone().requires_grad_(), idx, 2), {"output_size": size}, name=f"{name}, k=2")
        x = _small(nd, device, dtype).detach()
        y, idx = pool(x, 2, 2, 1, return_indices=True)
        yield Sample((y.clone().requires_grad_(), idx, 2, 2, 1), {"output_size": x.shape[-nd:]},
                     name="padding, output_size")
        y, idx = pool(x, 3, 1, 1, return_indices=True)  # overlapping windows pick the same x
        yield Sample((y.clone().requires_grad_(), idx, 3, 1, 1), name="overlapping: repeated indices",
                     gradcheck=False)
    return samples


def _t(*shape, device):
    return make(*shape, device=device, dtype=None, requires_grad=False)


def window_errors(nd):
    def errors(device):
        x = _t(1, 2, *_SPACE[nd], device=device)
        yield ErrorSample((x, 2), {"padding": 2}, name="padding above half the kernel")
        yield ErrorSample((x, 0), name="zero kernel")
        yield ErrorSample((x, 2), {"stride": 0}, name="zero stride")
        yield ErrorSample((x, 9), name="output size too small")
        yield ErrorSample((_t(*_SPACE[nd], device=device), 2), name="input without channels")
        yield ErrorSample((_t(1, 0, *_SPACE[nd], device=device), 2), name="zero channels")
    return errors


def adaptive_errors(nd):
    def errors(device):
        x = _t(1, 2, *_SPACE[nd], device=device)
        yield ErrorSample((x, (-1,) * nd), name="negative output size")
        yield ErrorSample((x, (2,) * (nd + 1)), name="too many output sizes")
        yield ErrorSample((_t(*_SPACE[nd], device=device), 2), name="input without channels")
    return errors


def lp_pool_errors(nd):
    def errors(device):
        x = _t(1, 2, *_SPACE[nd], device=device)
        yield ErrorSample((x, 2, 0), name="zero kernel")
        yield ErrorSample((x, 2, 9), name="output size too small")
    return errors


def max_unpool_errors(nd):
    def errors(device):
        x = _t(1, 2, *_SPACE[nd], device=device)
        idx = torch.full(x.shape, 10_000, dtype=torch.long, device=device)
        yield ErrorSample((x, idx, 2), name="index out of the output")
        yield ErrorSample((x, idx.float(), 2), name="float indices")
        yield ErrorSample((x, idx[..., :1], 2), name="indices of another shape")
    return errors


# op-table entries, collected by manualgrad/ops.py
# pooling, 1-d and 3-d, adaptive max, lp_pool, max_unpool (the 2-d max/avg/adaptive avg: pooling.py)
OPS = [
    *[OpSpec(f"max_pool{n}d", values_only(getattr(MF, f"max_pool{n}d")), values_only(getattr(F, f"max_pool{n}d")),
             MaxPoolFunction, max_pool(n), window_errors(n)) for n in (1, 3)],
    *[OpSpec(f"avg_pool{n}d", getattr(MF, f"avg_pool{n}d"), getattr(F, f"avg_pool{n}d"),
             AvgPoolFunction, avg_pool(n), window_errors(n)) for n in (1, 3)],
    *[OpSpec(f"adaptive_avg_pool{n}d", getattr(MF, f"adaptive_avg_pool{n}d"), getattr(F, f"adaptive_avg_pool{n}d"),
             AdaptiveAvgPoolFunction, adaptive(n), adaptive_errors(n)) for n in (1, 3)],
    *[OpSpec(f"adaptive_max_pool{n}d", values_only(getattr(MF, f"adaptive_max_pool{n}d")),
             values_only(getattr(F, f"adaptive_max_pool{n}d")), AdaptiveMaxPoolFunction,
             adaptive_max(n), adaptive_errors(n)) for n in (1, 2, 3)],
    *[OpSpec(f"lp_pool{n}d", getattr(MF, f"lp_pool{n}d"), getattr(F, f"lp_pool{n}d"), PowFunction,
             lp_pool(n), lp_pool_errors(n)) for n in (1, 2, 3)],
    *[OpSpec(f"max_unpool{n}d", getattr(MF, f"max_unpool{n}d"), getattr(F, f"max_unpool{n}d"),
             MaxUnpoolFunction, max_unpool(n), max_unpool_errors(n)) for n in (1, 2, 3)],
]
