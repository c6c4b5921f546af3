"""Windowed pooling over the last n = 1, 2 or 3 dims of (N, C, *space) or unbatched (C, *space)
input: ``max_pool{n}d`` and ``avg_pool{n}d``.

The forwards are torch's own kernels (so shapes, ceil_mode, padding, ties, NaN and every error
message are torch's); the backwards are written out below. ``nd`` is the number of pooled dims.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._base import Function, owned
from ._ints import expand
from ._precision import opmath

_LOW = (torch.float16, torch.bfloat16)
MAX_POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def _channels_last(x: torch.Tensor) -> bool:
    """x is laid out NHWC / NDHWC (torch's pooling backward returns that layout for it)."""
    fmt = {4: torch.channels_last, 5: torch.channels_last_3d}.get(x.dim())
    return fmt is not None and not x.is_contiguous() and x.is_contiguous(memory_format=fmt)


def save_shape(ctx, x: torch.Tensor) -> None:
    ctx.x_shape, ctx.channels_last = x.shape, _channels_last(x)


def as_input(ctx, dx: torch.Tensor) -> torch.Tensor:
    """dx in x's shape and, for channels-last input, x's layout."""
    dx = dx.reshape(ctx.x_shape)
    if not ctx.channels_last:
        return dx
    return dx.contiguous(memory_format=torch.channels_last if dx.dim() == 4 else torch.channels_last_3d)


def scatter_to_input(ctx, dy: torch.Tensor, idx: torch.Tensor, nd: int) -> torch.Tensor:
    """dx = Σ_p dy[p] · e_{idx[p]}: dy scatter-ADDED at flat indices into each plane of x's shape
    (positions picked by several windows accumulate). Half/bfloat16 accumulate in float32."""
    space = ctx.x_shape[-nd:].numel()
    rows, cells = ctx.x_shape[:-nd].numel(), dy.shape[-nd:].numel()
    acc = torch.float32 if dy.dtype in _LOW else dy.dtype
    src = dy.reshape(rows, cells).to(acc)
    dx = src.new_zeros(rows, space).scatter_add(1, idx.reshape(rows, cells), src)
    return as_input(ctx, dx.to(dy.dtype))


def _empty_windows(n_in, n_out, k, s, p, d) -> list[bool]:
    """Along one dim, for each output position: its dilated window o·s − p + a·d (a < k) holds
    padding only. Torch returns −inf there with an index that does not point into the window
    (out of the plane, or aliasing another element); the gradient there is zero."""
    return [not any(0 <= o * s - p + a * d < n_in for a in range(k)) for o in range(n_out)]


def _empty_mask(x_shape, y_shape, nd, kernel, stride, padding, dilation, device):
    """Boolean mask over the output's pooled dims, true where the window is all padding
    (only dilated windows can miss x entirely); None when there is no such window."""
    if all(d == 1 for d in expand(dilation, nd)):
        return None
    dims = zip(x_shape[-nd:], y_shape[-nd:], expand(kernel, nd), expand(stride or kernel, nd),
               expand(padding, nd), expand(dilation, nd))
    per_dim = [torch.tensor(_empty_windows(*dim), device=device) for dim in dims]
    if not any(bool(e.any()) for e in per_dim):
        return None
    mask = per_dim[0]
    for e in per_dim[1:]:  # a window is empty when it is empty along any one dim
        mask = mask[..., None] | e
    return mask


class MaxPoolFunction(Function):
    """y[p] = max over window(p) of x (padding reads −inf),  i[p] = flat argmax in the pooled
    plane/volume (torch's kernel: the first maximum in scan order wins a tie; a NaN is the max)

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
    def forward(x, nd, kernel_size, stride, padding, dilation, ceil_mode):
        y, idx = MAX_POOL[nd](x, kernel_size, stride, padding, dilation, ceil_mode=ceil_mode, return_indices=True)
        return owned(y), owned(idx)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, ctx.nd, kernel_size, stride, padding, dilation, _ = inputs
        y, idx = output
        ctx.mark_non_differentiable(idx)
        ctx.save_for_backward(idx)
        save_shape(ctx, x)
        ctx.empty = _empty_mask(x.shape, y.shape, ctx.nd, kernel_size, stride, padding, dilation, x.device)

    @staticmethod
    def backward(ctx, dy, _didx):
        if not ctx.needs_input_grad[0]:
            return (None,) * 7
        (idx,) = ctx.saved_tensors
        if ctx.empty is not None:  # a window all padding: y = −inf there, constant in x
            dy, idx = dy.masked_fill(ctx.empty, 0), idx.masked_fill(ctx.empty, 0)
        return scatter_to_input(ctx, dy, idx, ctx.nd), None, None, None, None, None, None


def _window_counts(n_in, n_out, k, s, p, count_include_pad, device) -> torch.Tensor:
    """Divisor of each output position along one dim, as torch's avg_pool kernel counts it:
    the window [o·s − p, o·s − p + k) clipped to the padded input [−p, n_in + p) (ceil_mode's
    last window may run past it), then, without ``count_include_pad``, to the input [0, n_in)."""
    start = torch.arange(n_out, device=device) * s - p
    end = (start + k).clamp(max=n_in + p)
    if count_include_pad:
        return end - start
    return end.clamp(max=n_in) - start.clamp(min=0)


def _avg_pool(x, nd, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    if nd == 1:  # torch's avg_pool1d has no divisor_override
        return F.avg_pool1d(x, kernel_size, stride, padding, ceil_mode, count_include_pad)
    pool = F.avg_pool2d if nd == 2 else F.avg_pool3d
    return pool(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


class AvgPoolFunction(Function):
    """y[o] = (1/d[o]) Σ_{a in window} x_pad[o·s + a]   (x_pad: x zero-padded by p on each side,
    and at the far end as far as ceil_mode's last window reaches)
    d[o] = divisor_override, or the window's size clipped to the padded input
    (count_include_pad) or to x itself (not): a product Π_dims d_k[o_k] of per-dim counts.

    dx = crop_p( Σ_o (dy[o]/d[o]) · 1_window(o) )   the adjoint of this linear map: every dy/d
         spread evenly over its window = conv_transpose of dy/d with a ones kernel, stride s
         (output_padding lets it reach x's far edge), then the padding cropped off.
    Saves nothing but shapes and the pooling geometry: y is linear in x.
    """

    @staticmethod
    def forward(x, nd, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
        return owned(_avg_pool(x, nd, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override))

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, nd, kernel_size, stride, padding, _, ctx.count_include_pad, ctx.divisor_override = inputs
        ctx.nd, ctx.kernel = nd, expand(kernel_size, nd)
        ctx.stride = expand(stride, nd) if stride else ctx.kernel  # None or [] means the kernel size
        ctx.padding = expand(padding, nd)
        save_shape(ctx, x)

    @staticmethod
    @opmath
    def backward(ctx, dy):
        if not ctx.needs_input_grad[0]:
            return (None,) * 8
        nd = ctx.nd
        dims = list(zip(ctx.x_shape[-nd:], dy.shape[-nd:], ctx.kernel, ctx.stride, ctx.padding))
        g = dy / ctx.divisor_override if ctx.divisor_override is not None else dy / _divisors(dims, ctx, dy)
        # the transposed conv covers [0, (o−1)·s + k) of x_pad; x ends at p + n (short by < s)
        reach = [max(0, p + n - ((o - 1) * s + k)) for n, o, k, s, p in dims]
        out = [o for _, o, _, _, _ in dims]
        full = _CONV_T[nd](g.reshape(-1, 1, *out), dy.new_ones(1, 1, *ctx.kernel), stride=ctx.stride,
                           output_padding=reach)
        dx = full[(..., *(slice(p, p + n) for n, _, _, _, p in dims))]
        return as_input(ctx, dx), None, None, None, None, None, None, None


def _divisors(dims, ctx, dy) -> torch.Tensor:
    """d[o] = Π_k d_k[o_k] over the pooled dims, broadcast over the output's pooled dims."""
    counts = [_window_counts(n, o, k, s, p, ctx.count_include_pad, dy.device) for n, o, k, s, p in dims]
    d = counts[0]
    for c in counts[1:]:
        d = d[..., None] * c
    return d.to(dy.dtype)
