"""Deliberate differences of the losses (docs/ops.md, "Deliberate differences from torch");
tests/fuzz/deviations.py dispatches to these predicates."""

from __future__ import annotations


def _reduced_mean(case) -> bool:
    """The case's loss reduces by 'mean' (its reduction, the deprecated alias or a legacy pair)."""
    kw = case.kwargs
    if "size_average" in kw or "reduce" in kw:
        return kw.get("reduce") is not False and kw.get("size_average") is not False
    return kw.get("reduction", "mean") in ("mean", "elementwise_mean")


# ours raises, torch does not: (case, ours' error)

def negative_label_smoothing(case, error) -> str | None:
    if case.kwargs.get("label_smoothing", 0.0) < 0 and error[1] is RuntimeError:
        return "label_smoothing < 0 raises (torch checks only > 1)"
    return None


def linear_cross_entropy_bias_dtype(case, error) -> str | None:
    x, bias = case.args[0], case.kwargs.get("linear_bias")
    if (case.op == "linear_cross_entropy" and len(x.shape) == 1 and hasattr(bias, "dtype")
            and bias.dtype != x.dtype and (x.layout, bias.layout) != ("contiguous", "contiguous")
            and "same dtype" in error[2]):
        return "a linear_bias of another dtype raises (torch's F.linear takes it for a 1-d input, unless both are contiguous)"
    return None


# torch's backward raises, ours does not: (case, torch's message)

def nll_empty_spatial_uint8_target(case, why) -> str | None:
    if (case.op in ("nll_loss", "cross_entropy") and why == "expected scalar type Long but found Byte"
            and 0 in case.args[0].shape and len(case.args[0].shape) > 2):
        return "nll_loss/cross_entropy of an empty spatial input with a uint8 target has a gradient (torch's backward raises)"
    return None


def nll_non_contiguous(case, why) -> str | None:
    if case.op == "nll_loss" and "grad_input must be contiguous" in why and case.args[0].layout != "contiguous":
        return "nll_loss on a non-contiguous input of 3+ dims has a gradient (torch's backward raises)"
    return None


def huber_target_dtype(case, why) -> str | None:
    target = case.args[1] if len(case.args) > 1 else case.kwargs.get("target")
    if (case.op == "huber_loss" and why.startswith("Found dtype") and hasattr(target, "dtype")
            and target.dtype != case.args[0].dtype):
        return "huber_loss with a target of another dtype has a gradient (torch's backward raises)"
    return None


# gradients or outputs differ: (case, ours, theirs, found)

def margin_empty_batch(case, ours, theirs, found) -> str | None:
    if (case.op in ("multi_margin_loss", "multilabel_margin_loss") and ours.tensors[0].numel() == 0
            and {c for c, _ in found} == {"output"} and ours.outs[0].dim() == 0
            and (ours.outs[0].isnan() if _reduced_mean(case) and ours.outs[0].is_floating_point()
                 else ours.outs[0] == 0)):
        return f"{case.op} of an empty batch, reduced: 0 or NaN (torch's kernel returns uninitialised memory)"
    return None


def _ctc_non_finite_input(ours) -> bool:
    """ctc_loss's log_probs hold NaN, +inf or |x| ≥ 1e29 (ctc_non_finite's documented case)."""
    x = ours.tensors[0].detach()
    return bool((x.isnan() | (x == float("inf")) | (x.abs() >= 1e29) & x.isfinite()).any())


def ctc_non_finite(case, ours, theirs, found) -> str | None:
    if case.op == "ctc_loss" and {c for c, _ in found} == {"gradient"}:
        if _ctc_non_finite_input(ours):
            return "ctc_loss of log_probs holding NaN, +inf or |x| ≥ 1e29: its NaN/cancelled gradient entries differ"
    return None


def ctc_strided_targets(case, ours, theirs, found) -> str | None:
    """Concatenated 1-d targets with a stride: torch's CPU kernel starts sample n's labels at memory
    offset Σ_{m<n} S_m (not times the stride), so it reads other labels; ours equals torch's on
    a contiguous copy of the targets (outputs, and gradients up to ctc_non_finite's NaN placement)."""
    targets = ours.tensors[1] if case.op == "ctc_loss" and len(ours.tensors) > 1 else None
    if targets is None or targets.dim() != 1 or targets.is_contiguous():
        return None
    from .compare import close, run
    import torch.nn.functional as F

    def contiguous(x, t, *args, **kwargs):
        return F.ctc_loss(x, t.contiguous(), *args, **kwargs)
    ref, cache = run(contiguous, case, dys=ours.dys), {}

    def exact(what, i):  # torch's float64 result on the contiguous copy, for a low-precision case
        def get():
            if "side" not in cache:
                cache["side"] = run(contiguous, case, "float64", dys=ours.dys)
            return None if cache["side"].error else getattr(cache["side"], what)[i]
        return get

    def differ(what):
        return [close(a, b, exact(what, i), case.precision()) if a is not None else ""
                for i, (a, b) in enumerate(zip(getattr(ours, what), getattr(ref, what)))]
    if ref.error or any(differ("outs")) or [g is None for g in ours.grads] != [g is None for g in ref.grads]:
        return None
    if any(differ("grads")) and not _ctc_non_finite_input(ours):
        return None
    return "ctc_loss of strided concatenated targets reads them as given (torch's CPU kernel misreads them)"
