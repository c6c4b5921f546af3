"""Rectifiers with a slope that is learned or drawn: ``prelu`` (a weight per channel or one for
all) and ``rrelu`` in training (a random slope per element, drawn by ``functional.rrelu``; in
eval rrelu is ``leaky_relu`` with the mean slope)."""

from __future__ import annotations

import torch

from ._base import Function
from ._precision import opmath
from ._transform import diagonal_jvp, save_for_forward


def broadcast_weight(w: torch.Tensor, ndim: int) -> torch.Tensor:
    """w as torch's prelu broadcasts it over an input of ``ndim`` dims: unchanged when it has as
    many dims, else shaped (1, C, 1, ...) (C = w's numel) for ndim ≥ 2, () for ndim 0."""
    if w.dim() == ndim:
        return w
    shape = [1] * ndim
    if ndim > 1:
        shape[1] = w.numel()
    return w.reshape(shape)


class PReLUFunction(Function):
    """y = x for x > 0, w·x otherwise    (w: one slope, or one per channel of dim 1, broadcast
    as :func:`broadcast_weight`)

    dx = dy for x > 0, w·dy otherwise          at x = 0 and NaN the slope side, as torch
    dw = Σ_{all dims but w's} (dy·x where x ≤ 0 or NaN, else 0), in w's shape
    jvp: dy = (dx for x > 0, w·dx + x·dw otherwise)   (dw broadcast as w)
    Saves x and w, as torch. bfloat16/half: computed in float32, rounded once (dw too).
    """

    @staticmethod
    def forward(x, w):
        return torch.prelu(x, w)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*inputs)
        save_for_forward(ctx, *inputs)
        ctx.w_shape, ctx.w_dtype = inputs[1].shape, inputs[1].dtype

    @staticmethod
    @opmath
    def backward(ctx, dy):
        x, w = ctx.saved_tensors
        pos = x > 0
        wb = broadcast_weight(w, x.dim())
        dx = torch.where(pos, dy, dy * wb) if ctx.needs_input_grad[0] else None
        dw = None
        if ctx.needs_input_grad[1]:
            dw = torch.where(pos, 0, dy * x).sum_to_size(wb.shape).reshape(ctx.w_shape).to(ctx.w_dtype)
        return dx, dw

    @staticmethod
    def jvp(ctx, dx, dw):
        x, w = ctx.saved_tensors
        wb = broadcast_weight(w, x.dim())
        neg = 0 if dx is None else dx * wb
        if dw is not None:
            neg = neg + x * broadcast_weight(dw, x.dim())
        return torch.where(x > 0, 0 if dx is None else dx, neg)


class RReLUFunction(Function):
    """y = x ⊙ a,   a = 1 where x > 0 or NaN, a ~ U(lower, upper) elsewhere (drawn by
    ``functional.rrelu`` from the stream torch's CPU kernel draws from; an input here)

    dx = dy ⊙ a
    jvp: dy = dx ⊙ a
    a comes in float32 (float64 for a float64 x): y = x·a is rounded once to x's dtype, as
    torch's kernel multiplies in its opmath type. Saves a in x's dtype (torch's ``noise``; it
    also saves x), the slope its backward multiplies by. With ``inplace`` x is overwritten and
    returned, as ``F.rrelu(inplace=True)``.
    """

    @staticmethod
    def forward(x, a, inplace):
        return x.mul_(a) if inplace else (x * a).to(x.dtype)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, a, inplace = inputs
        ctx.inplace = inplace
        if inplace:
            ctx.mark_dirty(x)
        noise = a.to(output.dtype)
        ctx.save_for_backward(noise)
        save_for_forward(ctx, noise)

    @staticmethod
    def backward(ctx, dy):
        (a,) = ctx.saved_tensors
        return dy * a, None, None

    jvp = classmethod(diagonal_jvp)
