"""``linear_cross_entropy``: cross-entropy of a linear layer's logits, chunk by chunk of rows, so
the (N, V) logits never exist in full, forward or backward."""

from __future__ import annotations

from types import SimpleNamespace

import torch
import torch.nn.functional as F

from ._base import Function
from ._reduction import reduce
from .cross_entropy import CrossEntropyFunction, _index_grad
from .nll import grad_scale, target_weights

_LOW = (torch.float16, torch.bfloat16)
CHUNK_BYTES = 64 * 2**20  # a chunk's float32 logits stay under this (tests patch it smaller)


def chunk_rows(n_classes: int, requested: int | None = None) -> int:
    """Rows per chunk: ``requested`` (``LinearCrossEntropyOptions.batch_chunk_size``) or as many
    as keep one chunk's float32 logits under :data:`CHUNK_BYTES`."""
    if requested:
        return int(requested)
    return max(1, CHUNK_BYTES // (4 * max(n_classes, 1)))


def _logits(x, w, b):
    """One chunk's logits, in float32 for half/bfloat16 (the matmul accumulates in float32)."""
    z = F.linear(x, w, b)
    return z.float() if z.dtype in _LOW else z


def _chunk_grad(ce, g, xc, w, b, tc, cw):
    """dz = g (p Q − q) of one chunk, its logits recomputed; the logits die inside softmax and p
    on return, so at most two (chunk, V) buffers exist at once."""
    p = torch.softmax(_logits(xc, w, b), 1)
    return _index_grad(ce, g, p, p, tc, cw)  # (its z argument gives only the shape)


class LinearCrossEntropyFunction(Function):
    """y = R(ℓ),  ℓ_i = CE(z_i, t_i),  z_i = W x_i + b   (x: (N, H), W: (V, H), t: (N,) indices)
    with cross_entropy's class weights, ignore_index, label_smoothing ε and reduction R (see
    :class:`~manualgrad.functions.cross_entropy.CrossEntropyFunction`, whose forward computes
    each chunk's ℓ). Rows are taken ``chunk`` at a time; a chunk's logits live only inside it.

    dz_i = g_i (p_i Q_i − q_i),  p_i = softmax(z_i)   (cross_entropy's gradient; g = dy, or dy / D
           for 'mean'; unweighted, ε = 0: g_i (p_i − onehot(t_i)); ε: q_i = (1 − ε) onehot + ε/V)
    dx_c = dz_c W ;  dW = Σ_chunks dz_cᵀ x_c ;  db = Σ_chunks Σ_rows dz_c
    The backward recomputes each chunk's logits (one more x_c Wᵀ per chunk: the price of never
    holding N×V) and takes p = softmax(z) directly, so a chunk holds at most two (chunk, V)
    buffers (z then p, p then dz). Half/bfloat16: the logits are rounded to the input dtype (as
    torch's composite rounds linear's output), softmax and dz are float32; dW and db accumulate in
    float32 across chunks and are rounded once.
    Saves x, W, b, t and the class weight, all of them inputs (no new memory), and nothing of size
    N×V. Not even the per-row logsumexp: the backward needs the chunk's logits again anyway, and
    the softmax over them costs O(chunk·V) next to the three O(chunk·V·H) matmuls.
    The loss is returned in ``out_dtype`` (float32 under autocast, as torch's composite) or x's
    dtype. The backward is written in differentiable ops (the chunk writes are slice copies,
    the dW/db accumulations in-place adds autograd records), so a double backward differentiates
    through the recomputed logits: gradgradcheck passes.
    """

    @staticmethod
    def forward(x, w, b, t, cw, ignore_index, reduction, eps, chunk, out_dtype):
        if not x.shape[0]:  # no rows: cross_entropy's reduction of nothing (with ε > 0 over no classes, 'sum' is NaN)
            return CrossEntropyFunction.forward(_logits(x, w, b), t, cw, ignore_index, reduction, eps,
                                                False)[0].to(out_dtype or x.dtype)
        losses = [CrossEntropyFunction.forward(_logits(x[i:i + chunk], w, b), t[i:i + chunk], cw, ignore_index,
                                               "none", eps, False)[0]
                  for i in range(0, x.shape[0], chunk)]
        loss = torch.cat(losses)
        omega = target_weights(t, cw, ignore_index, loss)[2]
        return reduce(loss, reduction, omega.sum() if reduction == "mean" else None).to(out_dtype or x.dtype)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, w, b, t, cw, ignore_index, reduction, eps, chunk, _ = inputs
        ctx.save_for_backward(x, w, b, t, cw)
        ctx.ce = SimpleNamespace(eps=eps, ignore_index=ignore_index, reduction="none", all_kept=False)
        ctx.reduction, ctx.chunk = reduction, chunk

    @staticmethod
    def backward(ctx, dy):
        x, w, b, t, cw = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        acc = torch.float32 if x.dtype in _LOW else x.dtype
        omega = target_weights(t, cw, ctx.ce.ignore_index, x.new_empty(0, dtype=acc))[2]
        g = grad_scale(dy.to(acc), ctx.reduction, omega)  # ∂y/∂ℓ_i, per row
        dx = torch.empty_like(x) if need_x else None
        dw = db = None  # the first chunk's products start the sums (batched ones under vmap)
        for i in range(0, x.shape[0], ctx.chunk):
            xc, tc = x[i:i + ctx.chunk], t[i:i + ctx.chunk]
            dz = _chunk_grad(ctx.ce, g[i:i + ctx.chunk], xc, w, b, tc, cw)
            if need_x:
                dx[i:i + ctx.chunk] = dz.to(w.dtype) @ w
            if need_w:  # float32 product: one rounding of dW, as one big matmul
                dw = _accumulate(dw, dz.t() @ xc.to(acc))
            if need_b:
                db = _accumulate(db, dz.sum(0))
            del dz  # before the next chunk's logits exist: one chunk's buffers alive at a time
        return (dx, _total(dw, w, need_w, acc), _total(db, b, need_b, acc), None, None, None, None, None, None, None)


def _accumulate(total, part):
    """``total += part`` in place, ``part`` itself for the first chunk."""
    return part if total is None else total.add_(part)


def _total(total, like, needed: bool, acc):
    """A summed gradient in ``like``'s dtype (zeros when there were no rows), None if not needed."""
    if not needed:
        return None
    return (torch.zeros(like.shape, dtype=acc, device=like.device) if total is None else total).to(like.dtype)
