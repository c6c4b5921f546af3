"""Normalised exponentials: ``softmax``, ``softmin`` (softmax of −x) and ``log_softmax`` along one dim."""

from __future__ import annotations

import torch

from ._base import Function
from ._precision import opmath
from ._transform import save_for_forward


def _to(x: torch.Tensor, dtype):
    return x if dtype is None else x.to(dtype)


def _save_output_and_dim(ctx, inputs, output):
    """Both Functions save y (their Jacobian is a function of it), the dim and x's dtype."""
    x, dim, _ = inputs
    ctx.save_for_backward(output)
    save_for_forward(ctx, output)
    ctx.dim, ctx.x_dtype = dim, x.dtype


def _softmax_jacobian(y, g, dim):
    """(diag(y) − y yᵀ) g along ``dim``: softmax's Jacobian (symmetric) applied to g."""
    return y * (g - (g * y).sum(dim, keepdim=True))


class SoftmaxFunction(Function):
    """y = exp(x − logsumexp(x))   along ``dim`` (x first cast to ``dtype`` if given)

    dx = y ⊙ (dy − Σ_dim dy ⊙ y)    (the Jacobian diag(y) − y yᵀ applied to dy), in x's dtype
    jvp: dy = y ⊙ (dx − Σ_dim dx ⊙ y)   (the same symmetric Jacobian), in y's dtype
    Saves y: the Jacobian is a function of it.
    """

    @staticmethod
    def forward(x, dim, dtype):
        return torch.softmax(_to(x, dtype), dim)

    setup_context = staticmethod(_save_output_and_dim)

    @staticmethod
    @opmath
    def backward(ctx, dy):
        (y,) = ctx.saved_tensors
        dx = _softmax_jacobian(y, dy, ctx.dim)
        return dx.to(ctx.x_dtype), None, None

    @staticmethod
    def jvp(ctx, dx, *_):
        (y,) = ctx.saved_tensors
        return _softmax_jacobian(y, dx.to(y.dtype), ctx.dim)


class SoftminFunction(Function):
    """y = softmax(−x)   along ``dim`` (−x first cast to ``dtype`` if given, as torch's softmin)

    dx = −y ⊙ (dy − Σ_dim dy ⊙ y)     (softmax's Jacobian, negated by the chain rule through −x), in x's dtype
    jvp: dy = −y ⊙ (dx − Σ_dim dx ⊙ y), in y's dtype
    Saves y, as softmax.
    """

    @staticmethod
    def forward(x, dim, dtype):
        return torch.softmax(_to(-x, dtype), dim)

    setup_context = staticmethod(_save_output_and_dim)

    @staticmethod
    @opmath
    def backward(ctx, dy):
        (y,) = ctx.saved_tensors
        dx = -_softmax_jacobian(y, dy, ctx.dim)
        return dx.to(ctx.x_dtype), None, None

    @staticmethod
    def jvp(ctx, dx, *_):
        (y,) = ctx.saved_tensors
        return -_softmax_jacobian(y, dx.to(y.dtype), ctx.dim)


class LogSoftmaxFunction(Function):
    """y = x − logsumexp(x)   along ``dim`` (x first cast to ``dtype`` if given)

    dx = dy − exp(y) ⊙ Σ_dim dy     in x's dtype
    jvp: dy = dx − Σ_dim exp(y) ⊙ dx   (J = I − 1 softmaxᵀ), in y's dtype
    Saves y: softmax = exp(y) is all the backward needs.
    """

    @staticmethod
    def forward(x, dim, dtype):
        return torch.log_softmax(_to(x, dtype), dim)

    setup_context = staticmethod(_save_output_and_dim)

    @staticmethod
    @opmath
    def backward(ctx, dy):
        (y,) = ctx.saved_tensors
        dx = dy - torch.exp(y) * dy.sum(ctx.dim, keepdim=True)
        return dx.to(ctx.x_dtype), None, None

    @staticmethod
    def jvp(ctx, dx, *_):
        (y,) = ctx.saved_tensors
        dx = dx.to(y.dtype)
        return dx - (torch.exp(y) * dx).sum(ctx.dim, keepdim=True)
