"""Deliberate differences of the activations (docs/ops.md, "Deliberate differences from torch");
tests/fuzz/deviations.py dispatches to these predicates."""

from __future__ import annotations

import torch


def _elu_form(case) -> tuple:
    """(α, s, ι) of an elu-family case: y = s·x for x > 0, s·α(e^{ιx} − 1) otherwise."""
    if case.op == "selu":
        from manualgrad.functional._activations import _SELU_ALPHA, _SELU_SCALE
        return _SELU_ALPHA, _SELU_SCALE, 1.0
    alpha = case.kwargs.get("alpha", 1.0)
    return (alpha, 1.0, 1.0 / alpha) if case.op == "celu" else (alpha, 1.0, 1.0)


def _elu(case):
    alpha, scale, iscale = _elu_form(case)

    def composite(x, *_, **__):
        neg = x <= 0  # the other branch's input is 0 where unused (no inf · 0 in its gradient)
        return torch.where(neg, scale * alpha * torch.expm1(iscale * torch.where(neg, x, 0)), scale * x)
    return composite


def _hardtanh(lo, hi):
    def composite(x, *_, **__):
        return torch.where(x <= lo, lo, torch.where(x >= hi, hi, x))
    return composite


def _hardswish(x, *_, **__):
    mid = (x > -3) & (x < 3)
    xm = torch.where(mid, x, 0)  # no inf · 0 in the unused branch's gradient
    return torch.where(x <= -3, 0, torch.where(mid, xm * (xm + 3) / 6, x))


def _shrink(lambd):
    def composite(x, *_, **__):  # the gradient of soft- and hardshrink alike
        return torch.where((x >= -lambd) & (x <= lambd), 0, x)
    return composite


# Each op's formula written with torch.where (a NaN input takes the x > bound branch: dy), whose
# autograd gradient ours must equal where the NaN deviation is accepted.
_FORMULAS = {
    "elu": _elu, "selu": _elu, "celu": _elu,
    "hardtanh": lambda case: _hardtanh(case.kwargs.get("min_val", -1.0), case.kwargs.get("max_val", 1.0)),
    "relu6": lambda case: _hardtanh(0.0, 6.0),
    "hardswish": lambda case: _hardswish,
    "softshrink": lambda case: _shrink(case.kwargs.get("lambd", 0.5)),
    "hardshrink": lambda case: _shrink(case.kwargs.get("lambd", 0.5)),
}


def _is_its_formula(case, ours) -> bool:
    """Ours' input gradient is that of the op's formula (``_FORMULAS``) by autograd in x's dtype
    (celu's ι = 1/α in float64) on the same tensors and dys, also where x is a view of a larger
    or expanded leaf."""
    from .compare import close, run

    ref = run(_FORMULAS[case.op](case), case, dys=ours.dys)
    return not ref.error and ref.grads[0] is not None and not close(ours.grads[0], ref.grads[0])


# ours raises, torch does not: (case, ours' error)

def inplace_negative_slope(case, error) -> str | None:
    kw = case.kwargs
    slope = case.args[1] if len(case.args) > 1 else kw.get("negative_slope", kw.get("alpha", 1.0))
    if case.op in ("leaky_relu", "elu") and case.inplace and slope < 0 and error[1] is RuntimeError:
        return "in-place leaky_relu/elu with a negative slope raise at the call (torch: at backward)"
    return None


# only input gradients differ: (case, ours, theirs, the 'grad i' names)

def formula_gradient(case, ours, theirs, grads) -> str | None:
    x = ours.tensors[0]
    if case.op in _FORMULAS and grads == {"grad 0"} and _is_its_formula(case, ours):
        if bool(x.isnan().any()):
            return (f"{case.op}'s gradient at a NaN input is that of its x > bound branch at every size, as torch's "
                    "scalar loop (torch's vectorized loop gives NaN or 0)")
        if case.op == "celu" and x.dtype == torch.float64:
            return "celu's float64 gradient uses its forward's 1/α (torch's backward rounds 1/α to float32)"
    return None
