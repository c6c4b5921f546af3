"""Scaled dot-product attention: ``scaled_dot_product_attention`` (and the weights-returning
path of ``MultiheadAttention``), with P recomputed in backward (kept with dropout) and the dropout
mask kept as bits."""

from __future__ import annotations

import torch
from ._base import Function
from ._precision import _LOW
from .dropout import pack_bits, unpack_bits

_NEG_INF = float("-inf")


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """float32 for half/bfloat16 (torch's math path keeps every intermediate in float), else dtype."""
    return torch.float32 if dtype in _LOW else dtype


def _up(t: torch.Tensor | None, dtype: torch.dtype):
    return t if t is None or not t.is_floating_point() or t.dtype == dtype else t.to(dtype)


def expand_heads(t: torch.Tensor, heads: int) -> torch.Tensor:
    """GQA: repeat each of t's heads (dim −3) so that it has ``heads`` of them, as torch does."""
    return t if t.size(-3) == heads else t.repeat_interleave(heads // t.size(-3), -3)


def fold_heads(dt: torch.Tensor, t_shape: torch.Size, heads: int) -> torch.Tensor:
    """Adjoint of broadcasting then :func:`expand_heads`: sum the gradient down to ``t_shape``."""
    if t_shape[-3] == heads:
        return dt.sum_to_size(t_shape)
    expanded = t_shape[:-3] + (heads,) + t_shape[-2:]
    dt = dt.sum_to_size(expanded)
    return dt.unflatten(-3, (t_shape[-3], heads // t_shape[-3])).sum(-3)


def _additive(keep: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A bool mask as torch applies it: 0 where True, −inf where False, added to the scores (so a
    NaN or +inf score stays NaN where masked, as torch's, rather than becoming −inf)."""
    return torch.where(keep, torch.zeros((), dtype=dtype, device=keep.device), _NEG_INF)


def _add_mask(s: torch.Tensor, mask: torch.Tensor | None, inplace: bool) -> torch.Tensor:
    """A bool mask keeps True (False → −inf, added); a float mask is added."""
    if mask is None:
        return s
    if mask.dtype == torch.bool:
        mask = _additive(mask, s.dtype)
    return s.add_(mask) if inplace else s + mask


def probabilities(qs, k, masks, is_causal: bool, safe: bool) -> torch.Tensor:
    """P = softmax(qs kᵀ + M) over the last dim, qs = scale·q. In place where nothing records a
    graph (the forward, a first-order backward); out of place under double backward.
    ``safe``: a row whose scores are all −inf (masked, or from an infinite q or k) gets P = 0
    (torch's ``_safe_softmax``, used by its SDPA), otherwise softmax's NaN (torch's
    MultiheadAttention weights path)."""
    inplace = not torch.is_grad_enabled()
    s = qs @ k.transpose(-2, -1)
    if is_causal:  # top-left aligned: row i sees columns 0..i
        s = _add_mask(s, torch.ones(s.shape[-2:], dtype=torch.bool, device=s.device).tril(), inplace)
    for m in masks:
        s = _add_mask(s, m, inplace)
    if not safe or s.size(-1) == 0:  # no keys: P is empty, O = 0
        return torch.softmax(s, -1)
    dead = s.amax(-1, keepdim=True) == _NEG_INF  # nothing to attend
    if inplace:  # the NaN of those rows is overwritten
        return torch.softmax(s, -1).masked_fill_(dead, 0.0)
    # under double backward no NaN may enter the graph: softmax's derivative would spread it
    return torch.softmax(s.masked_fill(dead, 0.0), -1).masked_fill(dead, 0.0)


def _dropout_scale(keep: torch.Tensor | None, p: float, like: torch.Tensor):
    """D/(1 − p) for P̃ = P ⊙ D/(1 − p); None without dropout; 0 for p = 1 (torch's P·0)."""
    if p <= 0:
        return None
    if p == 1:
        return like.new_zeros(())
    return keep.to(like.dtype).div_(1 - p)


def attends(q: torch.Tensor, v: torch.Tensor) -> bool:
    """Does torch's SDPA attend at all? With no queries (L = 0) or an empty value it returns
    :func:`no_attention` right after its dtype/rank checks: no mask or causal checks, no
    broadcast of the batch dims, no dropout draw."""
    return q.size(-2) != 0 and v.numel() != 0


def no_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """O = 0 + 0·(Σq + Σk + Σv) of shape (*q.shape[:-1], Ev), torch's SDPA where it does not
    attend: NaN everywhere when q, k or v holds an inf or NaN (or their sum overflows)."""
    return torch.zeros(q.shape[:-1] + v.shape[-1:], dtype=q.dtype, device=q.device) + (q.sum() + k.sum() + v.sum()) * 0


class ScaledDotProductAttentionFunction(Function):
    """O = P̃ v,  P̃ = P ⊙ D/(1 − p),  P = softmax(S),  S = scale·q kᵀ + M
    (q: (*, L, E), k: (*, S, E), v: (*, S, Ev) broadcast over leading dims; M = causal mask,
    ``attn_mask`` and ``key_mask``, each bool (False → −inf) or float (added); D ~ Bernoulli(1 − p)
    drawn as ``torch.empty_like(P).bernoulli_(1 − p)``, torch's CPU draw; with GQA k and v are
    first repeated along heads (dim −3)).

    dv = P̃ᵀ dO                      (summed over the repeated heads and broadcast dims)
    dP̃ = dO vᵀ + dW                 (dW: gradient of the returned weights, if any)
    dP = dP̃ ⊙ D/(1 − p)
    dS = P ⊙ (dP − Σ_S dP ⊙ P)      (softmax Jacobian; 0 on rows with nothing to attend)
    dq = scale · dS k ;  dk = dSᵀ (scale·q) ;  d(float mask) = dS summed to the mask's shape

    ``weights``: None → SDPA semantics (rows with every score −inf give P = 0, as torch's
    ``_safe_softmax``); "heads" / "mean" → also return P̃, per head or averaged over dim −3
    (``MultiheadAttention(need_weights=True)``: plain softmax, as torch's weights path).
    Saves q, k, v (v only when dP is needed), the masks as given (no copy) and D as one bit per
    element (L·S/8 bytes). Without dropout P is recomputed in backward (one more q kᵀ and a
    softmax, flash-attention style) instead of saved (L·S floats), as torch's CPU flash kernel
    keeps no score matrix either; not even the row logsumexp is kept: P recomputed from a saved
    lse would make lse a graph input whose own derivative (P) double backward would need, and a
    full softmax costs only one more reduction over the row. With dropout torch's math path keeps
    P and P̃ (and its mask): there P is saved, returned as a fourth, non-differentiable output, and
    read by a first-order backward (GPT-2's attention, 4×4×64×64: the recomputation was 150 µs of
    a 600 µs backward); a recorded (double) backward recomputes it, as a function of q and k.
    Half/bfloat16 compute in float32 (torch's math path does too) and round once.

    With no queries or an empty value (SDPA only, :func:`attends`), O = 0·(Σq + Σk + Σv) (torch's),
    so dq, dk, dv = 0·Σ dO, each broadcast to its input's shape; the masks get none.
    """

    @staticmethod
    def forward(q, k, v, attn_mask, key_mask, dropout_p, is_causal, scale, enable_gqa, weights):
        if weights is None and not attends(q, v):
            return no_attention(q, k, v), q.new_empty(0), q.new_empty(0, dtype=torch.uint8), q.new_empty(0)
        out_dtype, dtype = q.dtype, _compute_dtype(q.dtype)
        q, k, v, attn_mask, key_mask = (_up(t, dtype) for t in (q, k, v, attn_mask, key_mask))
        if enable_gqa:
            k, v = expand_heads(k, q.size(-3)), expand_heads(v, q.size(-3))
        p = probabilities(q * scale, k, (attn_mask, key_mask), is_causal, safe=weights is None)
        keep = torch.empty_like(p).bernoulli_(1 - dropout_p) if 0 < dropout_p < 1 else None
        bits = pack_bits(keep) if keep is not None else p.new_empty(0, dtype=torch.uint8)
        drop = _dropout_scale(keep, dropout_p, p)
        kept = p if keep is not None else p.new_empty(0)  # P itself, for the backward (dropout on)
        if drop is not None:
            p = p * drop if keep is not None else p.mul_(drop)
        out = (p @ v).to(out_dtype)
        if weights is None:
            w = out.new_empty(0)
        else:
            w = (p.mean(-3) if weights == "mean" else p).to(out.dtype)
        return out, w, bits, kept

    @staticmethod
    def setup_context(ctx, inputs, output):
        q, k, v, attn_mask, key_mask, dropout_p, is_causal, scale, enable_gqa, weights = inputs
        _, w, bits, kept = output
        ctx.mark_non_differentiable(bits, kept, *([w] if weights is None else []))
        ctx.set_materialize_grads(False)
        need_q, need_k, need_v, need_am, need_km = ctx.needs_input_grad[:5]
        need_dp = need_q or need_k or need_am or need_km
        ctx.save_for_backward(q, k, v if need_dp else None, attn_mask, key_mask, bits, kept)
        ctx.q_shape, ctx.k_shape, ctx.v_shape, ctx.heads = q.shape, k.shape, v.shape, q.size(-3) if enable_gqa else None
        ctx.attends = weights is not None or attends(q, v)
        ctx.out_empty = output[0].numel() == 0
        ctx.p, ctx.is_causal, ctx.scale, ctx.weights = dropout_p, is_causal, scale, weights
        ctx.dtypes = [None if t is None else t.dtype for t in (q, k, v, attn_mask, key_mask)]

    @staticmethod
    def backward(ctx, dO, dW, _dbits, _dkept):
        if ctx.weights is None:  # the (0,) placeholder has no gradient (torch.compile passes zeros)
            dW = None
        if dO is None and dW is None:  # neither output is used
            return (None,) * 10
        q0, k0, v0, attn_mask, key_mask, bits, kept = ctx.saved_tensors
        need_q, need_k, need_v, need_am, need_km = ctx.needs_input_grad[:5]
        if not ctx.attends:
            return (*_no_attention_grads(ctx, dO), *(None,) * 7)
        dtype = _compute_dtype(q0.dtype)
        q, k, v, attn_mask, key_mask, dO, dW = (_up(t, dtype) for t in (q0, k0, v0, attn_mask, key_mask, dO, dW))
        if ctx.heads is not None:
            k = expand_heads(k, ctx.heads)
            v = None if v is None else expand_heads(v, ctx.heads)
        qs = q * ctx.scale
        if kept.numel() and not torch.is_grad_enabled():  # first order: the forward's P
            p = kept
        else:  # recomputed, and under double backward differentiable in q and k
            p = probabilities(qs, k, (attn_mask, key_mask), ctx.is_causal, safe=ctx.weights is None)
        if 0 < ctx.p < 1:  # D/(1 − p) straight from the bits (the scale folded into unpacking's table)
            drop = unpack_bits(bits, p.shape, p.dtype, divisor=1 - ctx.p)
        else:
            drop = _dropout_scale(None, ctx.p, p)
        dq = dk = dv = dam = dkm = None
        if need_v and dO is not None:
            pd = p if drop is None else p * drop
            dv = _fold(pd.transpose(-2, -1) @ dO, ctx.v_shape, ctx.heads)
        if need_q or need_k or need_am or need_km:
            dpd = None if dO is None else (dO @ v.transpose(-2, -1)).sum_to_size(p.shape)
            if dW is not None:
                dW = dW.unsqueeze(-3) / p.size(-3) if ctx.weights == "mean" else dW
                dpd = dW if dpd is None else dpd + dW
            dp = dpd if drop is None else dpd * drop
            dpp = dp * p
            ds = torch.addcmul(dpp, p, dpp.sum(-1, keepdim=True), value=-1)  # P ⊙ dP − P ⊙ Σ dP ⊙ P
            if need_q:
                dq = ((ds @ k) * ctx.scale).sum_to_size(q.shape)
            if need_k:
                dk = _fold(ds.transpose(-2, -1) @ qs, ctx.k_shape, ctx.heads)
            if need_am and not _empty(ctx):
                dam = ds.sum_to_size(attn_mask.shape)
            if need_km and not _empty(ctx):
                dkm = ds.sum_to_size(key_mask.shape)
        grads = [_down(g, d) for g, d in zip((dq, dk, dv, dam, dkm), ctx.dtypes)]
        return (*grads, None, None, None, None, None)


def _no_attention_grads(ctx, dO) -> list:
    """dq, dk, dv of :func:`no_attention`: 0·Σ dO broadcast to each input's shape."""
    zero = dO.sum() * 0
    shapes = (ctx.q_shape, ctx.k_shape, ctx.v_shape)
    return [zero.to(d).expand(s) if need else None for s, d, need in zip(shapes, ctx.dtypes, ctx.needs_input_grad)]


def _empty(ctx) -> bool:
    """No keys or an empty output: torch's SDPA then returns zeros that do not depend on the
    masks, so a mask gets no gradient (None) rather than zeros."""
    return ctx.out_empty or ctx.k_shape[-2] == 0


def _fold(dt: torch.Tensor, shape: torch.Size, heads: int | None) -> torch.Tensor:
    return dt.sum_to_size(shape) if heads is None else fold_heads(dt, shape, heads)


def _down(g: torch.Tensor | None, dtype: torch.dtype | None):
    return g if g is None or g.dtype == dtype else g.to(dtype)
