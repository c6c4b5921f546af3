"""Binary cross-entropy: ``binary_cross_entropy`` (on probabilities) and
``binary_cross_entropy_with_logits`` (on logits, numerically stable).

Neither weight nor pos_weight is differentiable (torch refuses them with requires_grad; the
functional wrappers raise its error), so each backward returns gradients for x and t only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._base import Function
from ._precision import dtype_name
from ._transform import add_tangents, save_for_forward, values_hidden
from ._reduction import grad_loss, reduce, sum_to, weighted_reduce

EPSILON = 1e-12  # torch's floor on x(1 − x) in the BCE input gradient
LOG_FLOOR = -100.0  # torch clamps each log at −100, so x ∈ {0, 1} gives a finite loss


def _check_probabilities(x: torch.Tensor, t: torch.Tensor) -> None:
    """torch's BCE kernel checks: one dtype for x and t, a real floating one, every element of
    each in [0, 1]."""
    if t.dtype != x.dtype:
        raise RuntimeError(f"Found dtype {dtype_name(t.dtype)} but expected {dtype_name(x.dtype)}")
    if not x.is_floating_point():  # integer, bool, complex
        raise NotImplementedError(f'"binary_cross_entropy" not implemented for \'{dtype_name(x.dtype)}\'')
    if values_hidden():  # torch.func / torch.compile: no data-dependent check
        return
    for name, v in (("input", x), ("target", t)):
        if not bool(((v >= 0) & (v <= 1)).all()):  # NaN fails too, as in torch
            raise RuntimeError(f"all elements of {name} should be between 0 and 1")


class BinaryCrossEntropyFunction(Function):
    """y = R(ℓ ⊙ w),  ℓ = −(t · max(log x, −100) + (1 − t) · max(log(1 − x), −100))

    dx = ∂y/∂ℓ ⊙ w ⊙ (x − t) / max(x(1 − x), ε)     ε = 1e-12 (torch's clamp; the −100
                                                   floors are not differentiated, as in torch)
    dt = ∂y/∂ℓ ⊙ w ⊙ (−logit x) = ∂y/∂ℓ ⊙ w ⊙ (log(1 − x) − log x)     (unclamped, as torch)
    jvp: dy = R(w ⊙ (dx ⊙ (x − t) / max(x(1 − x), ε) − dt ⊙ logit x))   (torch's formula)
    w (already expanded to t's shape) is a constant: torch refuses it with requires_grad.
    Saves x, t, w (inputs, alive anyway): both gradients read x, dx reads t.
    """

    @staticmethod
    def forward(x, t, w, reduction):
        _check_probabilities(x, t)
        loss = (t - 1) * torch.log1p(-x).clamp_min(LOG_FLOOR) - t * torch.log(x).clamp_min(LOG_FLOOR)
        if w is not None:
            loss.mul_(w)  # in place as torch: a w larger than x raises torch's shape error
        return reduce(loss, reduction)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, t, w, reduction = inputs
        ctx.save_for_backward(x, t, w)
        save_for_forward(ctx, x, t, w)
        ctx.reduction = reduction

    @staticmethod
    def backward(ctx, dy):
        x, t, w = ctx.saved_tensors
        need_x, need_t = ctx.needs_input_grad[:2]
        dx = dt = None
        if need_x or need_t:
            g = grad_loss(dy, x.shape, w, ctx.reduction)
            if need_x:
                dx = sum_to(g * (x - t) / ((1 - x) * x).clamp_min(EPSILON), x)
            if need_t:
                dt = sum_to(-g * torch.logit(x), t)
        return dx, dt, None, None

    @staticmethod
    def jvp(ctx, dx, dt, *_):
        x, t, w = ctx.saved_tensors
        dl = add_tangents(None if dx is None else dx * (x - t) / ((1 - x) * x).clamp_min(EPSILON),
                          None if dt is None else -dt * torch.logit(x))
        return weighted_reduce(dl, w, ctx.reduction)


class BinaryCrossEntropyWithLogitsFunction(Function):
    """y = R(ℓ ⊙ w),  ℓ = (1 − t) x − λ log σ(x),  λ = 1 + (p − 1) t   (p = pos_weight; no
    p: λ = 1). log σ is computed stably (``logsigmoid``), so |x| ≫ 0 does not overflow.

    dx = ∂y/∂ℓ ⊙ w ⊙ (λ σ(x) − p t)            (no p: σ(x) − t)
    dt = ∂y/∂ℓ ⊙ w ⊙ (log σ(−x) − p log σ(x))  (no p: −x)
    jvp: dy = R(w ⊙ (dx ⊙ (λ σ(x) − p t) + dt ⊙ (log σ(−x) − p log σ(x))))
    w and p broadcast into x's shape and are constants: torch refuses them with requires_grad.
    Saves x, t, w, p (inputs, alive anyway): the gradients need σ(x) or log σ(±x), which are as
    cheap to recompute as to store.
    """

    @staticmethod
    def forward(x, t, w, p, reduction):
        # torch's sequence of ops, in place where torch's is: same dtypes (ℓ takes t's floating
        # dtype), same broadcasting and the same errors for a w or p larger than x
        log_sig = F.logsigmoid(x)
        if p is not None:
            log_sig.mul_((p - 1).mul(t).add_(1))
        loss = (1 - t).mul_(x).sub_(log_sig)
        if w is not None:
            loss.mul_(w)
        return reduce(loss, reduction)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, t, w, p, reduction = inputs
        ctx.save_for_backward(x, t, w, p)
        save_for_forward(ctx, x, t, w, p)
        ctx.reduction = reduction

    @staticmethod
    def backward(ctx, dy):
        x, t, w, p = ctx.saved_tensors
        need_x, need_t = ctx.needs_input_grad[:2]
        dx = dt = None
        if need_x or need_t:
            g = grad_loss(dy, x.shape, w, ctx.reduction)
            if need_x:
                dx = torch.sigmoid(x) - t if p is None else (p * t + 1 - t) * torch.sigmoid(x) - p * t
                dx = sum_to(g * dx, x)
            if need_t:
                dt = -x if p is None else F.logsigmoid(-x) - p * F.logsigmoid(x)
                dt = sum_to(g * dt, t)
        return dx, dt, None, None, None

    @staticmethod
    def jvp(ctx, dx, dt, *_):
        x, t, w, p = ctx.saved_tensors
        if dx is not None:
            dx = dx * (torch.sigmoid(x) - t if p is None else (p * t + 1 - t) * torch.sigmoid(x) - p * t)
        if dt is not None:
            dt = dt * (-x if p is None else F.logsigmoid(-x) - p * F.logsigmoid(x))
        return weighted_reduce(add_tangents(dx, dt), w, ctx.reduction)
