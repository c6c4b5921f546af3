"""``scaled_dot_product_attention``, and ``MultiheadAttention``'s forward (not exported: torch's
``multi_head_attention_forward`` returns a tuple, which the op table does not take)."""

from __future__ import annotations

import math
import warnings

import torch

from ..functions.attention import ScaledDotProductAttentionFunction, attends
from ._autocast import LOWER, autocast_policy
from ._linear import linear

# c10's TypeMeta names, which torch's SDPA messages print
_TYPE_META = {torch.float64: "double", torch.float32: "float", torch.float16: "c10::Half",
              torch.bfloat16: "c10::BFloat16", torch.int64: "long int", torch.int32: "int",
              torch.int16: "short int", torch.int8: "signed char", torch.uint8: "unsigned char",
              torch.bool: "bool", torch.complex64: "c10::complex<float>", torch.complex128: "c10::complex<double>"}


def _meta(dtype: torch.dtype) -> str:
    return _TYPE_META.get(dtype, str(dtype))


def _takes_cpu_flash(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa) -> bool:
    """Does torch's SDPA run this call on its CPU flash kernel (torch's own choice,
    ``torch._fused_sdp_choice``)? That kernel applies a causal mask and ``attn_mask`` together,
    where the math path refuses the pair."""
    choose = getattr(torch, "_fused_sdp_choice", None)
    if choose is None or query.device.type != "cpu":
        return False
    from torch.nn.attention import SDPBackend
    return choose(query, key, value, attn_mask, dropout_p, is_causal, scale=scale,
                  enable_gqa=enable_gqa) == SDPBackend.FLASH_ATTENTION.value


def _check_sdpa(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa) -> None:
    """torch's checks (``validate_sdpa_input``, then its math path's unless it does not attend
    at all: :func:`~manualgrad.functions.attention.attends`), same order and messages."""
    q, k, v = query, key, value
    if not q.dtype == k.dtype == v.dtype:
        raise RuntimeError(f"Expected query, key, and value to have the same dtype, but got query.dtype: "
                           f"{_meta(q.dtype)} key.dtype: {_meta(k.dtype)} and value.dtype: {_meta(v.dtype)} instead.")
    if not q.device == k.device == v.device:
        raise RuntimeError(f"Expected query, key, and value to have the same device type, but got query.device: "
                           f"{q.device} key.device: {k.device} and value.device: {v.device} instead.")
    if q.dim() < 2 or k.dim() < 2 or v.dim() < 2:
        raise RuntimeError(f"Expected query, key, and value to all be  at least 2 dimensional, but got query.dim: "
                           f"{q.dim()} key.dim: {k.dim()} and value.dim: {v.dim()} instead.")
    if attn_mask is not None and attn_mask.dtype not in (torch.bool, torch.float32, q.dtype):
        raise RuntimeError(f"Expected attn_mask dtype to be bool or float or to match query dtype, but got "
                           f"attn_mask.dtype: {_meta(attn_mask.dtype)} and  query.dtype: {_meta(q.dtype)} instead.")
    if not attends(q, v):  # torch returns zeros before its other checks
        return
    if is_causal and attn_mask is not None and not _takes_cpu_flash(q, k, v, attn_mask, dropout_p, is_causal,
                                                                    scale, enable_gqa):
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True")
    if enable_gqa:
        hq, hk, hv = q.size(-3), k.size(-3), v.size(-3)
        if not (hq == hk == hv or (hq % hk == 0 and hq % hv == 0)):
            raise RuntimeError("Number of heads in key and value must divide the number of heads in ")
    if dropout_p > 1:  # a negative p means no dropout, as torch (it only drops for p > 0)
        raise RuntimeError(f"dropout probability has to be between 0 and 1, but got {dropout_p}")
    if not q.is_floating_point():  # torch's math path: a bool mask becomes −inf in q's dtype, then softmax
        if attn_mask is not None and attn_mask.dtype == torch.bool:
            torch.zeros((), dtype=q.dtype).fill_(-math.inf)  # torch's error for an integer q
        if q.is_complex():  # softmax has no complex kernel: its error
            torch.softmax(torch.zeros(1, dtype=q.dtype), -1)


@autocast_policy(LOWER, ScaledDotProductAttentionFunction)
def scaled_dot_product_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                                 attn_mask: torch.Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, *, scale: float | None = None,
                                 enable_gqa: bool = False) -> torch.Tensor:
    """softmax(query keyᵀ·scale + mask) value, with dropout on the probabilities, as torch's math
    reference (the docstring of :func:`torch.nn.functional.scaled_dot_product_attention`): a bool
    ``attn_mask`` keeps True, a float one is added; ``is_causal`` is top-left aligned; ``scale``
    defaults to 1/√E; ``dropout_p`` always applies (pass 0.0 in eval); ``enable_gqa`` repeats the
    key/value heads. ``is_causal`` with an ``attn_mask`` raises, as torch's math path, except where
    torch takes its CPU flash kernel (4-d, no dropout, ...), which applies both: so does ours. A
    row with nothing to attend gives 0, as torch 2.13's CPU math path (``_safe_softmax``), not
    the NaN of a plain softmax; with no queries or an empty value,
    zeros of shape (*query.shape[:-1], Ev), as torch. ``scale`` and ``enable_gqa`` are
    keyword-only, as torch's binding. See
    :class:`~manualgrad.functions.attention.ScaledDotProductAttentionFunction`."""
    _check_sdpa(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa)
    if scale is None:
        e = query.size(-1)
        scale = 1 / math.sqrt(e) if e else math.inf  # torch's 1/√0 = inf, harmless on an empty q
    p = float(dropout_p) if dropout_p > 0 else 0.0
    return ScaledDotProductAttentionFunction.apply(query, key, value, attn_mask, None, p, bool(is_causal),
                                                   float(scale), bool(enable_gqa), None)[0]


# ---------------------------------------------------------------- MultiheadAttention's forward


@autocast_policy(LOWER)  # MultiheadAttention's call of the Function (its backward is guarded above)
def _attend(*args):
    return ScaledDotProductAttentionFunction.apply(*args)


def _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads) -> bool:
    """torch's ``F._mha_shape_check`` (same messages): is the input batched?"""
    kpm, am = key_padding_mask, attn_mask
    if query.dim() not in (2, 3):
        raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received {query.dim()}-D "
                             "query tensor")
    batched = query.dim() == 3
    kind, n = ("batched (3-D)", 3) if batched else ("unbatched (2-D)", 2)
    if key.dim() != n or value.dim() != n:
        raise AssertionError(f"For {kind} `query`, expected `key` and `value` to be {n}-D but found "
                             f"{key.dim()}-D and {value.dim()}-D tensors respectively")
    if kpm is not None and kpm.dim() != n - 1:
        raise AssertionError(f"For {kind} `query`, expected `key_padding_mask` to be `None` or {n - 1}-D but "
                             f"found {kpm.dim()}-D tensor instead")
    if am is not None and am.dim() not in (2, 3):
        raise AssertionError(f"For {kind} `query`, expected `attn_mask` to be `None`, 2-D or 3-D but found "
                             f"{am.dim()}-D tensor instead")
    if not batched and am is not None and am.dim() == 3:
        want = (num_heads, query.shape[0], key.shape[0])
        if am.shape != want:
            raise AssertionError(f"Expected `attn_mask` shape to be {want} but got {am.shape}")
    return batched


def _attend_mask(mask: torch.Tensor | None, name: str) -> torch.Tensor | None:
    """torch's ``_canonical_mask`` check; a bool mask (True = ignore) becomes SDPA's (True = attend)
    rather than a float −inf copy, a float mask stays as it is."""
    if mask is None:
        return None
    if mask.dtype != torch.bool and not mask.is_floating_point():
        raise AssertionError(f"only bool and floating types of {name} are supported")
    return mask.logical_not() if mask.dtype == torch.bool else mask


def _attend_too(mask: torch.Tensor | None) -> torch.Tensor | None:
    """``mask`` (SDPA's convention: bool True = attend, float added) with one more key position
    that is attended to (torch pads its float mask with 0)."""
    if mask is None:
        return None
    return torch.cat([mask, (mask.new_ones if mask.dtype == torch.bool else mask.new_zeros)(*mask.shape[:-1], 1)], -1)


def _in_projection(query, key, value, w, b, w_q, w_k, w_v):
    """q, k, v projections as torch's ``_in_projection_packed`` / ``_in_projection`` (one linear
    for self-attention, one for key and value when they are the same tensor)."""
    e = query.size(-1)
    if w is None:  # separate weights (kdim/vdim != embed_dim)
        for what, t, wt in (("query", query, w_q), ("key", key, w_k), ("value", value, w_v)):
            if wt.shape != (e, t.size(-1)):
                raise AssertionError(f"expecting {what} weights shape of {(e, t.size(-1))}, but got {wt.shape}")
        bs = (None,) * 3 if b is None else b.chunk(3)
        return tuple(linear(t, wt, bt) for t, wt, bt in zip((query, key, value), (w_q, w_k, w_v), bs))
    if key is value and query is key:
        return linear(query, w, b).unflatten(-1, (3, e)).unbind(-2)
    ws, bs = w.split([e, 2 * e]), (None, None) if b is None else b.split([e, 2 * e])
    if key is value:
        return (linear(query, ws[0], bs[0]), *linear(key, ws[1], bs[1]).unflatten(-1, (2, e)).unbind(-2))
    bs = (None,) * 3 if b is None else b.chunk(3)
    return tuple(linear(t, wt, bt) for t, wt, bt in zip((query, key, value), w.chunk(3), bs))


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias,
                                 bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias,
                                 training=True, key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None, k_proj_weight=None,
                                 v_proj_weight=None, average_attn_weights=True, is_causal=False):
    """``F.multi_head_attention_forward`` (sequence-first (L, N, E) or unbatched (L, E)) through
    manualgrad's linear and attention Functions: in-projection, heads split as views, one
    :class:`~manualgrad.functions.attention.ScaledDotProductAttentionFunction` (which also returns
    the dropped-out probabilities, per head or head-averaged, when ``need_weights``: torch's
    weights path, plain softmax), heads merged, out-projection. ``key_padding_mask`` and
    ``attn_mask`` go to the Function separately, so the merged (N·H, L, S) float mask torch
    builds is never materialised. ``bias_k``/``bias_v`` (``add_bias_kv``) are appended to the
    projected keys/values as one more position (repeated over the batch) and ``add_zero_attn`` a
    position of zeros, as torch does, with the masks padded to attend to them: concatenations,
    whose backward hands each part its slice of the key/value gradient (bias_k's gradient is the
    sum over the batch of the last key position's). ``static_k`` / ``static_v`` are not taken."""
    batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        key_padding_mask = None if key_padding_mask is None else key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    if key_padding_mask is not None and attn_mask is not None and key_padding_mask.dtype != attn_mask.dtype:
        warnings.warn("Support for mismatched key_padding_mask and attn_mask is deprecated. Use same type for "
                      "both instead.", stacklevel=3)
    key_padding_mask = _attend_mask(key_padding_mask, "key_padding_mask")
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
                           "method `generate_square_subsequent_mask` to create this mask.")
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None  # torch hands SDPA the is_causal hint instead of the mask
    else:
        attn_mask, is_causal = _attend_mask(attn_mask, "attn_mask"), False
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight and key.shape[:2] != value.shape[:2]:
        raise AssertionError(f"key's sequence and batch dims {key.shape[:2]} do not match value's {value.shape[:2]}")
    if not use_separate_proj_weight and key.shape != value.shape:
        raise AssertionError(f"key shape {key.shape} does not match value shape {value.shape}")
    q, k, v = _in_projection(query, key, value, None if use_separate_proj_weight else in_proj_weight, in_proj_bias,
                             q_proj_weight, k_proj_weight, v_proj_weight)
    if attn_mask is not None:
        want = (tgt_len, src_len) if attn_mask.dim() == 2 else (bsz * num_heads, tgt_len, src_len)
        if attn_mask.dim() not in (2, 3):
            raise RuntimeError(f"attn_mask's dimension {attn_mask.dim()} is not supported")
        if attn_mask.shape != want:
            raise RuntimeError(f"The shape of the {attn_mask.dim()}D attn_mask is {attn_mask.shape}, but should be "
                               f"{want}.")
        if attn_mask.dim() == 3:
            attn_mask = attn_mask.unflatten(0, (bsz, num_heads))  # (N, H, L, S)
    if (bias_k is None) != (bias_v is None):
        raise AssertionError("bias_k and bias_v must both be given or both be None")
    extra = [(bias_k.repeat(1, bsz, 1), bias_v.repeat(1, bsz, 1))] if bias_k is not None else []
    extra += [(k.new_zeros(1, bsz, embed_dim), v.new_zeros(1, bsz, embed_dim))] if add_zero_attn else []
    for k_more, v_more in extra:  # one more key position each, which every query may attend to
        k, v, src_len = torch.cat([k, k_more]), torch.cat([v, v_more]), src_len + 1
        attn_mask, key_padding_mask = _attend_too(attn_mask), _attend_too(key_padding_mask)
    if key_padding_mask is not None:
        for i, n in enumerate((bsz, src_len)):
            if key_padding_mask.shape[i] != n:
                raise AssertionError(f"Expected key_padded_mask.shape[{i}] to be {n}, but got "
                                     f"{key_padding_mask.shape[i]}")
        key_padding_mask = key_padding_mask[:, None, None, :]  # (N, 1, 1, S)
    # (L, N, E) → (N, H, L, head_dim), views only
    q, k, v = (t.unflatten(-1, (num_heads, head_dim)).permute(1, 2, 0, 3) for t in (q, k, v))
    weights = None if not need_weights else "mean" if average_attn_weights else "heads"
    out, w, *_ = _attend(
        q, k, v, attn_mask, key_padding_mask, float(dropout_p) if training and dropout_p > 0 else 0.0,
        is_causal, math.sqrt(1.0 / head_dim), False, weights)
    out = linear(out.permute(2, 0, 1, 3).reshape(tgt_len * bsz, embed_dim), out_proj_weight, out_proj_bias)
    out = out.view(tgt_len, bsz, out.size(1))
    if not batched:
        return out.squeeze(1), (w.squeeze(0) if need_weights else None)
    return out, (w if need_weights else None)
