"""Deliberate differences of the normalisations, batch/group/layer/rms_norm and
local_response_norm (docs/ops.md, "Deliberate differences from torch"); tests/fuzz/deviations.py
dispatches to these predicates."""

from __future__ import annotations

import torch

from . import rounding


def _differentiable(case, names) -> list[str]:
    """The names (in the signature's order ``names``) of the case's differentiable tensors, as
    the 'grad i' of a disagreement counts them."""
    given = dict(zip(names, case.args)) | {k: v for k, v in case.kwargs.items() if k in names}
    return [n for n in names if getattr(given.get(n), "grad", False)]


def _infinite_weight_limit(case, ours, theirs, what: str = "grads") -> bool:
    """The weight holds ±inf, and wherever the non-finite entries of ours' dx (``what='grads'``)
    or y (``'outs'``) differ from torch's, the limit (torch's float64 result with each ±inf
    weight entry ±1e200) is infinite, and either torch's is NaN and ours is ±inf with the limit's
    sign, or torch's is ±inf and ours is NaN (infinite terms of opposite signs met in ours'
    centred formula, not in torch's uncentred one); elsewhere the two are close."""
    from .compare import _same, close, run
    from .ops import OPS
    pos = 3 if case.op in ("batch_norm", "instance_norm") else 2  # (input, running_mean, running_var, weight, ...)
    w = case.args[pos] if len(case.args) > pos else case.kwargs.get("weight")
    if not hasattr(w, "shape"):
        return False
    g, h = getattr(ours, what)[0], getattr(theirs, what)[0]
    differ = ~_same(g, h) & ~(g.isfinite() & h.isfinite())
    limit_at, nan_at = differ & h.isnan() & g.isinf(), differ & g.isnan() & h.isinf()
    if not bool(differ.any()) or bool((differ & ~limit_at & ~nan_at).any()):
        return False
    if close(torch.where(differ, h, g), h):  # the finite entries
        return False
    torch_fn = OPS[case.op].pair[1]

    def finite(t):
        return torch.where(t.isinf(), t.sign() * 1e200, t)

    def limit(*args, **kwargs):
        args = list(args)
        if len(args) > pos:
            args[pos] = finite(args[pos])
        else:
            kwargs["weight"] = finite(kwargs["weight"])
        return torch_fn(*args, **kwargs)
    ref = run(limit, case, "float64", dys=ours.dys, backward=what == "grads")
    if ref.error or not (getattr(ref, what) and getattr(ref, what)[0] is not None):
        return False
    want = getattr(ref, what)[0]
    same_sign = want[limit_at].sign() == g[limit_at].double().sign()
    return bool((want[differ].abs() > 1e100).all()) and bool(same_sign.all())


def _contiguous_copies_agree(case, ours) -> bool:
    """batch_norm with a non-contiguous running stat (eval) or weight: ours' gradients are torch's
    own on contiguous copies of its tensors (same values, same dys)."""
    from .compare import close, run
    from .ops import OPS
    torch_fn = OPS["batch_norm"].pair[1]

    def copies(*args, **kwargs):
        def own(t):
            return t.contiguous() if isinstance(t, torch.Tensor) else t
        return torch_fn(*map(own, args), **{k: own(v) for k, v in kwargs.items()})
    ref = run(copies, case, dys=ours.dys)
    return not ref.error and len(ref.grads) == len(ours.grads) and all(
        (g is None) == (h is None) and (g is None or not close(g, h)) for g, h in zip(ours.grads, ref.grads))


# torch must not run its backward (torch_backward_skipped)

def group_norm_channels_last(case) -> str | None:
    if case.op == "group_norm":
        x, kw = case.args[0], case.kwargs
        w, b = (case.args[i] if len(case.args) > i else kw.get(k) for i, k in ((2, "weight"), (3, "bias")))
        if x.layout == "channels_last" and not x.grad and (getattr(w, "grad", False) or getattr(b, "grad", False)):
            return "group_norm of a channels-last input without grad (torch's CPU backward segfaults)"
    return None


# ours raises, torch does not: (case, ours' error)

def batch_norm_overlapping_stats(case, error) -> str | None:
    if (case.op == "batch_norm" and case.kwargs.get("training", False) and error[1] is RuntimeError
            and "share one memory location" in error[2]):
        return "batch_norm training with a running stat whose elements overlap (stride 0) raises"
    return None


def batch_norm_empty_misfit(case, error) -> str | None:
    kw = case.kwargs
    if (case.op in ("batch_norm", "instance_norm") and 0 in case.args[0].shape
            and error[1] in (RuntimeError, NotImplementedError)):  # bool/integer x: NotImplementedError
        x = case.args[0]
        w, b = (case.args[i] if len(case.args) > i else kw.get(k) for i, k in ((3, "weight"), (4, "bias")))
        fits = len(x.shape) > 1 and all(t is None or (tuple(t.shape) == (x.shape[1],) and t.dtype == x.dtype)
                                        for t in (w, b))
        if not fits and any(getattr(t, "grad", False) for t in (x, w, b)):
            return f"{case.op} of an empty input with a weight or bias that does not fit it runs the usual checks"
    return None


# torch raises, ours does not: (case, torch's error)

def local_response_norm_half(case, error) -> str | None:
    if case.op == "local_response_norm" and "avg_pool3d_out_frame" in error[2]:
        return "local_response_norm of a 4-d+ half input runs on CPU (torch's avg_pool3d has no half kernel there)"
    return None


def local_response_norm_view(case, error) -> str | None:
    """torch's composite ``.view``s x² of a 5-d+ input whose trailing dims cannot merge; ours
    returns torch's own result on a contiguous copy (outputs and gradients, same dys), judged
    against its float64 one (where torch has no kernel for the dtype, its float32 result: ours
    computes d in float32 for half inputs)."""
    from .compare import _materialize, close, run
    from .ops import OPS
    if case.op != "local_response_norm" or "view size is not compatible" not in error[2]:
        return None
    x = _materialize(case, None)[0][0]
    if x.dim() < 5 or x.is_contiguous():
        return None
    torch_fn = OPS[case.op].pair[1]
    ours = run(OPS[case.op].pair[0], case)
    def copy(x, *a, **k):
        return torch_fn(x.contiguous(), *a, **k)
    ref, same = run(copy, case, "float64", dys=ours.dys), run(copy, case, dys=ours.dys)
    same = run(copy, case, "float32", dys=ours.dys) if same.error else same  # ours' half: x² in float32
    triples = list(zip(ours.outs, same.outs, ref.outs)) + list(zip(ours.grads, same.grads, ref.grads))
    if ours.error or ref.error or len(ref.outs) != len(ours.outs) or len(ref.grads) != len(ours.grads) or any(
            (a is None) != (b is None) or (a is not None and close(a, b.to(a.dtype), lambda c=c: c, a.dtype))
            for a, b, c in triples):
        return None
    return "local_response_norm of a non-contiguous 5-d+ input returns (torch's composite raises in .view)"


# torch's backward raises, ours does not: (case, torch's message)

def group_norm_bias_only(case, why) -> str | None:
    kw = case.kwargs
    if (case.op == "group_norm" and "does not have a device" in why
            and kw.get("weight") is None and kw.get("bias") is not None):
        return "group_norm with a bias and no weight has gradients (torch's backward raises)"
    return None


def layer_norm_half_float_bias(case, why) -> str | None:
    kw = case.kwargs
    w = case.args[2] if len(case.args) > 2 else kw.get("weight")
    bias = case.args[3] if len(case.args) > 3 else kw.get("bias")
    if (case.op == "layer_norm" and w is None and getattr(bias, "dtype", None) == "float32"
            and case.args[0].dtype in ("float16", "bfloat16") and why.startswith("expected scalar type")
            and why.endswith("but found Float")):
        return "layer_norm of a half input with only a float32 bias has a gradient (torch's backward raises)"
    return None


# gradients, outputs or mutated arguments differ: (case, ours, theirs, found)

def batch_stats_overflow(case, ours, theirs, found) -> str | None:
    if rounding.batch_stats_overflow_as_contiguous(case, ours):
        return "batch_norm training of a float32 input whose variance overflows: ours as torch's contiguous kernel"
    return None


def infinite_weight_output(case, ours, theirs, found) -> str | None:
    classes = {c for c, _ in found}
    named = {d.split(":")[0] for c, d in found if c == "gradient"}  # and there dx is the limit as well
    if (case.op in ("batch_norm", "instance_norm", "group_norm", "layer_norm") and "output" in classes
            and classes <= {"output", "gradient"} and _infinite_weight_limit(case, ours, theirs, "outs")
            and (not named or (named == {"grad 0"} and case.args[0].grad
                               and _infinite_weight_limit(case, ours, theirs)))):
        return f"{case.op} at an infinite weight: y is ±inf where x̂ ≠ 0, the limit (torch: NaN)"
    return None


def batch_mean_residue(case, ours, theirs, found) -> str | None:
    if {c for c, _ in found} == {"mutated argument"} and rounding.batch_mean_residue(case, ours, theirs, found):
        return "batch_norm running stats of a channel whose values cancel: the residue of its sum's rounding"
    return None


# only input gradients differ: (case, ours, theirs, the 'grad i' names)

def batch_norm_non_contiguous(case, ours, theirs, grads) -> str | None:
    kw = case.kwargs
    if case.op == "batch_norm":  # eval reads the running stats and the weight, training the weight
        names = _differentiable(case, ("input", "running_mean", "running_var", "weight", "bias"))
        named = {names[int(g.split()[1])] for g in grads}
        read = [case.args[i] if len(case.args) > i else kw.get(k)
                for i, k in ((1, "running_mean"), (2, "running_var"), (3, "weight"))]
        read = read[2:] if kw.get("training") else read
        if (named and named <= {"input", "weight"} and any(getattr(t, "layout", "contiguous") != "contiguous"
                                                          for t in read) and _contiguous_copies_agree(case, ours)):
            return "batch_norm with a non-contiguous running stat (eval) or weight: torch's gradients are garbage"
    return None


def constant_row_variance(case, ours, theirs, grads) -> str | None:
    x = ours.tensors[0]
    if (case.op in ("layer_norm", "group_norm") and grads == {"grad 0"} and x.dtype == torch.float64
            and case.args[0].grad):
        rows = rounding.statistic_rows(case, x.detach())
        const = (rows == rows[..., :1]).all(-1) & (rows[..., 0].abs() >= 1e30) if rows is not None else None
        # the gradients are the leaf's: a transposed x's leaf is x transposed back (other layouts: not x's shape)
        leaf_grads = (ours.grads[0], theirs.grads[0])
        if case.args[0].layout == "transposed":
            leaf_grads = tuple(t.transpose(-1, -2) for t in leaf_grads)
        if any(t.shape != x.shape for t in leaf_grads):
            return None
        g, h = (rounding.statistic_rows(case, t) for t in leaf_grads)
        if (rows is not None and rows.numel() and bool(const.any())  # elsewhere the two agree
                and torch.allclose(g[~const], h[~const], equal_nan=True)):
            return f"{case.op} on a constant row of |x| ≥ 1e30: σ² = 0 (torch's mean rounds, σ² ≫ eps)"
    return None


def layer_norm_constant_row_weight(case, ours, theirs, grads) -> str | None:
    if (case.op == "layer_norm" and "grad 1" in grads and grads <= {"grad 0", "grad 1"}
            and ours.tensors[0].dtype == torch.float64 and rounding.constant_row_composite_agrees(case, ours, grads)):
        return "layer_norm on a constant row of |x| ≥ 1e30: x̂ = 0 there, so dw gets nothing from it (torch's x̂ is the rounding residue)"
    return None


def infinite_weight_input(case, ours, theirs, grads) -> str | None:
    if (case.op in ("layer_norm", "group_norm", "rms_norm") and grads == {"grad 0"} and case.args[0].grad
            and _infinite_weight_limit(case, ours, theirs)):
        return f"{case.op} at an infinite weight: dx is ±inf where its two infinite terms agree, the limit (torch: NaN)"
    return None


def group_norm_empty_spatial(case, ours, theirs, grads) -> str | None:
    x = ours.tensors[0]
    if (case.op == "group_norm" and x.numel() == 0 and x.dim() > 2 and x.shape[0] * x.shape[1]
            and all(bool((ours.grads[int(i.split()[1])] == 0).all()) for i in grads)):
        return "group_norm with an empty spatial dim: dweight/dbias are 0, sums over nothing (torch's are NaN)"
    return None


def tiny_statistics(case, ours, theirs, grads) -> str | None:
    if case.op in ("group_norm", "layer_norm") and rounding.tiny_statistics(case, ours, theirs, grads):
        return f"{case.op} over one or two elements per statistic: dx = 0 exactly (both are rounding residues)"
    if grads == {"grad 0"} and rounding.rms_single_element(case, ours, theirs):
        return "rms_norm over one element per statistic: dx = dy·w·eps·r³, the residue of 1 − x̂² (both within rounding of it)"
    return None


def undefined_weight_gradient(case, ours, theirs, grads) -> str | None:
    """group_norm/layer_norm at eps = 0 where a statistic's variance is 0 (one element per group):
    x̂ = 0·inf = NaN, so y is NaN there (ours and torch's) and dw = Σ dy ⊙ x̂ is NaN over each weight
    entry that reads such an x̂, where torch's kernel can sum its terms to ±inf. Accepted where only
    dw differs, and there only as ours' NaN against torch's ±inf in an entry whose slice of ours' y
    holds NaN."""
    if case.op not in ("group_norm", "layer_norm") or not ours.outs:
        return None
    eps = case.kwargs.get("eps", case.args[4] if len(case.args) > 4 else 1e-5)
    names = _differentiable(case, ("input", "weight", "bias"))
    if eps != 0 or "weight" not in names or grads != {f"grad {names.index('weight')}"}:
        return None
    g, h, y = ours.grads[names.index("weight")], theirs.grads[names.index("weight")], ours.outs[0]
    # y's entries by weight entry: a channel (group_norm), the trailing normalized dims (layer_norm)
    ys = y.transpose(0, 1).reshape(y.shape[1], -1).T if case.op == "group_norm" else y.reshape(-1, *g.shape)
    at = g.isnan() & h.isinf()
    if g.shape != h.shape or not bool(at.any()) or not torch.equal(g[~at].nan_to_num(), h[~at].nan_to_num()):
        return None
    if not bool(ys.isnan().any(0)[at].all()):
        return None
    return f"{case.op} at eps = 0 over a zero-variance statistic: x̂ = 0/0, so dw is NaN there (torch's sum may be ±inf)"


def local_response_norm_infinite_window(case, ours, theirs, grads) -> str | None:
    """A window whose x² overflows (or holds ±inf) has d = inf: its share of dx, ∝ d^(−β−1), is 0
    in ours, the limit, and inf·0 = NaN in torch's composite (at any precision). Accepted where
    every non-finite difference is torch's NaN against ours' finite dx, the finite entries agree,
    and ours is there torch's float64 dx with each ±inf input entry ±1e50 (no overflow)."""
    from .compare import _same, close, run
    from .ops import OPS
    if case.op != "local_response_norm" or grads != {"grad 0"}:
        return None
    g, h = ours.grads[0], theirs.grads[0]
    at = ~_same(g, h) & ~(g.isfinite() & h.isfinite())
    if not bool(at.any()) or not bool((h[at].isnan() & g[at].isfinite()).all()) or close(torch.where(at, h, g), h):
        return None
    torch_fn = OPS[case.op].pair[1]
    ref = run(lambda x, *a, **k: torch_fn(torch.where(x.isinf(), x.sign() * 1e50, x), *a, **k), case, "float64",
              dys=ours.dys)
    if ref.error or not ref.grads or ref.grads[0] is None:
        return None
    want = ref.grads[0][at]
    if not bool(want.isfinite().all()) or close(g[at], want.to(g.dtype), lambda: want, g.dtype):
        return None
    return "local_response_norm where a window's d is infinite: its share of dx is 0, the limit (torch: inf·0 = NaN)"
