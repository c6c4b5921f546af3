"""Weight penalties: ``l1_l2_penalty`` (L1 and L2 regularisation as an explicit loss term)."""

from __future__ import annotations

import torch

from ._base import Function


class PenaltyFunction(Function):
    """y = l1 · Σ|w| + ½ · l2 · Σ w²   (a scalar added to the loss)

    dw = dy · (l1 · sign(w) + l2 · w)
    sign(0) = 0, as torch's subgradient of |w| at 0 (an exact zero weight stays put under L1).
    The ½ makes the L2 term's gradient l2·w, the same step as ``weight_decay=l2`` in SGD.
    Saves w (the gradient is a function of it, and w is alive anyway as a parameter).
    """

    @staticmethod
    def forward(w, l1, l2):
        y = w.new_zeros(())
        if l1:
            y = y + l1 * w.abs().sum()
        if l2:
            y = y + 0.5 * l2 * w.square().sum()
        return y

    @staticmethod
    def setup_context(ctx, inputs, output):
        w, l1, l2 = inputs
        ctx.save_for_backward(w)
        ctx.l1, ctx.l2 = l1, l2

    @staticmethod
    def backward(ctx, dy):
        (w,) = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None, None
        dw = torch.zeros_like(w)
        if ctx.l1:
            dw = dw + ctx.l1 * torch.sign(w)
        if ctx.l2:
            dw = dw + ctx.l2 * w
        return dy * dw, None, None
