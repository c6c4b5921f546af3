"""Affine map: ``linear``."""

from __future__ import annotations

import torch.nn.functional as F

from ._base import Function, unviewed
from ._recompute import restore, save_sources
from ._transform import add_tangents, save_for_forward


class LinearFunction(Function):
    """y = x wᵀ + b   (x: (*, in), w: (out, in), b: (out,) or broadcastable, y: (*, out))

    dx = dy w                       (*, out) @ (out, in)
    dw = Σ_rows dyᵀ x               rows flattened: (out, N) @ (N, in)
    db = Σ_rows dy                  summed down to b's shape
    jvp: dy = dx wᵀ + x dwᵀ + db
    A 1-D weight (in,) is the row vector of a single output whose last dim is dropped.
    Saves x only when w needs a gradient and w only when x does (what each gradient reads); when
    x is a recomputable activation (GELU's output, see ``_recompute.py``) it saves that
    activation's input instead, which its own Function keeps anyway, and recomputes x for dw.
    """

    @staticmethod
    def forward(x, w, b):
        return unviewed(F.linear(x, w, b))  # unbatched or N-d input: torch reshapes its result (a view)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, w, b = inputs
        need_x, need_w, _ = ctx.needs_input_grad
        ctx.save_for_backward(w if need_x else None, *save_sources(ctx, x, need_w))
        save_for_forward(ctx, x, w)
        ctx.out_shape = output.shape
        ctx.b_shape = None if b is None else b.shape
        ctx.w_is_1d = w.dim() == 1

    @staticmethod
    def backward(ctx, dy):
        w, *sources = ctx.saved_tensors
        x = restore(ctx, sources)
        need_x, need_w, need_b = ctx.needs_input_grad
        dx = dw = db = None
        if ctx.w_is_1d:  # one output unit: restore its dropped dim
            dy2, w = dy.unsqueeze(-1), (w.unsqueeze(0) if need_x else None)
        else:
            dy2 = dy
        if need_x:
            dx = dy2 @ w
        if need_w:
            if dy2.dim() == 2:  # the common case, straight to mm
                dw = dy2.t().mm(x)
            else:
                rows = x.shape[:-1].numel()
                dw = dy2.reshape(rows, dy2.shape[-1]).t() @ x.reshape(rows, x.shape[-1])
            if ctx.w_is_1d:
                dw = dw.squeeze(0)
        if need_b:
            db = dy.sum(0) if dy.dim() == 2 and len(ctx.b_shape) == 1 else _sum_to_bias(dy, ctx.b_shape)
        return dx, dw, db

    @staticmethod
    def jvp(ctx, dx, dw, db):
        x, w = ctx.saved_tensors
        dy = add_tangents(None if dx is None else F.linear(dx, w), None if dw is None else F.linear(x, dw), db)
        return dy.reshape(ctx.out_shape) if dy.dim() > len(ctx.out_shape) else dy.expand(ctx.out_shape)


def _sum_to_bias(dy, b_shape):
    """db: dy summed down to b's shape. A 1-d input's output drops the row dim that a (1, out)
    bias still has (torch computes (1, in) @ wᵀ + b and squeezes), so dy gets it back first."""
    if dy.dim() < len(b_shape):
        dy = dy.reshape((1,) * (len(b_shape) - dy.dim()) + dy.shape)
    return dy.sum_to_size(b_shape)
