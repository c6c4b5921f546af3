"""``unfold`` (im2col) and ``fold`` (col2im): each is the other's adjoint, so each one's backward
is the other Function."""

from __future__ import annotations

import torch.nn.functional as F

from ._base import Function

_UNFOLD, _FOLD = F.unfold, F.fold  # torch's primitives (captured: never routed back to ours)


class UnfoldFunction(Function):
    """im2col: the sliding blocks of a (B, C, H, W) or unbatched (C, H, W) input as columns

    y[b, c·kh·kw + u·kw + v, l] = xp[b, c, i·s₀ + u·d₀, j·s₁ + v·d₁],  l = i·Lw + j
      kernel (kh, kw), s stride, d dilation, xp = x zero-padded by p on each side;
      L = Lh·Lw blocks, Lh = ⌊(H + 2p₀ − d₀(kh − 1) − 1)/s₀⌋ + 1 (Lw alike)
    dx = fold(dy, (H, W), kernel, d, p, s): each x entry gathers the dy entries of every
      block position it was copied to (the adjoint of a copy is a sum); padding entries drop.
    Saves nothing but x's size (torch saves the same).
    """

    @staticmethod
    def forward(x, kernel_size, dilation, padding, stride):
        return _UNFOLD(x, kernel_size, dilation, padding, stride)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, ctx.kernel_size, ctx.dilation, ctx.padding, ctx.stride = inputs
        ctx.size = tuple(x.shape[-2:])

    @staticmethod
    def backward(ctx, dy):
        dx = FoldFunction.apply(dy, ctx.size, ctx.kernel_size, ctx.dilation, ctx.padding, ctx.stride)
        return dx, None, None, None, None


class FoldFunction(Function):
    """col2im: (B, C·kh·kw, L) or unbatched (C·kh·kw, L) columns summed into a (B, C, H, W) image

    y[b, c, h, w] = Σ_{u,v,i,j: i·s₀ + u·d₀ − p₀ = h, j·s₁ + v·d₁ − p₁ = w} x[b, c·kh·kw + u·kw + v, i·Lw + j]
      (H, W) = output_size; the blocks and L as in :class:`UnfoldFunction`; overlapping blocks add
    dx = unfold(dy, kernel, d, p, s): each column entry reads the one y entry it was added to
      (the adjoint of a sum is a copy); entries that fall in the padding read 0.
    Saves nothing (torch saves nothing either).
    """

    @staticmethod
    def forward(x, output_size, kernel_size, dilation, padding, stride):
        return _FOLD(x, output_size, kernel_size, dilation, padding, stride)

    @staticmethod
    def setup_context(ctx, inputs, output):
        _, _, ctx.kernel_size, ctx.dilation, ctx.padding, ctx.stride = inputs

    @staticmethod
    def backward(ctx, dy):
        dx = UnfoldFunction.apply(dy, ctx.kernel_size, ctx.dilation, ctx.padding, ctx.stride)
        return dx, None, None, None, None, None
