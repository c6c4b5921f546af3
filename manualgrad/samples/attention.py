"""Samples for ``scaled_dot_product_attention`` (the op table seeds both sides alike), and its
reference: ``F.scaled_dot_product_attention`` itself, except with dropout off the CPU."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .. import functional as MF
from ..functions.attention import ScaledDotProductAttentionFunction
from ..opspec import OpSpec
from . import ErrorSample, Sample, make, noncontiguous


def sdpa_math_reference(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                        enable_gqa=False):
    """torch's math path (the reference code in ``F.scaled_dot_product_attention``'s docstring,
    with ``_safe_softmax``'s 0 for rows with nothing to attend) in torch autograd ops, drawing the
    dropout mask as ``torch.empty_like(P).bernoulli_(1 − p)``, as ours and torch's CPU kernel do
    (tests/test_attention.py checks it equals ``F.scaled_dot_product_attention`` there)."""
    if enable_gqa:
        key = key.repeat_interleave(query.size(-3) // key.size(-3), -3)
        value = value.repeat_interleave(query.size(-3) // value.size(-3), -3)
    dtype = torch.float32 if query.dtype in (torch.float16, torch.bfloat16) else query.dtype
    q, k, v = query.to(dtype), key.to(dtype), value.to(dtype)
    s = q @ k.transpose(-2, -1) * (1 / math.sqrt(q.size(-1)) if scale is None else scale)
    if is_causal:
        s = s.masked_fill(torch.ones(s.shape[-2:], dtype=torch.bool, device=s.device).tril().logical_not(),
                          -math.inf)
    if attn_mask is not None:
        s = s.masked_fill(~attn_mask, -math.inf) if attn_mask.dtype == torch.bool else s + attn_mask
    dead = (s == -math.inf).all(-1, keepdim=True)
    p = torch.softmax(s, -1).masked_fill(dead, 0)
    if dropout_p > 0:
        p = p * 0 if dropout_p == 1 else p * torch.empty_like(p).bernoulli_(1 - dropout_p).div_(1 - dropout_p)
    return (p @ v).to(query.dtype)


def sdpa_reference(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, *, scale=None,
                   enable_gqa=False):
    """``F.scaled_dot_product_attention``; with dropout on another device (whose fused kernels
    draw their own numbers) :func:`sdpa_math_reference`."""
    fn = F.scaled_dot_product_attention
    if 0 < dropout_p <= 1 and query.device.type != "cpu":
        fn = sdpa_math_reference
    return fn(query, key, value, attn_mask, dropout_p, is_causal, scale=scale, enable_gqa=enable_gqa)


def _qkv(b, l, s, e, ev=None, *, kw, nc=False):
    """q (*b, l, e), k (*b, s, e), v (*b, s, ev)."""
    mk = noncontiguous if nc else make
    return mk(*b, l, e, **kw), mk(*b, s, e, **kw), mk(*b, s, ev or e, **kw)


def samples(device, dtype):
    kw = dict(device=device, dtype=dtype)
    bool_mask = torch.tensor([[1, 0, 1, 1], [0, 0, 0, 0], [1, 1, 0, 1]], dtype=torch.bool, device=device)
    yield Sample(_qkv((2, 2), 3, 4, 5, 6, kw=kw), name="batch 2, heads 2, L≠S, Ev≠E")
    yield Sample(_qkv((2,), 3, 3, 4, kw=kw), name="3-d, L=S")
    yield Sample(_qkv((), 3, 4, 4, 2, kw=kw), name="unbatched 2-d")
    yield Sample(_qkv((2, 1), 3, 4, 3, kw=kw), {"attn_mask": bool_mask}, name="bool mask, a fully-masked row → 0")
    yield Sample(_qkv((2, 2), 3, 4, 3, kw=kw), {"attn_mask": make(2, 1, 3, 4, **kw, requires_grad=False) > 0},
                 name="bool mask broadcast over heads")
    yield Sample(_qkv((2, 2), 3, 4, 3, kw=kw), {"attn_mask": make(3, 4, **kw)}, name="float mask (L, S) with grad")
    yield Sample(_qkv((2,), 3, 4, 3, kw=kw), {"attn_mask": make(2, 3, 4, **kw)}, name="float mask full shape")
    yield Sample(_qkv((2,), 3, 4, 3, kw=kw), {"attn_mask": make(1, 4, **kw, requires_grad=False)},
                 name="float mask without grad, broadcast over rows")
    ninf = torch.zeros(3, 4, **kw).masked_fill(~bool_mask, -math.inf)
    yield Sample(_qkv((2,), 3, 4, 3, kw=kw), {"attn_mask": ninf.requires_grad_()},
                 name="float −inf mask, a fully-masked row → 0")
    yield Sample(_qkv((2,), 3, 4, 3, kw=kw), {"attn_mask": make(3, 4, device=device, dtype=torch.float32,
                                                                 requires_grad=False)}, name="float32 mask")
    for l, s in ((3, 3), (2, 4), (4, 2)):
        yield Sample(_qkv((2,), l, s, 3, kw=kw), {"is_causal": True}, name=f"causal L={l} S={s}")
    yield Sample(_qkv((2,), 3, 4, 3, kw=kw), {"scale": 0.7}, name="scale")
    yield Sample(_qkv((2,), 3, 4, 3, kw=kw), {"scale": -1.3}, name="negative scale")
    yield Sample(_qkv((2, 2), 3, 4, 3, kw=kw), {"dropout_p": 0.3}, name="dropout")
    yield Sample(_qkv((2,), 3, 4, 3, kw=kw), {"attn_mask": bool_mask, "dropout_p": 0.5}, name="dropout and mask")
    yield Sample(_qkv((2,), 3, 3, 3, kw=kw), {"dropout_p": 0.4, "is_causal": True}, name="dropout and causal")
    yield Sample(_qkv((2,), 3, 4, 3, kw=kw), {"dropout_p": 1.0}, name="dropout p=1")
    yield Sample(_qkv((2,), 3, 4, 3, kw=kw), {"dropout_p": -0.5}, name="negative dropout_p: none")
    q, k, v = make(1, 4, 3, 3, **kw), make(1, 2, 4, 3, **kw), make(1, 1, 4, 2, **kw)
    yield Sample((q, k, v), {"enable_gqa": True}, name="gqa 4 query heads, 2 key, 1 value")
    yield Sample(_qkv((2, 2), 3, 4, 3, kw=kw), {"enable_gqa": True, "dropout_p": 0.3}, name="gqa, equal heads")
    yield Sample((make(2, 2, 3, 4, **kw), make(2, 4, 4, **kw), make(1, 1, 4, 3, **kw)), name="broadcast batch")
    yield Sample(_qkv((0, 2), 3, 4, 3, kw=kw), name="empty batch")
    yield Sample(_qkv((2,), 3, 0, 3, kw=kw), name="S = 0")
    no_keys = torch.zeros(3, 0, dtype=torch.bool, device=device)
    yield Sample(_qkv((2,), 3, 0, 3, kw=kw), {"attn_mask": no_keys}, name="S = 0, bool mask")
    yield Sample(_qkv((2,), 3, 0, 3, kw=kw), {"attn_mask": make(3, 0, **kw)}, name="S = 0, float mask (no grad)")
    yield Sample(_qkv((2,), 0, 4, 3, kw=kw), {"attn_mask": make(0, 4, **kw)}, name="L = 0, float mask (no grad)")
    yield Sample(_qkv((2,), 3, 4, 3, 0, kw=kw), {"attn_mask": make(3, 4, **kw)}, name="Ev = 0, float mask (no grad)")
    yield Sample(_qkv((2,), 3, 4, 3, kw=kw, nc=True), {"attn_mask": make(3, 4, **kw)}, name="non-contiguous")
    q, k, v = _qkv((2,), 3, 4, 2, kw=kw)
    with torch.no_grad():  # row 1: scores inf·k₀ + q₁k₁ = −inf for every key (k₀ < 0): P = 0 there
        k[..., 0] = -k[..., 0].abs() - 0.5
        q[:, 1, 0] = math.inf
    yield Sample((q, k, v), name="a row of −inf scores from an infinite q → 0", gradcheck=False)
    q, k, v = _qkv((2,), 3, 4, 2, kw=kw)
    with torch.no_grad():  # every score against key 1 is +inf; where masked out, +inf − inf = NaN (torch adds)
        q[..., 0], k[:, 1, 0] = 1.0, math.inf
    yield Sample((q, k, v), {"attn_mask": bool_mask}, name="an infinite score where masked out: NaN", gradcheck=False)
    q, k, v = _qkv((2,), 3, 0, 3, kw=kw)
    with torch.no_grad():
        q[0, 0, 0] = math.inf
    yield Sample((q, k, v), name="S = 0, an infinite q: NaN (torch's 0·Σq)", gradcheck=False)
    yield Sample(_qkv((2,), 0, 4, 3, kw=kw), {"attn_mask": make(0, 4, **kw), "is_causal": True},
                 name="L = 0, mask and is_causal: zeros, no error")
    yield Sample((make(1, 3, 2, **kw), make(2, 0, 2, **kw), make(2, 0, 4, **kw)),
                 name="S = 0, key/value batch 2: q's batch 1 (no broadcast)")
    q, k, v = (t.transpose(0, 1) for t in _qkv((3,), 2, 2, 3, kw=kw))  # (L, B, E) → (B, L, E) strides
    yield Sample((q, k, v), {"is_causal": True}, name="transposed views")
    q, k, v = _qkv((2,), 3, 4, 3, kw=kw)
    yield Sample((q.detach(), k, v), name="query without grad")
    yield Sample((q, k, v.detach()), name="value without grad")


def errors(device):
    t = lambda *s, **k: make(*s, device=device, dtype=k.get("dtype"), requires_grad=False)  # noqa: E731
    q, k, v = t(2, 3, 4), t(2, 5, 4), t(2, 5, 6)
    yield ErrorSample((q, k.double(), v), name="dtype mismatch")
    yield ErrorSample((t(4), k, v), name="1-d query")
    yield ErrorSample((q, k, v), {"attn_mask": torch.ones(3, 5, dtype=torch.long, device=device)}, name="long mask")
    yield ErrorSample((q, k, v), {"attn_mask": t(3, 5), "is_causal": True}, name="mask and is_causal")
    yield ErrorSample((q, t(2, 5, 3), v), name="E mismatch")
    yield ErrorSample((q, k, t(2, 4, 6)), name="S mismatch between key and value")
    yield ErrorSample((q, k, v), {"attn_mask": t(3, 4)}, name="mask of the wrong S")
    yield ErrorSample((q, k, v), {"attn_mask": t(3, 2, 3, 5)}, name="mask bigger than the scores")
    yield ErrorSample((t(1, 4, 3, 4), t(1, 3, 5, 4), t(1, 3, 5, 6)), {"enable_gqa": True}, name="gqa heads")
    yield ErrorSample((t(3, 4), t(5, 4), t(5, 6)), {"enable_gqa": True}, name="gqa on 2-d")
    yield ErrorSample((q, k, v), {"dropout_p": 1.5}, name="dropout_p > 1")
    as_ = lambda dtype, *ts: tuple(x.to(dtype) for x in ts)  # noqa: E731
    yield ErrorSample(as_(torch.long, q, k, v), {"attn_mask": t(3, 5) > 0}, name="integer q, k, v with a bool mask")
    yield ErrorSample(as_(torch.long, q, k, v), name="integer q, k, v")
    yield ErrorSample(as_(torch.complex64, q, k, v), {"attn_mask": t(3, 5) > 0}, name="complex q, k, v, bool mask")


# op-table entries, collected by manualgrad/ops.py
OPS = [OpSpec("scaled_dot_product_attention", MF.scaled_dot_product_attention, sdpa_reference,
              ScaledDotProductAttentionFunction, samples, errors, seeded=True)]
