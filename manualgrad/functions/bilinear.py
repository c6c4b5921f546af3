"""``bilinear``: y = x₁ᵀ W x₂ + b, one bilinear form per output feature."""

from __future__ import annotations

import torch

from ._base import Function, owned


class BilinearFunction(Function):
    """y_o = Σ_ij x1_i W_oij x2_j + b_o   (x1: (*, I), x2: (*, J), W: (O, I, J), b: (O,), y: (*, O))

    dx1_i = Σ_o dy_o Σ_j W_oij x2_j        dx1 = einsum(dy, W, x2)
    dx2_j = Σ_o dy_o Σ_i W_oij x1_i        dx2 = einsum(dy, W, x1)
    dW_oij = Σ_rows dy_o x1_i x2_j         one outer product per row, summed over the rows (*)
    db_o = Σ_rows dy_o
    Each three-way product is grouped as torch's: dx1 = (dy⊗x2)·W, dx2 = (x1·W)·dy, dW = (x1⊗dy)⊗x2.
    Saves x1 (for dx2, dW), x2 (for dx1, dW) and W (for dx1, dx2), each only when a gradient
    reads it (torch saves all three).
    """

    @staticmethod
    def forward(x1, x2, w, b):
        return owned(torch.bilinear(x1, x2, w, b))

    @staticmethod
    def setup_context(ctx, inputs, output):
        x1, x2, w, b = inputs
        n1, n2, nw, _ = ctx.needs_input_grad
        ctx.save_for_backward(x1 if (n2 or nw) else None, x2 if (n1 or nw) else None, w if (n1 or n2) else None)
        ctx.b_shape = None if b is None else b.shape
        ctx.x_shapes, ctx.w_shape = (x1.shape, x2.shape), w.shape

    @staticmethod
    def backward(ctx, dy):
        x1, x2, w = ctx.saved_tensors
        n1, n2, nw, nb = ctx.needs_input_grad
        shape1, shape2 = ctx.x_shapes
        dx1 = _pairwise(dy, x2, w, "...o,...j->...oj", "...oj,oij->...i", shape1) if n1 else None
        dx2 = _pairwise(x1, w, dy, "...i,oij->...oj", "...oj,...o->...j", shape2) if n2 else None
        dw = _pairwise(x1, dy, x2, "...i,...o->...oi", "...oi,...j->oij", ctx.w_shape) if nw else None
        db = dy.sum_to_size(ctx.b_shape) if nb else None
        return dx1, dx2, dw, db


def _pairwise(a, b, c, first, second, shape):
    """einsum(einsum(a, b, first), c, second): the three-way product grouped as torch's trilinear
    backward groups it (the first two factors, then the third), so an inf or NaN in an input
    lands where torch's does; zeros when a factor is empty, as torch's."""
    if a.numel() == 0 or b.numel() == 0 or c.numel() == 0:
        return a.new_zeros(shape)
    return torch.einsum(second, torch.einsum(first, a, b), c)
