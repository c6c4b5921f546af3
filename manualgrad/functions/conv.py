"""Convolution: ``conv1d``/``conv2d``/``conv3d`` (one Function generic over the number of spatial dims) and
the non-zero ``padding_mode``s of the Conv modules (reflect, replicate, circular)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from . import conv_pointwise as pointwise
from ._base import Function, owned
from ._ints import expand
from ._recompute import active, restore, save_sources
from .conv_weight import _CONV, crop, weight_grad

_CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def padding_lo_hi(padding, kernel_size, dilation) -> tuple[tuple, tuple]:
    """Zeros added before (lo) and after (hi) each spatial dim, as torch pads.

    'valid' is none; 'same' adds d·(k − 1) in total, the odd one after (torch's
    ``_convolution_same``: even kernel with odd dilation); ints pad both sides alike."""
    n = len(kernel_size)
    if padding == "valid":
        return (0,) * n, (0,) * n
    if padding == "same":
        total = [d * (k - 1) for d, k in zip(expand(dilation, n), kernel_size)]
        return tuple(t // 2 for t in total), tuple(t - t // 2 for t in total)
    lo = expand(padding, n)
    return lo, lo


_LAST = {4: torch.channels_last, 5: torch.channels_last_3d}


def memory_format(*tensors) -> torch.memory_format:
    """channels_last (channels_last_3d) if one of the 4-d (5-d) ``tensors`` has channels-last
    strides, else contiguous (c10's ``suggest_memory_format``, the first such tensor deciding)."""
    for t in tensors:
        if t.dim() in _LAST and _channels_last(t):
            return _LAST[t.dim()]
    return torch.contiguous_format


def output_layout(y: torch.Tensor, n: int) -> torch.memory_format:
    """The layout torch's conv kernel chose for its output ``y`` (``n`` spatial dims), which its
    backward gives dx too; an unbatched y is read as a batch of one (its batch stride the whole
    tensor: ``unsqueeze`` would give the channels' extent, which reads as contiguous)."""
    if y.dim() == n + 1:
        y = y.as_strided((1, *y.shape), (max(1, y.numel()), *y.stride()))
    return memory_format(y)


def _channels_last(t: torch.Tensor) -> bool:
    """c10's ``is_channels_last_strides_2d``/``_3d``: strides non-decreasing in the order C, then
    the spatial dims last to first, then N, a size-1 dim not counting; ambiguous cases (a stride-0
    C, N111) are contiguous."""
    if t.stride(1) == 0:
        return False
    least = 0
    for d in (1, *range(t.dim() - 1, 1, -1), 0):
        if t.shape[d] == 0 or t.stride(d) < least or (d == 0 and least == t.stride(1)):
            return False
        least = t.stride(d) * max(t.shape[d], 1)
    return True


class ConvFunction(Function):
    """N-d cross-correlation, N = ``n`` spatial dims (1, 2 or 3; one index o, k, i per dim below)

    y[b, c, o] = bias[c] + Σ_{ci,k} w[c, ci, k] · xp[b, g·Cg + ci, o·s + k·d]
      x: (B, G·Cg, L), w: (G·Og, Cg, K), c in group g = c // Og, s stride, d dilation,
      xp = x zero-padded by lo before and hi after;  O = ⌊(L + lo + hi − d(K−1) − 1)/s⌋ + 1

    dx[b, g·Cg + ci, i] = Σ_{c∈g, o, k: o·s + k·d − lo = i} w[c, ci, k] · dy[b, c, o]
      = conv_transpose(dy, w, stride s, padding lo, dilation d, groups G), the adjoint of the
      forward's gather. Its length is (O−1)s − 2·lo + d(K−1) + 1 + output_padding; with
      lo = hi the last window ends within s − 1 of the padded end, so output_padding = L − that
      length ∈ [0, s) restores the samples the stride skipped (their gradient is 0).
    dw[c, ci, k] = Σ_{b,o} dy[b, c, o] · xp[b, g·Cg + ci, k·d + o·s]
      = a convolution of x with dy as the kernel: x regrouped to (Cg, G·B, L) (batch = the
      in-channel within its group, channels = (group, batch)), kernel dyᵀ: (G·Og, B, O),
      groups G, so each output channel sums over the batch of its own group; the output index
      is k (stride d) and the kernel tap o (dilation s): stride and dilation exchange. It
      gives (Cg, G·Og, K') with K' ≥ K (K' > K when the stride skipped samples), so it is
      transposed to (G·Og, Cg, ·) and cropped to K.
    db[c] = Σ_{b,o} dy[b, c, o]
    'same' with hi = lo + 1 (even receptive field): the backward pads x by the extra zero and
    crops dx back, as torch's forward does with a padded copy. dx has the layout torch's kernel
    chose for y, as torch's dx: channels_last (_3d) where x or w is and the kernel has a
    channels-last path (not CPU 3-d in float64, or float16 without oneDNN fp16), else contiguous.
    Unbatched input (C, L) is the B = 1 case. Saves x only when w needs a gradient and w only
    when x does (what each gradient reads); the padded copy is never saved. Half precision:
    y and dx from torch's own kernels (the same as torch's y and dx), dw summed in float32 by
    :func:`weight_grad` and rounded once; gradients keep the inputs' dtype. Half channels-last
    on CPU with a window of padding only: y computed in float32 and rounded once (see
    :func:`_padding_only_window`; the backward is unchanged).
    """

    @staticmethod
    def forward(x, w, b, stride, padding, dilation, groups, n):
        if pointwise.applies(x, w, b, stride, padding, dilation, groups, n, memory_format(x, w)):  # 1×1: matmuls
            y = pointwise.forward(x, w, b)
        elif _padding_only_window(x, w, stride, padding, dilation, n):  # a half kernel that segfaults or NaNs
            y = _padding_only_forward(x, w, b, stride, padding, dilation, groups, n)
        else:
            y = _CONV[n](x, w, b, stride, padding, dilation, groups)
        return y if x.dim() == n + 2 else owned(y)  # unbatched: torch's kernel squeezes a view

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, w, b, stride, padding, dilation, groups, n = inputs
        need_x, need_w = ctx.needs_input_grad[:2]
        ctx.save_for_backward(w if need_x else None, *save_sources(ctx, x, need_w))  # see _recompute.py
        ctx.stride, ctx.dilation = expand(stride, n), expand(dilation, n)
        ctx.lo, hi = padding_lo_hi(padding, w.shape[2:], dilation)
        ctx.extra = tuple(h - lo for lo, h in zip(ctx.lo, hi))
        ctx.groups, ctx.n, ctx.x_shape, ctx.w_shape, ctx.w_stride = groups, n, x.shape, w.shape, w.stride()
        ctx.layout = output_layout(output, n)
        ctx.pointwise = pointwise.applies(x, w, b, stride, padding, dilation, groups, n, memory_format(x, w))

    @staticmethod
    def backward(ctx, dy):
        w, *sources = ctx.saved_tensors
        x = restore(ctx, sources)
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        n, s, d, lo, groups = ctx.n, ctx.stride, ctx.dilation, ctx.lo, ctx.groups
        batched = len(ctx.x_shape) == n + 2
        dy = dy if batched else dy.unsqueeze(0)
        size = ctx.x_shape[-n:]
        padded = [L + e for L, e in zip(size, ctx.extra)]  # the extra zero of 'same'
        kernel = ctx.w_shape[2:]
        dx = dw = db = None
        if ctx.pointwise:
            return (*_pointwise_grads(ctx, dy, w, x, need_x, need_w, need_b), None, None, None, None, None)
        if need_x:
            out_pad = [P - ((O - 1) * si - 2 * p + di * (k - 1) + 1)
                       for P, O, si, p, di, k in zip(padded, dy.shape[2:], s, lo, d, kernel)]
            dx = crop(_transposed(dy, w, s, lo, out_pad, groups, d, n), size)
            dx = dx.contiguous(memory_format=ctx.layout)  # torch's layout (also: 'same' cropped a view)
            dx = dx if batched else dx.squeeze(0)
        if need_w:
            x = x if batched else x.unsqueeze(0)
            if any(ctx.extra):
                x = F.pad(x, [a for e in reversed(ctx.extra) for a in (0, e)])
            dw = weight_grad(x, dy, ctx.w_shape, s, d, lo, groups)
            if active() and dw.stride() != ctx.w_stride:  # w's own layout, as torch's kernel gives it
                dw = _in_layout(dw, ctx.w_stride)  # (else DDP warns and copies)
        if need_b:
            db = dy.sum([0, *range(2, 2 + n)])
        return dx, dw, db, None, None, None, None, None


def _pointwise_grads(ctx, dy, w, x, need_x, need_w, need_b) -> tuple:
    """dx, dw, db of a 1×1 convolution as matrix products (``conv_pointwise.py``): the sums of
    the class docstring with K = 1, in the layouts the general path gives."""
    dx = pointwise.input_grad(dy, w).contiguous(memory_format=ctx.layout) if need_x else None
    dw = pointwise.weight_grad(x, dy, ctx.w_shape) if need_w else None
    if dw is not None and dw.stride() != ctx.w_stride:
        dw = _in_layout(dw, ctx.w_stride)
    db = dy.sum([0, *range(2, dy.dim())]) if need_b else None
    return dx, dw, db


def _transposed(dy, w, stride, padding, output_padding, groups, dilation, n) -> torch.Tensor:
    """conv_transpose(dy, w): dx of ConvFunction. bfloat16 on CPU with an infinite or NaN w: torch
    2.13's oneDNN kernels return NaN where dx is ±inf, which torch's own convolution backward and
    float64 give (grouped, contiguous layout; and ungrouped channels-last, the evening's long
    profile: tests/test_fuzz_findings_conv.py); that case runs in float32 (bf16 → float32 is
    exact) and is rounded once, as the kernel does."""
    args = (None, stride, padding, output_padding, groups, dilation)
    if dy.dtype == torch.bfloat16 and dy.device.type == "cpu" and active() and not bool(w.isfinite().all()):
        return _CONV_T[n](dy.float(), w.float(), *args).to(dy.dtype)
    return _CONV_T[n](dy, w, *args)


def _padding_only_window(x, w, stride, padding, dilation, n) -> bool:
    """Half precision on CPU, channels-last, and an output window along some dim that holds only
    padding: torch 2.13's oneDNN bf16 channels-last kernel segfaults on some of these (a 1×1
    kernel, width 1, padding 1, stride 2, dilation 2) and gives NaN for others where the window's
    output is 0, also when x is padded by hand (tests/test_fuzz_findings_conv.py): the forward
    runs :func:`_padding_only_forward` instead. Rare (a window of padding only needs padding ≥
    the receptive field)."""
    if (x.dtype not in (torch.float16, torch.bfloat16) or x.device.type != "cpu"
            or memory_format(x, w) is torch.contiguous_format):
        return False
    kernel = w.shape[2:]
    lo, hi = padding_lo_hi(padding, kernel, dilation)
    s, d = expand(stride, n), expand(dilation, n)
    if (not any(lo) and not any(hi)) or (padding == "same" and any(si != 1 for si in s)):
        return False  # (torch's kernel refuses 'same' with a stride: its error, which padding by hand skipped)
    for L, k, si, di, a, b in zip(x.shape[-n:], kernel, s, d, lo, hi):
        count = (L + a + b - di * (k - 1) - 1) // si + 1
        if any(all(not 0 <= o * si - a + di * j < L for j in range(k)) for o in range(max(count, 0))):
            return True
    return False


def _padding_only_forward(x, w, b, stride, padding, dilation, groups, n):
    """y of a half conv where :func:`_padding_only_window`: on x zero-padded by hand (zeros the
    weight multiplies, as float64's im2col: an inf or NaN weight makes NaN there), in float32
    (bf16/fp16 → float32 is exact; rounded once, as the half kernel accumulates in float32),
    whose kernel neither crashes nor makes NaN there. A weight or bias of another dtype goes to
    the half kernel, where torch's own dtype check raises before it runs."""
    lo, hi = padding_lo_hi(padding, w.shape[2:], dilation)
    x = F.pad(x, [p for i in range(n - 1, -1, -1) for p in (lo[i], hi[i])])
    if w.dtype != x.dtype or (b is not None and b.dtype != x.dtype):
        return _CONV[n](x, w, b, stride, 0, dilation, groups)
    b32 = None if b is None else b.float()
    return _CONV[n](x.float(), w.float(), b32, stride, 0, dilation, groups).to(x.dtype)


def _in_layout(dw: torch.Tensor, stride) -> torch.Tensor:
    """dw with w's strides where w is dense (contiguous, channels_last or any permutation);
    contiguous otherwise (an expanded w: stride 0, many elements in one place), as torch's."""
    dims = sorted((st, size) for st, size in zip(stride, dw.shape) if size != 1)
    dense = all(st == math.prod(size for _, size in dims[:i]) for i, (st, _) in enumerate(dims))
    return dw.new_empty_strided(dw.shape, stride).copy_(dw) if dense else dw.contiguous()


class PadFunction(Function):
    """y = F.pad(x, pad, mode), mode 'reflect', 'replicate' or 'circular', pad ≥ 0
    (``pad`` = (lo, hi) per trailing dim, last dim first, as F.pad).

    Along one dim of length L, y = x at [lo, lo + L) and the borders copy entries of x:
      circular   y[j] = x[L − lo + j] (j < lo),  y[lo + L + j] = x[j]
      reflect    y[j] = x[lo − j],               y[lo + L + j] = x[L − 2 − j]
      replicate  y[j] = x[0],                    y[lo + L + j] = x[L − 1]
    dx = the adjoint: dy's centre, plus each border's dy added back onto the entries it copied
      (circular: at the far end; reflect: flipped, next to the edge; replicate: summed onto the
      edge). Padding is separable, so the dims are folded one after the other.
    Saves nothing (shapes only). dx is channels_last where x is, else contiguous, as torch's
    reflect/replicate backward (its circular pad, composed of slices, gives contiguous always).
    """

    @staticmethod
    def forward(x, pad, mode):
        return F.pad(x, pad, mode=mode)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, ctx.pad, ctx.mode = inputs
        ctx.x_shape, ctx.layout = x.shape, memory_format(x)

    @staticmethod
    def backward(ctx, dy):
        dx = dy
        for i in range(len(ctx.pad) // 2):
            dim = len(ctx.x_shape) - 1 - i
            dx = _fold(dx, dim, ctx.pad[2 * i], ctx.pad[2 * i + 1], ctx.x_shape[dim], ctx.mode)
        return dx.contiguous(memory_format=ctx.layout), None, None  # as torch's reflect/replicate


def _fold(dy: torch.Tensor, dim: int, lo: int, hi: int, size: int, mode: str) -> torch.Tensor:
    """The adjoint of padding one dim of length ``size`` by ``lo``, ``hi`` in ``mode``."""
    dx = dy.narrow(dim, lo, size).clone()
    head, tail = dy.narrow(dim, 0, lo), dy.narrow(dim, lo + size, hi)
    if mode == "circular":
        parts = [(size - lo, head), (0, tail)]
    elif mode == "reflect":
        parts = [(1, head.flip(dim)), (size - 1 - hi, tail.flip(dim))]
    else:  # replicate
        parts = [(0, head.sum(dim, keepdim=True)), (size - 1, tail.sum(dim, keepdim=True))]
    for start, part in parts:
        if part.shape[dim]:
            dx.narrow(dim, start, part.shape[dim]).add_(part)
    return dx
