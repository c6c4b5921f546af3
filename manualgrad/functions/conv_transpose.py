"""Transposed convolution: ``conv_transpose1d/2d/3d``, one Function generic over the number of
spatial dims, the adjoint of :class:`~manualgrad.functions.conv.ConvFunction`."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._base import Function, owned
from ._recompute import active, restore, save_sources
from .conv import ConvFunction, _in_layout, expand, output_layout
from .conv_weight import crop, weight_grad

_CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


class ConvTransposeFunction(Function):
    """N-d transposed convolution, N = ``n`` spatial dims (one index o, k, i per dim below)

    y = conv_transpose(x, w) + bias is the adjoint of conv(·, w) with respect to its input:
    y[b, g·Og + c, i] = bias[g·Og + c] + Σ_{ci, o, k: o·s + k·d − p = i} w[g·Cg + ci, c, k] · x[b, g·Cg + ci, o]
      x: (B, G·Cg, L), w: (G·Cg, Og, K), s stride, p padding, d dilation, G groups;
      Y = (L − 1)s − 2p + d(K − 1) + 1 + output_padding (output_padding < s or < d)
    dx = conv(dy, w, stride s, padding p, dilation d, groups G), cropped to L: since
      ⟨conv_transpose(x, w), dy⟩ = ⟨x, conv(dy, w)⟩, dx[b, g·Cg + ci, o] =
      Σ_{c, k} w[g·Cg + ci, c, k] · dyp[b, g·Og + c, o·s + k·d] (dyp: dy zero-padded by p,
      explicit zeros as float64's: an inf in w at a padding tap gives NaN, 0·inf);
      the conv gives ⌊((L − 1)s + output_padding)/s⌋ + 1 ≥ L samples (more only when
      output_padding ≥ s, which a dilation > s allows), the extra ones are not x's.
    dw[g·Cg + ci, c, k] = Σ_{b,o} x[b, g·Cg + ci, o] · dyp[b, g·Og + c, o·s + k·d]
      = the conv weight gradient (:func:`~manualgrad.functions.conv_weight.weight_grad`) of
      conv(dy, w) at output gradient x: the roles of x and dy swapped.
    db[c] = Σ_{b,i} dy[b, c, i]
    dx is :class:`ConvFunction` (itself hand-derived), so double backward is ours too. Saves x
    only when w needs a gradient and w only when x does (what each gradient reads; torch saves
    both). Half precision: y and dx from torch's own kernels, dw summed in float32 and rounded
    once (weight_grad: its regrouped convolution never runs in half precision). dx has the
    layout torch's kernel chose for y, as torch's dx (see ConvFunction); dw has w's layout.
    Unbatched input (C, L) is the B = 1 case. An empty y (no batch, or torch's output size 0)
    gives zero gradients.
    """

    @staticmethod
    def forward(x, w, b, stride, padding, output_padding, groups, dilation, n):
        y = _CONV_T[n](x, w, b, stride=stride, padding=padding, output_padding=output_padding, groups=groups,
                       dilation=dilation)  # keywords: torch's type errors name the argument as for a user's keywords
        return y if x.dim() == n + 2 else owned(y)  # unbatched: torch's kernel squeezes a view

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, w, _, stride, padding, _, groups, dilation, n = inputs
        need_x, need_w = ctx.needs_input_grad[:2]
        ctx.save_for_backward(w if need_x else None, *save_sources(ctx, x, need_w))  # see _recompute.py
        ctx.stride, ctx.padding, ctx.dilation = expand(stride, n), expand(padding, n), expand(dilation, n)
        ctx.groups, ctx.n, ctx.x_shape, ctx.w_shape, ctx.w_stride = groups, n, x.shape, w.shape, w.stride()
        ctx.layout = output_layout(output, n)

    @staticmethod
    def backward(ctx, dy):
        w, *sources = ctx.saved_tensors
        x = restore(ctx, sources)
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        n, s, p, d, groups = ctx.n, ctx.stride, ctx.padding, ctx.dilation, ctx.groups
        batched = len(ctx.x_shape) == n + 2
        dy = dy if batched else dy.unsqueeze(0)
        dx = dw = db = None
        if dy.numel() == 0:  # an empty batch or an output size 0 (torch allows it): y reads nothing
            return _zero_gradients(ctx, dy, need_x, need_w, need_b)
        if need_x:
            dx = crop(ConvFunction.apply(_zero_padded(dy, p), w, None, s, 0, d, groups, n), ctx.x_shape[-n:])
            dx = dx.contiguous(memory_format=ctx.layout)  # torch's layout (and a cropped view copied)
            dx = dx if batched else dx.squeeze(0)
        if need_w:
            x = x if batched else x.unsqueeze(0)
            dw = weight_grad(dy, x, ctx.w_shape, s, d, p, groups)  # conv(dy, w)'s, x as its dy
            if active() and dw.stride() != ctx.w_stride:  # w's own layout (else DDP warns and copies)
                dw = _in_layout(dw, ctx.w_stride)
        if need_b:
            db = dy.sum([0, *range(2, 2 + n)])
        return dx, dw, db, None, None, None, None, None, None


def _zero_padded(dy: torch.Tensor, p) -> torch.Tensor:
    """dyp: dy with p explicit zeros on each side of each spatial dim. Not the conv's implicit
    padding: that skips the taps where padding meets an inf/NaN in w, where float64's and torch's
    dx multiply a zero (0·inf = NaN)."""
    return F.pad(dy, [q for p_i in reversed(p) for q in (p_i, p_i)]) if any(p) else dy


def _zero_gradients(ctx, dy, need_x, need_w, need_b) -> tuple:
    """The gradients when y is empty: zeros of x's and w's shapes (w's layout), db = Σ dy = 0."""
    dx = dy.new_zeros(ctx.x_shape) if need_x else None
    dw = _in_layout(dy.new_zeros(ctx.w_shape), ctx.w_stride) if need_w else None
    db = dy.new_zeros(ctx.w_shape[1] * ctx.groups) if need_b else None
    return dx, dw, db, None, None, None, None, None, None
