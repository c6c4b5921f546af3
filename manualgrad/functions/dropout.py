"""Inverted dropout: ``dropout``, with the keep-mask saved as one bit per element."""

from __future__ import annotations

import torch

from ._base import Function
from ._transform import save_for_forward, tangent

_SHIFTS = torch.arange(8, dtype=torch.uint8)


def pack_bits(mask: torch.Tensor) -> torch.Tensor:
    """Bool tensor → uint8 tensor of ceil(numel/8) bytes (element i is bit i % 8 of byte i // 8)."""
    flat = mask.reshape(-1)
    pad = (-flat.numel()) % 8
    if pad:
        flat = torch.cat([flat, flat.new_zeros(pad)])
    bits = flat.view(-1, 8).to(torch.uint8) << _SHIFTS.to(mask.device)
    return bits.sum(1, dtype=torch.uint8)


def unpack_bits(packed: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Inverse of :func:`pack_bits`: the bool mask of ``shape``."""
    bits = (packed.unsqueeze(1) >> _SHIFTS.to(packed.device)) & 1
    n = shape.numel()
    return bits.reshape(-1)[:n].view(shape).bool()


class DropoutFunction(Function):
    """y = x ⊙ m / (1 − p),   m_i ~ Bernoulli(1 − p)   (p = 1: y = x ⊙ 0)

    dx = dy ⊙ m / (1 − p)
    jvp: dy = dx ⊙ m / (1 − p)
    Saves only the keep-mask m, packed to one bit per element (1/32 of a float32 input, 1/8 of
    the bool mask torch keeps); x itself is not needed. The mask is drawn as torch's CPU kernel
    draws it (``bernoulli_(1 − p)`` on a tensor like x), so a seeded run matches ``F.dropout``
    there. With ``inplace`` x is overwritten and returned, as ``F.dropout(inplace=True)``.
    """

    @staticmethod
    def forward(x, p, inplace):
        noise = torch.empty_like(x).bernoulli_(1 - p)
        packed = pack_bits(noise.bool())
        if p == 1:
            noise.zero_()
        else:
            noise.div_(1 - p)
        y = x.mul_(noise) if inplace else x * noise
        return y, packed

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, p, inplace = inputs
        y, packed = output
        if inplace:
            ctx.mark_dirty(x)
        ctx.mark_non_differentiable(packed)
        ctx.save_for_backward(packed)
        save_for_forward(ctx, packed)
        ctx.p, ctx.inplace = p, inplace

    @staticmethod
    def backward(ctx, dy, _dpacked):
        return dy * _scale(ctx, dy), None, None

    @staticmethod
    def jvp(ctx, dx, *_):
        return tangent(ctx, dx, dx * _scale(ctx, dx)), None


def _scale(ctx, like: torch.Tensor) -> torch.Tensor:
    """m / (1 − p) from the saved packed mask, shaped and typed as ``like``."""
    (packed,) = ctx.saved_tensors
    keep = unpack_bits(packed, like.shape).to(like.dtype)
    return keep.div_(1 - ctx.p) if ctx.p < 1 else keep.zero_()
