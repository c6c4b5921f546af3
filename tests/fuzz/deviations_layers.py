"""Deliberate differences of embedding_bag, pad, the poolings and attention (docs/ops.md,
"Deliberate differences from torch"); tests/fuzz/deviations.py dispatches to these predicates."""

from __future__ import annotations

import torch

from .tensors import T, build


def _windows_of_padding_only(size: int, k: int, s: int, p: int, d: int, ceil: bool) -> bool:
    """Does some max-pool window along one dim hold padding only (rows outside [0, size))?"""
    span = d * (k - 1) + 1
    n = (size + 2 * p - span + (s - 1 if ceil else 0)) // s + 1
    if ceil and (n - 1) * s >= size + p:
        n -= 1
    return any(all(not 0 <= o * s - p + d * j < size for j in range(k)) for o in range(n))


def _ntuple(v, default, n=2):
    v = default if v is None else v
    if isinstance(v, (tuple, list)):
        return tuple(v) * n if len(v) == 1 else tuple(v)
    return (v,) * n


def _attention_is_torch_math(case, ours) -> bool:
    """No dropout, and ours' outputs and gradients are those of torch's own math backend (the
    path its 2-d/3-d calls take) on the same tensors and dys."""
    from math import inf as math_inf
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from .compare import close, run
    if case.kwargs.get("dropout_p", 0.0):
        return False

    def math(q, k, v, attn_mask=None, *args, **kwargs):
        if kwargs.get("is_causal") and attn_mask is not None:  # flash applies both; math takes them as one mask
            keep = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).tril()
            attn_mask = (attn_mask & keep if attn_mask.dtype == torch.bool
                         else attn_mask.masked_fill(~keep, -math_inf))
            kwargs["is_causal"] = False
        with sdpa_kernel(SDPBackend.MATH):
            return torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask, *args, **kwargs)
    ref = run(math, case, dys=ours.dys or None)
    if ref.error or len(ref.outs) != len(ours.outs) or len(ref.grads) != len(ours.grads):
        return False
    pairs = list(zip(ours.outs, ref.outs)) + list(zip(ours.grads, ref.grads))
    return all((a is None) == (b is None) and (a is None or not close(a, b)) for a, b in pairs)


# torch must not run (torch_crashes) / must not run its backward (torch_backward_skipped)

def embedding_bag_crashes(case) -> str | None:
    if case.op == "embedding_bag" and len(case.args) > 2 and case.args[0].shape != (0,):
        if case.args[2].shape[0] - bool(case.kwargs.get("include_last_offset")) == 0:
            return "embedding_bag with no bags of a non-empty input (torch 2.13's CPU kernel segfaults): an empty result"
        idx, w, offsets = (build(t)[0] for t in case.args[:3])
        if (case.kwargs.get("include_last_offset") and w.dtype in (torch.float16, torch.bfloat16) and offsets.numel()
                and 0 <= int(offsets[-1]) < idx.numel() and bool(((idx < 0) | (idx >= w.shape[0])).any())):
            return "embedding_bag, half: an out-of-range index past the last offset (torch 2.13's backward segfaults): ours raises"
    return None


def conv_half_channels_last_padding_windows(case) -> str | None:
    if case.op not in ("conv2d", "conv3d") or case.args[0].dtype not in ("float16", "bfloat16"):
        return None
    from manualgrad.functions.conv import memory_format
    x, w = (build(t)[0] for t in case.args[:2])
    if x.dim() != w.dim() or memory_format(x, w) is torch.contiguous_format:
        return None
    n, kw = w.dim() - 2, case.kwargs
    padding = kw.get("padding", 0)
    if isinstance(padding, str):
        return None  # 'valid' pads nothing; 'same' windows all hold their centre
    k, s, p, d = w.shape[2:], _ntuple(kw.get("stride"), 1, n), _ntuple(padding, 0, n), _ntuple(kw.get("dilation"), 1, n)
    if any(_windows_of_padding_only(x.shape[2 + i], k[i], s[i], p[i], d[i], False) for i in range(n)):
        return ("half-precision channels-last conv with a window of padding only (torch 2.13's oneDNN kernel "
                "can segfault): ours pads x itself, compared with float64")
    return None


def max_pool_padding_windows(case) -> str | None:
    if not case.op.startswith("max_pool"):
        return None
    n, kw = int(case.op[-2]), case.kwargs
    k = _ntuple(kw["kernel_size"], None, n)
    s, p = _ntuple(kw.get("stride") or None, k, n), _ntuple(kw.get("padding"), 0, n)
    d = _ntuple(kw.get("dilation"), 1, n)
    space = case.args[0].shape[-n:]
    if any(_windows_of_padding_only(space[i], k[i], s[i], p[i], d[i], kw.get("ceil_mode", False)) for i in range(n)):
        return "max_pool windows that hold only padding get no gradient (torch's CPU backward writes out of bounds)"
    return None


# ours raises, torch does not: (case, ours' error)

def embedding_bag_decreasing_offsets(case, error) -> str | None:
    if case.op == "embedding_bag" and "offsets must be non-decreasing" in error[2]:
        return "embedding_bag refuses decreasing offsets (torch 2.13 returns an inconsistent result)"
    return None


def circular_pad_wraps(case, error) -> str | None:
    if (case.op == "pad" and error[1] is RuntimeError
            and "wraps around more than the cropped part" in error[2]):
        return "circular pad longer than what negative pads leave of the dim raises (torch: uninitialised memory)"
    return None


# torch's backward raises, ours does not: (case, torch's message)

def adaptive_pool_to_empty(case, why) -> str | None:
    if case.op.startswith("adaptive_") and "non-zero size for non-batch dimensions" in why:
        return "adaptive avg/max pooling to a 0 output size has a zero gradient (torch's backward raises)"
    return None


def max_unpool_non_contiguous_indices(case, why) -> str | None:
    if case.op.startswith("max_unpool") and "view size is not compatible" in why:
        return "max_unpool with non-contiguous indices has a gradient (torch's backward raises)"
    return None


# gradients or outputs differ: (case, ours, theirs, found)

def attention_math_backend(case, ours, theirs, found) -> str | None:
    if (case.op == "scaled_dot_product_attention" and len(case.args[0].shape) == 4
            and {c for c, _ in found} <= {"output", "gradient"} and all("non-finite entries" in d for _, d in found)
            and _attention_is_torch_math(case, ours)):
        return "4-d attention whose non-finite entries are torch's math backend's (its CPU flash kernel differs)"
    return None


def attention_keyless(case, ours, theirs, found) -> str | None:
    if (case.op == "scaled_dot_product_attention" and {c for c, _ in found} == {"gradient missing/extra"}
            and not theirs.grads and (ours.outs[0].numel() == 0 or case.args[1].shape[-2] == 0)
            and all(g is None or g.numel() == 0 for g in ours.grads)):
        return "empty or key-less attention keeps its graph: empty gradients (torch's output does not require grad)"
    return None


def embedding_bag_past_last_offset(case, ours, theirs, found) -> str | None:
    if (case.op == "embedding_bag" and case.kwargs.get("include_last_offset") and len(ours.tensors) > 2
            and ours.tensors[2].numel() and int(ours.tensors[2][-1]) < ours.tensors[0].numel()):
        return "embedding_bag positions past the last offset belong to no bag (torch 2.13 counts them in mean and max)"
    return None



def _softmax_backward_terms(case, ours):
    """(bound on dq, bound on dk, S) in float64: the magnitudes of the terms whose sum each entry of
    dq = scale·dS @ k and dk = scale·dSᵀ @ q is, dS = P ⊙ (dP − Σ_row P ⊙ dP), dP = dO @ vᵀ; None
    outside the case's simple forms (dropout, a float mask)."""
    kw = case.kwargs
    if kw.get("dropout_p", 0.0) or len(case.args) > 3 or len(ours.dys) != 1:
        return None
    q, k, v = (t.detach().double() for t in ours.tensors[:3])
    mask = build(kw["attn_mask"])[0] if isinstance(kw.get("attn_mask"), T) else None
    if mask is not None and mask.dtype != torch.bool:
        return None
    if kw.get("enable_gqa") and k.dim() > 2:
        reps = q.shape[-3] // k.shape[-3]
        k, v = k.repeat_interleave(reps, -3), v.repeat_interleave(reps, -3)
    scale = kw.get("scale")
    scale = 1 / q.shape[-1] ** 0.5 if scale is None else scale
    s = q @ k.mT * scale
    if kw.get("is_causal"):
        s = s.masked_fill(~torch.ones(s.shape[-2:], dtype=torch.bool).tril(), -torch.inf)
    if mask is not None:
        s = s.masked_fill(~mask, -torch.inf)
    p = torch.softmax(s, -1).abs().nan_to_num()
    dp = (ours.dys[0].double() @ v.mT).abs()
    terms = p * (dp + (p * dp).sum(-1, keepdim=True)) * abs(scale)
    return terms @ k.abs(), terms.mT @ q.abs(), s.shape[-1]


def attention_softmax_residue(case, ours, theirs, grads) -> str | None:
    """dq, dk where the softmax backward cancels (dP equal along a row, so dS = P ⊙ (dP − Σ P ⊙ dP)
    is 0 exactly): ours and torch's are each the rounding residue of terms far larger than the
    result, and agree to a few ulps of those terms."""
    from .rounding import _leaf_specs
    if case.op != "scaled_dot_product_attention":
        return None
    specs = _leaf_specs(case)
    named = [int(g.split()[1]) for g in grads]
    if any(i >= len(specs) or specs[i] is not case.args[0] and specs[i] is not case.args[1] for i in named):
        return None
    bounds = _softmax_backward_terms(case, ours)
    if bounds is None:
        return None
    for i in named:
        g, h = ours.grads[i], theirs.grads[i]
        if g is None or h is None or g.dtype not in (torch.float32, torch.float64):
            return None
        eps = torch.finfo(g.dtype).eps
        g, h = g.double(), h.double()
        fin = g.isfinite()
        if not torch.equal(fin, h.isfinite()) or not torch.equal(g[~fin].nan_to_num(), h[~fin].nan_to_num()):
            return None
        bound = bounds[0 if specs[i] is case.args[0] else 1]
        bound = bound.sum_to_size(g.shape) if bound.shape != g.shape else bound
        if bool(((g - h).abs()[fin] > 8 * (bounds[2] + 2) * eps * bound[fin]).any()):
            return None
    return "attention's dq/dk where the softmax backward cancels: rounding residues within a few ulps of its terms"


# only input gradients differ: (case, ours, theirs, the 'grad i' names)

def pad_to_empty(case, ours, theirs, grads) -> str | None:
    if case.op == "pad" and ours.outs[0].numel() == 0 and all(g is None or not g.any() for g in ours.grads):
        return ("pad to an empty output has a zero gradient "
                "(torch's reflection_pad backward returns uninitialised memory)")
    return None


def embedding_bag_scale_grad_by_freq(case, ours, theirs, grads) -> str | None:
    kw = case.kwargs
    if (case.op == "embedding_bag" and kw.get("scale_grad_by_freq") and kw.get("mode", "mean") != "max"
            and grads == {"grad 0"} and case.args[1].grad):
        # ours equals F.embedding's scaling summed per bag: tests/test_embedding_bag.py
        return "embedding_bag scale_grad_by_freq divides by each index's count (torch 2.13's CPU backward miscounts, pytorch#190063)"
    return None


def max_unpool_repeated_indices(case, ours, theirs, found) -> str | None:
    """max_unpool with an index repeated within a plane: which input lands there is whichever write
    came last in torch's (threaded) kernel, which ours runs too, so two runs may differ there; they
    must agree everywhere else, and the gradient (a gather) is the same."""
    if not case.op.startswith("max_unpool") or {c for c, _ in found} - {"output"}:
        return None
    n = int(case.op[-2])
    idx = ours.tensors[1]
    a, b = ours.outs[0], theirs.outs[0]
    if a.shape != b.shape or idx.numel() == 0:
        return None
    flat = idx.reshape(-1, idx.shape[-n:].numel())
    repeated = torch.zeros(a.reshape(flat.shape[0], -1).shape, dtype=torch.bool)
    for row, ix in enumerate(flat):
        values, counts = ix.unique(return_counts=True)
        repeated[row, values[counts > 1]] = True
    a, b = a.reshape(repeated.shape), b.reshape(repeated.shape)
    same = (a == b) | (a.isnan() & b.isnan()) | repeated  # NaN where both have it is agreement
    if bool(repeated.any()) and bool(same.all()):
        return "max_unpool with a repeated index: which input lands there is the threaded kernel's last write"
    return None
