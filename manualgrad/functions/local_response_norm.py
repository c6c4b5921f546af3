"""Local response normalisation (AlexNet's): each channel divided by the energy of its neighbours."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._base import Function
from ._precision import opmath


def window_sum(z: torch.Tensor, before: int, after: int) -> torch.Tensor:
    """S(z)_c = Σ_{j = c − before}^{c + after} z_j along dim 1 (channels), zeros outside [0, C)."""
    channels = z.shape[1]
    padded = F.pad(z.movedim(1, -1), (before, after)).movedim(-1, 1)
    total = padded.narrow(1, 0, channels)
    for j in range(1, before + after + 1):
        total = total + padded.narrow(1, j, channels)
    return total


class LocalResponseNormFunction(Function):
    """y = x ⊙ d^(−β),  d = k + (α/n)·S(x²),  S(z)_c = Σ_{j=c−⌊n/2⌋}^{c+⌊(n−1)/2⌋} z_j over channels
    (n = size; channels outside [0, C) are zero, as torch's zero padding before its avg_pool)

    dx = dy ⊙ d^(−β) − (2αβ/n) · x ⊙ Sᵀ(dy ⊙ x ⊙ d^(−β−1))
         the first term holds d fixed; the second is d's dependence on every x² in its window,
         Sᵀ (the adjoint window sum) running over the channels whose window holds c: the same sum
         with ⌊n/2⌋ and ⌊(n−1)/2⌋ swapped.
    Saves x only, d is recomputed (torch's composite keeps x, x², the padded and pooled sums, d^β).
    """

    @staticmethod
    def forward(x, size, alpha, beta, k):
        return x / _denominator(x, size, alpha, k).pow(beta)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, ctx.size, ctx.alpha, ctx.beta, ctx.k = inputs
        ctx.save_for_backward(x)

    @staticmethod
    @opmath
    def backward(ctx, dy):
        if not ctx.needs_input_grad[0]:
            return (None,) * 5
        (x,) = ctx.saved_tensors
        n, alpha, beta = ctx.size, ctx.alpha, ctx.beta
        d = _denominator(x, n, alpha, ctx.k)  # recomputed from x: one window sum (and x-dependent
        scale = d.pow(-beta)                   # for a double backward)
        dx = dy * scale - (2 * alpha * beta / n) * x * window_sum(dy * x * scale / d, (n - 1) // 2, n // 2)
        return dx, None, None, None, None


def _denominator(x: torch.Tensor, size: int, alpha: float, k: float) -> torch.Tensor:
    """d = k + (α/n)·S(x²), in float32 for half inputs (torch's avg_pool sums in float32 too)."""
    x2 = x.float().square() if x.dtype in (torch.float16, torch.bfloat16) else x * x
    return (window_sum(x2, size // 2, (size - 1) // 2) * (alpha / size) + k).to(x.dtype)
