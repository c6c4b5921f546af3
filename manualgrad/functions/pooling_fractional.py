"""Fractional max pooling (Graham, 2014) over the last nd = 2 or 3 dims of (N, C, *space) or
unbatched (C, *space) input: ``fractional_max_pool2d`` / ``fractional_max_pool3d``.

The forward is torch's own kernel with the pseudo-random window starts that ``samples`` (one
u in [0, 1) per batch row, channel and pooled dim) picks, so shapes, the window sequence and
every error message are torch's; the backward is the scatter-add of max pooling.
"""

from __future__ import annotations

import torch

from ._base import Function, owned
from .pooling import save_shape, scatter_to_input

_KERNEL = {2: torch._C._nn.fractional_max_pool2d, 3: torch._C._nn.fractional_max_pool3d}


class FractionalMaxPoolFunction(Function):
    """Along each pooled dim of size n, to o outputs with kernel k and sample u (per row and
    channel): α = (n − k) / (o − 1), start[j] = ⌊(j + u)·α⌋ − ⌊u·α⌋ (the last one n − k);
    y[p] = max of x over the window Π_dims [start, start + k),  i[p] = its flat argmax in the
    plane/volume (torch's kernel).

    dx = Σ_p dy[p] · e_{i[p]}   a scatter-ADD of dy at the argmaxes into zeros of x's shape
         (windows overlap when k > α: an x picked twice gets both dy).
    d samples = none: the window starts are piecewise constant in u (torch gives none either).
    Double backward: dy ↦ dx is linear, its adjoint the gather ddx[i[p]]; the backward is
    written with scatter_add, which is differentiable.
    Saves the int64 indices i only (torch saves x as well): the backward never reads x.
    Half/bfloat16: the scatter accumulates in float32 and rounds once.
    """

    @staticmethod
    def forward(x, nd, kernel_size, output_size, samples):
        y, idx = _KERNEL[nd](x, kernel_size, output_size, samples)
        return owned(y), owned(idx)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, ctx.nd, *_ = inputs
        _, idx = output
        ctx.mark_non_differentiable(idx)
        ctx.save_for_backward(idx)
        save_shape(ctx, x)

    @staticmethod
    def backward(ctx, dy, _didx):
        if not ctx.needs_input_grad[0]:
            return (None,) * 5
        (idx,) = ctx.saved_tensors
        return scatter_to_input(ctx, dy, idx, ctx.nd), None, None, None, None
