"""What every normalisation layer shares: statistics over some dims, the affine map, and the one
backward of "normalise over dims, then scale and shift" that LayerNorm, GroupNorm, BatchNorm
(training and eval) and RMSNorm are instances of.

Layout. Each op views its input x as ``xv`` (``ctx.view``: x's own shape for LayerNorm/RMSNorm/
BatchNorm, (N, G, C/G, *spatial) for GroupNorm) whose dims ``ctx.dims`` are reduced, n elements
per statistic; weight and bias are viewed as ``ctx.wview`` (broadcast against xv).

    μ = mean_dims(x)           (0 for RMSNorm: ``center=False``)
    rstd = (mean_dims((x − μ)²) + eps)^−½
    x̂ = (x − μ)·rstd,   y = w ⊙ x̂ + b

Backward, with ĝ = dy ⊙ w (the gradient reaching x̂; a w with one value per statistic is taken
out of the bracket instead, so that dx at w = ±inf is the limit) and means over ``dims``:

    dx = rstd · (ĝ − mean(ĝ) − x̂ · mean(ĝ ⊙ x̂))       batch statistics (RMSNorm: no mean(ĝ) term)
    dx = rstd · ĝ                                       fixed statistics (BatchNorm eval: μ, rstd are
                                                        the running stats, constants in x)
    dw = Σ→w dy ⊙ x̂ ;   db = Σ→w dy                     (summed down to w's view, over what w
                                                        broadcasts along)

μ and rstd are returned as extra (differentiable) outputs and saved: one float per statistic. A
double backward sends gradients dμ, drstd into them, whose share of dx is

    dx += dμ / n − drstd · rstd² · x̂ / n         (∂μ/∂x = 1/n, ∂rstd/∂x = −rstd³(x − μ)/n)

so the backward, written with differentiable torch ops on the saved x, μ, rstd, can be
differentiated again. Saved: x (the input, exact in every dtype: a saved x̂ would be rounded in
bf16 or twice the bytes in fp32; x̂ is one fused elementwise pass away), w (only for dx), μ and
rstd (one float each per statistic). Half/bfloat16: statistics and backward in float32 (as torch's
kernels), each result rounded once to its input's dtype.
"""

from __future__ import annotations

import math

import torch

from ._base import owned
from ._precision import _LOW
from ._recompute import active


def acc_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype statistics and gradients are computed in: float32 for half/bfloat16."""
    return torch.float32 if dtype in _LOW else dtype


def centred_moments(xv: torch.Tensor, dims, eps: float):
    """(x − μ, μ, biased σ², rstd) over ``dims`` (kept), in :func:`acc_dtype`, in two passes: μ,
    then σ² = mean((x − μ)²) over the centred x (returned for reuse). On CPU ``var_mean``'s Welford
    walk is 3-4× slower than these plain reductions. An empty x gives NaN statistics, as torch."""
    x = xv.to(acc_dtype(xv.dtype))
    mean = x.mean(dims, keepdim=True)
    xc = x - mean
    var = (xc * xc).mean(dims, keepdim=True)
    return xc, mean, var, torch.rsqrt(var + eps)


def moments(xv: torch.Tensor, dims, eps: float, center: bool = True):
    """(μ, biased σ², rstd) over ``dims`` (kept), in :func:`acc_dtype`; μ is None without
    ``center`` (σ² is then mean(x²), RMSNorm's)."""
    if center:
        return centred_moments(xv, dims, eps)[1:]
    var = xv.to(acc_dtype(xv.dtype)).square().mean(dims, keepdim=True)
    return None, var, torch.rsqrt(var + eps)


def normalized(xv: torch.Tensor, mean, rstd: torch.Tensor) -> torch.Tensor:
    """x̂ = (x − μ)·rstd (x·rstd for μ None), in rstd's dtype."""
    return _centred(xv, mean, rstd.dtype) * rstd


def affine(xhat: torch.Tensor, w, b, wview, shape, dtype) -> torch.Tensor:
    """y = w ⊙ x̂ + b (w, b viewed as ``wview``; either may be None), as ``shape`` in ``dtype``."""
    y = xhat if w is None else xhat * w.reshape(wview)
    y = (y if b is None else y + b.reshape(wview)).to(dtype)
    # GroupNorm's (N, G, -1) layout back to x's shape; reshaping to the same shape would alias y
    return y if y.shape == shape else owned(y.reshape(shape))


def setup(ctx, x, w, b, mean, rstd, layout, need, batch_stats=True):
    """Record ``layout`` = (view, dims, wview) and save what the backward will read: x only when
    x̂ is needed (for dw, or for dx through batch statistics), w only for dx. ``need`` is
    (x, w, b) of ``ctx.needs_input_grad``."""
    ctx.view, ctx.dims, ctx.wview = layout
    ctx.need, ctx.batch_stats = need, batch_stats
    ctx.x_dtype, ctx.x_shape = x.dtype, x.shape
    ctx.w_meta = None if w is None else (w.shape, w.dtype)
    ctx.b_meta = None if b is None else (b.shape, b.dtype)
    need_x, need_w, _ = need
    keep_x = need_w or (need_x and batch_stats)
    ctx.set_materialize_grads(False)
    ctx.save_for_backward(x if keep_x else None, w if need_x else None, mean, rstd)


def grads(ctx, dy, dmean, drstd):
    """(dx, dw, db) of y = w ⊙ x̂ + b (module docstring), None where not needed; dy, dmean,
    drstd may be None (an output that received no gradient)."""
    x, w, mean, rstd = ctx.saved_tensors
    need_x, need_w, need_b = ctx.need
    if (dy is not None and x is not None and dmean is None and drstd is None and ctx.batch_stats
            and not torch.is_grad_enabled() and active()):
        return _lean_grads(ctx, dy, x, w, mean, rstd)
    dyv = None if dy is None else dy.reshape(ctx.view).to(rstd.dtype)
    xc = None if x is None else _centred(x.reshape(ctx.view), mean, rstd.dtype)
    xhat = None if xc is None else xc * rstd  # normalized(x, μ, rstd), the same ops
    dx = dw = db = None
    if need_w and dyv is not None:
        dw = _weight_grad(ctx, dyv, xc, rstd)
    if need_b and dyv is not None:
        db = _sum_to(dyv, ctx.wview, ctx.b_meta)
    if need_x:
        wout = _per_statistic(ctx, w, rstd.dtype)
        g = dyv if dyv is None or w is None or wout is not None else dyv * w.reshape(ctx.wview).to(rstd.dtype)
        dx = _grad_input(ctx, g, xhat, mean, rstd, dmean, drstd, wout)
        dx = None if dx is None else dx.reshape(ctx.x_shape).to(ctx.x_dtype)
    return dx, dw, db


def _per_statistic(ctx, w, dtype):
    """w (viewed as ``wview``) where it is constant along the reduced dims, one value per
    statistic (GroupNorm with one channel per group), else None. Such a w comes out of the
    bracket: dx = w·rstd·(dy − mean(dy) − x̂·mean(dy ⊙ x̂)), so at w = ±inf dx is ±inf with the
    bracket's sign (the limit), where ĝ = dy ⊙ w would meet its own infinite terms as NaN."""
    if w is None or not ctx.batch_stats:
        return None
    wv = (1,) * (len(ctx.view) - len(ctx.wview)) + tuple(ctx.wview)
    return w.reshape(ctx.wview).to(dtype) if all(wv[d] == 1 for d in ctx.dims) else None


def _lean_grads(ctx, dy, x, w, mean, rstd):
    """:func:`grads` of a first-order backward with batch statistics and only dy flowing (grad
    mode off: nothing records), in four fresh buffers where the general path makes about ten:
    x̂ is built in one buffer that then becomes dx, ĝ − x̂·mean(ĝ ⊙ x̂) − mean(ĝ), times rstd."""
    need_x, need_w, need_b = ctx.need
    if _rows(ctx) and _per_statistic(ctx, w, rstd.dtype) is None:
        return _lean_row_grads(ctx, dy, x, w, mean, rstd)
    dyv = dy.reshape(ctx.view).to(rstd.dtype)
    xc = _centred(x.reshape(ctx.view), mean, rstd.dtype)
    dw = _weight_grad(ctx, dyv, xc, rstd) if need_w else None
    xhat = (xc * rstd) if mean is None else xc.mul_(rstd)  # (without μ xc is x itself: not in place)
    db = _sum_to(dyv, ctx.wview, ctx.b_meta) if need_b else None
    if not need_x:
        return None, dw, db
    wout = _per_statistic(ctx, w, rstd.dtype)
    g = dyv if w is None or wout is not None else dyv * w.reshape(ctx.wview).to(rstd.dtype)
    dx = torch.addcmul(g, xhat, -(g * xhat).mean(ctx.dims, keepdim=True), out=xhat)
    if mean is not None:
        dx = dx.sub_(g.mean(ctx.dims, keepdim=True))
    dx = dx.mul_(rstd) if wout is None else dx.mul_(rstd).mul_(wout)
    return dx.reshape(ctx.x_shape).to(ctx.x_dtype), dw, db


def _centred(xv: torch.Tensor, mean, dtype) -> torch.Tensor:
    """x − μ in the statistics' dtype (x itself, converted, for μ None: RMSNorm)."""
    xv = xv.to(dtype)
    return xv if mean is None else xv - mean


def _weight_grad(ctx, dyv, xc, rstd) -> torch.Tensor:
    """dw = Σ dy ⊙ x̂ = Σ rstd · Σ_inner dy ⊙ (x − μ): the sum over the dims that a statistic
    reduces and w broadcasts along (GroupNorm's and InstanceNorm's spatial dims) comes before
    rstd multiplies, as in torch's kernels. A zero variance with eps = 0 gives rstd = inf: x − μ
    is 0 there, and each 0·inf term made dw NaN where torch's inf meets a finite sum (bf16
    subnormal inputs: the long fuzz profile's find, tests/test_fuzz_findings.py). Used by the
    first-order and the recorded backward alike (it is differentiable as written)."""
    wv = (1,) * (len(ctx.view) - len(ctx.wview)) + tuple(ctx.wview)
    inner = [d for d in ctx.dims if wv[d] == 1]
    p = dyv * xc
    if not inner or p.numel() == 0:  # an empty group sums to 0 (its rstd is NaN)
        return _sum_to(p * rstd, ctx.wview, ctx.w_meta)
    return _sum_to(p.sum(inner, keepdim=True) * rstd, ctx.wview, ctx.w_meta)


def _rows(ctx) -> bool:
    """LayerNorm/RMSNorm's layout: the trailing dims reduced, w of exactly their shape; x is then
    an (R, n) matrix with one statistic per row and w one value per column."""
    k = len(ctx.dims)
    trailing = ctx.dims == tuple(range(len(ctx.view) - k, len(ctx.view)))
    return math.prod(ctx.view) > 0 and trailing and tuple(ctx.wview) == tuple(ctx.view[-k:])


def _lean_row_grads(ctx, dy, x, w, mean, rstd):
    """:func:`_lean_grads` in the (R, n) layout of :func:`_rows`, where the row sums of ĝ = dy ⊙ w
    and of ĝ ⊙ x̂ are matrix products with w as an (n, 1) column that also carries the −1/n:
    a = −mean(ĝ ⊙ x̂) = (dy ⊙ x̂) @ (−w/n), c = −mean(ĝ) = dy @ (−w/n), each an (R, 1) column at
    once, and the same dy ⊙ x̂ summed down its columns is dw. ĝ itself is never built:
        dx = rstd · (dy ⊙ w + x̂ · a + c)
    About twenty torch calls: at a transformer's sizes (256×128) their dispatch, not the passes,
    is most of the cost (each dtype conversion and reshape is skipped where it would be a no-op)."""
    need_x, need_w, need_b = ctx.need
    acc, n = rstd.dtype, x.numel() // rstd.numel()
    dy2, x2, rstd2 = _as(dy.reshape(-1, n), acc), _as(x.reshape(-1, n), acc), rstd.reshape(-1, 1)
    xhat = (x2 * rstd2) if mean is None else torch.sub(x2, mean.reshape(-1, 1)).mul_(rstd2)
    p = dy2 * xhat if (need_w or need_x) else None
    dw = _as(p.sum(0).reshape(ctx.w_meta[0]), ctx.w_meta[1]) if need_w else None
    db = _as(dy2.sum(0).reshape(ctx.b_meta[0]), ctx.b_meta[1]) if need_b else None
    if not need_x:
        return None, dw, db
    col = rstd.new_full((n, 1), -1.0 / n) if w is None else torch.mul(_as(w.reshape(n, 1), acc), -1.0 / n)
    dx = xhat.mul_(torch.mm(p, col))  # in place, with an (R, 1) column: addcmul's broadcast is several times slower
    if mean is not None:
        dx = dx.add_(torch.mm(dy2, col))
    dx = (dx.add_(dy2) if w is None else dx.addcmul_(dy2, _as(w.reshape(n), acc))).mul_(rstd2)
    return _as(dx.reshape(ctx.x_shape), ctx.x_dtype), dw, db


def _as(t: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``t`` in ``dtype`` (itself, without a call into torch, when it already is)."""
    return t if t.dtype == dtype else t.to(dtype)


def _sum_to(t: torch.Tensor, wview, meta) -> torch.Tensor:
    """Σ of ``t`` over what the weight broadcasts along, in the weight's (or bias's) shape and dtype."""
    shape, dtype = meta
    return t.sum_to_size(wview).reshape(shape).to(dtype)


def _grad_input(ctx, g, xhat, mean, rstd, dmean, drstd, wout=None):
    """dx (in x's view) from ĝ and the gradients of the μ and rstd outputs, each may be None;
    ``wout``: the per-statistic w left out of ĝ (:func:`_per_statistic`), applied to its term."""
    if not ctx.batch_stats:  # μ, rstd are the running stats: constants in x
        return None if g is None else g * rstd
    dims, n = ctx.dims, math.prod([ctx.view[d] for d in ctx.dims])  # a list: dynamo cannot trace a genexpr here
    dx = None
    if g is not None:
        inner = g - xhat * (g * xhat).mean(dims, keepdim=True)
        dx = (inner if mean is None else inner - g.mean(dims, keepdim=True)) * rstd
        dx = dx if wout is None else dx * wout  # last: an empty dx's w gradient is a sum over nothing, 0
    if drstd is not None:
        dx = _add(dx, -drstd * rstd * rstd * xhat / n)
    if dmean is not None:
        dx = _add(dx, (dmean / n).expand_as(xhat))
    return dx


def _add(a, b):
    return b if a is None else a + b
