"""Resampling: ``interpolate`` in every mode (nearest, nearest-exact, linear, bilinear, bicubic,
trilinear, area; antialias for bilinear, bicubic and lanczos).

The forward is torch's own kernel (so every shape rule and error is torch's); the backward applies
the transpose of each spatial axis's interpolation matrix (``resample_weights.py``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import resample_weights as weights
from ._base import Function, owned
from ._precision import opmath

_CHANNELS_LAST = {4: torch.channels_last, 5: torch.channels_last_3d}


def _per_axis(v, n):
    """An int/float or an n-sequence as an n-list (as ``interpolate`` expands them)."""
    return list(v) if isinstance(v, (list, tuple)) else [v] * n


def _channels_last(x: torch.Tensor):
    """x's channels-last memory format (4-d/5-d input laid out so), else None."""
    fmt = _CHANNELS_LAST.get(x.dim())
    if fmt is None or x.is_contiguous() or not x.is_contiguous(memory_format=fmt):
        return None
    return fmt


def adjoint_along(g: torch.Tensor, dim: int, idx: torch.Tensor, w: torch.Tensor | None, n_in: int) -> torch.Tensor:
    """Aᵀ applied along ``dim`` of g, A (n_out, n_in) held as its taps (idx, w), both (n_out, K):
    dx[j] = Σ_{o,k: idx[o,k] = j} w[o,k]·g[o]   (one scatter-add per tap k of the weighted g;
    w None: every weight is 1, as nearest's)."""
    shape = list(g.shape)
    shape[dim] = n_in
    view = [1] * g.dim()
    view[dim] = -1
    dx = g.new_zeros(shape)
    for k in range(idx.shape[1]):
        dx = dx.index_add(dim, idx[:, k], g if w is None else g * w[:, k].reshape(view))
    return dx


def adjoint_dense(g: torch.Tensor, dim: int, a: torch.Tensor) -> torch.Tensor:
    """Aᵀ applied along ``dim`` of g as one matmul with the dense A (n_out, n_in): faster than the
    scatter where the axis is short against its taps per row (tests hold the two equal)."""
    return (g.movedim(dim, -1) @ a).movedim(-1, dim)


def _adjoint(g, dim, idx, w, n_in, one_hot):
    """Aᵀ along ``dim``: the dense matmul for a short axis (n_in ≤ 32 taps per row), else the scatter."""
    if n_in <= 32 * idx.shape[1]:
        return adjoint_dense(g, dim, weights.dense(idx, w, n_in).to(g.device, g.dtype))
    return adjoint_along(g, dim, idx.to(g.device), None if one_hot else w.to(g.device, g.dtype), n_in)


def along(x: torch.Tensor, dim: int, idx: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """A applied along ``dim`` of x: y[o] = Σ_k w[o,k]·x[idx[o,k]] (the forward as matrices;
    tests hold it equal to torch's kernel)."""
    n_out, k = idx.shape
    view = [1] * (x.dim() + 1)
    view[dim], view[dim + 1] = n_out, k
    taps = x.index_select(dim, idx.flatten()).unflatten(dim, (n_out, k))
    return (taps * w.reshape(view)).sum(dim + 1)


def _antialias_transposed(x, size, scale_factor, mode, align_corners, recompute_scale_factor):
    """Antialiased interpolate with H and W swapped and swapped back. Torch's CPU kernel returns
    the first input row for every output row when the output width is 1 and the height changes
    (torch 2.13; its backward is the adjoint of the right map); transposed, the same kernel is right.
    Floating input only: uint8 takes torch's separate AVX kernel, which is right (and asserts on
    the transposed layout: tests/test_fuzz_findings_layers.py)."""
    swap = (lambda v: v[::-1] if isinstance(v, (list, tuple)) else v)  # noqa: E731
    y = F.interpolate(x.mT, swap(size), swap(scale_factor), mode, align_corners, recompute_scale_factor, True)
    return y.mT.contiguous()


def axes(mode, in_sizes, out_sizes, align_corners, scales, antialias, dtype, device):
    """(idx, w) of every spatial axis, as torch's kernel on ``device`` indexes input of ``dtype``.
    An axis whose size is unchanged is copied, whatever the scale factor: per axis by the CPU
    linear and antialias kernels (not its bicubic one), only when every axis is unchanged on CUDA;
    the CPU's 2-d nearest also takes o >> 1 for a doubled size."""
    cpu = device.type == "cpu"
    copy_same = (mode != "bicubic" or antialias) if cpu else list(in_sizes) == list(out_sizes)
    shortcut = cpu and mode == "nearest" and len(in_sizes) == 2
    op = torch.float64 if dtype == torch.float64 else torch.float32
    return [weights.axis(mode, n_in, n_out, align_corners=align_corners, scale=s, antialiased=antialias,
                         dtype=op, copy_same=copy_same, shortcut=shortcut)
            for n_in, n_out, s in zip(in_sizes, out_sizes, scales)]


class InterpolateFunction(Function):
    """y = x ×₁ A₁ ×₂ A₂ … ×_d A_d   (A_i: (out_i, in_i), the interpolation matrix of spatial axis i;
    ×_i multiplies along that axis). Rows of A: nearest one-hot at ⌊o·s⌋ (nearest-exact ⌊(o+½)·s⌋);
    linear two taps (1 − λ, λ); bicubic four Keys taps (A = −0.75), clamped taps accumulating on
    the edge; area adaptive-average windows; antialias (and lanczos) the stretched, normalised filter.

    dx = dy ×₁ A₁ᵀ ×₂ A₂ᵀ … ×_d A_dᵀ   one scatter-add of the weighted taps per axis (a short axis:
         one matmul with the dense Aᵀ); y is linear in x, so the backward is linear in dy and its
         own derivative is the forward again.
    Forward mode: the tangent of y is the same map of x's tangent, y(ẋ).
    Saves nothing but sizes and the arguments (torch: the same): A is rebuilt from them.
    Half/bfloat16: dx accumulates in float32 and is rounded once.
    """

    @staticmethod
    def forward(x, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias):
        y = F.interpolate(x, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias)
        if (antialias and x.device.type == "cpu" and x.is_floating_point() and y.shape[-1] == 1
                and y.shape[-2] != x.shape[-2]):
            return _antialias_transposed(x, size, scale_factor, mode, align_corners, recompute_scale_factor)
        return owned(y)  # the antialiased kernels return a view

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, _, scale_factor, mode, align_corners, recompute, antialias = inputs
        ctx.args = inputs[1:]
        n = x.dim() - 2
        # torch's kernels get the scale factors only when they are not recomputed from sizes
        given = scale_factor is not None and not recompute and mode != "area"
        ctx.scales = _per_axis(scale_factor, n) if given else [None] * n
        ctx.mode, ctx.align_corners, ctx.antialias = mode, bool(align_corners), antialias
        ctx.x_shape, ctx.x_dtype, ctx.memory_format = x.shape, x.dtype, _channels_last(x)

    @staticmethod
    @opmath
    def backward(ctx, dy):
        if not ctx.needs_input_grad[0]:
            return (None,) * 7
        in_sizes, out_sizes = ctx.x_shape[2:], dy.shape[2:]
        taps = axes(ctx.mode, in_sizes, out_sizes, ctx.align_corners, ctx.scales, ctx.antialias,
                    ctx.x_dtype, dy.device)
        one_hot = ctx.mode in ("nearest", "nearest-exact")
        dx = dy
        for i, ((idx, w), n_in) in enumerate(zip(taps, in_sizes)):
            dx = _adjoint(dx, 2 + i, idx, w, n_in, one_hot)
        if ctx.memory_format is not None:
            dx = dx.contiguous(memory_format=ctx.memory_format)
        return dx, None, None, None, None, None, None

    @staticmethod
    def jvp(ctx, dx, *_):
        return InterpolateFunction.forward(dx, *ctx.args)
