"""Likelihood losses: ``kl_div``, ``poisson_nll_loss``, ``gaussian_nll_loss``,
``multilabel_soft_margin_loss``.

Each is y = R(ℓ) of an elementwise ℓ over the broadcast of its inputs (multilabel_soft_margin:
of a per-row mean over classes), R = identity | Σ | Σ / D (``_reduction``; D = numel, or the
batch size for kl_div's 'batchmean'); G = ∂y/∂ℓ · dy (``unreduce``), and every input gradient is
G times ∂ℓ/∂input summed back to the input's shape (``sum_to``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ._base import Function
from ._precision import opmath_value
from ._reduction import reduce, sum_to, unreduce

_ENUM = {"none": 0, "mean": 1, "sum": 2}


class KLDivFunction(Function):
    """y = R(ℓ),  ℓ = t log t − t x   (log_target: ℓ = eᵗ (t − x))   x = log q, t = p or log p

    dx = −Σ→x (G ⊙ t)                   log_target: −Σ→x (G ⊙ eᵗ)
    dt = Σ→t (G ⊙ (log t + 1 − x))      log_target: Σ→t (G ⊙ eᵗ (t − x + 1))
    torch writes t log t as xlogy(t, t), whose derivative in t is xlogy(t ≠ 0, t) + t / t: NaN at
    t = 0, as ours (the code keeps that form). 'batchmean' is y = Σ ℓ / s (``scale`` s = size(0):
    torch divides its kernel's result, so G = ∂R/∂ℓ · dy / s).
    Saves x, t (inputs).
    """

    @staticmethod
    def forward(x, t, log_target, reduction, scale):
        y = torch.kl_div(x, t, _ENUM[reduction], log_target=log_target)
        return y if scale is None else y / scale

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, t, log_target, reduction, scale = inputs
        ctx.save_for_backward(x, t)
        ctx.log_target, ctx.reduction, ctx.scale = log_target, reduction, scale

    @staticmethod
    def backward(ctx, dy):
        x0, t0 = ctx.saved_tensors
        x, t, dy = (opmath_value(v) for v in (x0, t0, dy))  # half/bfloat16: float32, rounded once
        dy = dy if ctx.scale is None else dy / ctx.scale
        g = unreduce(dy, ctx.reduction, torch.broadcast_shapes(x.shape, t.shape))
        dx = dt = None
        if ctx.log_target:
            p = torch.exp(t)
            dx = -g * p if ctx.needs_input_grad[0] else None
            dt = g * p * (t - x + 1) if ctx.needs_input_grad[1] else None
        else:
            dx = -g * t if ctx.needs_input_grad[0] else None
            dt = g * (torch.xlogy(t != 0, t) + t / t - x) if ctx.needs_input_grad[1] else None
        return (None if dx is None else sum_to(dx, x0)), (None if dt is None else sum_to(dt, t0)), None, None, None


def _stirling_slope(t: torch.Tensor) -> torch.Tensor:
    """∂/∂t of the Stirling term [t > 1] (t log t − t + ½ log(2π t)): [t > 1] (log t + 1 / (2t)).
    As torch's masked_fill, the mask multiplies: NaN where t ≤ 0 (0 · (log 0 …)), as torch."""
    return (t > 1) * (torch.log(t) + 0.5 / t)


class PoissonNLLLossFunction(Function):
    """y = R(ℓ),  ℓ = eˣ − t x  (log_input)  or  x − t log(x + eps)  [+ Stirling term of t if full]

    log_input:  dx = Σ→x G ⊙ (eˣ − t) ;          dt = Σ→t G ⊙ (−x)
    otherwise:  dx = Σ→x G ⊙ (1 − t / (x + eps)) ; dt = Σ→t G ⊙ (−log(x + eps))
    full:       dt += (Σ→t G) ⊙ [t > 1] (log t + 1 / (2t))   (the term has t's shape, as torch's)
    Saves x, t (inputs).
    """

    @staticmethod
    def forward(x, t, log_input, full, eps, reduction):
        return torch.poisson_nll_loss(x, t, log_input, full, eps, _ENUM[reduction])

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, t, log_input, full, eps, reduction = inputs
        ctx.save_for_backward(x, t)
        ctx.log_input, ctx.full, ctx.eps, ctx.reduction = log_input, full, eps, reduction

    @staticmethod
    def backward(ctx, dy):
        x0, t0 = ctx.saved_tensors
        x, t, dy = (opmath_value(v) for v in (x0, t0, dy))  # half/bfloat16: float32, rounded once
        g = unreduce(dy, ctx.reduction, torch.broadcast_shapes(x.shape, t.shape))
        dx = dt = None
        if ctx.needs_input_grad[0]:
            dx = sum_to(g * (torch.exp(x) - t if ctx.log_input else 1 - t / (x + ctx.eps)), x0)
        if ctx.needs_input_grad[1]:
            dt = g * (-x.to(g.dtype) if ctx.log_input else -torch.log(x + ctx.eps))  # an integer x: −x may wrap
            if ctx.full:  # torch's Stirling term has t's shape: G summed to t, then the slope (NaN at t ≤ 0 even for an empty G)
                dt = dt.sum_to_size(t.shape) + g.sum_to_size(t.shape) * _stirling_slope(t)
            dt = sum_to(dt, t0)
        return dx, dt, None, None, None, None


def _clamped(v: torch.Tensor, eps: float) -> torch.Tensor:
    """max(v, eps) in value, v in gradient: torch clamps a clone of var in place under no_grad,
    so its graph passes the gradient straight through the clamp (first and second order)."""
    return v + (v.clamp(min=eps) - v).detach()


class GaussianNLLLossFunction(Function):
    """y = R(ℓ),  ℓ = ½ (log v̂ + (x − t)² / v̂) [+ ½ log 2π if full],  v̂ = max(v, eps)
    (x, t, v broadcast; v already shaped by the wrapper's homoscedastic rules)

    dx = Σ→x G ⊙ (x − t) / v̂ ;  dt = −Σ→t G ⊙ (x − t) / v̂
    dv = Σ→v G ⊙ ½ (1 / v̂ − (x − t)² / v̂²)   (straight through the clamp, as torch's graph)
    Saves x, t, v (inputs); v̂ is recomputed.
    """

    @staticmethod
    def forward(x, t, v, full, eps, reduction):
        v = v.clamp(min=eps)
        loss = 0.5 * (torch.log(v) + (x - t) ** 2 / v)
        if full:
            loss = loss + 0.5 * math.log(2 * math.pi)
        return reduce(loss, reduction)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, t, v, full, eps, reduction = inputs
        ctx.save_for_backward(x, t, v)
        ctx.eps, ctx.reduction = eps, reduction

    @staticmethod
    def backward(ctx, dy):
        x0, t0, v0 = ctx.saved_tensors
        x, t, v, dy = (opmath_value(a) for a in (x0, t0, v0, dy))  # half/bfloat16: float32, rounded once
        vc, d = _clamped(v, ctx.eps), x - t
        g = unreduce(dy, ctx.reduction, torch.broadcast_shapes(x.shape, t.shape, v.shape))
        dx = sum_to(g * d / vc, x0) if ctx.needs_input_grad[0] else None
        dt = sum_to(-g * d / vc, t0) if ctx.needs_input_grad[1] else None
        dv = sum_to(g * 0.5 * (1 / vc - d * d / (vc * vc)), v0) if ctx.needs_input_grad[2] else None
        return dx, dt, dv, None, None, None


class MultiLabelSoftMarginLossFunction(Function):
    """y = R(r),  r = Σ_c (ℓ ⊙ w) / C over the input's last dim,  ℓ = −(t log σ(x) + (1 − t) log σ(−x))

    G = ∂y/∂r · dy / C, broadcast back over the classes
    dx = Σ→x G ⊙ w ⊙ (σ(x) − t) ;  dt = Σ→t G ⊙ w ⊙ (log σ(−x) − log σ(x)) ;  dw = Σ→w G ⊙ ℓ
    (w = 1 without a weight). Saves x, t, w (inputs); ℓ is recomputed for dw.
    """

    @staticmethod
    def _loss(x, t):
        return -(t * F.logsigmoid(x) + (1 - t) * F.logsigmoid(-x))

    @classmethod
    def forward(cls, x, t, w, reduction):
        loss = cls._loss(x, t)
        if w is not None:
            loss = loss * w
        return reduce(loss.sum(dim=x.dim() - 1) / x.size(x.dim() - 1), reduction)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, t, w, reduction = inputs
        ctx.save_for_backward(x, t, w)
        ctx.reduction = reduction

    @classmethod
    def backward(cls, ctx, dy):
        x0, t0, w0 = ctx.saved_tensors
        x, t, w, dy = (opmath_value(v) for v in (x0, t0, w0, dy))  # half/bfloat16: float32, rounded once
        shape = torch.broadcast_shapes(x.shape, t.shape, () if w is None else w.shape)
        class_dim = x.dim() - 1
        rows = torch.Size((*shape[:class_dim], *shape[class_dim + 1:]))
        g = (unreduce(dy, ctx.reduction, rows) / x.size(class_dim)).unsqueeze(class_dim)
        gw = g if w is None else g * w
        dx = sum_to(gw * (torch.sigmoid(x) - t), x0) if ctx.needs_input_grad[0] else None
        dt = sum_to(gw * (F.logsigmoid(-x) - F.logsigmoid(x)), t0) if ctx.needs_input_grad[1] else None
        dw = sum_to(g * cls._loss(x, t), w0) if ctx.needs_input_grad[2] else None
        return dx, dt, dw, None
