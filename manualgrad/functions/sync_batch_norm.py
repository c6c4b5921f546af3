"""Synchronised batch normalisation: training-mode BatchNorm whose statistics are those of the
batch of every process of a group together (``torch.nn.SyncBatchNorm`` under DDP)."""

from __future__ import annotations

import torch
import torch.distributed as dist

from ._base import Function
from . import _normalize as nz
from .batch_norm import _channels, _transform, _update_running


class SyncBatchNormFunction(Function):
    """y = w_c ⊙ x̂ + b_c,  x̂ = (x − μ_c)·rstd_c, with μ, σ² over (N, spatial) of the batches of all
    R ranks of ``group`` together (rank r holds n_r values per channel; N = Σ_r n_r):
        rank r: n_r, m_r = mean of its x, M2_r = Σ (x − m_r)²          (per channel, centred: exact)
        μ = Σ_r n_r·m_r / N ;  σ² = (Σ_r M2_r + Σ_r n_r·(m_r − μ)²) / N   (Chan's parallel variance)
        rstd = (σ² + eps)^−½ ;  running_mean ← (1 − m)·running_mean + m·μ,
                                running_var  ← (1 − m)·running_var + m·σ²·N/(N − 1), in place
    (a rank with an empty batch sends n_r = 0, m_r = M2_r = 0 and contributes nothing; no values
    anywhere, N = 0, leaves the running stats alone, as BatchNorm's empty batch).
    The loss is Σ_r L_r, and μ, rstd depend on every rank's x, so with ĝ = dy ⊙ w and the global sums
        S = Σ_{all ranks, N, spatial} dy ;  P = Σ_{all ranks, N, spatial} dy ⊙ x̂
        dx = w·rstd·(dy − S/N − x̂·P/N)            (BatchNorm's dx, its means taken over N values)
        dw = Σ_{this rank} dy ⊙ x̂ ;  db = Σ_{this rank} dy   (local sums, as torch's: DDP then
                                                            averages the parameter gradients)
    On the wire: forward one all_gather of (n_r, m_r, M2_r), 2C + 1 numbers per rank (an
    all_reduce of sums cannot combine variances without cancellation); backward, only when dx is
    needed (as torch's), one all_reduce of (Σ dy, Σ dy ⊙ x̂), 2C numbers. Every rank calls both,
    an empty one included, or the others would wait forever.
    Saves x (for dw or dx), w (for dx), μ, rstd (C floats each) and N; torch saves x, w, μ,
    invstd and the per-rank counts. First-order only across processes: μ and rstd depend on
    other ranks' x, so a recording (create_graph) backward raises rather than miss those terms.
    """

    @staticmethod
    def forward(x, w, b, running_mean, running_var, momentum, eps, group):
        _, dims, wview = _channels(x)
        count, mean, var = _global_moments(x, dims, group)
        rstd = torch.rsqrt(var + eps)
        total = int(count.item())
        if running_mean is not None and total:
            _update_running(running_mean, mean, momentum)
            _update_running(running_var, var * total / (total - 1), momentum)  # N = 1: NaN, as torch's kernel
        xc = x.to(mean.dtype) - mean
        return _transform(xc, rstd, w, b, wview, x.dtype), mean, rstd, count

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, w, b, _, _, _, _, group = inputs
        _, mean, rstd, count = output
        ctx.mark_non_differentiable(mean, rstd, count)
        ctx.group, ctx.x_dtype = group, x.dtype
        ctx.w_meta = None if w is None else (w.shape, w.dtype)
        ctx.b_meta = None if b is None else (b.shape, b.dtype)
        need_x, need_w, _ = ctx.needs_input_grad[:3]
        ctx.save_for_backward(x if need_x or need_w else None, w if need_x else None, mean, rstd, count)

    @staticmethod
    def backward(ctx, dy, dmean, drstd, dcount):
        if torch.is_grad_enabled():
            raise RuntimeError("SyncBatchNorm: double backward across processes is not supported (the "
                               "statistics depend on the other ranks' input)")
        x, w, mean, rstd, n = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        _, dims, wview = _channels(dy)
        dyf = dy.to(rstd.dtype)
        xhat = None if x is None else nz.normalized(x, mean, rstd)
        s = dyf.sum(dims, keepdim=True)                                    # this rank's Σ dy
        p = None if xhat is None else (dyf * xhat).sum(dims, keepdim=True)  # this rank's Σ dy ⊙ x̂
        dx = dw = db = None
        if need_x:
            s_all, p_all = _all_reduce_sums(s, p, ctx.group)
            scale = rstd if w is None else rstd * w.reshape(wview).to(rstd.dtype)
            dx = (scale * (dyf - s_all / n - xhat * (p_all / n))).to(ctx.x_dtype)
        if need_w:
            dw = p.reshape(ctx.w_meta[0]).to(ctx.w_meta[1])
        if need_b:
            db = s.reshape(ctx.b_meta[0]).to(ctx.b_meta[1])
        return dx, dw, db, None, None, None, None, None


def _global_moments(x: torch.Tensor, dims, group):
    """(N, μ, biased σ²) per channel over every rank's x (class docstring), μ and σ² kept as
    (1, C, 1, ...), N a 0-d tensor; in :func:`~._normalize.acc_dtype`."""
    channels = x.shape[1]
    n = x.numel() // channels
    if n:
        _, mean, var, _ = nz.centred_moments(x, dims, 0.0)
        local_mean, local_m2 = mean.reshape(channels), var.reshape(channels) * n
    else:  # no values here: the mean of nothing is NaN, send zeros weighted by n = 0
        local_mean = local_m2 = x.new_zeros(channels, dtype=nz.acc_dtype(x.dtype))
    local = torch.cat([local_mean.new_full((1,), n), local_mean, local_m2])
    parts = [torch.empty_like(local) for _ in range(dist.get_world_size(group))]
    dist.all_gather(parts, local, group=group)
    stats = torch.stack(parts)
    counts, means, m2s = stats[:, :1], stats[:, 1:channels + 1], stats[:, channels + 1:]
    count = counts.sum()
    mean = (counts * means).sum(0) / count
    var = (m2s.sum(0) + (counts * (means - mean).square()).sum(0)) / count
    keep = (1, channels) + (1,) * (x.dim() - 2)
    return count, mean.reshape(keep), var.reshape(keep)


def _all_reduce_sums(s: torch.Tensor, p: torch.Tensor, group):
    """(Σ_ranks s, Σ_ranks p): one all_reduce of the two per-channel sums, concatenated."""
    both = torch.cat([s, p], dim=1)
    dist.all_reduce(both, op=dist.ReduceOp.SUM, group=group)
    return both.split(s.shape[1], dim=1)
