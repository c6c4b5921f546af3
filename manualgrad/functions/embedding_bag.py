"""Bags of looked-up rows reduced to one: ``embedding_bag`` (sum, mean, max)."""

from __future__ import annotations

import torch

from ._base import Function, owned
from ._transform import values_hidden
from .embedding import _sparse_grad

_LOW = (torch.float16, torch.bfloat16)
MODES = {"sum": 0, "mean": 1, "max": 2}


def bag_of(idx: torch.Tensor, offsets: torch.Tensor, include_last_offset: bool, padding_idx):
    """(bag, valid): for each position k of the flat ``idx``, the bag it falls in (the number of
    bag starts ≤ k, less one) and whether it counts: not ``padding_idx``, and before the end of
    the last bag (``offsets[-1]`` with ``include_last_offset``)."""
    starts = offsets[:-1] if include_last_offset else offsets
    pos = torch.arange(idx.numel(), device=idx.device)
    bag = torch.searchsorted(starts.to(torch.int64), pos, right=True) - 1
    valid = bag >= 0
    if include_last_offset and offsets.numel():
        valid = valid & (pos < offsets[-1])
    if padding_idx is not None:
        valid = valid & (idx != padding_idx)
    return bag.clamp(min=0), valid


class EmbeddingBagFunction(Function):
    """y_b = ⊕_{k in bag b} s_k · w[idx_k]   (k over the bag's non-padding positions;
    ⊕ = Σ (sum, s_k = per_sample_weights or 1), the mean Σ/|b| (s = 1), or the elementwise max)

    sum:   dw[idx_k] += s_k·dy_{b(k)},  ds_k = ⟨dy_{b(k)}, w[idx_k]⟩
    mean:  dw[idx_k] += dy_{b(k)} / |b(k)|
    max:   dw[i*_bd, d] += dy_bd   (i*_bd: the row that won dimension d of bag b; empty bags none)
    scale_grad_by_freq: each k's contribution divided by the count of idx_k in the whole input;
    sparse: the sum left unreduced as a sparse COO tensor. Padding positions contribute nothing.
    dw is linear in dy (index_add / scatter_add of it): differentiable as written.
    Saves idx and offsets (each position's bag is recomputed from them), and: the weights s
    (sum with s, for dw), w (for ds), the winners i* (max). torch also saves offset2bag and the
    bag sizes.
    """

    @staticmethod
    def forward(w, idx, offsets, psw, mode, scale_grad_by_freq, sparse, include_last_offset, padding_idx):
        if offsets.numel() - include_last_offset == 0 and idx.numel():
            return _no_bags(w, idx, padding_idx)
        if include_last_offset and offsets.numel() and not values_hidden() and int(offsets[-1]) < idx.numel():
            # positions past the last bag's end belong to no bag: torch 2.13's kernel leaves them out
            # of a sum but counts them in a mean's divisor and a max (and its sum backward writes
            # garbage there), so it gets only the positions inside the bags
            end = int(offsets[-1])
            bad = ((idx < 0) | (idx >= w.shape[0])).nonzero()
            if bad.numel():  # torch checks every index (in full precision; in half its backward then crashes)
                raise RuntimeError("embedding_bag: Expected idx >= 0 && idx < num_embeddings but found idx to be "
                                   f"{int(idx[bad[0, 0]])}")
            idx, psw = idx[:end], None if psw is None else psw[:end]
        out, _, _, max_indices = torch.embedding_bag(w, idx, offsets, scale_grad_by_freq, MODES[mode], sparse, psw,
                                                     include_last_offset, padding_idx)
        return owned(out), max_indices

    @staticmethod
    def setup_context(ctx, inputs, output):
        w, idx, offsets, psw, ctx.mode, ctx.freq, ctx.sparse, last, padding_idx = inputs
        ctx.mark_non_differentiable(output[1])
        need_w, need_psw = ctx.needs_input_grad[0], ctx.needs_input_grad[3]
        if padding_idx is not None and padding_idx < 0:  # counted from the end, as torch's kernel
            padding_idx += w.shape[0]
        ctx.save_for_backward(idx, offsets, psw if need_w else None, w if need_psw else None,
                              output[1] if ctx.mode == "max" else None)
        ctx.w_shape, ctx.last, ctx.padding_idx = w.shape, last, padding_idx

    @staticmethod
    def backward(ctx, dy, _dmax):
        idx, offsets, psw, w, winners = ctx.saved_tensors
        need_w, need_psw = ctx.needs_input_grad[0], ctx.needs_input_grad[3]
        bag, valid = bag_of(idx, offsets, ctx.last, ctx.padding_idx)  # recomputed: one searchsorted
        if dy.shape[0] == 0:  # no bags: nothing counts (torch 2.13's CPU backward segfaults here)
            return (dy.new_zeros(ctx.w_shape) if need_w else None, None, None,
                    dy.new_zeros(idx.shape) if need_psw else None, None, None, None, None, None)
        rows = dy[bag]  # dy_{b(k)}
        dpsw = (rows * w[idx]).sum(1).masked_fill(~valid, 0) if need_psw else None  # 0 where k does not count
        rows = rows.masked_fill(~valid.unsqueeze(1), 0)
        dw = None
        if need_w:
            if ctx.mode == "max":
                dw = _max_grad(ctx, dy, winners, bag, valid)
            else:
                dw = _scatter_grad(ctx, rows, idx, bag, valid, psw, dy.shape[0])
        return dw, None, None, dpsw, None, None, None, None, None


def _no_bags(w, idx, padding_idx):
    """No bags but some indices: torch 2.13's CPU kernel segfaults here (it reads bag 0). The
    answer is (0, d); torch's checks of padding_idx and of the index range still hold."""
    n = w.shape[0]
    if padding_idx is not None and not -n <= padding_idx < n:
        raise RuntimeError(f"padding_idx must be within the number of embeddings, -{n} through {n - 1}, but got "
                           f"{padding_idx}")
    bad = ((idx < 0) | (idx >= n)).nonzero()
    if bad.numel():
        k = int(bad[0, 0])
        raise RuntimeError(f"Index {k} of input takes value {int(idx[k])} which is not in the valid range [0, {n})")
    return w.new_zeros(0, w.shape[1]), idx.new_zeros(0, w.shape[1])


def _scatter_grad(ctx, rows, idx, bag, valid, psw, n_bags):
    """dw of sum/mean: the rows dy_{b(k)} scaled by s_k (sum) or 1/|b(k)| (mean) and by the
    frequency, added into the looked-up rows (float32 for half inputs, rounded once)."""
    dtype = rows.dtype
    rows = rows.float() if dtype in _LOW else rows
    if psw is not None:  # s_k only where k counts: a padding position's inf or NaN weight times 0 is NaN
        rows = rows * psw.to(rows.dtype).masked_fill(~valid, 0).unsqueeze(1)
    if ctx.mode == "mean":
        size = rows.new_zeros(n_bags).index_add(0, bag, valid.to(rows.dtype))  # |b|: counted positions
        rows = rows / size[bag].clamp(min=1).unsqueeze(1)
    if ctx.freq:
        counts = idx.new_zeros(ctx.w_shape[0]).index_add_(0, idx, torch.ones_like(idx))
        rows = rows / counts[idx].unsqueeze(1)
    if ctx.sparse:
        return _sparse_grad(idx, rows, None, ctx.w_shape).to(dtype)
    return rows.new_zeros(ctx.w_shape).index_add(0, idx, rows).to(dtype)


def _max_grad(ctx, dy, winners, bag, valid):
    """dw of max: dy_bd added at (i*_bd, d), for the bags that hold a counted position (none
    where w has no rows: the scatter would index row 0)."""
    if ctx.w_shape[0] == 0:
        return dy.new_zeros(ctx.w_shape)
    filled = torch.zeros(dy.shape[0], dtype=torch.bool, device=dy.device)
    filled = filled.index_fill(0, bag[valid], True)
    src = dy.masked_fill(~filled.unsqueeze(1), 0)
    return dy.new_zeros(ctx.w_shape).scatter_add(0, winners.masked_fill(~filled.unsqueeze(1), 0), src)
