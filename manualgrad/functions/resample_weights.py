"""The interpolation matrix of one spatial axis, as torch's upsample kernels index it.

Every mode of ``interpolate`` is separable: along each spatial axis the output is y = A·x with
A of shape (n_out, n_in). A has at most K nonzeros per row (nearest 1, linear 2, cubic 4, area
and antialias the widest window), so an axis is held as ``(idx, w)``, both (n_out, K):
row o of A is Σ_k w[o, k]·e_{idx[o, k]} (repeated indices add, as border clamping does).

The arithmetic reproduces torch's (aten/src/ATen/native/UpSample.h and the CPU/CUDA kernels):
source positions in float32 for nearest, in the op-math type (float32 for half/bfloat16/float32,
float64 for float64) elsewhere, so that every floor lands where torch's does.
"""

from __future__ import annotations

import math

import torch

_CUBIC_A = -0.75  # torch's bicubic (Keys' kernel with A = −0.75, as OpenCV)
_CUBIC_AA_A = -0.5  # torch's antialiased bicubic (A = −0.5, as PIL)


def _scale(n_in, n_out, scale, dtype) -> torch.Tensor:
    """``compute_scales_value``: 1/scale_factor where one was given (> 0), else n_in/n_out, in ``dtype``."""
    if scale is not None and scale > 0:
        return torch.tensor(1.0 / scale, dtype=torch.float64).to(dtype)
    return torch.tensor(n_in, dtype=dtype) / n_out


def _area_scale(n_in, n_out, align_corners, scale, dtype) -> torch.Tensor:
    """``area_pixel_compute_scale``: (n_in − 1)/(n_out − 1) with align_corners (0 for one output)."""
    if align_corners:
        return torch.tensor(n_in - 1, dtype=dtype) / (n_out - 1) if n_out > 1 else torch.zeros((), dtype=dtype)
    return _scale(n_in, n_out, scale, dtype)


def _source(n_out, ratio, align_corners, cubic) -> torch.Tensor:
    """``area_pixel_compute_source_index`` for every output index: ratio·o with align_corners,
    else ratio·(o + ½) − ½, clamped at 0 except for cubic."""
    o = torch.arange(n_out, dtype=ratio.dtype)
    if align_corners:
        return ratio * o
    src = ratio * (o + 0.5) - 0.5
    return src if cubic else src.clamp(min=0)


def _floor_lambda(src, n_in):
    """``guard_index_and_lambda``: i0 = min(⌊src⌋, n_in − 1), λ = clamp(src − i0, 0, 1)."""
    i0 = src.floor().clamp(max=n_in - 1)
    return i0.long(), (src - i0).clamp(0, 1)


def _copy(n):
    return torch.arange(n)[:, None], torch.ones(n, 1, dtype=torch.float64)


def nearest(n_in, n_out, scale, exact, shortcut):
    """nearest: src = min(⌊o·s⌋, n_in − 1); nearest-exact: min(⌊(o + ½)·s⌋, n_in − 1), s in float32.
    ``shortcut`` (torch's 2-d nearest on CPU): an unchanged size copies, a doubled one takes o >> 1,
    whatever the scale factor."""
    if shortcut and n_out in (n_in, 2 * n_in):
        return torch.arange(n_out)[:, None] * n_in // n_out, torch.ones(n_out, 1, dtype=torch.float64)
    s = _scale(n_in, n_out, scale, torch.float32)
    o = torch.arange(n_out, dtype=torch.float32)
    src = ((o + 0.5) * s if exact else o * s).floor().clamp(max=n_in - 1).long()
    return src[:, None], torch.ones(n_out, 1, dtype=torch.float64)


def linear(n_in, n_out, align_corners, scale, dtype, copy_same):
    """Two taps i0, i0 + 1 (i0 at the last index: both there) with weights 1 − λ, λ.
    ``copy_same``: the kernel copies an axis whose size is unchanged, whatever the scale."""
    if copy_same and n_in == n_out:
        return _copy(n_out)
    src = _source(n_out, _area_scale(n_in, n_out, align_corners, scale, dtype), align_corners, cubic=False)
    i0, lam = _floor_lambda(src, n_in)
    i1 = i0 + (i0 < n_in - 1).long()
    return torch.stack([i0, i1], 1), torch.stack([1 - lam, lam], 1).double()


def _keys(x, a):
    """Keys' cubic convolution kernel at |x| (a the free parameter)."""
    x = x.abs()
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return torch.where(x <= 1, near, torch.where(x < 2, far, torch.zeros_like(x)))


def cubic(n_in, n_out, align_corners, scale, dtype, copy_same):
    """Four taps i0 − 1 … i0 + 2 clamped into [0, n_in), weights Keys(t + 1), Keys(t), Keys(1 − t),
    Keys(2 − t) with A = −0.75 (t = src − i0, src unclamped, as torch's ``cubic=True``)."""
    if copy_same and n_in == n_out:
        return _copy(n_out)
    src = _source(n_out, _area_scale(n_in, n_out, align_corners, scale, dtype), align_corners, cubic=True)
    i0, t = _floor_lambda(src, n_in)
    taps = (i0[:, None] + torch.arange(-1, 3)).clamp(0, n_in - 1)
    offsets = torch.stack([t + 1, t, 1 - t, 2 - t], 1)
    return taps, _keys(offsets, _CUBIC_A).double()


def area(n_in, n_out):
    """adaptive_avg_pool's windows: [⌊o·n_in/n_out⌋, ⌈(o + 1)·n_in/n_out⌉), each 1/size."""
    o = torch.arange(n_out)
    start = o * n_in // n_out
    size = ((o + 1) * n_in + n_out - 1) // n_out - start
    k = torch.arange(int(size.max()) if n_out else 1)
    inside = k < size[:, None]
    return (start[:, None] + k).clamp(max=n_in - 1), inside.double() / size[:, None]


def _triangle(x):
    return (1 - x.abs()).clamp(min=0)


def _sinc(x):
    px = math.pi * x
    return torch.where(x == 0, torch.ones_like(x), torch.sin(px) / torch.where(x == 0, torch.ones_like(x), px))


def _lanczos3(x):
    return torch.where(x.abs() < 3, _sinc(x) * _sinc(x / 3), torch.zeros_like(x))


# antialiased modes: (taps at scale 1, filter)
_FILTERS = {"bilinear": (2, _triangle), "bicubic": (4, lambda x: _keys(x, _CUBIC_AA_A)), "lanczos": (6, _lanczos3)}


def antialias(n_in, n_out, align_corners, scale, dtype, mode, copy_same):
    """The filter (triangle, Keys with A = −0.5, or Lanczos-3) stretched by s = in/out when
    downsampling (support 1, 2 or 3 times max(s, 1)), centred at s·(o + ½), sampled at the pixel
    centres of the window [xmin, xmin + xsize), normalised to sum 1 (``_compute_weights_aa``)."""
    if copy_same and n_in == n_out:
        return _copy(n_out)
    s = _area_scale(n_in, n_out, align_corners, scale, dtype).double()
    interp, kernel = _FILTERS[mode]
    support = interp * 0.5 * float(s) if s >= 1 else interp * 0.5
    width = math.ceil(support) * 2 + 1
    invscale = 1 / s if s >= 1 else torch.ones((), dtype=torch.float64)
    center = (s * (torch.arange(n_out, dtype=torch.float64) + 0.5)).to(dtype).double()
    xmin = (center - support + 0.5).trunc().clamp(min=0).long()
    xsize = ((center + support + 0.5).trunc().long().clamp(max=n_in) - xmin).clamp(0, width)
    j = torch.arange(width)
    x = ((j + xmin[:, None]) - center[:, None] + 0.5) * invscale
    w = kernel(x)
    w = torch.where(j < xsize[:, None], w, torch.zeros_like(w))
    total = w.sum(1, keepdim=True)
    w = torch.where(total != 0, w / total, w)
    return (xmin[:, None] + j).clamp(max=max(n_in - 1, 0)), w


def axis(mode, n_in, n_out, *, align_corners, scale, antialiased, dtype, copy_same, shortcut):
    """``(idx, w)`` of one spatial axis for ``interpolate``'s ``mode``."""
    if mode in ("nearest", "nearest-exact"):
        return nearest(n_in, n_out, scale, mode == "nearest-exact", shortcut)
    if mode == "area":
        return area(n_in, n_out)
    if antialiased:
        return antialias(n_in, n_out, align_corners, scale, dtype, mode, copy_same)
    if mode == "bicubic":
        return cubic(n_in, n_out, align_corners, scale, dtype, copy_same)
    return linear(n_in, n_out, align_corners, scale, dtype, copy_same)


def dense(idx, w, n_in) -> torch.Tensor:
    """A itself, (n_out, n_in): the K taps of each row added into place."""
    return torch.zeros(idx.shape[0], n_in, dtype=w.dtype).scatter_add(1, idx, w)
