"""Pooling whose windows come from sizes or indices rather than a kernel: ``adaptive_avg_pool{n}d``,
``adaptive_max_pool{n}d`` and ``max_unpool{n}d``, over the last n = 1, 2 or 3 dims.

The forwards are torch's kernels (shapes, None sizes, errors are torch's); the backwards below.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ._base import Function, owned
from ._precision import opmath
from .pooling import as_input, save_shape, scatter_to_input

_ADAPTIVE_AVG = {1: F.adaptive_avg_pool1d, 2: F.adaptive_avg_pool2d, 3: F.adaptive_avg_pool3d}
_ADAPTIVE_MAX = {1: F.adaptive_max_pool1d, 2: F.adaptive_max_pool2d, 3: F.adaptive_max_pool3d}
_UNPOOL = {1: F.max_unpool1d, 2: F.max_unpool2d, 3: F.max_unpool3d}


def _averaging_matrix(n_in, n_out, dtype, device) -> torch.Tensor:
    """A (n_out, n_in): row i averages x[start_i:end_i], start_i = ⌊i·n_in/n_out⌋,
    end_i = ⌈(i+1)·n_in/n_out⌉ (torch's adaptive windows)."""
    i = torch.arange(n_out, device=device)
    start = i * n_in // n_out
    end = ((i + 1) * n_in + n_out - 1) // n_out
    j = torch.arange(n_in, device=device)
    inside = (j >= start[:, None]) & (j < end[:, None])
    return inside.to(dtype) / (end - start).to(dtype)[:, None]


class AdaptiveAvgPoolFunction(Function):
    """y = x ×_1 A_1 ×_2 … ×_n A_n   (per plane: along each pooled dim k an averaging matrix A_k
    of shape (out_k, in_k), see ``_averaging_matrix``; 2-d: y = A_h x A_wᵀ; windows overlap when
    in_k is not a multiple of out_k)

    dx = dy ×_1 A_1ᵀ ×_2 … ×_n A_nᵀ   (2-d: dx = A_hᵀ dy A_w)
    Global pooling (every out_k = 1: a ResNet's head, a squeeze-excitation block) has A_k = 1ᵀ/in_k,
    so dx = dy / Π in_k broadcast over the plane (:func:`_global_average_grad`, one pass).
    Saves nothing but x's shape (the output sizes are dy's): the A_k are rebuilt from the shapes.
    """

    @staticmethod
    def forward(x, nd, output_size):
        return owned(_ADAPTIVE_AVG[nd](x, output_size))  # resolves None entries to x's own size

    @staticmethod
    def setup_context(ctx, inputs, output):
        save_shape(ctx, inputs[0])
        ctx.nd = inputs[1]

    @staticmethod
    @opmath
    def backward(ctx, dy):
        if not ctx.needs_input_grad[0]:
            return None, None, None
        if all(o == 1 for o in dy.shape[-ctx.nd:]):
            return _global_average_grad(ctx, dy), None, None
        dx = dy
        for axis in range(-ctx.nd, 0):  # dx ×_k A_kᵀ: contract dy's dim k with A_k's rows
            a = _averaging_matrix(ctx.x_shape[axis], dy.shape[axis], dy.dtype, dy.device)
            dx = (dx.movedim(axis, -1) @ a).movedim(-1, axis)
        return as_input(ctx, dx), None, None


def _global_average_grad(ctx, dy: torch.Tensor) -> torch.Tensor:
    """dx = dy / n over each plane of n = Π in_k entries (every out_k = 1), in x's layout: one
    division and one broadcasting copy, where the averaging matrices cost a dozen small ops (240 µs
    a call against torch's 15 in a MobileNetV3's squeeze-excitation blocks)."""
    dx = (dy / math.prod(ctx.x_shape[-ctx.nd:])).expand(ctx.x_shape)
    fmt = {4: torch.channels_last, 5: torch.channels_last_3d}[dx.dim()] if ctx.channels_last else torch.contiguous_format
    return dx.contiguous(memory_format=fmt)


class AdaptiveMaxPoolFunction(Function):
    """y[p] = max of x over the adaptive window p (torch's windows, as in adaptive_avg_pool),
    i[p] = its flat argmax in the pooled plane/volume

    dx = Σ_p dy[p] · e_{i[p]}   dy scatter-added at the argmaxes (overlapping windows accumulate);
    linear in dy, so differentiable as written. Saves the int64 indices only (torch: x as well).
    """

    @staticmethod
    def forward(x, nd, output_size):
        y, idx = _ADAPTIVE_MAX[nd](x, output_size, return_indices=True)
        return owned(y), owned(idx)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.mark_non_differentiable(output[1])
        ctx.save_for_backward(output[1])
        save_shape(ctx, inputs[0])
        ctx.nd = inputs[1]

    @staticmethod
    def backward(ctx, dy, _didx):
        if not ctx.needs_input_grad[0]:
            return None, None, None
        (idx,) = ctx.saved_tensors
        return scatter_to_input(ctx, dy, idx, ctx.nd), None, None


class MaxUnpoolFunction(Function):
    """y = 0 except y[i[p]] = x[p]   (each plane: x written at the flat positions ``indices``
    into zeros of the output size; where two indices coincide one write wins, as in torch)

    dx[p] = dy[i[p]]   the adjoint: a gather of dy at the indices (every x whose index is
    repeated reads the same dy, which is torch's gradient too). Linear in dy: differentiable.
    Saves the indices (an input the caller owns and torch saves too).
    """

    @staticmethod
    def forward(x, indices, nd, kernel_size, stride, padding, output_size):
        return owned(_UNPOOL[nd](x, indices, kernel_size, stride, padding, output_size))

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, indices, ctx.nd = inputs[:3]
        ctx.save_for_backward(indices)
        save_shape(ctx, x)

    @staticmethod
    def backward(ctx, dy):
        if not ctx.needs_input_grad[0]:
            return (None,) * 7
        (idx,) = ctx.saved_tensors
        nd = ctx.nd
        rows, cells = ctx.x_shape[:-nd].numel(), ctx.x_shape[-nd:].numel()
        dx = dy.reshape(rows, dy.shape[-nd:].numel()).gather(1, idx.reshape(rows, cells))
        return as_input(ctx, dx), None, None, None, None, None, None
