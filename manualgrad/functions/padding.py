"""Padding: ``pad`` in the modes constant, reflect, replicate and circular.

The forward is torch's own kernel (so every rule on pad lengths, input ranks and sizes, and every
error, is torch's); the backward is written out below.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._base import Function, owned
from ._precision import opmath


def source_index(mode: str, n: int, before: int, after: int, device) -> torch.Tensor:
    """For each output position o ∈ [−before, n + after) of one padded dim, the input index it
    copies: reflect o<0 → −o, o ≥ n → 2(n − 1) − o; replicate clamp(o, 0, n − 1); circular
    wraps over the part left after negative pads crop, [lo, hi): lo + (o − lo) mod (hi − lo)."""
    o = torch.arange(-before, n + after, device=device)
    if mode == "reflect":
        return (n - 1) - ((n - 1) - o.abs()).abs()
    if mode == "replicate":
        return o.clamp(0, n - 1)
    lo, hi = max(0, -before), n - max(0, -after)
    return lo + (o - lo).remainder(hi - lo)


def _pairs(pad):
    """(dim offset from the end, before, after) of each padded dim: pad[0:2] pads the last dim."""
    return [(i + 1, pad[2 * i], pad[2 * i + 1]) for i in range(len(pad) // 2)]


def _check_wraps_something(shape, pad) -> None:
    """Circular padding wraps the part of a dim that negative pads leave: a positive pad longer
    than that part (all of it cropped away, or more than one turn) has nothing to copy. Torch 2.13
    checks the pads against the uncropped size only and returns uninitialised memory; we raise."""
    for back, before, after in _pairs(pad):
        n = shape[-back]
        kept = n - max(0, -before) - max(0, -after)
        if max(before, after) > max(kept, 0):
            raise RuntimeError(f"circular padding {tuple(pad)} of dimension {len(shape) - back} (size {n}, "
                               f"{max(kept, 0)} after cropping) wraps around more than the cropped part")


class PadFunction(Function):
    """constant: y = x framed by ``value``, pad[2i] before and pad[2i+1] after dim −(i+1)
    (a negative pad crops).  reflect / replicate / circular: y = x[s₁(o₁), …, s_k(o_k)], one source
    map s per padded dim (``source_index``).

    constant: dx = dy with the frame cut off (where a pad cropped: zeros put back),
              i.e. the constant pad of dy by −pad
    others:   dx = dy folded back onto its sources, one dim at a time:
              dx = zeros(n).index_add(dim, s, dy)   (border entries copied several times
              collect every copy's gradient)
    Both are linear in dy, so double backward differentiates them as written. Forward mode: the
    tangent of y is x's tangent padded the same way (a constant frame's tangent is 0).
    Saves nothing but x's shape (torch: the same).
    Half/bfloat16: the folding accumulates in float32 and rounds once.
    """

    @staticmethod
    def forward(x, pad, mode, value):
        y = F.pad(x, pad, mode, value)
        if mode == "circular":
            _check_wraps_something(x.shape, pad)
        return y.clone() if y is x else owned(y)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, pad, ctx.mode, _ = inputs
        ctx.pad, ctx.x_shape = tuple(pad), x.shape

    @staticmethod
    @opmath
    def backward(ctx, dy):
        if not ctx.needs_input_grad[0]:
            return None, None, None, None
        if ctx.mode == "constant":
            return torch.constant_pad_nd(dy, [-p for p in ctx.pad]), None, None, None
        dx = dy
        for back, before, after in _pairs(ctx.pad):
            dim, n = dx.dim() - back, ctx.x_shape[-back]
            shape = list(dx.shape)
            shape[dim] = n
            src = source_index(ctx.mode, n, before, after, dy.device)
            dx = dx.new_zeros(shape).index_add(dim, src, dx)
        return dx, None, None, None

    @staticmethod
    def jvp(ctx, dx, *_):
        return PadFunction.forward(dx, ctx.pad, ctx.mode, 0.0 if ctx.mode == "constant" else None)
