"""Inverted dropout: ``dropout``, with the keep-mask saved as one bit per element."""

from __future__ import annotations

import torch

from ._base import Function
from ._transform import save_for_forward, tangent

_SHIFTS = torch.arange(8, dtype=torch.uint8)
_WEIGHTS = 2.0 ** torch.arange(8, dtype=torch.float64)  # bit i of a byte is worth 2^i


def pack_bits(mask: torch.Tensor) -> torch.Tensor:
    """A 0/1 tensor (bool or floating) → uint8 tensor of ceil(numel/8) bytes (element i is bit
    i % 8 of byte i // 8): each byte is the dot product of 8 entries with (1, 2, ..., 128), one
    matrix-vector product (exact: integers ≤ 255), 4× faster on CPU than shifting bools."""
    dtype = mask.dtype if mask.dtype in (torch.float32, torch.float64) else torch.float32
    flat = mask.reshape(-1).to(dtype)
    pad = (-flat.numel()) % 8
    if pad:
        flat = torch.cat([flat, flat.new_zeros(pad)])
    return torch.mv(flat.view(-1, 8), _WEIGHTS.to(flat.device, dtype)).to(torch.uint8)


def unpack_bits(packed: torch.Tensor, shape: torch.Size, dtype: torch.dtype = torch.bool) -> torch.Tensor:
    """Inverse of :func:`pack_bits`: the mask of ``shape``, as ``dtype`` (0/1)."""
    bits = (packed.unsqueeze(1) >> _SHIFTS.to(packed.device)) & 1
    return bits.reshape(-1)[:shape.numel()].view(shape).to(dtype)


class DropoutFunction(Function):
    """y = x ⊙ m / (1 − p),   m_i ~ Bernoulli(1 − p) the keep-mask   (p = 1: y = x ⊙ 0)

    dx = dy ⊙ m / (1 − p)
    jvp: dy = dx ⊙ m / (1 − p)
    m comes in as an input (0/1 in x's dtype), drawn by ``functional.dropout`` from the stream
    torch's CPU kernel draws it from (``bernoulli_(1 − p)``; into a bool tensor, the same draws at
    a quarter of the bytes written), so a seeded run matches ``F.dropout`` there, and the Function
    has one output (autograd allows no more where x, modified in place, is a view). Saves only m,
    packed to one bit per element (1/32 of a float32 input, 1/8 of the bool mask torch keeps); x
    itself is not needed. With ``inplace`` x is overwritten and returned, as ``F.dropout(inplace=True)``.
    """

    @staticmethod
    def forward(x, m, p, inplace):
        scale = m / (1 - p) if p < 1 else torch.zeros_like(m)  # m / (1 − p) first, as torch rounds it
        return x.mul_(scale) if inplace else x * scale

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, m, p, inplace = inputs
        if inplace:
            ctx.mark_dirty(x)
        packed = pack_bits(m)
        ctx.save_for_backward(packed)
        save_for_forward(ctx, packed)
        ctx.p, ctx.inplace = p, inplace

    @staticmethod
    def backward(ctx, dy):
        return dy * _scale(ctx, dy), None, None, None

    @staticmethod
    def jvp(ctx, dx, *_):
        return tangent(ctx, dx, dx * _scale(ctx, dx))


def _scale(ctx, like: torch.Tensor) -> torch.Tensor:
    """m / (1 − p) from the saved packed mask, shaped and typed as ``like``."""
    (packed,) = ctx.saved_tensors
    keep = unpack_bits(packed, like.shape, like.dtype)
    return keep.div_(1 - ctx.p) if ctx.p < 1 else keep.zero_()
