"""Pooling over the last two dims of (N, C, H, W) or unbatched (C, H, W) input: ``max_pool2d``,
``avg_pool2d``, ``adaptive_avg_pool2d``.

The forwards are torch's own kernels (so shapes, ceil_mode, padding, ties, NaN and every error
message are torch's); the backwards are written out below.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._base import Function
from ._precision import opmath

_LOW = (torch.float16, torch.bfloat16)


def _pair(v) -> tuple[int, int]:
    """An int or a 1-/2-sequence as (h, w), as torch's pooling arguments read."""
    if isinstance(v, int):
        return v, v
    v = tuple(v)
    return (v[0], v[0]) if len(v) == 1 else v


def _channels_last(x: torch.Tensor) -> bool:
    """x is laid out NHWC (torch's pooling backward returns that layout for it)."""
    return x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)


def _save_shape(ctx, x: torch.Tensor) -> None:
    ctx.x_shape, ctx.channels_last = x.shape, _channels_last(x)


def _as_input(ctx, dx: torch.Tensor) -> torch.Tensor:
    """dx in x's shape and, for NHWC input, x's layout."""
    dx = dx.reshape(ctx.x_shape)
    return dx.contiguous(memory_format=torch.channels_last) if ctx.channels_last else dx


def _empty_windows(n_in, n_out, k, s, p, d) -> list[bool]:
    """Along one dim, for each output position: its dilated window o·s − p + a·d (a < k) holds
    padding only. Torch returns −inf there with an index that does not point into the window
    (out of the plane, or aliasing another element); the gradient there is zero."""
    return [not any(0 <= o * s - p + a * d < n_in for a in range(k)) for o in range(n_out)]


class MaxPool2dFunction(Function):
    """y[p] = max over window(p) of x (padding reads −inf),  i[p] = flat argmax in the H·W plane
    (torch's kernel: the first maximum in scan order wins a tie; a NaN is the max)

    dx = Σ_p dy[p] · e_{i[p]}   a scatter-ADD of dy at the argmaxes into zeros of x's shape:
         overlapping windows (stride < kernel) that pick the same x accumulate, as in torch.
    Double backward: the map dy ↦ dx is linear, its adjoint is the gather ddx[i[p]]
    (scatter_add's own derivative), so the backward is differentiable as written.
    A dilated window that holds padding only (y = −inf, constant in x) gets no gradient, where
    torch's CPU kernel adds dy at its meaningless index (another element, or out of bounds).
    Saves the int64 indices i only (torch saves x as well): the backward never reads x.
    Half/bfloat16: the scatter accumulates in float32 and rounds once.
    """

    @staticmethod
    def forward(x, kernel_size, stride, padding, dilation, ceil_mode):
        return F.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode=ceil_mode, return_indices=True)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, kernel_size, stride, padding, dilation, _ = inputs
        y, idx = output
        ctx.mark_non_differentiable(idx)
        ctx.save_for_backward(idx)
        _save_shape(ctx, x)
        ctx.empty = None
        if dilation != 1 and max(_pair(dilation)) > 1:  # only dilated windows can miss x entirely
            dims = zip(x.shape[-2:], y.shape[-2:], _pair(kernel_size), _pair(stride or kernel_size),
                       _pair(padding), _pair(dilation))
            empty = [_empty_windows(*dim) for dim in dims]
            ctx.empty = empty if any(map(any, empty)) else None

    @staticmethod
    def backward(ctx, dy, _didx):
        if not ctx.needs_input_grad[0]:
            return (None,) * 6
        (idx,) = ctx.saved_tensors
        if ctx.empty is not None:  # a window all padding: y = −inf there, constant in x
            eh, ew = (torch.tensor(e, device=dy.device) for e in ctx.empty)
            empty = eh[:, None] | ew[None, :]
            dy, idx = dy.masked_fill(empty, 0), idx.masked_fill(empty, 0)
        h, w = ctx.x_shape[-2:]
        rows, cells = ctx.x_shape[:-2].numel(), dy.shape[-2:].numel()
        acc = torch.float32 if dy.dtype in _LOW else dy.dtype
        src = dy.reshape(rows, cells).to(acc)
        dx = src.new_zeros(rows, h * w).scatter_add(1, idx.reshape(rows, cells), src)
        return _as_input(ctx, dx.to(dy.dtype)), None, None, None, None, None


def _window_counts(n_in, n_out, k, s, p, count_include_pad, device) -> torch.Tensor:
    """Divisor of each output position along one dim, as torch's avg_pool kernel counts it:
    the window [o·s − p, o·s − p + k) clipped to the padded input [−p, n_in + p) (ceil_mode's
    last window may run past it), then, without ``count_include_pad``, to the input [0, n_in)."""
    start = torch.arange(n_out, device=device) * s - p
    end = (start + k).clamp(max=n_in + p)
    if count_include_pad:
        return end - start
    return end.clamp(max=n_in) - start.clamp(min=0)


class AvgPool2dFunction(Function):
    """y[o] = (1/d[o]) Σ_{a<kH, b<kW} x_pad[o_h·sH + a, o_w·sW + b]   (x_pad: x zero-padded by p
    on each side, and on the right/bottom as far as ceil_mode's last window reaches)
    d[o] = divisor_override, or the window's size clipped to the padded input
    (count_include_pad) or to x itself (not): a product d_h[o_h]·d_w[o_w] of per-dim counts.

    dx = crop_p( Σ_o (dy[o]/d[o]) · 1_window(o) )   the adjoint of this linear map: every dy/d
         spread evenly over its window = conv_transpose2d of dy/d with a ones kernel, stride s
         (output_padding lets it reach x's far edge), then the padding cropped off.
    Saves nothing but shapes and the pooling geometry: y is linear in x.
    """

    @staticmethod
    def forward(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
        return F.avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, kernel_size, stride, padding, _, ctx.count_include_pad, ctx.divisor_override = inputs
        ctx.kernel = _pair(kernel_size)
        ctx.stride = _pair(stride) if stride else ctx.kernel  # None or [] means the kernel size
        ctx.padding = _pair(padding)
        _save_shape(ctx, x)

    @staticmethod
    @opmath
    def backward(ctx, dy):
        if not ctx.needs_input_grad[0]:
            return (None,) * 7
        (h, w), (oh, ow) = ctx.x_shape[-2:], dy.shape[-2:]
        (kh, kw), (sh, sw), (ph, pw) = ctx.kernel, ctx.stride, ctx.padding
        if ctx.divisor_override is not None:
            g = dy / ctx.divisor_override
        else:
            dh, dw = (_window_counts(*dims, ctx.count_include_pad, dy.device)
                      for dims in ((h, oh, kh, sh, ph), (w, ow, kw, sw, pw)))
            g = dy / (dh[:, None] * dw[None, :]).to(dy.dtype)
        # the transposed conv covers [0, (o−1)·s + k) of x_pad; x ends at p + n (short by < s)
        reach = [max(0, p + n - ((o - 1) * s + k)) for n, o, k, s, p in ((h, oh, kh, sh, ph), (w, ow, kw, sw, pw))]
        full = F.conv_transpose2d(g.reshape(-1, 1, oh, ow), dy.new_ones(1, 1, kh, kw), stride=(sh, sw),
                                  output_padding=reach)
        dx = full[..., ph:ph + h, pw:pw + w]
        return _as_input(ctx, dx), None, None, None, None, None, None


def _averaging_matrix(n_in, n_out, dtype, device) -> torch.Tensor:
    """A (n_out, n_in): row i averages x[start_i:end_i], start_i = ⌊i·n_in/n_out⌋,
    end_i = ⌈(i+1)·n_in/n_out⌉ (torch's adaptive windows)."""
    i = torch.arange(n_out, device=device)
    start = i * n_in // n_out
    end = ((i + 1) * n_in + n_out - 1) // n_out
    j = torch.arange(n_in, device=device)
    inside = (j >= start[:, None]) & (j < end[:, None])
    return inside.to(dtype) / (end - start).to(dtype)[:, None]


class AdaptiveAvgPool2dFunction(Function):
    """y = A_h x A_wᵀ   (per plane; A_h: (oh, H), A_w: (ow, W) averaging matrices, see
    ``_averaging_matrix``; overlapping windows when H is not a multiple of oh)

    dx = A_hᵀ dy A_w
    Saves nothing but x's shape (oh, ow are dy's): A_h and A_w are rebuilt from the shapes.
    """

    @staticmethod
    def forward(x, output_size):
        return F.adaptive_avg_pool2d(x, output_size)  # resolves None entries to x's own size

    @staticmethod
    def setup_context(ctx, inputs, output):
        _save_shape(ctx, inputs[0])

    @staticmethod
    @opmath
    def backward(ctx, dy):
        if not ctx.needs_input_grad[0]:
            return None, None
        (h, w), (oh, ow) = ctx.x_shape[-2:], dy.shape[-2:]
        a_h = _averaging_matrix(h, oh, dy.dtype, dy.device)
        a_w = _averaging_matrix(w, ow, dy.dtype, dy.device)
        return _as_input(ctx, a_h.mT @ dy @ a_w), None
