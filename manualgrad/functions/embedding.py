"""Lookup table: ``embedding``."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._base import Function
from ._transform import save_for_forward

_LOW = (torch.float16, torch.bfloat16)


class EmbeddingFunction(Function):
    """y[i…] = w[idx[i…]]   (idx: any shape of int64/int32 row numbers, w: (n, d), y: (*idx.shape, d))

    dw = Σ_k e_{idx_k} ⊗ dy_k        every looked-up row receives its dy row; a repeated index
                                     accumulates: dw = zeros(n, d).index_add(0, idx.flatten(), dy_rows)
      padding_idx p:          the dy rows whose index is p are dropped (row p of dw stays 0)
      scale_grad_by_freq:     dy_k is divided by c(idx_k), the count of idx_k in this idx
      sparse:                 the same sum left unreduced, as a sparse COO tensor
                              (indices idx.flatten(), values dy_rows; padding rows dropped)
    d idx = None                     (integer indices are not differentiable)
    jvp: dy = dw[idx]                (linear in w)
    Double backward: dw is linear in dy and written with out-of-place ops (masked_fill, index_add),
    so autograd differentiates it: d(dw)/d(dy) is the gather ddw[idx], masked and scaled the same way.
    Saves only idx (what the scatter reads; y, w and dy are not needed), and only when w needs
    a gradient — as torch, which saves the indices too. Half/bfloat16: the rows are summed in
    float32 and rounded once (an index_add in bf16 would round at every add).
    """

    @staticmethod
    def forward(idx, w, padding_idx, scale_grad_by_freq, sparse):
        return F.embedding(idx, w)  # the lookup; padding_idx only changes the gradient

    @staticmethod
    def setup_context(ctx, inputs, output):
        idx, w, padding_idx, scale_grad_by_freq, sparse = inputs
        ctx.save_for_backward(idx if ctx.needs_input_grad[1] else None)
        save_for_forward(ctx, idx)
        ctx.w_shape = w.shape
        ctx.padding_idx, ctx.scale_grad_by_freq, ctx.sparse = padding_idx, scale_grad_by_freq, sparse

    @staticmethod
    def backward(ctx, dy):
        if not ctx.needs_input_grad[1]:
            return None, None, None, None, None
        (idx,) = ctx.saved_tensors
        n, d = ctx.w_shape
        flat = idx.reshape(-1)
        rows = dy.reshape(flat.numel(), d)
        if dy.dtype in _LOW:
            rows = rows.float()  # accumulate in float32, round once below
        if ctx.padding_idx is not None:
            rows = rows.masked_fill((flat == ctx.padding_idx).unsqueeze(1), 0)
        if ctx.scale_grad_by_freq:
            counts = flat.new_zeros(n).index_add_(0, flat, torch.ones_like(flat))  # c(j), every row j
            rows = rows / counts[flat].unsqueeze(1)
        if ctx.sparse:
            dw = _sparse_grad(flat, rows, ctx.padding_idx, (n, d))
        else:
            dw = rows.new_zeros(n, d).index_add(0, flat, rows)
        return None, dw.to(dy.dtype), None, None, None

    @staticmethod
    def jvp(ctx, _, dw, *rest):
        (idx,) = ctx.saved_tensors
        return F.embedding(idx, dw)


def _sparse_grad(flat: torch.Tensor, rows: torch.Tensor, padding_idx: int | None, shape) -> torch.Tensor:
    """The uncoalesced COO gradient torch builds: one entry per looked-up row, padding rows left
    out (a boolean selection, so one host sync when padding_idx is set)."""
    if padding_idx is not None:
        keep = flat != padding_idx
        flat, rows = flat[keep], rows[keep]
    return torch.sparse_coo_tensor(flat.long().unsqueeze(0), rows, shape, check_invariants=False)
