"""Distances and normalisation: ``pairwise_distance``, ``cosine_similarity``, ``normalize``.

Each reduces one dim with a p-norm; the norm's own gradient is :func:`reductions.norm_grad`
(ties, zeros and p = 0, 1, ∞ as torch's norm backward). The forwards are torch's kernels (same
dtypes, broadcasting and errors); the backwards recompute the norms from the saved inputs.
"""

from __future__ import annotations

import math

import torch

from ._base import Function
from ._precision import opmath, opmath_value
from ._reduction import sum_to
from .reductions import norm_grad


def _keep(dy: torch.Tensor, dim: int, keepdim: bool, ndim: int) -> torch.Tensor:
    """dy with the reduced dim back as size 1 (a 0-d operand reduces nothing: dy as it is)."""
    return dy if keepdim or ndim == 0 else dy.unsqueeze(dim)


def difference_norm(x1: torch.Tensor, x2: torch.Tensor, p: float, eps: float):
    """(d, y, dim) of pairwise_distance: d = x1 − x2 + eps, y = ‖d‖_p over the last dim (kept,
    size 1), dim that dim. Half/bfloat16 in float32 (y more exact than torch's rounded output);
    for p = ±∞ d is first rounded as torch's, whose rounding decides the ties."""
    d = x1 - x2 + eps if math.isinf(p) else opmath_value(x1) - opmath_value(x2) + eps
    d = opmath_value(d)
    dim = max(d.dim() - 1, 0)
    return d, torch.linalg.vector_norm(d, p, (dim,) if d.dim() else (), keepdim=True), dim


def _refuse_complex(*xs: torch.Tensor) -> None:
    """torch differentiates these norms of complex inputs with conjugates that our real formulas
    do not take: refused rather than a wrong gradient (docs/ops.md)."""
    if any(x.is_complex() for x in xs):
        raise NotImplementedError("manualgrad: complex inputs of pairwise_distance/cosine_similarity/normalize "
                                  "are not supported")


class PairwiseDistanceFunction(Function):
    """y = ‖d‖_p over the last dim,  d = x1 − x2 + eps   (x1, x2 broadcast; torch's formula)

    dd = ∂‖d‖_p/∂d · dy  (``norm_grad``: p = 2: dy · d / y; p = 1: dy · sgn d; p = ∞: ties share
    dy; p = 0: no gradient, None as torch)
    dx1 = Σ→x1 dd ;  dx2 = −Σ→x2 dd
    Saves x1 and x2 (torch: x1 − x2 + eps and y); d and y are recomputed (half/bfloat16 in float32).
    """

    @staticmethod
    def forward(x1, x2, p, eps, keepdim):
        return torch.pairwise_distance(x1, x2, p, eps, keepdim)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x1, x2, p, eps, keepdim = inputs
        ctx.save_for_backward(x1, x2)
        ctx.p, ctx.eps, ctx.keepdim = float(p), eps, keepdim

    @staticmethod
    def backward(ctx, dy):
        x1, x2 = ctx.saved_tensors
        d, y, dim = difference_norm(x1, x2, ctx.p, ctx.eps)
        g = _keep(opmath_value(dy), dim, ctx.keepdim, d.dim())
        dims = (dim,) if d.dim() else ()
        dd = norm_grad(g, d, y, ctx.p, dims)
        if dd is None:
            return None, None, None, None, None
        dx1 = sum_to(dd, x1) if ctx.needs_input_grad[0] else None
        dx2 = sum_to(-dd, x2) if ctx.needs_input_grad[1] else None
        return dx1, dx2, None, None, None


class CosineSimilarityFunction(Function):
    """y = Σ_dim x1 ⊙ x2 / (n1 n2),  nᵢ = max(rᵢ, eps),  rᵢ = ‖xᵢ‖₂ along dim (x1, x2 broadcast)

    torch clamps the norms in place under no_grad, so its graph differentiates y through the
    unclamped norm: ∂y/∂n1 = −y / n1 and ∂r1/∂x1 = x1 / r1 (0 where r1 = 0, ``norm_grad``):
    dx1 = Σ→x1 (g ⊙ u2 / n1 − (g y / n1) ⊙ x1 / r1)      uᵢ = xᵢ / nᵢ (y = Σ u1 ⊙ u2, torch's order)
    dx2 = Σ→x2 (g ⊙ u1 / n2 − (g y / n2) ⊙ x2 / r2)      g = dy with dim kept
    Saves x1 and x2 (inputs); the norms and y are recomputed (torch's composite keeps them).
    """

    @staticmethod
    def forward(x1, x2, dim, eps):
        return torch.cosine_similarity(x1, x2, dim, eps)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x1, x2, dim, eps = inputs
        ctx.save_for_backward(x1, x2)
        ctx.dim, ctx.eps = dim, eps

    @staticmethod
    @opmath
    def backward(ctx, dy):
        x1, x2 = ctx.saved_tensors
        a, b = torch.broadcast_tensors(x1.to(dy.dtype), x2.to(dy.dtype))
        dims = (ctx.dim % a.dim(),) if a.dim() else ()  # 0-d: the one element is the vector
        r1, r2 = (torch.linalg.vector_norm(v, 2, dims, keepdim=True) for v in (a, b))
        n1, n2 = r1.clamp_min(ctx.eps), r2.clamp_min(ctx.eps)
        u1, u2 = a / n1, b / n2  # normalised first, as torch (n1 n2 and Σ a b overflow sooner)
        y = (u1 * u2).sum(dims, keepdim=True)
        g = dy.unsqueeze(dims[0]) if dims else dy
        dx1 = dx2 = None
        if ctx.needs_input_grad[0]:
            dx1 = sum_to(g * u2 / n1 + norm_grad(-g * y / n1, a, r1, 2, dims), x1)
        if ctx.needs_input_grad[1]:
            dx2 = sum_to(g * u1 / n2 + norm_grad(-g * y / n2, b, r2, 2, dims), x2)
        return dx1, dx2, None, None


class NormalizeFunction(Function):
    """y = x / n,  n = max(r, eps),  r = ‖x‖_p along dim (kept)   (torch's differentiable clamp)

    dx = dy / n − [r ≥ eps] · ∂r/∂x · Σ_dim (dy ⊙ x) / n²      (∂r/∂x: ``norm_grad``; below eps
    the clamp is constant, so only the first term remains: the second is selected out, not
    multiplied by 0, as torch's clamp backward)
    Saves x (input); r is recomputed.
    """

    @staticmethod
    def forward(x, p, dim, eps):
        return x / torch.linalg.vector_norm(x, p, dim, keepdim=True).clamp_min(eps)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, p, dim, eps = inputs
        ctx.save_for_backward(x)
        ctx.p, ctx.dim, ctx.eps = float(p), dim, eps

    @staticmethod
    @opmath
    def backward(ctx, dy):
        (x,) = ctx.saved_tensors
        x = x.to(dy.dtype)
        dims = (ctx.dim % x.dim(),) if x.dim() else ()
        r = torch.linalg.vector_norm(x, ctx.p, dims, keepdim=True)
        n = r.clamp_min(ctx.eps)
        dx = dy / n
        dn = -(dy * x).sum(dims, keepdim=True) / (n * n)
        dr = norm_grad(dn, x, r, ctx.p, dims)
        if dr is None:
            return dx, None, None, None
        # below eps the clamp is constant: no share of the norm's, selected out (a 0 multiplied in
        # met ∂r/∂x's 1/r^(p−1), inf where it underflows, as NaN: float32 r ~ 1e-20, p = 3)
        return dx + torch.where(r >= ctx.eps, dr, 0), None, None, None
