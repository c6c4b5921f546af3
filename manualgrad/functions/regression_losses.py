"""Regression losses: ``mse_loss``, ``l1_loss``, ``smooth_l1_loss``, ``huber_loss``.

Each is a pointwise f of d = x − t, optionally weighted, then reduced (``_reduction``):

    y = R(f(d) ⊙ w),   d = x − t   (x, t broadcast as torch does, d in their promoted dtype: a
                                    0-d t decides it as much as x; w the size of x, or None)
    dx = Σ→x (g ⊙ f'(d)) ;  dt = −Σ→t (g ⊙ f'(d)) ;  g = ∂y/∂ℓ ⊙ w   (``grad_loss``)
    dw = Σ→w (∂y/∂ℓ ⊙ f(d)) [− dy · y / Σ w for the weighted mean of mse/l1]   (``grad_weight``)
    jvp: dy = R(f′(d) ⊙ (dx − dt) ⊙ w) + R(f(d) ⊙ dw) [− y · Σ dw / Σ w, weighted mean of mse/l1]

The four Functions share that frame (:class:`_PointwiseLoss`) and differ only in f, f′ and two
flags; each docstring gives its own f and f′.
"""

from __future__ import annotations

import torch

from ._base import Function
from ._reduction import _divisor, grad_loss, grad_weight, reduce, sum_to, weighted_reduce
from ._transform import add_tangents, save_for_forward


def difference(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """d = x − t in torch's dtype for these losses: torch broadcasts x and t before its kernel,
    so the dtypes promote as between equal-rank tensors (a 0-d float32 t makes a bfloat16 x's
    loss float32, where ``x - t`` alone would stay bfloat16)."""
    dtype = torch.promote_types(x.dtype, t.dtype)
    return x.to(dtype) - t.to(dtype)


class _PointwiseLoss(Function):
    """y = R(f(x − t; p) ⊙ w) for a subclass's f (``value``) and f′ (``slope``), p its scalar
    parameter (β, δ, or None).

    forward(x, t, w, reduction, p); gradients for x, t and w (module docstring), None for the
    two non-tensors. Saves the inputs x, t, w (alive in the caller anyway): f′(d) is not a
    function of the reduced output, and d = x − t is one subtraction to recompute.
    ``forward``/``backward`` are classmethods (same modern forward + setup_context + backward
    protocol; ``torch.func.grad`` works) so that they reach the subclass's f and f′.
    """

    by_weight = False  # weighted 'mean' divides by Σ w (mse, l1) instead of numel (huber)
    keep_input_dtype = False  # f(d) comes back in x's dtype (huber), not the promoted one

    @staticmethod
    def value(d: torch.Tensor, p) -> torch.Tensor:
        raise NotImplementedError

    @staticmethod
    def slope(d: torch.Tensor, p) -> torch.Tensor:
        raise NotImplementedError

    @classmethod
    def _loss(cls, x, t, p):
        loss = cls.value(difference(x, t), p)
        return loss.to(x.dtype) if cls.keep_input_dtype else loss

    @classmethod
    def forward(cls, x, t, w, reduction, p):
        return weighted_reduce(cls._loss(x, t, p), w, reduction, cls.by_weight)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, t, w, reduction, p = inputs
        ctx.save_for_backward(x, t, w)
        save_for_forward(ctx, x, t, w)
        ctx.reduction, ctx.p = reduction, p

    @classmethod
    def backward(cls, ctx, dy):
        x, t, w = ctx.saved_tensors
        need_x, need_t, need_w = ctx.needs_input_grad[:3]
        dx = dt = dw = None
        if need_x or need_t:
            d = difference(x, t)
            g = grad_loss(dy, d.shape, w, ctx.reduction, cls.by_weight) * cls.slope(d, ctx.p)
            dx = sum_to(g, x) if need_x else None
            dt = sum_to(-g, t) if need_t else None
        if need_w:
            dw = grad_weight(dy, cls._loss(x, t, ctx.p), w, ctx.reduction, cls.by_weight)
        return dx, dt, dw, None, None

    @classmethod
    def jvp(cls, ctx, dx, dt, dw, *_):
        x, t, w = ctx.saved_tensors
        dd = add_tangents(dx, None if dt is None else -dt)
        dy = None if dd is None else weighted_reduce(cls.slope(difference(x, t), ctx.p) * dd, w, ctx.reduction, cls.by_weight)
        if dw is not None and w is not None:  # y = Σ (ℓ ⊙ w) / D: the numerator, and D = Σ w for mse/l1
            loss, divisor = cls._loss(x, t, ctx.p), _divisor(w, ctx.reduction, cls.by_weight)
            dy = add_tangents(dy, reduce(loss * dw, ctx.reduction, divisor))
            if divisor is not None:
                dy = dy - weighted_reduce(loss, w, ctx.reduction, True) * dw.sum() / divisor
        return dy


def _outside(d: torch.Tensor, edge: float) -> torch.Tensor:
    """|d| ≥ edge: the linear piece of smooth L1 / Huber. The kink |d| = edge belongs to it
    (torch's second derivative is 0 there), and NaN does not (NaN then flows through the
    quadratic piece and stays NaN, as in torch)."""
    return d.abs() >= edge


class MSELossFunction(_PointwiseLoss):
    """y = R((x − t)² ⊙ w);  weighted 'mean' = Σ (ℓ ⊙ w) / Σ w

    f(d) = d² ;  f′(d) = 2d
    dx = Σ→x (2d ⊙ g) ;  dt = −Σ→t (2d ⊙ g) ;  dw = Σ→w (∂y/∂ℓ ⊙ d²) [− dy · y / Σ w]
    Saves x, t, w (see :class:`_PointwiseLoss`).
    """

    by_weight = True

    @staticmethod
    def value(d, p):
        return d * d

    @staticmethod
    def slope(d, p):
        return 2 * d


class L1LossFunction(_PointwiseLoss):
    """y = R(|x − t| ⊙ w);  weighted 'mean' = Σ (ℓ ⊙ w) / Σ w

    f(d) = |d| ;  f′(d) = sgn(d)   (subgradient 0 at d = 0, and 0 for NaN, as torch's abs; for a
    complex d, sgn(d) = d / |d| is torch's abs derivative and a real t takes the real part)
    dx = Σ→x (sgn(d) ⊙ g) ;  dt = −Σ→t (sgn(d) ⊙ g) ;  dw = Σ→w (∂y/∂ℓ ⊙ |d|) [− dy · y / Σ w]
    Saves x, t, w (see :class:`_PointwiseLoss`).
    """

    by_weight = True

    @staticmethod
    def value(d, p):
        return d.abs()

    @staticmethod
    def slope(d, p):
        return d.sgn()


class SmoothL1LossFunction(_PointwiseLoss):
    """y = R(f(x − t)),  β = p ≥ 0 (no weight: w is None)

    f(d) = ½ d² / β  if |d| < β,  |d| − ½ β  otherwise   (β = 0: f(d) = |d|, torch's l1_loss)
    f′(d) = d / β    if |d| < β,  sign(d)     otherwise   (the two agree at the kink |d| = β)
    dx = Σ→x (f′(d) ⊙ ∂y/∂ℓ) ;  dt = −Σ→t (f′(d) ⊙ ∂y/∂ℓ)
    Saves x, t (see :class:`_PointwiseLoss`).
    """

    @staticmethod
    def value(d, beta):
        if beta == 0:
            return d.abs()
        return torch.where(_outside(d, beta), d.abs() - 0.5 * beta, 0.5 * d * d / beta)

    @staticmethod
    def slope(d, beta):
        if beta == 0:
            return d.sgn()  # l1_loss's (complex d too)
        return torch.where(_outside(d, beta), d.sign(), d / beta)


class HuberLossFunction(_PointwiseLoss):
    """y = R(f(x − t) ⊙ w),  δ = p > 0;  weighted 'mean' = Σ (ℓ ⊙ w) / numel (torch's plain mean)

    f(d) = ½ d²  if |d| < δ,  δ (|d| − ½ δ)  otherwise   (f in x's dtype, as torch)
    f′(d) = d    if |d| < δ,  δ · sign(d)    otherwise   (the two agree at the kink |d| = δ)
    dx = Σ→x (f′(d) ⊙ g) ;  dt = −Σ→t (f′(d) ⊙ g) ;  dw = Σ→w (∂y/∂ℓ ⊙ f(d))
    Saves x, t, w (see :class:`_PointwiseLoss`).
    """

    keep_input_dtype = True

    @staticmethod
    def value(d, delta):
        return torch.where(_outside(d, delta), delta * (d.abs() - 0.5 * delta), 0.5 * d * d)

    @staticmethod
    def slope(d, delta):
        return torch.where(_outside(d, delta), delta * d.sign(), d)
