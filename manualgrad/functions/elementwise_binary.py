"""Elementwise math of several operands, broadcast together: ``pow``, ``clamp``, ``minimum``,
``maximum``, ``where``.

Operands broadcast to y's shape and promote to torch's result dtype; each tensor operand's
gradient is summed back over the dims it was broadcast along and cast to its own dtype
(:func:`_to_input`). Subgradients at the kinks are torch's (derivatives.yaml), stated per
Function. Half/bfloat16 backward runs in float32 and rounds once (``opmath``).
"""

from __future__ import annotations

import torch

from ._base import Function
from ._precision import opmath


def _to_input(g: torch.Tensor, meta) -> torch.Tensor:
    """``g`` (y's shape) summed to an operand's shape and cast to its dtype; meta = (shape, dtype)."""
    shape, dtype = meta
    return g.sum_to_size(shape).to(dtype) if g.shape != shape else g.to(dtype)


def _meta(t):
    return (t.shape, t.dtype) if isinstance(t, torch.Tensor) else None


def _setup(ctx, operands, *saved):
    """Keep each operand's (shape, dtype) for :func:`_to_input` and save ``saved``."""
    ctx.metas = [_meta(t) for t in operands]
    ctx.save_for_backward(*saved)


def _zero(dy: torch.Tensor) -> torch.Tensor:
    return dy.new_zeros(())


class PowFunction(Function):
    """y = xᵉ   (x, e: tensors broadcast together, or one of them a Python number)

    dx = dy·e·x^(e−1),  0 where e = 0 (torch: d/dx x⁰ = 0 everywhere, x = 0 included)
    de = dy·y·ln x,     0 where x = 0 and e ≥ 0 (torch: 0ᵉ is constant 0 or 1 there; a number
                        base 0 likewise)
    Saves x when x needs a gradient (or de reads ln x), e when it is a tensor, and y when e
    needs a gradient (torch saves the result of the Tensor-exponent pow too).
    """

    @staticmethod
    def forward(x, e):
        return torch.pow(x, e)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, e = inputs
        need_x, need_e = ctx.needs_input_grad
        ctx.x_meta, ctx.e_meta = _meta(x), _meta(e)
        ctx.x_number = None if ctx.x_meta else x
        ctx.e_number = None if ctx.e_meta else e
        ctx.save_for_backward(x if ctx.x_meta and (need_x or need_e) else None,
                              e if ctx.e_meta else None, output if need_e else None)

    @staticmethod
    @opmath
    def backward(ctx, dy):
        x, e, y = ctx.saved_tensors
        need_x, need_e = ctx.needs_input_grad
        dx = de = None
        if need_x:
            if e is None:  # a number exponent
                p = ctx.e_number
                dx = torch.zeros_like(x) if p == 0 else _to_input(dy * (p * x.pow(p - 1)), ctx.x_meta)
            else:
                dx = _to_input(torch.where(e == 0, _zero(dy), dy * (e * x.pow(e - 1))), ctx.x_meta)
        if need_e:
            if x is None:  # a number base
                base = ctx.x_number
                log_base = torch.log(torch.tensor(base, dtype=y.dtype, device=y.device))
                slope = y * log_base
                if base == 0:
                    slope = torch.where(e >= 0, _zero(dy), slope)
            else:
                slope = torch.where((x == 0) & (e >= 0), _zero(dy), y * torch.log(x.to(y.dtype)))
            de = _to_input(dy * slope, ctx.e_meta)
        return dx, de


class ClampFunction(Function):
    """y = min(max(x, lo), hi)   (lo, hi: None, numbers or tensors, broadcast with x; lo > hi
    gives hi, as torch)

    dx  = dy where lo ≤ x ≤ hi  (bounds inclusive: at a tie x gets the gradient), else 0
    dlo = dy where x < lo and lo < hi, else 0
    dhi = dy where x > hi or hi < lo, else 0
    Saves x and the tensor bounds (the masks are recomputed from them).
    """

    @staticmethod
    def forward(x, lo, hi):
        return torch.clamp(x, lo, hi)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, lo, hi = inputs
        ctx.numbers = [None if isinstance(t, torch.Tensor) else t for t in (lo, hi)]
        _setup(ctx, inputs, x, *(t if isinstance(t, torch.Tensor) else None for t in (lo, hi)))

    @staticmethod
    @opmath
    def backward(ctx, dy):
        x, lo, hi = ctx.saved_tensors
        lo = ctx.numbers[0] if lo is None else lo
        hi = ctx.numbers[1] if hi is None else hi
        need_x, need_lo, need_hi = ctx.needs_input_grad
        zero = _zero(dy)
        dx = dlo = dhi = None
        if need_x:
            inside = x >= lo if lo is not None else torch.ones_like(x, dtype=torch.bool)
            if hi is not None:
                inside = inside & (x <= hi)
            dx = _to_input(torch.where(inside, dy, zero), ctx.metas[0])
        if need_lo:
            below = x < lo if hi is None else (x < lo) & (lo < hi)
            dlo = _to_input(torch.where(below, dy, zero), ctx.metas[1])
        if need_hi:
            above = x > hi if lo is None else (x > hi) | (hi < lo)
            dhi = _to_input(torch.where(above, dy, zero), ctx.metas[2])
        return dx, dlo, dhi


class MinMaxFunction(Function):
    """y = max(a, b)  (``smallest``: min(a, b))   (elementwise, broadcast; NaN propagates)

    da = dy where a is taken (a > b for max), dy/2 where a = b (torch splits a tie evenly), else 0
    db = dy where b is taken, dy/2 where a = b, else 0
    (a NaN compares false both ways: both get dy, as torch)
    Saves a and b.
    """

    @staticmethod
    def forward(a, b, smallest):
        return (torch.minimum if smallest else torch.maximum)(a, b)

    @staticmethod
    def setup_context(ctx, inputs, output):
        a, b, ctx.smallest = inputs
        _setup(ctx, (a, b), a, b)

    @staticmethod
    @opmath
    def backward(ctx, dy):
        a, b = ctx.saved_tensors
        a_loses, b_loses = (a > b, a < b) if ctx.smallest else (a < b, a > b)
        return (*_split_tie(ctx, dy, a, b, a_loses, b_loses), None)


def _split_tie(ctx, dy, a, b, a_loses, b_loses):
    """(da, db): dy to the operand y came from, half to each at a tie, summed to their shapes."""
    zero = _zero(dy)
    shared = torch.where(a == b, dy / 2, dy)
    need_a, need_b = ctx.needs_input_grad[:2]
    da = _to_input(torch.where(a_loses, zero, shared), ctx.metas[0]) if need_a else None
    db = _to_input(torch.where(b_loses, zero, shared), ctx.metas[1]) if need_b else None
    return da, db


class WhereFunction(Function):
    """y = a where cond else b   (cond bool, a and b tensors or numbers, all broadcast)

    da = dy where cond, else 0
    db = dy where not cond, else 0
    Saves cond only.
    """

    @staticmethod
    def forward(cond, a, b):
        return torch.where(cond, a, b)

    @staticmethod
    def setup_context(ctx, inputs, output):
        _setup(ctx, inputs[1:], inputs[0])

    @staticmethod
    @opmath
    def backward(ctx, dy):
        (cond,) = ctx.saved_tensors
        _, need_a, need_b = ctx.needs_input_grad
        zero = _zero(dy)
        da = _to_input(torch.where(cond, dy, zero), ctx.metas[0]) if need_a else None
        db = _to_input(torch.where(cond, zero, dy), ctx.metas[1]) if need_b else None
        return None, da, db
