"""The deliberate differences from torch that docs/ops.md documents ("Deliberate differences from
torch"), as predicates on a drawn case: the fuzzer accepts exactly these and nothing else."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .tensors import _view


def _windows_of_padding_only(size: int, k: int, s: int, p: int, d: int, ceil: bool) -> bool:
    """Does some max-pool window along one dim hold padding only (rows outside [0, size))?"""
    span = d * (k - 1) + 1
    n = (size + 2 * p - span + (s - 1 if ceil else 0)) // s + 1
    if ceil and (n - 1) * s >= size + p:
        n -= 1
    return any(all(not 0 <= o * s - p + d * j < size for j in range(k)) for o in range(n))


def _pair(v, default):
    v = default if v is None else v
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def torch_backward_skipped(case) -> str | None:
    """Why torch's backward must not run on ``case`` (it would write out of bounds or crash), or None."""
    if case.op == "group_norm":
        x, kw = case.args[0], case.kwargs
        w, b = (case.args[i] if len(case.args) > i else kw.get(k) for i, k in ((2, "weight"), (3, "bias")))
        if x.layout == "channels_last" and not x.grad and (getattr(w, "grad", False) or getattr(b, "grad", False)):
            return "group_norm of a channels-last input without grad (torch's CPU backward segfaults)"
    if case.op != "max_pool2d":
        return None
    kw = case.kwargs
    k = _pair(kw["kernel_size"], None)
    s, p = _pair(kw.get("stride"), k), _pair(kw.get("padding"), 0)
    d = _pair(kw.get("dilation"), 1)
    hw = case.args[0].shape[-2:]
    if any(_windows_of_padding_only(hw[i], k[i], s[i], p[i], d[i], kw.get("ceil_mode", False)) for i in (0, 1)):
        return "max_pool2d windows that hold only padding get no gradient (torch's CPU backward writes out of bounds)"
    return None


def accepted(case, ours_error, theirs_error) -> str | None:
    """The documented reason (docs/ops.md) when ours raising or returning differently from torch on ``case`` is a
    documented deliberate difference, else None. Errors are ``(phase, type, message)`` or None."""
    kw = case.kwargs
    if ours_error and not theirs_error:
        if (case.op == "pad" and ours_error[1] is RuntimeError
                and "wraps around more than the cropped part" in ours_error[2]):
            return "circular pad longer than what negative pads leave of the dim raises (torch: uninitialised memory)"
        if kw.get("label_smoothing", 0.0) < 0 and ours_error[1] is RuntimeError:
            return "label_smoothing < 0 raises (torch checks only > 1)"
        slope = case.args[1] if len(case.args) > 1 else kw.get("negative_slope", kw.get("alpha", 1.0))
        if case.op in ("leaky_relu", "elu") and case.inplace and slope < 0 and ours_error[1] is RuntimeError:
            return "in-place leaky_relu/elu with a negative slope raise at the call (torch: at backward)"
        if (case.op == "batch_norm" and kw.get("training", False) and ours_error[1] is RuntimeError
                and "share one memory location" in ours_error[2]):
            return "batch_norm training with a running stat whose elements overlap (stride 0) raises"
        if case.op == "batch_norm" and 0 in case.args[0].shape and ours_error[1] is RuntimeError:
            x = case.args[0]
            w, b = (case.args[i] if len(case.args) > i else kw.get(k) for i, k in ((3, "weight"), (4, "bias")))
            fits = len(x.shape) > 1 and all(t is None or (tuple(t.shape) == (x.shape[1],) and t.dtype == x.dtype)
                                            for t in (w, b))
            if not fits and any(getattr(t, "grad", False) for t in (x, w, b)):
                return "batch_norm of an empty input with a weight or bias that does not fit it runs the usual checks"
        x, bias = case.args[0], kw.get("linear_bias")
        if (case.op == "linear_cross_entropy" and len(x.shape) == 1 and hasattr(bias, "dtype")
                and bias.dtype != x.dtype and (x.layout, bias.layout) != ("contiguous", "contiguous")
                and "same dtype" in ours_error[2]):
            return "a linear_bias of another dtype raises (torch's F.linear takes it for a 1-d input, unless both are contiguous)"
    if theirs_error and not ours_error and theirs_error[0] == "backward":
        why = theirs_error[2]
        if case.op == "adaptive_avg_pool2d" and "non-zero size for non-batch dimensions" in why:
            return "adaptive_avg_pool2d to a 0 output size has a zero gradient (torch's backward raises)"
        if case.op == "interpolate" and kw.get("mode") == "area" and "non-zero size for non-batch dimensions" in why:
            return "interpolate (area) to a 0 output size has a zero gradient (torch's backward raises)"
        if (case.op == "group_norm" and "does not have a device" in why
                and kw.get("weight") is None and kw.get("bias") is not None):
            return "group_norm with a bias and no weight has gradients (torch's backward raises)"
        w = case.args[2] if len(case.args) > 2 else kw.get("weight")
        bias = case.args[3] if len(case.args) > 3 else kw.get("bias")
        if (case.op == "layer_norm" and w is None and getattr(bias, "dtype", None) == "float32"
                and case.args[0].dtype in ("float16", "bfloat16") and why.startswith("expected scalar type")
                and why.endswith("but found Float")):
            return "layer_norm of a half input with only a float32 bias has a gradient (torch's backward raises)"
        if (case.op in ("nll_loss", "cross_entropy") and why == "expected scalar type Long but found Byte"
                and 0 in case.args[0].shape and len(case.args[0].shape) > 2):
            return "nll_loss/cross_entropy of an empty spatial input with a uint8 target has a gradient (torch's backward raises)"
        if case.op == "nll_loss" and "grad_input must be contiguous" in why and case.args[0].layout != "contiguous":
            return "nll_loss on a non-contiguous input of 3+ dims has a gradient (torch's backward raises)"
        target = case.args[1] if len(case.args) > 1 else kw.get("target")
        if (case.op == "huber_loss" and why.startswith("Found dtype") and hasattr(target, "dtype")
                and target.dtype != case.args[0].dtype):
            return "huber_loss with a target of another dtype has a gradient (torch's backward raises)"
        if case.op == "interpolate" and kw.get("antialias") and why.endswith(("for 'BFloat16'", "for 'Half'")):
            return ("antialiased interpolate in half precision, where torch's CPU forward runs no kernel (empty, "
                    "same size), has a gradient (torch's CPU backward has no half kernel)")
    return None


def _differentiable(case, names) -> list[str]:
    """The names (in the signature's order ``names``) of the case's differentiable tensors, as
    the 'grad i' of a disagreement counts them."""
    given = dict(zip(names, case.args)) | {k: v for k, v in case.kwargs.items() if k in names}
    return [n for n in names if getattr(given.get(n), "grad", False)]


def _attention_is_torch_math(case, ours) -> bool:
    """No dropout, and ours' outputs and gradients are those of torch's own math backend (the
    path its 2-d/3-d calls take) on the same tensors and dys."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from .compare import close, run
    if case.kwargs.get("dropout_p", 0.0):
        return False

    def math(*args, **kwargs):
        with sdpa_kernel(SDPBackend.MATH):
            return torch.nn.functional.scaled_dot_product_attention(*args, **kwargs)
    ref = run(math, case, dys=ours.dys or None)
    if ref.error or len(ref.outs) != len(ours.outs) or len(ref.grads) != len(ours.grads):
        return False
    pairs = list(zip(ours.outs, ref.outs)) + list(zip(ours.grads, ref.grads))
    return all((a is None) == (b is None) and (a is None or not close(a, b)) for a, b in pairs)


def _infinite_weight_limit(case, ours, theirs) -> bool:
    """The weight holds ±inf, and wherever ours' dx differs from torch's, torch's is NaN and ours
    is ±inf with the sign of the limit: torch's float64 dx with each ±inf weight entry ±1e200."""
    from .compare import _same, run
    w = case.args[2] if len(case.args) > 2 else case.kwargs.get("weight")
    if not hasattr(w, "shape"):
        return False
    g, h = ours.grads[0], theirs.grads[0]
    differ = ~_same(g, h)
    if not (bool(differ.any()) and bool(h[differ].isnan().all()) and bool(g[differ].isinf().all())):
        return False

    def finite(t):
        return torch.where(t.isinf(), t.sign() * 1e200, t)

    def limit(*args, **kwargs):
        args = list(args)
        if len(args) > 2:
            args[2] = finite(args[2])
        else:
            kwargs["weight"] = finite(kwargs["weight"])
        return torch_fn(*args, **kwargs)
    from .ops import OPS
    torch_fn = OPS[case.op].pair[1]
    ref = run(limit, case, "float64", dys=ours.dys)
    if ref.error or not (ref.grads and ref.grads[0] is not None):
        return False
    want = ref.grads[0][differ]
    return bool(((want.abs() > 1e100) & (want.sign() == g[differ].double().sign())).all())


def _layer_norm64(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """layer_norm as plain float64 ops whose mean of a constant row is that row's value exactly
    (its gradient still the mean's), so x − μ = 0 and σ² = 0 there, as in exact arithmetic."""
    k = len(normalized_shape) if isinstance(normalized_shape, (list, tuple)) else 1
    dims = tuple(range(-k, 0))
    m = x.mean(dims, keepdim=True)
    rows = x.detach().flatten(x.dim() - k)
    const = (rows == rows[..., :1]).all(-1).reshape(m.shape)
    m = torch.where(const, m + (rows[..., :1].reshape(m.shape) - m).detach(), m)
    xc = x - m
    y = xc / torch.sqrt((xc * xc).mean(dims, keepdim=True) + eps)
    return (y if weight is None else y * weight) + (0 if bias is None else bias)


def _constant_row_composite_agrees(case, ours, grads) -> bool:
    """Some row of x is constant with |x| ≥ 1e30, and ours' gradients named in ``grads`` are
    those of :func:`_layer_norm64` on the same tensors and dys."""
    from .compare import run
    ns, x = case.args[1], ours.tensors[0].detach()
    k = len(ns) if isinstance(ns, (list, tuple)) else 1
    if not 0 < k <= x.dim() or not x.numel():
        return False
    rows = x.flatten(x.dim() - k)
    if not bool(((rows == rows[..., :1]).all(-1) & (rows[..., 0].abs() >= 1e30)).any()):
        return False
    ref = run(_layer_norm64, case, "float64", dys=ours.dys)
    if ref.error:
        return False
    idx = [int(g.split()[1]) for g in grads]
    return all(ours.grads[i] is not None and ref.grads[i] is not None
               and torch.allclose(ours.grads[i], ref.grads[i], rtol=1e-10, atol=1e-10, equal_nan=True) for i in idx)


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
        # ours within rounding of the adjoint (the gap is relative to Σ|dy·F(v)|), torch's 10× off it
        tol = {torch.float64: 1e-11, torch.float32: 1e-6, torch.float16: 1e-3, torch.bfloat16: 4e-3}[x.dtype]
        if (_adjoint_gap(case.args[0], x, kw, ours.dys[0], ours.grads[0]) < tol
                and _adjoint_gap(case.args[0], x, kw, theirs.dys[0], theirs.grads[0]) > 10 * tol):
            return "interpolate where torch's CPU backward is not the adjoint of its forward (ours is)"
    return None


def accepted_gradients(case, ours, theirs, found) -> str | None:
    """The documented reason (docs/ops.md) when the gradient disagreements ``found`` (``(class, detail)``) between
    ``ours`` and ``theirs`` (compare.Side, both returned) are a documented deliberate difference,
    else None. Each predicate looks at the values, not only at the case, and names the gradient."""
    if (case.op == "scaled_dot_product_attention" and len(case.args[0].shape) == 4
            and {c for c, _ in found} <= {"output", "gradient"} and all("non-finite entries" in d for _, d in found)
            and _attention_is_torch_math(case, ours)):
        return "4-d attention whose non-finite entries are torch's math backend's (its CPU flash kernel differs)"
    if (case.op == "scaled_dot_product_attention" and {c for c, _ in found} == {"gradient missing/extra"}
            and not theirs.grads and ours.outs[0].numel() == 0
            and all(g is None or g.numel() == 0 for g in ours.grads)):
        return "empty attention keeps its graph: empty gradients (torch's empty output does not require grad)"
    if case.op == "interpolate" and found:
        why = _interpolate_torch_wrong(case, ours, theirs, {c for c, _ in found})
        if why:
            return why
    if not found or any(c != "gradient" for c, _ in found):
        return None
    grads = {d.split(":")[0] for _, d in found}  # 'grad i': i counts the differentiable inputs
    if case.op == "pad" and ours.outs[0].numel() == 0 and all(g is None or not g.any() for g in ours.grads):
        return ("pad to an empty output has a zero gradient "
                "(torch's reflection_pad backward returns uninitialised memory)")
    kw, x = case.kwargs, ours.tensors[0]
    if case.op == "batch_norm" and not kw.get("training", False) and len(case.args[0].shape) == 2:
        names = _differentiable(case, ("input", "running_mean", "running_var", "weight", "bias"))
        named = {names[int(g.split()[1])] for g in grads}
        mean, var = (case.args[i] if len(case.args) > i else kw.get(k) for i, k in ((1, "running_mean"),
                                                                                      (2, "running_var")))
        wrong = ({"input", "weight"} if getattr(var, "layout", "contiguous") != "contiguous" else set()) | (
            {"weight"} if getattr(mean, "layout", "contiguous") != "contiguous" else set())
        if named and named <= wrong:  # dx reads var; dw reads mean and var; db neither
            return "batch_norm eval of a 2-d input with a non-contiguous running stat: torch's gradients are garbage"
    if case.op == "layer_norm" and grads == {"grad 0"} and x.dtype == torch.float64 and case.args[0].grad:
        ns = case.args[1]
        k = len(ns) if isinstance(ns, (list, tuple)) else 1
        rows = x.detach().flatten(x.dim() - k) if 0 < k <= x.dim() else None
        const = (rows == rows[..., :1]).all(-1) & (rows[..., 0].abs() >= 1e30) if rows is not None else None
        g, h = (t.flatten(t.dim() - k) for t in (ours.grads[0], theirs.grads[0])) if rows is not None else (0, 0)
        if (rows is not None and rows.numel() and bool(const.any())  # elsewhere the two agree
                and torch.allclose(g[~const], h[~const], equal_nan=True)):
            return "layer_norm on a constant row of |x| ≥ 1e30: σ² = 0 (torch's mean rounds, σ² ≫ eps)"
    if (case.op == "layer_norm" and "grad 1" in grads and grads <= {"grad 0", "grad 1"}
            and x.dtype == torch.float64 and _constant_row_composite_agrees(case, ours, grads)):
        return "layer_norm on a constant row of |x| ≥ 1e30: x̂ = 0 there, so dw gets nothing from it (torch's x̂ is the rounding residue)"
    if (case.op in ("layer_norm", "group_norm", "rms_norm") and grads == {"grad 0"} and case.args[0].grad
            and _infinite_weight_limit(case, ours, theirs)):
        return f"{case.op} at an infinite weight: dx is ±inf where its two infinite terms agree, the limit (torch: NaN)"
    if (case.op == "group_norm" and x.numel() == 0 and x.dim() > 2 and x.shape[0] * x.shape[1]
            and all(bool((ours.grads[int(i.split()[1])] == 0).all()) for i in grads)):
        return "group_norm with an empty spatial dim: dweight/dbias are 0, sums over nothing (torch's are NaN)"
    if case.op in _FORMULAS and grads == {"grad 0"} and _is_its_formula(case, ours):
        if bool(x.isnan().any()):
            return (f"{case.op}'s gradient at a NaN input is that of its x > bound branch at every size, as torch's "
                    "scalar loop (torch's vectorized loop gives NaN or 0)")
        if case.op == "celu" and x.dtype == torch.float64:
            return "celu's float64 gradient uses its forward's 1/α (torch's backward rounds 1/α to float32)"
    return None

