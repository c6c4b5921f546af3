"""Piecewise-linear activations: ``hardtanh`` (``relu6`` = hardtanh(0, 6)), ``hardsigmoid``,
``hardswish``, ``threshold``, ``softshrink``/``hardshrink``.

Each Function takes ``(x, *options)`` and returns y of x's shape, computed by torch's own kernel
(the same values, and the same errors for integer, bool and complex x). Where the derivative is a
constant on each piece, what is saved is the 1-byte mask of the piece where dy passes (torch saves
x: 4 bytes per float32 element), so the output stays free to be modified in place.

Subgradients at the breakpoints are torch's (checked against torch's kernels at the exact
breakpoints in the op table): every breakpoint belongs to the flat side, and a NaN input passes
dy except in hardsigmoid (torch's kernels test ``x <= bound`` for the flat side, hardsigmoid
``-3 < x < 3`` for the sloped one). Gradients are selected with ``torch.where``, so a NaN in dy
does not leak through a zero derivative.
"""

from __future__ import annotations

import math

import torch

from ._base import Function
from ._precision import opmath
from ._recompute import active
from ._transform import diagonal_jvp, save_for_forward


def _save_mask(ctx, mask):
    ctx.save_for_backward(mask)
    save_for_forward(ctx, mask)


def _passed(ctx, dy, slope=1):
    """dy·slope where the saved mask is true, else 0."""
    (mask,) = ctx.saved_tensors
    return torch.where(mask, dy if slope == 1 else dy * slope, 0)


def _outside(z, low, high):
    """z ≤ low or z ≥ high: torch's test for the flat pieces (False for NaN)."""
    return (z <= low) | (z >= high)


class HardtanhFunction(Function):
    """y = min(max(x, lo), hi)      (lo = min_val, hi = max_val; relu6: lo = 0, hi = 6)

    dx = dy where lo < x < hi, else 0    at x = lo and x = hi: 0, as torch; NaN passes dy
    jvp: dy = dx where lo < x < hi, else 0
    Saves the mask ¬(x ≤ lo ∨ x ≥ hi) (1 byte per element; torch: x). In place (torch's
    ``hardtanh_``) the mask is read from y, which has the same pieces: lo < y < hi ⟺ lo < x < hi,
    y = lo or hi on the flat ones, y NaN ⟺ x NaN.
    """

    @staticmethod
    def forward(x, lo, hi, inplace):
        return (torch._C._nn.hardtanh_ if inplace else torch._C._nn.hardtanh)(x, lo, hi)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, lo, hi, inplace = inputs
        ctx.inplace = inplace
        if inplace:
            ctx.mark_dirty(x)
        _save_mask(ctx, ~_outside(output if inplace else x, lo, hi))

    @staticmethod
    def backward(ctx, dy):
        return _passed(ctx, dy), None, None, None

    jvp = classmethod(diagonal_jvp)


class HardsigmoidFunction(Function):
    """y = min(max(x + 3, 0), 6)/6

    dx = dy/6 where −3 < x < 3, else 0    at x = ±3 and NaN: 0, as torch (whose 1/6 is a float32
                                          constant for every dtype: 3e-8 relative off in float64)
    jvp: dy = dx/6 where −3 < x < 3, else 0
    Saves the mask −3 < x < 3 (1 byte per element; torch: x). y does not give it back exactly
    (x + 3 rounds to 6 just below x = 3), so ``hardsigmoid(inplace=True)`` runs this out of place
    and copies y into x (torch's in-place variant keeps a copy of x).
    """

    @staticmethod
    def forward(x):
        return torch._C._nn.hardsigmoid(x)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x = inputs[0]
        _save_mask(ctx, x.abs() < 3)  # −3 < x < 3 in two passes (False for NaN, as that test)

    @staticmethod
    def backward(ctx, dy):
        return _passed(ctx, dy, 1 / 6)

    jvp = classmethod(diagonal_jvp)


class HardswishFunction(Function):
    """y = x·min(max(x + 3, 0), 6)/6

    dx = 0 for x ≤ −3;  dy·(x/3 + ½) for −3 < x < 3;  dy for x ≥ 3 or NaN   (torch's pieces)
    jvp: dy = dx times the same slope
    Saves x, as torch (the slope is not a function of y: y is not monotonic below 0), so
    ``hardswish(inplace=True)`` runs this on a copy of x and writes y back, as silu.
    """

    @staticmethod
    def forward(x):
        return torch._C._nn.hardswish(x)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])
        save_for_forward(ctx, inputs[0])

    @staticmethod
    @opmath
    def backward(ctx, dy):
        (x,) = ctx.saved_tensors
        if dy.device.type == "cpu" and not torch.is_grad_enabled() and active():
            dx = _hardswish_grad_unrecorded(x, dy)
            if math.isfinite(dx.sum().item()):
                return dx
        slope = torch.where((x > -3) & (x < 3), x / 3 + 0.5, 1)  # finite where unused (x = ±inf: no ∞·0)
        return torch.where(x <= -3, 0, dy * slope)

    jvp = classmethod(diagonal_jvp)


def _hardswish_grad_unrecorded(x: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
    """HardswishFunction's dx in a first-order CPU backward, by arithmetic on 0/1 floats: with
    i = [x > −3] − [x ≥ 3] (1 on the sloped piece, else 0) and u = clamp(x, −3, 3)/3 + ½,
        dx = dy·(i·u + [x ≥ 3])
    nine in-place passes. On CPU a comparison writing bool costs 3.5× one writing floats and
    ``where`` 5× a multiply (8×72×16×16: 35, 10, 50, 9 µs), so the selects took 270 µs where
    this takes ~100. It is the selects wherever it is finite (on the sloped piece u is x/3 + ½
    as there, a flat piece gives ±0); a NaN x, or a non-finite dy on a flat piece, shows in its
    sum, and the caller then takes the selects."""
    ge = torch.ge(x, 3, out=torch.empty_like(x))
    inside = torch.gt(x, -3, out=torch.empty_like(x)).sub_(ge)
    u = torch.clamp(x, -3, 3).div_(3).add_(0.5)
    return inside.mul_(u).add_(ge).mul_(dy)


class ThresholdFunction(Function):
    """y = x for x > t, v otherwise    (t = threshold, v = value)

    dx = dy where x > t or x is NaN, else 0    (torch: 0 where x ≤ t; x = t: 0)
    jvp: dy = dx where x > t, else 0
    The mask ``keep`` = ¬(x ≤ t) comes in as an input, made by ``functional.threshold`` before
    an in-place forward overwrites x (y does not give it back when v > t; torch's in-place
    variant reads the original x too). Saves it (1 byte per element; torch: x). With ``inplace``
    x is overwritten by torch's ``threshold_`` (which, unlike the other in-place activations,
    takes overlapping memory) and returned.
    """

    @staticmethod
    def forward(x, keep, t, v, inplace):
        return torch.threshold_(x, t, v) if inplace else torch.threshold(x, t, v)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, keep, _, _, inplace = inputs
        ctx.inplace = inplace
        if inplace:
            ctx.mark_dirty(x)
        _save_mask(ctx, keep)

    @staticmethod
    def backward(ctx, dy):
        return _passed(ctx, dy), None, None, None, None

    jvp = classmethod(diagonal_jvp)


class ShrinkFunction(Function):
    """soft:  y = x − λ for x > λ, x + λ for x < −λ, 0 otherwise     (λ = lambd)
    hard:  y = x for |x| > λ, 0 otherwise

    dx = dy where x < −λ or x > λ (or NaN), else 0     (both; at x = ±λ: 0, as torch)
    jvp: dy = dx on the same pieces
    Saves the mask ¬(−λ ≤ x ≤ λ) (1 byte per element; torch: x).
    """

    @staticmethod
    def forward(x, lambd, soft):
        return torch._C._nn.softshrink(x, lambd) if soft else torch.hardshrink(x, lambd)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, lambd, _ = inputs
        _save_mask(ctx, ~((x >= -lambd) & (x <= lambd)))

    @staticmethod
    def backward(ctx, dy):
        return _passed(ctx, dy), None, None

    jvp = classmethod(diagonal_jvp)
