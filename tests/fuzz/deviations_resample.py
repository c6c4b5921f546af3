"""Deliberate differences of interpolate (docs/ops.md, "Deliberate differences from torch");
tests/fuzz/deviations.py dispatches to these predicates."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .tensors import _view


def _adjoint_gap(spec, x, kw, dy, dx) -> float:
    """|<dy, F(v)> − <dx, v>| / Σ|dy·F(v)| for a fixed random leaf v (dx is the leaf's gradient;
    F reads the view ``spec`` makes of it): 0 when dx is the adjoint of torch's forward
    F = interpolate(·, **kw) applied to dy."""
    v = torch.randn(dx.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0)).to(x.dtype)
    fv = F.interpolate(_view(v, spec.shape, spec.layout), **kw).double()
    lhs, rhs = (dy.double() * fv).sum(), (dx.double() * v.double()).sum()
    return float((lhs - rhs).abs() / (dy.double() * fv).abs().sum().clamp(min=1e-300))


def _interpolate_torch_wrong(case, ours, theirs, classes) -> str | None:
    """torch's interpolate is wrong and ours right (tests/test_resample.py): its antialias forward
    to width 1, or its CPU backward where forward and backward disagree on a shortcut."""
    x, y, kw = ours.tensors[0].detach(), ours.outs[0], case.kwargs
    if classes == {"output"} and kw.get("antialias") and y.shape[-1] == 1 and y.shape[-2] != x.shape[-2]:
        swap = lambda v: v[::-1] if isinstance(v, (list, tuple)) else v  # noqa: E731
        right = F.interpolate(x.mT, **{**kw, "size": swap(kw.get("size")),
                                       "scale_factor": swap(kw.get("scale_factor"))}).mT
        if torch.allclose(right.double(), y.double(), rtol=1e-2, atol=1e-2):
            return ("antialiased interpolate to width 1 with a new height: ours right "
                    "(torch's CPU forward repeats row 0)")
    if classes == {"output"} and x.dtype == torch.uint8 and kw.get("mode") == "lanczos":
        runs = {tuple(F.interpolate(x.clone(), **kw).flatten().tolist()) for _ in range(8)}
        if len(runs) > 1:
            return "uint8 lanczos: torch's CPU kernel reads uninitialised memory (its output changes from call to call)"
    if classes == {"gradient"} and x.is_floating_point() and ours.grads and ours.grads[0] is not None:
        # ours within rounding of the adjoint (the gap is relative to Σ|dy·F(v)|), and torch's
        # backward off it in float64, where no rounding explains a gap (in bf16 a wrong map whose
        # dy happens to be small there leaves a gap of the rounding's size)
        tol = {torch.float64: 1e-11, torch.float32: 1e-6, torch.float16: 1e-3, torch.bfloat16: 4e-3}[x.dtype]
        if (_adjoint_gap(case.args[0], x, kw, ours.dys[0], ours.grads[0]) < tol
                and _torch_gap64(case.args[0], kw, ours.dys[0], ours.grads[0].shape) > 1e-9):
            return "interpolate where torch's CPU backward is not the adjoint of its forward (ours is)"
    return None


def _torch_gap64(spec, kw, dy, leaf_shape) -> float:
    """:func:`_adjoint_gap` of torch's own float64 backward on the case's layout (the map is linear:
    the leaf's values do not matter)."""
    leaf = torch.randn(leaf_shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1)).requires_grad_()
    (dx,) = torch.autograd.grad(F.interpolate(_view(leaf, spec.shape, spec.layout), **kw), leaf, dy.double())
    return _adjoint_gap(spec, leaf.detach(), kw, dy.double(), dx)


# torch's backward raises, ours does not: (case, torch's message)

def area_to_empty(case, why) -> str | None:
    if case.op == "interpolate" and case.kwargs.get("mode") == "area" and "non-zero size for non-batch dimensions" in why:
        return "interpolate (area) to a 0 output size has a zero gradient (torch's backward raises)"
    return None


def antialias_half(case, why) -> str | None:
    if case.op == "interpolate" and case.kwargs.get("antialias") and why.endswith(("for 'BFloat16'", "for 'Half'")):
        return ("antialiased interpolate in half precision, where torch's CPU forward runs no kernel (empty, "
                "same size), has a gradient (torch's CPU backward has no half kernel)")
    return None


# gradients or outputs differ: (case, ours, theirs, found)

def torch_wrong(case, ours, theirs, found) -> str | None:
    if case.op == "interpolate" and found:
        return _interpolate_torch_wrong(case, ours, theirs, {c for c, _ in found})
    return None
