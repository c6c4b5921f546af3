"""Per-sample normalisations: ``layer_norm``, ``group_norm``, ``rms_norm``.

Each is "normalise over some dims, then scale and shift" (``_normalize``): only the layout (which
dims are reduced, how the weight broadcasts) differs: LayerNorm and GroupNorm share one Function body
(``_centered``), and all three share the backward helper ``_normalize.grads``.
"""

from __future__ import annotations

import torch

from ._base import Function, owned
from ._recompute import active
from . import _normalize as nz


def _last_dims(x: torch.Tensor, normalized_shape):
    """LayerNorm/RMSNorm layout: x as is, reduce its last k dims, w shaped as normalized_shape."""
    k = len(normalized_shape)
    return x.shape, tuple(range(x.dim() - k, x.dim())), tuple(normalized_shape)


def _native_applies(x: torch.Tensor, w, b) -> bool:
    """The forward may run torch's own fused kernel (eager, float32/64, non-empty, w and b of x's
    dtype): one pass for y, μ and rstd where ours take seven (LayerNorm over 4096×256 floats on
    CPU: 3.4 → 0.6 ms), and torch's very output. The backward is ours either way."""
    return (x.numel() > 0 and x.dtype in (torch.float32, torch.float64) and active()
            and all(t is None or t.dtype == x.dtype for t in (w, b)))


def _centered(layout, native):
    """A Function base normalising x over ``layout(x, arg)`` with mean and variance, then scaling
    and shifting: ``forward(x, arg, w, b, eps)`` returns (y, μ, rstd), through torch's fused
    kernel ``native`` where :func:`_native_applies` and ``native`` does not decline (None).
    LayerNorm and GroupNorm differ only in the layout and the kernel (``arg`` is normalized_shape
    or num_groups)."""

    class Centered(Function):
        @staticmethod
        def forward(x, arg, w, b, eps):
            fused = native(x, arg, w, b, eps) if _native_applies(x, w, b) else None
            if fused is not None:
                return fused
            view, dims, wview = layout(x, arg)
            xv = x.reshape(view)
            mean, var, rstd = nz.moments(xv, dims, eps)
            # a σ² that overflowed its float32 accumulator (half inputs, |x − μ| ≳ 1e19) would give
            # rstd = 0 and a silent x̂ = 0: NaN instead, as torch's layer_norm and group_norm kernels
            rstd = torch.where(var.isinf(), torch.nan, rstd)
            return nz.affine(nz.normalized(xv, mean, rstd), w, b, wview, x.shape, x.dtype), mean, rstd

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, arg, w, b, _ = inputs
            need = tuple(ctx.needs_input_grad[i] for i in (0, 2, 3))
            nz.setup(ctx, x, w, b, output[1], output[2], layout(x, arg), need)

        @staticmethod
        def backward(ctx, dy, dmean, drstd):
            dx, dw, db = nz.grads(ctx, dy, dmean, drstd)
            return dx, None, dw, db, None

    return Centered


def _native_layer_norm(x, normalized_shape, w, b, eps):
    return torch.native_layer_norm(x, list(normalized_shape), w, b, eps)  # μ, rstd: (*rows, 1, ..., 1)


class LayerNormFunction(_centered(_last_dims, _native_layer_norm)):
    """y = w ⊙ x̂ + b,  x̂ = (x − μ)·rstd,  rstd = (σ² + eps)^−½   over the last k = len(normalized_shape)
    dims (n elements per row; μ, σ² biased, per row); also returns μ and rstd (per row)

    db = Σ_rows dy ;  dw = Σ_rows dy ⊙ x̂ ;  dx = rstd · (ĝ − mean(ĝ) − x̂ · mean(ĝ ⊙ x̂)),  ĝ = dy ⊙ w
    (+ dμ/n − drstd·rstd²·x̂/n from the μ, rstd outputs in a double backward).
    Saves x (only if dw or dx is needed), w (only for dx), μ and rstd (one float each per row);
    torch saves x, w, b, μ, rstd. x rather than x̂: x is exact in every dtype and often alive
    anyway; x̂ is recomputed in one elementwise pass.
    """


class RMSNormFunction(Function):
    """y = w ⊙ x̂,  x̂ = x·r,  r = (mean(x²) + eps)^−½   over the last k dims (n per row);
    also returns r (per row)

    dw = Σ_rows dy ⊙ x̂ ;  dx = r · (ĝ − x̂ · mean(ĝ ⊙ x̂)),  ĝ = dy ⊙ w   (+ −dr·r²·x̂/n).
    Saves x (only if dw or dx is needed), w (only for dx) and r (one float per row); torch's
    composite saves x, the x² mean's intermediates, r and w.
    """

    @staticmethod
    def forward(x, normalized_shape, w, eps):
        _, dims, wview = _last_dims(x, normalized_shape)
        _, _, rstd = nz.moments(x, dims, eps, center=False)
        return nz.affine(nz.normalized(x, None, rstd), w, None, wview, x.shape, x.dtype), rstd

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, normalized_shape, w, _ = inputs
        need = (ctx.needs_input_grad[0], ctx.needs_input_grad[2], False)
        nz.setup(ctx, x, w, None, None, output[1], _last_dims(x, normalized_shape), need)

    @staticmethod
    def backward(ctx, dy, drstd):
        dx, dw, _ = nz.grads(ctx, dy, None, drstd)
        return dx, None, dw, None


def _groups(x: torch.Tensor, num_groups: int):
    """GroupNorm layout: x as (N, G, C/G, *spatial), reduce all but (N, G), w per channel."""
    n, c, *spatial = x.shape
    view = (n, num_groups, c // num_groups, *spatial)
    return view, tuple(range(2, len(view))), (num_groups, c // num_groups) + (1,) * len(spatial)


def _native_group_norm(x, num_groups, w, b, eps):
    if not x.is_contiguous():  # the kernel reads x in its contiguous layout only
        return None
    n, c = x.shape[:2]
    # the kernel reads w and b as contiguous too (a strided w gives a wrong y; F.group_norm copies)
    w, b = (None if t is None else t.contiguous() for t in (w, b))
    y, mean, rstd = torch.native_group_norm(x, w, b, n, c, x.numel() // (n * c), num_groups, eps)  # x non-empty
    keep = (n, num_groups) + (1,) * (x.dim() - 1)  # (N, G) in the (N, G, C/G, *spatial) view, kept dims
    return y, owned(mean.reshape(keep)), owned(rstd.reshape(keep))


class GroupNormFunction(_centered(_groups, _native_group_norm)):
    """y = w_c ⊙ x̂ + b_c,  x̂ = (x − μ)·rstd  with μ, rstd per (sample, group): over the group's
    C/G channels and all spatial positions (n = C/G · HW); w, b per channel. Also returns μ, rstd.

    db_c = Σ_{N,HW} dy ;  dw_c = Σ_{N,HW} dy ⊙ x̂ ;  dx = rstd · (ĝ − mean(ĝ) − x̂ · mean(ĝ ⊙ x̂)),
    ĝ = dy ⊙ w_c, means per (sample, group)   (+ dμ/n − drstd·rstd²·x̂/n).
    Saves x (only if dw or dx is needed), w (only for dx), μ and rstd (N·G floats each); torch
    saves x, w, μ, rstd.
    """
