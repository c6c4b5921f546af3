"""Convolution: ``conv1d``/``conv2d`` (one Function generic over the number of spatial dims) and
the non-zero ``padding_mode``s of the Conv modules (reflect, replicate, circular)."""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F

from ._base import Function, owned
from ._recompute import active, restore, save_sources

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def expand(value, n: int) -> tuple:
    """An int, or a list of 1 or ``n`` ints, as ``n`` ints (torch's ``expand_param_if_needed``)."""
    if isinstance(value, int):
        return (value,) * n
    value = tuple(value)
    return value * n if len(value) == 1 else value


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


class ConvFunction(Function):
    """N-d cross-correlation, N = ``n`` spatial dims (1 or 2; one index o, k, i per dim below)

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
    crops dx back, as torch's forward does with a padded copy.
    Unbatched input (C, L) is the B = 1 case. Saves x only when w needs a gradient and w only
    when x does (what each gradient reads); the padded copy is never saved. Half precision:
    the conv kernels accumulate in float32 and round once, gradients keep the inputs' dtype.
    """

    @staticmethod
    def forward(x, w, b, stride, padding, dilation, groups, n):
        y = _CONV[n](x, w, b, stride, padding, dilation, groups)
        return y if x.dim() == n + 2 else owned(y)  # unbatched: torch's kernel squeezes a view

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, w, _, stride, padding, dilation, groups, n = inputs
        need_x, need_w = ctx.needs_input_grad[:2]
        ctx.save_for_backward(w if need_x else None, *save_sources(ctx, x, need_w))  # see _recompute.py
        ctx.stride, ctx.dilation = expand(stride, n), expand(dilation, n)
        ctx.lo, hi = padding_lo_hi(padding, w.shape[2:], dilation)
        ctx.extra = tuple(h - lo for lo, h in zip(ctx.lo, hi))
        ctx.groups, ctx.n, ctx.x_shape, ctx.w_shape, ctx.w_stride = groups, n, x.shape, w.shape, w.stride()

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
        if need_x:
            out_pad = [P - ((O - 1) * si - 2 * p + di * (k - 1) + 1)
                       for P, O, si, p, di, k in zip(padded, dy.shape[2:], s, lo, d, kernel)]
            dx = _crop(_CONV_T[n](dy, w, None, s, lo, out_pad, groups, d), size)
            dx = dx if batched else dx.squeeze(0)
        if need_w:
            x = x if batched else x.unsqueeze(0)
            if any(ctx.extra):
                x = F.pad(x, [a for e in reversed(ctx.extra) for a in (0, e)])
            if x.shape[0] == 0:  # empty batch: nothing to sum (a 0-channel conv is ill-defined)
                dw = x.new_zeros(ctx.w_shape)
            elif _im2col_applies(x, groups):
                dw = _weight_grad_im2col(x, dy, kernel, s, d, lo)
            elif torch.compiler.is_compiling():
                dw = _weight_grad_per_tap(x, dy, kernel, s, d, lo, groups)
            else:
                xt = x.unflatten(1, (groups, -1)).permute(2, 1, 0, *range(3, 3 + n)).flatten(1, 2)
                dw = _crop(_CONV[n](xt, dy.transpose(0, 1), None, d, lo, s, groups).transpose(0, 1), kernel)
            if active() and dw.stride() != ctx.w_stride:  # w's own layout, as torch's kernel gives it:
                dw = dw.new_empty_strided(ctx.w_shape, ctx.w_stride).copy_(dw)  # else DDP warns and copies
        if need_b:
            db = dy.sum([0, *range(2, 2 + n)])
        return dx, dw, db, None, None, None, None, None


_IM2COL_DTYPES = (torch.float32, torch.float64)
_COLS = 1 << 19  # floats per im2col chunk (2 MiB in float32: cache-sized chunks measured fastest)


def _im2col_applies(x: torch.Tensor, groups: int) -> bool:
    """Eager CPU, float32/64, groups 1 (see :func:`_weight_grad_im2col`)."""
    return groups == 1 and x.device.type == "cpu" and x.dtype in _IM2COL_DTYPES and active()


def _weight_grad_im2col(x, dy, kernel, s, d, lo) -> torch.Tensor:
    """dw[c, ci, k] = Σ_{b,o} dy[b, c, o] · xp[b, ci, o·s + k·d] (groups 1) as matmuls over
    chunks of the batch: xp channels-last, its windows an ``as_strided`` view (b, o, k, ci),
    copied chunk by chunk into (rows, K·Cin) columns per sample, and dy @ columns (a bmm over the
    samples of the chunk, dy read in place) summed over the samples and the chunks.
    On CPU this is 1.6-3× faster than the regrouped convolution (a kernel as large as the image,
    which the conv kernels handle poorly: 3→32, 32→32, 32→64, 64→64 channels, 3×3, batch 128) and
    never holds more than one chunk of columns. Float32/64 only: half precision would round at
    every chunk's sum. Grouped convolutions keep the regrouped convolution; so do torch.compile
    and torch.func, which trace it. With 2 threads the bench's ResNet step is 1.58× torch's with
    this path against 1.81× with the regrouped convolution, and with the cores oversubscribed (a
    busy process beside it) 1.83× against 1.86× (interleaved steps, medians). An earlier
    1-thread-only gate rested on a 3-9× slowdown under oversubscription that no longer
    reproduces."""
    xp = x.movedim(1, -1)  # (B, *P, Cin): padded and made contiguous in one copy
    xp = F.pad(xp, [0, 0, *(p for lo_i in reversed(lo) for p in (lo_i, lo_i))]) if any(lo) else xp.contiguous()
    out_size, cin = dy.shape[2:], xp.shape[-1]
    strides = xp.stride()
    window = (*out_size, *kernel, cin)
    spatial = strides[1:-1]
    window_strides = (*(si * st for si, st in zip(s, spatial)), *(di * st for di, st in zip(d, spatial)), 1)
    rows = math.prod(out_size)
    dyf = dy.flatten(2)  # (B, Cout, rows): a view of a contiguous dy
    chunk = max(1, _COLS // max(1, rows * math.prod(kernel) * cin))
    dw = None
    for b0 in range(0, x.shape[0], chunk):
        k = min(chunk, x.shape[0] - b0)
        cols = xp.as_strided((k, *window), (strides[0], *window_strides), xp.storage_offset() + b0 * strides[0])
        part = torch.bmm(dyf[b0:b0 + k], cols.reshape(k, rows, -1)).sum(0)  # (Cout, K·Cin)
        dw = part if dw is None else dw.add_(part)  # in place on a product of our own
    return dw.view(-1, *kernel, cin).movedim(-1, 1)


def _weight_grad_per_tap(x, dy, kernel, s, d, lo, groups) -> torch.Tensor:
    """dw[c, ci, k] = Σ_{b,o} dy[b, c, o] · xp[b, g·Cg + ci, o·s + k·d], one contraction per
    kernel tap k: the entries of xp that tap k meets are the strided view xp[..., k·d :: s] (O of
    them per dim), contracted with dy over (b, o) within each group. For torch.compile: the
    regrouped convolution takes dy as its kernel, and inductor's convolution lowering pins a
    kernel's shape (here the batch and output size) to constants, a recompile per batch size;
    here every size stays symbolic, and the loop runs over the weight's kernel size. The price
    with static shapes (inductor, CPU, 32→32 channels 3×3 on 128×32×32): conv forward + backward
    601 ms against 485 ms with the regrouped convolution."""
    xp = F.pad(x, [p for lo_i in reversed(lo) for p in (lo_i, lo_i)]) if any(lo) else x
    out = dy.shape[2:]
    dyg = dy.unflatten(1, (groups, -1)).flatten(3)  # (B, G, Og, rows)
    taps = []
    for k in itertools.product(*map(range, kernel)):
        window = (slice(ki * di, ki * di + si * (oi - 1) + 1, si) for ki, di, si, oi in zip(k, d, s, out))
        xk = xp[(slice(None), slice(None), *window)].unflatten(1, (groups, -1)).flatten(3)  # (B, G, Cg, rows)
        taps.append(torch.einsum("bgor,bgcr->goc", dyg, xk))
    return torch.stack(taps, -1).flatten(0, 1).unflatten(-1, tuple(kernel))  # (G·Og, Cg, *kernel)


def _crop(t: torch.Tensor, size) -> torch.Tensor:
    """The leading ``size`` entries of ``t``'s trailing dims."""
    for dim, m in enumerate(size, start=t.dim() - len(size)):
        if t.shape[dim] != m:
            t = t.narrow(dim, 0, m)
    return t


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
    Saves nothing (shapes only).
    """

    @staticmethod
    def forward(x, pad, mode):
        return F.pad(x, pad, mode=mode)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, ctx.pad, ctx.mode = inputs
        ctx.x_shape = x.shape

    @staticmethod
    def backward(ctx, dy):
        dx = dy
        for i in range(len(ctx.pad) // 2):
            dim = len(ctx.x_shape) - 1 - i
            dx = _fold(dx, dim, ctx.pad[2 * i], ctx.pad[2 * i + 1], ctx.x_shape[dim], ctx.mode)
        return dx, None, None


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
