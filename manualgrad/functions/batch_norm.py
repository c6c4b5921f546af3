"""Batch normalisation: ``batch_norm`` in training (batch statistics, running stats updated in
place) and evaluation (running statistics) mode; ``instance_norm``, its per-sample sibling."""

from __future__ import annotations

import math

import torch

from ._base import Function
from . import _normalize as nz
from ._recompute import active


def _channels(x: torch.Tensor):
    """BatchNorm layout: x as is, reduce over N and every spatial dim, w per channel (dim 1)."""
    rest = (1,) * (x.dim() - 2)
    return x.shape, (0, *range(2, x.dim())), (x.shape[1], *rest)


def _update_running(running, stat, momentum: float) -> None:
    """running ← momentum·stat + (1 − momentum)·running, in place (torch's order of terms)."""
    if running is not None:
        running.copy_(momentum * stat.reshape(running.shape) + (1 - momentum) * running)


def _transform(xc: torch.Tensor, rstd: torch.Tensor, w, b, wview, dtype) -> torch.Tensor:
    """y = (x − μ)·(rstd·w) + b from the centred x, a multiply then an add, rounded to ``dtype``;
    the same ops in the forward and in its recomputation (BatchNormAffineFunction), bit for bit:
    each is rounded once per element whatever the layout or the kernel's vector/scalar path
    (a fused addcmul is not: its FMA gives other bits than a multiply and an add, and with the
    per-channel operands broadcast over an NCHW plane it ran 2.5× slower: 8×72×16×16, 50 against
    20 µs). ``xc`` is a temporary of the caller's: in eager code y is written over it (one fresh
    activation-sized buffer fewer: on CPU a fresh buffer's page faults cost about a pass)."""
    scale = rstd if w is None else rstd * w.reshape(wview).to(rstd.dtype)
    y = xc.mul_(scale) if active() else xc * scale  # (torch.func and torch.compile: out of place)
    if b is not None:
        bias = b.reshape(wview).to(rstd.dtype)
        y = y.add_(bias) if active() else y + bias
    return y.to(dtype)


class BatchNormFunction(Function):
    """y = w_c ⊙ x̂ + b_c,  x̂ = (x − μ_c)·rstd_c,  per channel c (dim 1); also returns μ and rstd
    training: μ, σ² over (N, spatial) of this batch (n values, σ² biased), rstd = (σ² + eps)^−½;
              running_mean ← (1 − m)·running_mean + m·μ,
              running_var  ← (1 − m)·running_var + m·σ²·n/(n − 1)   (unbiased), in place
    eval:     μ = running_mean, rstd = (running_var + eps)^−½

    db_c = Σ_{N,HW} dy ;  dw_c = Σ_{N,HW} dy ⊙ x̂
    training: dx = rstd · (ĝ − mean(ĝ) − x̂ · mean(ĝ ⊙ x̂)),  ĝ = dy ⊙ w_c, means per channel
              (+ dμ/n − drstd·rstd²·x̂/n from the μ, rstd outputs in a double backward)
    eval:     dx = ĝ · rstd   (y is affine in x; the running stats are not differentiated)
    Saves x (only for dw, or for dx in training), w (only for dx), μ and rstd (C floats each):
    eval with only dx needed saves no activation at all. torch saves x, w, running stats, μ, rstd.
    """

    @staticmethod
    def forward(x, running_mean, running_var, w, b, training, momentum, eps):
        view, dims, wview = _channels(x)
        if training and _native_statistics_apply(x):
            return _native_statistics_forward(x, running_mean, running_var, w, b, momentum, eps)
        if training:
            xc, mean, var, rstd = nz.centred_moments(x, dims, eps)
            if running_mean is not None and x.numel():  # an empty batch leaves them alone, as torch
                n = x.numel() // x.shape[1]
                _update_running(running_mean, mean, momentum)
                _update_running(running_var, var * (n / (n - 1)), momentum)
            return _transform(xc, rstd, w, b, wview, x.dtype), mean, rstd
        else:
            acc, keep = nz.acc_dtype(x.dtype), (1, *wview)
            mean = running_mean.reshape(keep).to(acc, copy=True)  # a copy, not a view: an output
            rstd = torch.rsqrt(running_var.to(acc).reshape(keep) + eps)
        return nz.affine(nz.normalized(x, mean, rstd), w, b, wview, x.shape, x.dtype), mean, rstd

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, _, _, w, b, training, _, _ = inputs
        need = tuple(ctx.needs_input_grad[i] for i in (0, 3, 4))
        nz.setup(ctx, x, w, b, output[1], output[2], _channels(x), need, batch_stats=training)

    @staticmethod
    def backward(ctx, dy, dmean, drstd):
        if ctx.batch_stats and dy is not None and dmean is None and drstd is None and ctx.need[0] and dy.numel():
            dx, dw, db = _train_grads(ctx, dy)  # the common first-order case, in fewer passes
        else:
            dx, dw, db = nz.grads(ctx, dy, dmean, drstd)
        return dx, None, None, dw, db, None, None, None


def _native_statistics_apply(x: torch.Tensor) -> bool:
    """Eager CPU, float32/float64, a non-empty batch: :func:`_native_statistics_forward`."""
    return x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64) and x.numel() > 0 and active()


def _native_statistics_forward(x, running_mean, running_var, w, b, momentum, eps):
    """The training forward with μ, rstd and the running stats' update from torch's fused
    ``native_batch_norm`` (one kernel: 50 µs against 120 for the composite at 8×72×8×8; its
    statistics are summed in double, so a float32 variance past 3.4e38 still gives a finite rstd),
    and y then written over that kernel's output by :func:`_affine_kernel`, which the recomputation
    (:class:`BatchNormAffineFunction`) runs too, so the layers after it read the same bits: one
    pass where a y of our own ops took three (8×64×16×16: 191 → 160 µs; the kernel alone 129).
    (``batch_norm_update_stats`` writes no y, but its float32 variance overflows to inf there.)"""
    out, mean, rstd = torch.native_batch_norm(x, w, b, running_mean, running_var, True, momentum, eps)
    keep = (1, x.shape[1], *(1,) * (x.dim() - 2))
    y = _affine_kernel(x, mean, rstd, w, b, out=out)
    return y, mean.resize_(keep), rstd.resize_(keep)  # the kernel's fresh (C,) outputs, reshaped in place


def _affine_kernel(x, mean, rstd, w, b, out=None) -> torch.Tensor:
    """y = x·α + β per channel, α = rstd·w, β = b − μ·α, by torch's evaluation-mode kernel given
    μ, rstd·w as the weight and a running variance of 1 with eps 0 (its 1/√(1 + 0) is exactly 1,
    so its α is exactly our rstd·w): one pass, in x's layout, and the same bits in the forward
    and in the recomputation, which both call it with the same x, μ, rstd, w and b. The α/β form
    is torch's own (its training kernel writes y the same way). ``out``: a buffer of y's layout
    to write into (the training kernel's own output)."""
    c = x.shape[1]
    scale = rstd.reshape(c) if w is None else rstd.reshape(c) * w
    args = (x, scale, b, mean.reshape(c), torch.ones_like(scale), False, 0.0, 0.0)
    if out is None:
        return torch.native_batch_norm(*args)[0]
    return torch.native_batch_norm(*args, out=(out, scale.new_empty(0), scale.new_empty(0)))[0]


def _train_grads(ctx, dy):
    """dx, dw, db of training-mode BatchNorm when only dy flows: w, μ, rstd are per channel, so
    with x_c = x − μ, S = Σ dy, P = Σ dy ⊙ x_c (per channel, over N and spatial, n values):
        dw = rstd·P ;  db = S ;  dx = (w·rstd)·(dy − (rstd²·P/n)·x_c − S/n)
    (the module formula rstd·(ĝ − mean ĝ − x̂·mean(ĝ ⊙ x̂)) with ĝ = w·dy, w taken out of the
    bracket: at w = ±inf dx is ±inf with the bracket's sign, the limit, as torch's, not inf − inf),
    two elementwise passes and two reductions instead of nz.grads' generic dozen. P is summed over
    the centred x_c, as torch's kernel does, so a large |μ| loses no precision."""
    x, w, mean, rstd = ctx.saved_tensors
    _, need_w, need_b = ctx.need
    dims, acc = ctx.dims, rstd.dtype
    n = x.numel() // x.shape[1]
    dyf, xc = dy.to(acc), x.to(acc) - mean
    s, p = dyf.sum(dims, keepdim=True), (dyf * xc).sum(dims, keepdim=True)
    scale = rstd if w is None else rstd * w.reshape(ctx.wview).to(acc)
    rp = rstd * p  # dw; the per-channel coefficients in five small ops (at MobileNet's sizes each
    centred, mean_dy = rp * rstd * (-1.0 / n), s * (-1.0 / n)  # costs about what a pass does)
    if torch.is_grad_enabled() or not active():  # recorded (double backward), or traced: out of place
        dx = torch.addcmul(dyf + mean_dy, xc, centred).mul_(scale)
    else:  # over the temporary x_c, no fresh buffer (no broadcast addcmul: see _transform)
        dx = xc.mul_(centred).add_(mean_dy).add_(dyf).mul_(scale)
    dx = dx.to(ctx.x_dtype)
    dw = rp.reshape(ctx.w_meta[0]).to(ctx.w_meta[1]) if need_w else None
    db = s.reshape(ctx.b_meta[0]).to(ctx.b_meta[1]) if need_b else None
    return dx, dw, db


def _instances(x: torch.Tensor):
    """InstanceNorm layout: x as is, reduce over the spatial dims only (per sample and channel),
    w per channel."""
    rest = (1,) * (x.dim() - 2)
    return x.shape, tuple(range(2, x.dim())), (x.shape[1], *rest)


def _zero_variance_rstd(x, dims, mean, var, rstd):
    """aten's training statistics with eps = 0: rstd = 0 (not inf) where σ² = 0, so a constant
    instance gives y = b and dx = dw = 0, as torch's. σ² = 0 there when the instance holds one
    finite value (torch sums in float64 on CPU, or runs Welford's walk: no rounding residue),
    whatever residue ours' float32 mean leaves."""
    constant = (var == 0) | ((x.amax(dims, keepdim=True) == x.amin(dims, keepdim=True)) & mean.isfinite())
    return rstd.masked_fill(constant, 0)


class InstanceNormFunction(Function):
    """y = w_c ⊙ x̂ + b_c,  x̂ = (x − μ_nc)·rstd_nc  per sample n and channel c; also returns μ, rstd
    use_input_stats: μ, σ² over the spatial dims of each (n, c) (m values, σ² biased);
              running_mean ← (1 − mom)·running_mean + mom·mean_n μ_nc,
              running_var  ← (1 − mom)·running_var + mom·mean_n σ²_nc·m/(m − 1), in place
              (aten's: batch_norm of N·C channels on repeated stats, averaged back over N; an
              empty batch leaves NaN there, as torch's mean over no samples); with eps = 0,
              rstd = 0 where σ² = 0 (aten's, so y = b there and dx = 0)
    else:     μ = running_mean, rstd = (running_var + eps)^−½ (the same for every sample)

    db_c = Σ_{N,spatial} dy ;  dw_c = Σ_{N,spatial} dy ⊙ x̂
    use_input_stats: dx = rstd · (ĝ − mean(ĝ) − x̂ · mean(ĝ ⊙ x̂)),  ĝ = dy ⊙ w_c, means over
              the spatial dims of each (n, c)
    else:     dx = ĝ · rstd
    The normalisation backward shared with LayerNorm/GroupNorm/BatchNorm (``_normalize.py``).
    Saves x (for dw, or for dx with input statistics), w (for dx), μ and rstd (N·C floats each).
    """

    @staticmethod
    def forward(x, running_mean, running_var, w, b, use_input_stats, momentum, eps):
        view, dims, wview = _instances(x)
        if use_input_stats:
            xc, mean, var, rstd = nz.centred_moments(x, dims, eps)
            if eps == 0:
                rstd = _zero_variance_rstd(x, dims, mean, var, rstd)
            if running_mean is not None:
                m = math.prod(x.shape[2:])  # > 1: the wrapper checked
                _update_running(running_mean, mean.mean(0), momentum)
                _update_running(running_var, (var * (m / (m - 1))).mean(0), momentum)
            return _transform(xc, rstd, w, b, wview, x.dtype), mean, rstd
        acc, keep = nz.acc_dtype(x.dtype), (1, *wview)
        mean = running_mean.reshape(keep).to(acc, copy=True)
        rstd = torch.rsqrt(running_var.to(acc).reshape(keep) + eps)
        return nz.affine(nz.normalized(x, mean, rstd), w, b, wview, x.shape, x.dtype), mean, rstd

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, _, _, w, b, use_input_stats, _, _ = inputs
        need = tuple(ctx.needs_input_grad[i] for i in (0, 3, 4))
        nz.setup(ctx, x, w, b, output[1], output[2], _instances(x), need, batch_stats=use_input_stats)

    @staticmethod
    def backward(ctx, dy, dmean, drstd):
        dx, dw, db = nz.grads(ctx, dy, dmean, drstd)
        return dx, None, None, dw, db, None, None, None


class BatchNormAffineFunction(Function):
    """z = w_c ⊙ (x − μ_c)·rstd_c + b_c with μ, rstd given (BatchNorm's output recomputed from
    what BatchNorm saved, for the layers after it: see ``_recompute.py``); bit for bit the
    training forward of :class:`BatchNormFunction` given the same μ and rstd (``_affine_kernel`` where
    that forward ran torch's kernels, else ``_transform``).

    g = dy ⊙ w_c:  dx = g·rstd ;  dμ = −Σ g·rstd ;  drstd = Σ g ⊙ (x − μ) ;  dw = Σ dy ⊙ x̂ ;
    db = Σ dy   (sums over N and the spatial dims, down to each one's per-channel shape)
    Saves x, μ, rstd and w, which are alive anyway (BatchNorm saved them).
    """

    @staticmethod
    def forward(x, mean, rstd, w, b):
        if _native_statistics_apply(x):  # the forward took its statistics from torch's kernels
            return _affine_kernel(x, mean, rstd, w, b)
        _, _, wview = _channels(x)
        return _transform(x.to(rstd.dtype) - mean, rstd, w, b, wview, x.dtype)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, mean, rstd, w, b = inputs
        ctx.save_for_backward(x, mean, rstd, w)
        ctx.b_meta = None if b is None else (b.shape, b.dtype)

    @staticmethod
    def backward(ctx, dy):
        x, mean, rstd, w = ctx.saved_tensors
        need_x, need_mean, need_rstd, need_w, need_b = ctx.needs_input_grad
        _, dims, wview = _channels(x)
        acc = rstd.dtype
        dyf, xf = dy.to(acc), x.to(acc)
        g = dyf if w is None else dyf * w.reshape(wview).to(acc)
        dx = (g * rstd).to(x.dtype) if need_x else None
        dmean = -(g * rstd).sum(dims, keepdim=True) if need_mean else None
        drstd = (g * (xf - mean)).sum(dims, keepdim=True) if need_rstd else None
        dw = (dyf * nz.normalized(x, mean, rstd)).sum(dims).to(w.dtype) if need_w else None
        db = dyf.sum(dims).to(ctx.b_meta[1]).reshape(ctx.b_meta[0]) if need_b else None
        return dx, dmean, drstd, dw, db


class ParamCopyFunction(Function):
    """(w′, b′) = (w, b), copies (either may be None): dw = dw′ ;  db = db′.

    What the recipe of a BatchNorm output holds instead of BatchNorm's own parameters: the layers
    after it recompute that output in *their* backward, before BatchNorm's backward; under FSDP2
    the parameters' gathered storage is freed after forward and gathered again only for
    BatchNorm's own backward (torch's modules read a parameter only there), so the recipe must
    not read it. Two per-channel copies; gradients still reach w and b (double backward).
    """

    @staticmethod
    def forward(w, b):
        return (None if w is None else w.clone()), (None if b is None else b.clone())

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.set_materialize_grads(False)

    @staticmethod
    def backward(ctx, dw, db):
        return dw, db


def batch_norm_again(w, b):
    """Recipe for a BatchNorm output from (x, μ, rstd), closing over copies of w and b (None
    allowed): see :class:`ParamCopyFunction`."""
    w, b = ParamCopyFunction.apply(w, b)
    return lambda x, mean, rstd: BatchNormAffineFunction.apply(x, mean, rstd, w, b)
