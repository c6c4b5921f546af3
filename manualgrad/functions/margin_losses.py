"""Margin losses: ``margin_ranking_loss``, ``triplet_margin_loss``, ``hinge_embedding_loss``,
``soft_margin_loss``, ``cosine_embedding_loss``, ``multi_margin_loss``, ``multilabel_margin_loss``.

Each is y = R(ℓ) of a per-element (or per-row) ℓ, R = identity | Σ | mean (``_reduction``);
G = ∂y/∂ℓ · dy (``unreduce``). The hinges' kinks follow torch: ``clamp_min`` passes the gradient
at 0 (h ≥ 0), the multi-class kernels do not (h > 0). Targets of ±1 (or class indices) enter
through comparisons and get no gradient, except margin_ranking_loss's, which multiplies.
"""

from __future__ import annotations

import torch

from ._base import Function
from ._precision import opmath
from ._reduction import reduce, sum_to, unreduce
from .distances import difference_norm
from .reductions import norm_grad

_ENUM = {"none": 0, "mean": 1, "sum": 2}  # torch's reduction enum
COSINE_EPSILON = 1e-12  # torch's floor added to each squared magnitude in cosine_embedding_loss


class MarginRankingLossFunction(Function):
    """y = R(max(0, h)),  h = −t ⊙ (x1 − x2) + margin   (x1, x2, t broadcast)

    a = [h ≥ 0] (torch's clamp_min passes the gradient at the kink), G = ∂y/∂ℓ · dy
    dx1 = −Σ→x1 (G ⊙ a ⊙ t) ;  dx2 = Σ→x2 (G ⊙ a ⊙ t) ;  dt = −Σ→t (G ⊙ a ⊙ (x1 − x2))
    Saves x1, x2, t (inputs); h is recomputed.
    """

    @staticmethod
    def forward(x1, x2, t, margin, reduction):
        return reduce((-t * (x1 - x2) + margin).clamp_min(0), reduction)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x1, x2, t, margin, reduction = inputs
        ctx.save_for_backward(x1, x2, t)
        ctx.margin, ctx.reduction = margin, reduction

    @staticmethod
    def backward(ctx, dy):
        x1, x2, t = ctx.saved_tensors
        d = x1 - x2
        h = -t * d + ctx.margin
        g = unreduce(dy, ctx.reduction, h.shape) * (h >= 0)
        dx1 = sum_to(-g * t, x1) if ctx.needs_input_grad[0] else None
        dx2 = sum_to(g * t, x2) if ctx.needs_input_grad[1] else None
        dt = sum_to(-g * d, t) if ctx.needs_input_grad[2] else None
        return dx1, dx2, dt, None, None


class TripletMarginLossFunction(Function):
    """y = R(max(0, h)),  h = margin + y_ap − ỹ,  ỹ = y_an, or with ``swap`` min(y_an, y_pn)
    y_uv = ‖d_uv‖_p,  d_uv = u − v + eps over the last dim (torch's pairwise_distance)

    g = G ⊙ [h ≥ 0] (clamp_min passes the kink);  ỹ's g goes to y_an, or to the smaller of y_an,
    y_pn (half each on a tie, as torch.minimum): ω_an + ω_pn = 1
    dd_uv = ∂y_uv/∂d_uv · g_uv (``norm_grad``), g_ap = g, g_an = −ω_an g, g_pn = −ω_pn g
    da = Σ→a (dd_ap + dd_an) ;  dp = Σ→p (dd_pn − dd_ap) ;  dn = −Σ→n (dd_an + dd_pn)
    Saves a, p, n (inputs); the distances are recomputed (torch's composite keeps each).
    """

    @staticmethod
    def forward(a, pos, neg, margin, p, eps, swap, reduction):
        dist_neg = torch.pairwise_distance(a, neg, p, eps)
        if swap:
            dist_neg = torch.minimum(dist_neg, torch.pairwise_distance(pos, neg, p, eps))
        return reduce(torch.clamp_min(margin + torch.pairwise_distance(a, pos, p, eps) - dist_neg, 0), reduction)

    @staticmethod
    def setup_context(ctx, inputs, output):
        a, pos, neg, margin, p, eps, swap, reduction = inputs
        ctx.save_for_backward(a, pos, neg)
        ctx.margin, ctx.p, ctx.eps, ctx.swap, ctx.reduction = margin, float(p), eps, swap, reduction

    @staticmethod
    def backward(ctx, dy):
        a, pos, neg = ctx.saved_tensors
        p = ctx.p
        d_ap, y_ap, dim = difference_norm(a, pos, p, ctx.eps)
        d_an, y_an, _ = difference_norm(a, neg, p, ctx.eps)
        dims = (dim,) if d_ap.dim() else ()
        w_an, y_neg = 1, y_an
        if ctx.swap:
            d_pn, y_pn, _ = difference_norm(pos, neg, p, ctx.eps)
            w_an = (y_an < y_pn) + 0.5 * (y_an == y_pn)
            y_neg = torch.minimum(y_an, y_pn)
        h = ctx.margin + y_ap - y_neg
        g = unreduce(dy.to(h.dtype), ctx.reduction, h.shape[:-1] if d_ap.dim() else h.shape).reshape(h.shape)
        g = g * (h >= 0)
        dd_ap, dd_an = norm_grad(g, d_ap, y_ap, p, dims), norm_grad(-g * w_an, d_an, y_an, p, dims)
        if dd_ap is None:  # p = 0: a count, no gradient (torch's None)
            return (None,) * 8
        dd_pn = norm_grad(-g * (1 - w_an), d_pn, y_pn, p, dims) if ctx.swap else 0
        da = sum_to(dd_ap + dd_an, a) if ctx.needs_input_grad[0] else None
        dp = sum_to(dd_pn - dd_ap, pos) if ctx.needs_input_grad[1] else None
        dn = sum_to(-(dd_an + dd_pn), neg) if ctx.needs_input_grad[2] else None
        return da, dp, dn, None, None, None, None, None


class HingeEmbeddingLossFunction(Function):
    """y = R(ℓ),  ℓ = [t ≠ 1] · max(0, margin − x) + [t ≠ −1] · x   (torch's two ``where``s)

    dx = Σ→x (G ⊙ ([t ≠ −1] − [t ≠ 1] ⊙ [margin − x ≥ 0]))   (clamp_min's kink passes)
    Saves x, t (inputs).
    """

    @staticmethod
    def forward(x, t, margin, reduction):
        zeros = torch.zeros_like(x)
        loss = torch.where(t != 1, (margin - x).clamp_min(0), zeros) + torch.where(t != -1, x, zeros)
        return reduce(loss, reduction)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, t, margin, reduction = inputs
        ctx.save_for_backward(x, t)
        ctx.margin, ctx.reduction = margin, reduction

    @staticmethod
    def backward(ctx, dy):
        x, t = ctx.saved_tensors
        slope = (t != -1).to(x.dtype) - ((t != 1) & (ctx.margin - x >= 0)).to(x.dtype)
        g = unreduce(dy, ctx.reduction, torch.broadcast_shapes(x.shape, t.shape))
        return sum_to(g * slope, x), None, None, None


class SoftMarginLossFunction(Function):
    """y = R(log(1 + e^(−t x)))   (torch's kernel; t no gradient, as torch)

    dx = G ⊙ (−t) ⊙ z / (1 + z),  z = e^(−t x)   (torch's form, = −t σ(−t x); NaN where z
    overflows, as torch's)
    Saves x, t (inputs).
    """

    @staticmethod
    def forward(x, t, reduction):
        return torch._C._nn.soft_margin_loss(x, t, _ENUM[reduction])

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, t, reduction = inputs
        ctx.save_for_backward(x, t)
        ctx.reduction = reduction

    @staticmethod
    @opmath
    def backward(ctx, dy):
        x, t = ctx.saved_tensors
        x, t = x.to(dy.dtype), t.to(dy.dtype)
        z = torch.exp(-t * x)
        return unreduce(dy, ctx.reduction, x.shape) * -t * z / (1 + z), None, None


class CosineEmbeddingLossFunction(Function):
    """y = R(ℓ),  ℓ = [t = 1] (1 − c) + [t = −1] max(0, c − margin),  c = s / √(m1 m2)
    over the last dim (none for a 0-d t): s = Σ x1 x2, mᵢ = Σ xᵢ² + 1e-12   (torch's formula)

    dc = G ⊙ (−[t = 1] + [t = −1] ⊙ [c − margin ≥ 0])
    dx1 = Σ→x1 dc ⊙ (x2 / √(m1 m2) − c x1 / m1) ;  dx2 = Σ→x2 dc ⊙ (x1 / √(m1 m2) − c x2 / m2)
    Saves x1, x2, t (inputs); s, m1, m2 and c are recomputed (torch's composite keeps them).
    """

    @staticmethod
    def forward(x1, x2, t, margin, reduction):
        return torch.cosine_embedding_loss(x1, x2, t, margin, _ENUM[reduction])

    @staticmethod
    def setup_context(ctx, inputs, output):
        x1, x2, t, margin, reduction = inputs
        ctx.save_for_backward(x1, x2, t)
        ctx.margin, ctx.reduction = margin, reduction

    @staticmethod
    @opmath
    def backward(ctx, dy):
        x1, x2, t = ctx.saved_tensors
        a, b = x1.to(dy.dtype), x2.to(dy.dtype)
        dim = t.dim()
        m1 = (a * a).sum(dim) + COSINE_EPSILON
        m2 = (b * b).sum(dim) + COSINE_EPSILON
        root = (m1 * m2).sqrt()
        c = (a * b).sum(dim) / root
        slope = ((t == -1) & (c - ctx.margin >= 0)).to(c.dtype) - (t == 1).to(c.dtype)
        dc = (unreduce(dy, ctx.reduction, c.shape) * slope).unsqueeze(dim)
        c, root, m1, m2 = (v.unsqueeze(dim) for v in (c, root, m1, m2))
        dx1 = sum_to(dc * (b / root - c * a / m1), x1) if ctx.needs_input_grad[0] else None
        dx2 = sum_to(dc * (a / root - c * b / m2), x2) if ctx.needs_input_grad[1] else None
        return dx1, dx2, None, None, None


def _empty_reduced(y: torch.Tensor, x: torch.Tensor, reduction: str) -> torch.Tensor:
    """torch's multi-class margin kernels leave a reduced result of an empty batch uninitialised
    (arbitrary numbers); it is a sum over nothing: 0 ('sum'), NaN ('mean'), as every other loss."""
    if x.numel() == 0 and reduction != "none":
        return torch.full_like(y, float("nan") if reduction == "mean" and y.is_floating_point() else 0)
    return y


def _rows(x: torch.Tensor) -> torch.Tensor:
    """x as (N, C): a vector is one row, a 0-d input one row of one class (torch's kernels)."""
    return x.reshape(-1, x.shape[-1] if x.dim() else 1)


class MultiMarginLossFunction(Function):
    """y = R(ℓ),  ℓ_n = Σ_{j ≠ yₙ} w_{yₙ} · max(0, hₙⱼ)ᵖ / C,  hₙⱼ = margin − x_{n,yₙ} + x_{n,j}
    (p ∈ {1, 2}; w = 1 without a weight)

    aₙⱼ = Gₙ · w_{yₙ} · p · hₙⱼ^(p−1) · [hₙⱼ > 0] · [j ≠ yₙ] / C     (torch's kernel: h > 0)
    dx_{n,j} = aₙⱼ for j ≠ yₙ ;  dx_{n,yₙ} = −Σⱼ aₙⱼ
    w is a constant (torch refuses it with requires_grad). Saves x, y, w (inputs); h recomputed.
    """

    @staticmethod
    def forward(x, y, p, margin, w, reduction):
        return _empty_reduced(torch._C._nn.multi_margin_loss(x, y, p, margin, w, _ENUM[reduction]), x, reduction)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, y, p, margin, w, reduction = inputs
        ctx.save_for_backward(x, y, w)
        ctx.p, ctx.margin, ctx.reduction = p, margin, reduction

    @staticmethod
    @opmath
    def backward(ctx, dy):
        x, y, w = ctx.saved_tensors
        X, Y = _rows(x.to(dy.dtype)), y.reshape(-1, 1).long()  # an empty batch's target may be uint8
        h = ctx.margin - X.gather(1, Y) + X
        other = torch.ones_like(X, dtype=torch.bool).scatter(1, Y, False)
        scale = unreduce(dy.reshape(-1), ctx.reduction, Y.shape[:1]) / X.shape[1]
        if w is not None:
            scale = scale * w.to(dy.dtype)[Y[:, 0]]
        a = scale[:, None] * ((h > 0) & other) * (1 if ctx.p == 1 else 2 * h)
        dX = a - torch.zeros_like(a).scatter(1, Y, a.sum(1, keepdim=True))
        return dX.reshape(x.shape), None, None, None, None, None


class MultiLabelMarginLossFunction(Function):
    """y = R(ℓ),  ℓ_n = Σ_{j ∈ Tₙ} Σ_{k ∉ Tₙ} max(0, 1 − (x_{n,j} − x_{n,k})) / C
    Tₙ = the classes yₙ lists before its first −1, each counted as often as listed (cₙⱼ times)

    aₙⱼₖ = Gₙ · cₙⱼ · [k ∉ Tₙ] · [1 − x_{n,j} + x_{n,k} > 0] / C     (torch's kernel: > 0)
    dx_{n,k} = Σⱼ aₙⱼₖ − Σⱼ aₙₖⱼ   (k as the non-target, minus k as the target)
    Vectorised as an (N, C, C) tensor of pairs. Saves x, y (inputs).
    """

    @staticmethod
    def forward(x, y, reduction):
        return _empty_reduced(torch._C._nn.multilabel_margin_loss(x, y, _ENUM[reduction]), x, reduction)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, y, reduction = inputs
        ctx.save_for_backward(x, y)
        ctx.reduction = reduction

    @staticmethod
    @opmath
    def backward(ctx, dy):
        x, y = ctx.saved_tensors
        X, Y = _rows(x.to(dy.dtype)), _rows(y)
        listed = (Y >= 0).cumprod(1).to(X.dtype)  # entries before the first −1
        count = torch.zeros_like(X).scatter_add(1, Y.clamp_min(0), listed)
        outside = (count == 0).to(X.dtype)
        pairs = (1 - X[:, :, None] + X[:, None, :] > 0) * count[:, :, None] * outside[:, None, :]
        scale = unreduce(dy.reshape(-1), ctx.reduction, X.shape[:1]) / X.shape[1]
        dX = scale[:, None] * (pairs.sum(1) - pairs.sum(2))
        return dX.reshape(x.shape), None, None
