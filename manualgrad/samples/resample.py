"""Samples for ``interpolate`` (``functions/resample.py``): every mode at every rank it takes,
size int/tuple, scale_factor float/tuple, recompute_scale_factor, align_corners, antialias,
empty batch, non-contiguous and channels-last input, the CPU kernels' shortcuts."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import functional as MF
from ..functions.resample import InterpolateFunction
from ..opspec import OpSpec
from . import ErrorSample, Sample, make, noncontiguous

_LOW = (torch.float16, torch.bfloat16)
_CHANNELS_LAST = {4: torch.channels_last, 5: torch.channels_last_3d}
_SPATIAL = {1: (5,), 2: (4, 5), 3: (3, 4, 3)}


def _x(n, device, dtype, batch=2, layout="contiguous"):
    """(batch, 2, *spatial) with n spatial dims, in the given memory layout."""
    shape = (batch, 2, *_SPATIAL[n])
    kw = dict(device=device, dtype=dtype)
    if layout == "non-contiguous":
        return noncontiguous(*shape, **kw)
    x = make(*shape, **kw)
    if layout == "channels_last":
        x = x.detach().contiguous(memory_format=_CHANNELS_LAST[n + 2]).requires_grad_()
    return x


def _layouts(n, mode, device, dtype, **kw):
    """The mode on empty-batch, non-contiguous and (4-d/5-d) channels-last input."""
    kw = dict(scale_factor=2.0, mode=mode, **kw)
    yield Sample((_x(n, device, dtype, batch=0),), kw, name=f"{mode}, empty batch")
    yield Sample((_x(n, device, dtype, layout="non-contiguous"),), kw, name=f"{mode}, non-contiguous")
    if n + 2 in _CHANNELS_LAST:
        yield Sample((_x(n, device, dtype, layout="channels_last"),), dict(kw, scale_factor=(1.5, 0.7, 2.0)[:n]),
                     name=f"{mode}, channels_last")


def _sizes(n, mode, device, dtype, every=True, **kw):
    """Down and up by size (tuple, int) and by scale_factor (tuple, float, recomputed); ``every``
    False: the tuple forms only."""
    x = lambda: _x(n, device, dtype)  # noqa: E731
    kw = dict(mode=mode, **kw)
    tag = ", ".join(f"{k}={v}" for k, v in kw.items())
    yield Sample((x(), (2, 9, 4)[:n]), kw, name=f"{tag}, size tuple (down and up)")
    yield Sample((x(),), dict(scale_factor=(1.7, 0.6, 2.5)[:n], **kw), name=f"{tag}, scale_factor tuple")
    if every:
        yield Sample((x(), 7), kw, name=f"{tag}, size int (up)")
        yield Sample((x(),), dict(scale_factor=2.0, **kw), name=f"{tag}, scale_factor 2.0")
        yield Sample((x(),), dict(scale_factor=1.7, recompute_scale_factor=True, **kw),
                     name=f"{tag}, recompute_scale_factor")


def _interpolating(mode, n, device, dtype):
    yield from _sizes(n, mode, device, dtype)
    yield from _sizes(n, mode, device, dtype, every=False, align_corners=True)
    yield Sample((_x(n, device, dtype), 1), dict(mode=mode, align_corners=True), name=f"{mode}, size 1, align_corners")
    if mode != "bicubic":  # bicubic's: torch_gradient_wrong
        yield Sample((_x(n, device, dtype),), dict(scale_factor=1.1, mode=mode, align_corners=False),
                     name=f"{mode}, unchanged size by scale 1.1 (copied)")
    yield from _layouts(n, mode, device, dtype)


def interpolate(device, dtype):
    for mode in ("nearest", "nearest-exact", "area"):
        for n in (1, 2, 3):
            yield from _sizes(n, mode, device, dtype, every=n == 2)
        yield from _layouts(2, mode, device, dtype)
    x2 = lambda: _x(2, device, dtype)  # noqa: E731
    yield Sample((x2(),), dict(scale_factor=2.1), name="nearest 2-d: doubled size by scale 2.1 (o >> 1)")
    yield Sample((x2(),), dict(scale_factor=2.1, mode="nearest-exact"), name="nearest-exact: scale 2.1")
    yield Sample((_x(3, device, dtype, layout="channels_last"),), dict(scale_factor=(2.0, 1.5, 0.5)),
                 name="nearest, channels_last_3d")
    yield from _interpolating("linear", 1, device, dtype)
    yield from _interpolating("bilinear", 2, device, dtype)
    yield from _interpolating("bicubic", 2, device, dtype)
    yield from _interpolating("trilinear", 3, device, dtype)
    big = lambda: make(1, 2, 9, 8, device=device, dtype=dtype)  # noqa: E731
    yield Sample((big(), (3, 2)), dict(mode="bicubic"), name="bicubic, down by 3-4 (clamped taps)")
    if dtype not in _LOW:  # torch's CPU antialias has no half kernels
        for mode in ("bilinear", "bicubic"):
            yield Sample((big(), (3, 5)), dict(mode=mode, antialias=True), name=f"{mode} antialias, down")
            yield Sample((big(), (4, 2)), dict(mode=mode, antialias=True, align_corners=True),
                         name=f"{mode} antialias, down, align_corners")
            yield Sample((big(), (12, 5)), dict(mode=mode, antialias=True), name=f"{mode} antialias, up and down")
            yield Sample((big(),), dict(scale_factor=(0.4, 1.5), mode=mode, antialias=True),
                         name=f"{mode} antialias, scale tuple")
            yield Sample((_x(2, device, dtype, layout="channels_last"), 3), dict(mode=mode, antialias=True),
                         name=f"{mode} antialias, channels_last, size int")
        yield Sample((big(), (4, 11)), dict(mode="lanczos", antialias=True), name="lanczos, down and up")
    yield Sample((x2(), None, 1.5, "bilinear", True, True, False), name="every argument positional")


def torch_gradient_wrong(device, dtype):
    """Calls where torch's CPU backward is not the adjoint of its own forward (torch 2.13; its
    gradient fails gradcheck, ours passes; tests/test_resample.py): the forward and the backward
    kernels disagree on a shortcut for an axis whose size is unchanged or doubled by a scale
    factor that is not exactly 1 or 2."""
    x = lambda *s: make(*s, device=device, dtype=dtype)  # noqa: E731
    yield Sample((x(2, 2, 5),), dict(scale_factor=2.1), name="nearest 1-d, doubled by 2.1")
    yield Sample((x(1, 2, 3, 4, 5),), dict(scale_factor=(1.1, 2.1, 1.0)),
                 name="nearest 3-d, kept by 1.1, doubled by 2.1")
    yield Sample((x(2, 2, 4, 5),), dict(scale_factor=1.1, mode="bicubic"), name="bicubic, kept by 1.1")
    for mode in ("bilinear", "bicubic"):
        yield Sample((x(1, 2, 9, 8),), dict(scale_factor=(0.4, 1.1), mode=mode, antialias=True),
                     name=f"{mode} antialias, width kept by 1.1")


def antialias_width_one(device, dtype):
    """Antialiased resampling to width 1 with a new height: torch's CPU kernel returns the first
    input row for every output row there (tests/test_resample.py compares against the transpose)."""
    x = make(2, 3, 6, 5, device=device, dtype=dtype)
    for mode in ("bilinear", "bicubic"):
        yield Sample((x, (3, 1)), dict(mode=mode, antialias=True), name=f"{mode} antialias to (3, 1)")


def _t(*shape, device):
    return make(*shape, device=device, dtype=None, requires_grad=False)


def interpolate_errors(device):
    x3, x4, x5 = (_t(1, 2, *_SPATIAL[n], device=device) for n in (1, 2, 3))
    yield ErrorSample((x4,), dict(size=3, align_corners=True), name="align_corners with nearest")
    yield ErrorSample((x4,), dict(size=3, mode="area", align_corners=False), name="align_corners with area")
    yield ErrorSample((x4, 3, 2.0), name="both size and scale_factor")
    yield ErrorSample((x4,), name="neither size nor scale_factor")
    yield ErrorSample((x4, (3, 4, 5)), name="size of the wrong length")
    yield ErrorSample((x4,), dict(scale_factor=(2.0,)), name="scale_factor of the wrong length")
    yield ErrorSample((x4, (3.5, 4)), name="float size")
    yield ErrorSample((x4, 3), dict(recompute_scale_factor=True), name="recompute_scale_factor with size")
    yield ErrorSample((x4, 3), dict(mode="nearest", antialias=True), name="antialias with nearest")
    yield ErrorSample((x5, 3), dict(mode="trilinear", antialias=True), name="antialias with trilinear")
    yield ErrorSample((x3, 3), dict(mode="bilinear"), name="3-d input, bilinear")
    yield ErrorSample((x3, 3), dict(mode="trilinear"), name="3-d input, trilinear")
    yield ErrorSample((x4, 3), dict(mode="linear"), name="4-d input, linear")
    yield ErrorSample((x5, 3), dict(mode="bilinear"), name="5-d input, bilinear")
    yield ErrorSample((x3, 3), dict(mode="bicubic"), name="3-d input, bicubic")
    yield ErrorSample((_t(2, 5, device=device), 3), name="2-d input")
    yield ErrorSample((x4, 3), dict(mode="cubic"), name="unknown mode")
    yield ErrorSample((x4, 0), name="zero size")
    yield ErrorSample((x4,), dict(scale_factor=0.1), name="scale_factor giving size 0")
    yield ErrorSample((x4, 3), dict(mode="lanczos"), name="lanczos without antialias")
    yield ErrorSample((x4, 3), dict(mode="lanczos", antialias=True, align_corners=True),
                      name="lanczos with align_corners")
    yield ErrorSample((_t(1, 2, 0, 5, device=device), 3), dict(mode="bilinear"), name="empty spatial dim")


# op-table entries, collected by manualgrad/ops.py
OPS = [OpSpec("interpolate", MF.interpolate, F.interpolate, InterpolateFunction, interpolate, interpolate_errors)]
