"""``scaled_dot_product_attention``."""

from __future__ import annotations

import math

import torch

from ..functions.attention import ScaledDotProductAttentionFunction

# c10's TypeMeta names, which torch's SDPA messages print
_TYPE_META = {torch.float64: "double", torch.float32: "float", torch.float16: "c10::Half",
              torch.bfloat16: "c10::BFloat16", torch.int64: "long int", torch.int32: "int",
              torch.int16: "short int", torch.int8: "signed char", torch.uint8: "unsigned char",
              torch.bool: "bool", torch.complex64: "c10::complex<float>", torch.complex128: "c10::complex<double>"}


def _meta(dtype: torch.dtype) -> str:
    return _TYPE_META.get(dtype, str(dtype))


def _check_sdpa(query, key, value, attn_mask, dropout_p, is_causal, enable_gqa) -> None:
    """torch's checks (``validate_sdpa_input`` and its math path), same order and messages."""
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
    if is_causal and attn_mask is not None:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True")
    if enable_gqa:
        hq, hk, hv = q.size(-3), k.size(-3), v.size(-3)
        if not (hq == hk == hv or (hq % hk == 0 and hq % hv == 0)):
            raise RuntimeError("Number of heads in key and value must divide the number of heads in ")
    if dropout_p > 1:  # a negative p means no dropout, as torch (it only drops for p > 0)
        raise RuntimeError(f"dropout probability has to be between 0 and 1, but got {dropout_p}")


def scaled_dot_product_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                                 attn_mask: torch.Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, *, scale: float | None = None,
                                 enable_gqa: bool = False) -> torch.Tensor:
    """softmax(query keyᵀ·scale + mask) value, with dropout on the probabilities, as torch's math
    reference (the docstring of :func:`torch.nn.functional.scaled_dot_product_attention`): a bool
    ``attn_mask`` keeps True, a float one is added; ``is_causal`` is top-left aligned; ``scale``
    defaults to 1/√E; ``dropout_p`` always applies (pass 0.0 in eval); ``enable_gqa`` repeats the
    key/value heads. A row with nothing to attend gives 0, as torch 2.13's CPU math path
    (``_safe_softmax``), not the NaN of a plain softmax. ``scale`` and ``enable_gqa`` are
    keyword-only, as torch's binding. See
    :class:`~manualgrad.functions.attention.ScaledDotProductAttentionFunction`."""
    _check_sdpa(query, key, value, attn_mask, dropout_p, is_causal, enable_gqa)
    if scale is None:
        e = query.size(-1)
        scale = 1 / math.sqrt(e) if e else math.inf  # torch's 1/√0 = inf, harmless on an empty q
    p = float(dropout_p) if dropout_p > 0 else 0.0
    return ScaledDotProductAttentionFunction.apply(query, key, value, attn_mask, None, p, bool(is_causal),
                                                   float(scale), bool(enable_gqa), None)[0]
