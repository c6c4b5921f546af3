"""Arithmetic: ``add``/``sub`` (with ``alpha``), ``mul``, ``div`` (true division), ``neg``,
``addcmul``/``addcdiv`` (with ``value``) — what strict routing (``manual(strict=True)``,
``swap(model, strict=True)``) sends here, for those who want every node of the graph hand-derived.

Operands are tensors broadcast together, or Python numbers (no gradient). The forward is torch's
own op, so the result's values, dtype (type promotion) and errors are torch's; each tensor
operand's gradient is summed back over the dims it was broadcast along and cast to its own dtype
(``elementwise_binary._to_input``). The backward formulas are torch's (derivatives.yaml), computed
in the result's dtype as torch's are (half/bfloat16 included: the same roundings).
"""

from __future__ import annotations

import torch

from ._base import Function
from .elementwise_binary import _meta, _to_input


def _setup(ctx, operands, need):
    """Keep each operand's (shape, dtype); save the tensor operands whose index is in ``need``
    (the numbers stay on ctx)."""
    ctx.metas = [_meta(t) for t in operands]
    ctx.numbers = [None if isinstance(t, torch.Tensor) else t for t in operands]
    ctx.save_for_backward(*(t if i in need and isinstance(t, torch.Tensor) else None
                            for i, t in enumerate(operands)))


def _operands(ctx):
    """The saved operands, a number where the operand was one (None where not saved)."""
    return [n if n is not None else t for t, n in zip(ctx.saved_tensors, ctx.numbers)]


def _scaled(dy: torch.Tensor, s) -> torch.Tensor:
    return dy if s == 1 else -dy if s == -1 else dy * s


def _needed(ctx, i) -> bool:
    return ctx.needs_input_grad[i] and ctx.metas[i] is not None


class AddFunction(Function):
    """y = a + α·b   (``negate``: y = a − α·b; a, b tensors broadcast together, or numbers)

    da = dy
    db = α·dy    (sub: −α·dy)
    Saves nothing but shapes and dtypes, as torch.
    """

    @staticmethod
    def forward(a, b, alpha, negate):
        return (torch.sub if negate else torch.add)(a, b, alpha=alpha)

    @staticmethod
    def setup_context(ctx, inputs, output):
        a, b, alpha, negate = inputs
        _setup(ctx, (a, b), ())
        ctx.scale = -alpha if negate else alpha

    @staticmethod
    def backward(ctx, dy):
        da = _to_input(dy, ctx.metas[0]) if _needed(ctx, 0) else None
        db = _to_input(_scaled(dy, ctx.scale), ctx.metas[1]) if _needed(ctx, 1) else None
        return da, db, None, None


class MulFunction(Function):
    """y = a·b   (tensors broadcast together, or one of them a number)

    da = dy·b
    db = dy·a
    Saves b when a needs a gradient and a when b does, as torch.
    """

    @staticmethod
    def forward(a, b):
        return torch.mul(a, b)

    @staticmethod
    def setup_context(ctx, inputs, output):
        need_a, need_b = ctx.needs_input_grad
        _setup(ctx, inputs, {i for i, needed in ((1, need_a), (0, need_b)) if needed})

    @staticmethod
    def backward(ctx, dy):
        a, b = _operands(ctx)
        da = _to_input(dy * b, ctx.metas[0]) if _needed(ctx, 0) else None
        db = _to_input(dy * a, ctx.metas[1]) if _needed(ctx, 1) else None
        return da, db


class DivFunction(Function):
    """y = a / b   (true division; tensors broadcast together, or one of them a number)

    da = dy / b
    db = −dy·((a / b) / b)    (torch's order of operations)
    Saves b when either needs a gradient and a when b does, as torch.
    """

    @staticmethod
    def forward(a, b):
        return torch.div(a, b)

    @staticmethod
    def setup_context(ctx, inputs, output):
        need_a, need_b = ctx.needs_input_grad
        _setup(ctx, inputs, ({1} if need_a or need_b else set()) | ({0} if need_b else set()))

    @staticmethod
    def backward(ctx, dy):
        a, b = _operands(ctx)
        da = _to_input(dy / b, ctx.metas[0]) if _needed(ctx, 0) else None
        db = _to_input(-dy * ((a / b) / b), ctx.metas[1]) if _needed(ctx, 1) else None
        return da, db


class NegFunction(Function):
    """y = −x

    dx = −dy
    Saves nothing, as torch.
    """

    @staticmethod
    def forward(x):
        return torch.neg(x)

    @staticmethod
    def setup_context(ctx, inputs, output):
        pass

    @staticmethod
    def backward(ctx, dy):
        return -dy


class AddcFunction(Function):
    """y = x + v·t₁·t₂   (``divide``: y = x + v·t₁/t₂; x, t₁, t₂ tensors broadcast together, v a number)

    dx  = dy
    dt₁ = dy·(t₂·v)              (addcdiv: dy·(v / t₂))
    dt₂ = dy·(t₁·v)              (addcdiv: −dy·(v·t₁ / (t₂·t₂)))
    Saves t₂ when t₁ needs a gradient (addcdiv: when either does) and t₁ when t₂ does, as torch.
    """

    @staticmethod
    def forward(x, t1, t2, value, divide):
        return (torch.addcdiv if divide else torch.addcmul)(x, t1, t2, value=value)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, t1, t2, ctx.value, ctx.divide = inputs
        _, need_1, need_2 = ctx.needs_input_grad[:3]
        need = ({2} if need_1 or (need_2 and ctx.divide) else set()) | ({1} if need_2 else set())
        _setup(ctx, (x, t1, t2), need)

    @staticmethod
    def backward(ctx, dy):
        _, t1, t2 = _operands(ctx)
        v = ctx.value
        dx = _to_input(dy, ctx.metas[0]) if _needed(ctx, 0) else None
        dt1 = dt2 = None
        if _needed(ctx, 1):
            dt1 = _to_input(dy * (v / t2) if ctx.divide else dy * (t2 * v), ctx.metas[1])
        if _needed(ctx, 2):
            dt2 = _to_input(-dy * (v * t1 / (t2 * t2)) if ctx.divide else dy * (t1 * v), ctx.metas[2])
        return dx, dt1, dt2, None, None
