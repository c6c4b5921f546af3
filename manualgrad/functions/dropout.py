"""Inverted dropout: ``dropout`` (and the channel-wise ``dropout1d/2d/3d``, whose mask has one
entry per (sample, channel) and broadcasts), ``alpha_dropout`` (and ``feature_alpha_dropout``);
the keep-mask is saved as one bit per entry."""

from __future__ import annotations

import torch

from ._base import Function
from ._transform import save_for_forward, tangent

_WEIGHTS = 2.0 ** torch.arange(8, dtype=torch.float64)  # bit i of a byte is worth 2^i
# row b: the 8 bits of byte b, bit i in column i
_BYTES = ((torch.arange(256, dtype=torch.int32).unsqueeze(1) >> torch.arange(8, dtype=torch.int32)) & 1).to(torch.uint8)


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


def unpack_bits(packed: torch.Tensor, shape: torch.Size, dtype: torch.dtype = torch.bool,
                divisor: float | None = None) -> torch.Tensor:
    """Inverse of :func:`pack_bits`: the mask of ``shape``, as ``dtype`` (0/1; with ``divisor``, a
    set bit reads 1/divisor, as ``mask.div_(divisor)`` rounds it). One gather of each byte's row
    of a 256×8 table (the scale folded into the table): 2× faster than shifting and masking."""
    table = _BYTES.to(packed.device, dtype)
    if divisor is not None:
        table = table.div_(divisor)
    bits = torch.index_select(table, 0, packed.int())
    return bits.reshape(-1)[:shape.numel()].view(shape)


class DropoutFunction(Function):
    """y = x ⊙ m / (1 − p),   m_i ~ Bernoulli(1 − p) the keep-mask   (p = 1: y = x ⊙ 0)

    dx = dy ⊙ m / (1 − p)
    jvp: dy = dx ⊙ m / (1 − p)
    m comes in as an input (0/1 in x's dtype), drawn by ``functional.dropout`` from the stream
    torch's CPU kernel draws it from (``bernoulli_(1 − p)``, into x's dtype: the same draws as
    into bool, with no conversion pass), so a seeded run matches ``F.dropout`` there, and the Function
    has one output (autograd allows no more where x, modified in place, is a view). Saves only m,
    packed to one bit per element (1/32 of a float32 input, 1/8 of the bool mask torch keeps); x
    itself is not needed. With ``inplace`` x is overwritten and returned, as ``F.dropout(inplace=True)``.
    Channel-wise (feature) dropout: m has shape (N, C, 1, …) and broadcasts over the spatial dims.
    """

    @staticmethod
    def forward(x, m, p, inplace):
        if p < 1 and m.shape == x.shape:  # (x ⊙ m)·s, s = 1/(1 − p) as m / (1 − p) rounds it: one buffer
            return (x.mul_(m) if inplace else x * m).mul_(torch.ones((), dtype=m.dtype) / (1 - p))
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
        ctx.p, ctx.inplace, ctx.m_shape = p, inplace, m.shape

    @staticmethod
    def backward(ctx, dy):
        return dy * _scale(ctx, dy), None, None, None

    @staticmethod
    def jvp(ctx, dx, *_):
        return tangent(ctx, dx, dx * _scale(ctx, dx))


def _scale(ctx, like: torch.Tensor) -> torch.Tensor:
    """m / (1 − p) from the saved packed mask, in m's shape (broadcasting against ``like``) and
    ``like``'s dtype."""
    (packed,) = ctx.saved_tensors
    if ctx.p < 1:
        return unpack_bits(packed, ctx.m_shape, like.dtype, divisor=1 - ctx.p)
    return like.new_zeros(ctx.m_shape)


ALPHA = 1.7580993408473766  # SELU's α·λ: the value SELU saturates to, −ALPHA, is what a drop sets


def alpha_coefficients(p: float) -> tuple[float, float]:
    """(a, c): alpha dropout's affine map y = a·(x ⊙ m) + c·(m − 1 + p) keeps a unit-variance,
    zero-mean input so (a = ((α²p + 1)(1 − p))^−½, c = α·a), as torch computes them."""
    a = 1.0 / ((ALPHA * ALPHA * p + 1) * (1 - p)) ** 0.5
    return a, ALPHA * a


class AlphaDropoutFunction(Function):
    """y = x ⊙ (a·m) + c·(m − 1 + p),   m_i ~ Bernoulli(1 − p)   (a, c: ``alpha_coefficients``)
    a dropped element becomes −α·a·(1 − p), a kept one a·x + α·a·p: mean and variance of a SELU
    network's activations survive (torch's formula; feature_alpha_dropout: m per channel)

    dx = dy ⊙ a·m
    Saves only m, packed to one bit per entry (torch keeps the float noise and the shift b).
    """

    @staticmethod
    def forward(x, m, p, inplace):
        a, c = alpha_coefficients(p)
        noise, shift = m * a, (m - 1) * c + c * p  # torch's noise·a and b = (m − 1)·αa + αa·p, as it rounds them
        return x.mul_(noise).add_(shift) if inplace else x * noise + shift

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, m, p, inplace = inputs
        if inplace:
            ctx.mark_dirty(x)
        ctx.save_for_backward(pack_bits(m))
        ctx.p, ctx.m_shape = p, m.shape

    @staticmethod
    def backward(ctx, dy):
        (packed,) = ctx.saved_tensors
        keep = unpack_bits(packed, ctx.m_shape, dy.dtype)
        return dy * keep.mul_(alpha_coefficients(ctx.p)[0]), None, None, None
