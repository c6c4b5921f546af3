"""Reductions: ``sum``, ``mean``, ``var``/``std``/``var_mean``, ``linalg.vector_norm``,
``amax``/``amin``, ``max``/``min`` along a dim, ``logsumexp``, ``cumsum``.

R reduces x over the dims D (all dims for ``None`` or ``()``); N = Π_{d∈D} size(x, d). Every
backward first gives dy back the reduced dims (size 1, unless ``keepdim``: :func:`_restore`), so
that it broadcasts against x:

    sum:        dx = dy                          mean: dx = dy / N
    var:        dx = dy · 2(x − μ) / (N − c)     std:  dx = dy · (x − μ) / ((N − c)·σ), 0 where σ = 0
    amax/amin:  dx = dy · [x = y] / #{x = y}     (a tie shares dy evenly, as torch)
    max/min(dim): dy to the returned index only (torch's value_selecting_reduction_backward)
    logsumexp:  dx = dy · e^(x − y)
    cumsum:     dx = reverse cumsum of dy along dim
    vector_norm: see :class:`VectorNormFunction`

Each gradient comes back in x's dtype (``dtype=`` computes in another). Half/bfloat16 backward
of the nonlinear ones runs in float32 and rounds once (``opmath``).
"""

from __future__ import annotations

import math

import torch

from ._base import Function
from ._precision import opmath


def _dims(dim, ndim: int) -> tuple:
    """The reduced dims, non-negative and sorted (None, () and []: every dim)."""
    if dim is None or (not isinstance(dim, int) and len(dim) == 0):
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    return tuple(sorted(d % ndim for d in dims)) if ndim else ()


def _restore(dy: torch.Tensor, dims: tuple, keepdim: bool) -> torch.Tensor:
    """dy with the reduced dims back as size 1 (nothing to do with keepdim)."""
    if not keepdim:
        for d in dims:
            dy = dy.unsqueeze(d)
    return dy


def _count(shape, dims) -> int:
    """N: the number of elements each output reduces (a plain loop: Dynamo traces no generator here)."""
    n = 1
    for d in dims:
        n *= shape[d]
    return n


def _nonzero(t: torch.Tensor) -> torch.Tensor:
    """t with its zeros replaced by 1: the denominator of a quotient that ``where`` then masks
    where t = 0, so that no ∞·0 = NaN comes back through the masked branch in double backward."""
    return torch.where(t == 0, torch.ones((), dtype=t.dtype, device=t.device), t)


def norm_grad(g: torch.Tensor, x: torch.Tensor, y: torch.Tensor, p: float, dims) -> torch.Tensor | None:
    """dx of y = ‖x‖_p over ``dims`` for an upstream g (g and y with the dims kept, size 1):
    g · sgn(x)·|x|^(p−1) / y^(p−1), 0 where y = 0 (p < 1: also where x = 0); p = 1: g · sgn x;
    p = ±∞: the ties of |x| = y share g; p = 0: None (a count has no gradient, as torch)."""
    zero = g.new_zeros(())
    if p == 0:
        return None
    if p == 1:
        return g * torch.sgn(x)
    if math.isinf(p):  # a NaN entry is no tie (0 there, as torch's); a non-finite g still spreads
        hit = x.abs() == y
        return torch.where(hit, torch.sgn(x), zero) * (g / hit.sum(dims, keepdim=True).clamp_min(1).to(g.dtype))
    if p == 2:
        return g * torch.where(y == 0, zero, x / _nonzero(y))
    slope = torch.sgn(x) * x.abs().pow(p - 1)
    if p < 1:  # |0|^(p−1) = ∞: torch takes 0 there
        slope = torch.where(x == 0, zero, slope)
    return slope * torch.where(y == 0, zero, g / _nonzero(y).pow(p - 1))


def _setup(ctx, x, dim, keepdim):
    ctx.dims, ctx.keepdim, ctx.x_shape, ctx.x_dtype = _dims(dim, x.dim()), keepdim, x.shape, x.dtype


class SumFunction(Function):
    """y = Σ_D x  (``mean``: y = Σ_D x / N)
    dx = dy (mean: dy / N), broadcast back over D
    Saves nothing but shapes."""

    @staticmethod
    def forward(x, dim, keepdim, dtype, mean):
        return (torch.mean if mean else torch.sum)(x, dim, keepdim, dtype=dtype)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, dim, keepdim, _, mean = inputs
        _setup(ctx, x, dim, keepdim)
        ctx.mean = mean

    @staticmethod
    def backward(ctx, dy):
        g = _restore(dy, ctx.dims, ctx.keepdim)
        n = _count(ctx.x_shape, ctx.dims)
        if ctx.mean and n:
            g = g / n
        return g.expand(ctx.x_shape).to(ctx.x_dtype), None, None, None, None


class VarMeanFunction(Function):
    """v = Σ_D (x − μ)² / (N − c)  (c = correction),  μ = Σ_D x / N;  ``std``: v = √var.
    Returns (v, μ):
    dx = dv · 2(x − μ)/(N − c) + dμ / N                     (var)
    dx = dv · (x − μ)/((N − c)·σ), 0 where σ = 0, + dμ / N   (std: ∂σ = ∂var / 2σ)
    Saves x (μ is recomputed: the caller may modify the returned μ in place) and, for std, σ
    (as torch)."""

    @staticmethod
    def forward(x, dim, correction, keepdim, std):
        return (torch.std_mean if std else torch.var_mean)(x, dim, correction=correction, keepdim=keepdim)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, dim, correction, keepdim, std = inputs
        _setup(ctx, x, dim, keepdim)
        ctx.set_materialize_grads(False)
        ctx.correction, ctx.std = correction, std
        ctx.save_for_backward(x, output[0] if std else None)  # not μ: the caller may modify it in place

    @staticmethod
    @opmath
    def backward(ctx, dv, dmean):
        x, sigma = ctx.saved_tensors
        n = _count(ctx.x_shape, ctx.dims)
        dx = None
        if dv is not None:
            g = _restore(dv, ctx.dims, ctx.keepdim)
            if ctx.std:
                s = _restore(sigma, ctx.dims, ctx.keepdim)
                g = torch.where(s == 0, g.new_zeros(()), g / (2 * _nonzero(s)))
            dof = n - (1 if ctx.correction is None else ctx.correction)
            scale = 2 / dof if dof else math.inf  # torch's 2.0 / 0 in C++: inf (NaN after · 0)
            dx = g * scale * (x - x.mean(ctx.dims, keepdim=True))
        if dmean is not None:
            gm = _restore(dmean, ctx.dims, ctx.keepdim) / n
            dx = gm.expand(ctx.x_shape) if dx is None else dx + gm
        return dx, None, None, None, None


class AmaxFunction(Function):
    """y = max_D x  (``smallest``: min_D x)
    dx = dy · [x = y] / #{x = y over D}   (ties share dy evenly, as torch's amax/amin)
    Saves x and y."""

    @staticmethod
    def forward(x, dim, keepdim, smallest):
        return (torch.amin if smallest else torch.amax)(x, dim, keepdim)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, dim, keepdim, _ = inputs
        _setup(ctx, x, dim, keepdim)
        ctx.save_for_backward(x, output)

    @staticmethod
    def backward(ctx, dy):
        x, y = ctx.saved_tensors
        hit = (x == _restore(y, ctx.dims, ctx.keepdim)).to(dy.dtype)
        count = hit.sum(ctx.dims, keepdim=True)
        return _restore(dy, ctx.dims, ctx.keepdim) / count * hit, None, None, None


class MaxDimFunction(Function):
    """(y, i) = max of x along ``dim`` and its index  (``smallest``: min)
    dx = dy scattered to the returned index i (zeros elsewhere); i is not differentiable
    Saves i."""

    @staticmethod
    def forward(x, dim, keepdim, smallest):
        values, indices = (torch.min if smallest else torch.max)(x, dim, keepdim)
        return values, indices

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, dim, keepdim, _ = inputs
        _setup(ctx, x, dim, keepdim)
        ctx.mark_non_differentiable(output[1])
        ctx.save_for_backward(output[1])

    @staticmethod
    def backward(ctx, dy, _):
        (i,) = ctx.saved_tensors
        if not ctx.x_shape:  # 0-d x: y is x
            return dy.to(ctx.x_dtype), None, None, None
        d = ctx.dims[0]
        dy, i = _restore(dy, ctx.dims, ctx.keepdim), _restore(i, ctx.dims, ctx.keepdim)
        return dy.new_zeros(ctx.x_shape).scatter(d, i, dy), None, None, None


class LogsumexpFunction(Function):
    """y = log Σ_D eˣ
    dx = dy · e^(x − y)   (softmax of x over D)
    Saves x and y."""

    @staticmethod
    def forward(x, dim, keepdim):
        return torch.logsumexp(x, dim, keepdim)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, dim, keepdim = inputs
        _setup(ctx, x, dim, keepdim)
        ctx.save_for_backward(x, output)

    @staticmethod
    @opmath
    def backward(ctx, dy):
        x, y = ctx.saved_tensors
        return _restore(dy, ctx.dims, ctx.keepdim) * torch.exp(x - _restore(y, ctx.dims, ctx.keepdim)), None, None


class CumsumFunction(Function):
    """y_j = Σ_{k ≤ j} x_k along dim
    dx_k = Σ_{j ≥ k} dy_j: the cumsum of dy reversed along dim
    Saves nothing."""

    @staticmethod
    def forward(x, dim, dtype):
        return torch.cumsum(x, dim, dtype=dtype)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, dim, _ = inputs
        ctx.dim, ctx.x_dtype = (dim % x.dim() if x.dim() else 0), x.dtype

    @staticmethod
    def backward(ctx, dy):
        if dy.dim() == 0:
            return dy.to(ctx.x_dtype), None, None
        return dy.flip(ctx.dim).cumsum(ctx.dim).flip(ctx.dim).to(ctx.x_dtype), None, None


class VectorNormFunction(Function):
    """y = (Σ_D |x|ᵖ)^(1/p)   (p = ord; ∞: max |x|, −∞: min |x|, 0: the count of nonzeros)

    dx = dy · sgn(x)·|x|^(p−1) / y^(p−1), 0 where y = 0 (and, p < 1, where x = 0)   (p = 2: dy · x / y)
    p = 1: dy · sgn x;  p = 0: none (None, as torch);  p = ±∞: dy · sgn(x)·[|x| = y] / #{|x| = y} (ties share)
    Saves x and y."""

    @staticmethod
    def forward(x, ord, dim, keepdim, dtype):
        return torch.linalg.vector_norm(x, ord, dim, keepdim, dtype=dtype)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, p, dim, keepdim, _ = inputs
        _setup(ctx, x, dim, keepdim)
        ctx.p = float(p)
        ctx.save_for_backward(x, output)

    @staticmethod
    @opmath
    def backward(ctx, dy):
        x, y = ctx.saved_tensors
        p = ctx.p
        x = x.to(y.dtype)
        g, y = _restore(dy, ctx.dims, ctx.keepdim), _restore(y, ctx.dims, ctx.keepdim)
        dx = norm_grad(g, x, y, p, ctx.dims)
        if dx is None:  # p = 0: a count, piecewise constant, and torch gives no gradient at all
            return None, None, None, None, None
        return dx.to(ctx.x_dtype), None, None, None, None
