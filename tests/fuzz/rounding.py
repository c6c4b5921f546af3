"""Value checks for disagreements that are rounding, not behaviour: where the compared number is a
sum whose terms cancel (so its own scale says nothing about the error), each check looks at the
terms instead. deviations.accepted_gradients uses them; docs/ops.md ("Deliberate differences")
and docs/testing.md name the cases."""

from __future__ import annotations

import math
import warnings

import torch

from manualgrad.verify import seeded
from .tensors import T, build

_EPS = {torch.float64: 2.0**-52, torch.float32: 2.0**-23}


def _leaf_specs(case) -> list:
    """The recipes of the case's differentiable inputs, in the order its 'grad i' counts them."""
    return [a for a in (*case.args, *case.kwargs.values()) if isinstance(a, T) and a.grad and a.floating]


def _view_grads(fn, case, dys, shapes, dtype=None):
    """``fn``'s gradients with respect to the case's inputs in ``shapes`` ({id(spec): shape}) taken as
    full tensors of that shape (None: the input's own, an expanded view's), one element each: the
    gradients autograd then sums down to the stride-0 leaf, or over the op's broadcast. None where
    ``fn`` raises."""
    leaves = []

    def one(a):
        if not isinstance(a, T):
            return torch.float64 if dtype and isinstance(a, torch.dtype) and a.is_floating_point else a
        x, _ = build(a, dtype)
        if id(a) in shapes:
            x = x.detach() if shapes[id(a)] is None else x.detach().expand(shapes[id(a)])
            x = x.clone().requires_grad_()
            leaves.append(x)
        return x
    args = tuple(one(a) for a in case.args)
    kwargs = {k: one(v) for k, v in case.kwargs.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with seeded(case.seed):
                out = fn(*args, **kwargs)
            outs = [o for o in (out if isinstance(out, tuple) else (out,))
                    if isinstance(o, torch.Tensor) and o.requires_grad]
            return torch.autograd.grad(outs, leaves, [d.to(o.dtype) for d, o in zip(dys, outs)], allow_unused=True)
        except Exception:  # noqa: BLE001 - no verdict
            return None


def _views_agree(case, ours, named, shapes, ours_fn, torch_fn) -> bool:
    """The gradients of :func:`_view_grads` for the named leaves (all in ``shapes``) agree between
    ours and torch: ``close``, against float64 below it."""
    from .compare import close
    specs = _leaf_specs(case)
    if any(i >= len(specs) or id(specs[i]) not in shapes for i in named):
        return False
    mine, theirs = (_view_grads(fn, case, ours.dys, shapes) for fn in (ours_fn, torch_fn))
    if mine is None or theirs is None:
        return False
    exact = _view_grads(torch_fn, case, ours.dys, shapes, "float64")
    views = [i for i, s in enumerate(specs) if id(s) in shapes]  # the leaves' order among the gradients
    for i in named:
        j = views.index(i)
        g, h = mine[j], theirs[j]
        if (g is None) != (h is None):
            return False
        ref = None if exact is None or exact[j] is None else exact[j]
        if g is not None and close(g, h, (lambda r=ref: r), case.precision()):
            return False
    return True


def expanded_view_grads_agree(case, ours, grads, ours_fn, torch_fn) -> bool:
    """Every gradient named in ``grads`` belongs to an expanded (stride-0) input, whose leaf gradient
    is the sum of its view's gradient over the repeated elements, and the view's gradients agree
    (``close``, against float64 below it): where that sum cancels (a constant row normalised, so
    Σ dx = 0), the leaf's value is the rounding residue of terms far larger than itself, different
    whenever any one term rounds differently."""
    named = [int(g.split()[1]) for g in grads]
    shapes = {id(s): None for s in _leaf_specs(case) if s.layout == "expanded"}
    return not case.inplace and bool(named) and _views_agree(case, ours, named, shapes, ours_fn, torch_fn)


def broadcast_input_grads_agree(case, ours, grads, ours_fn, torch_fn) -> bool:
    """The same where the op itself broadcasts the input (a loss's 0-d target against a (3,) input,
    kl_div's): its gradient sums the broadcast elements' gradients, which agree, and where they
    cancel (terms of ±1e30·g) the sum is a residue that any order of summation makes different
    (the evening's full long profile: kl_div, bf16, ours 0, torch −0.094, float64 −0.094, exact
    −0.32). Only the first two tensor arguments (input, target) are taken to broadcast."""
    tensors = [a for a in case.args[:2] if isinstance(a, T)]
    named = [int(g.split()[1]) for g in grads]
    if case.inplace or len(tensors) != 2 or not named:
        return False
    try:
        shape = torch.broadcast_shapes(*(tuple(a.shape) for a in tensors))
    except RuntimeError:
        return False
    shapes = {id(a): shape for a in tensors if tuple(a.shape) != shape and a.grad and a.floating}
    return bool(shapes) and _views_agree(case, ours, named, shapes, ours_fn, torch_fn)


def batch_mean_residue(case, ours, theirs, found) -> bool:
    """batch_norm training whose only disagreement is in the running stats, each within the
    rounding of its channel's batch sum: |Δ running_mean| ≤ 2n·ε·max|x|, |Δ running_var| ≤
    4n·ε·max x² (ε of the accumulation dtype, n values per channel), plus a few ulps of the stat
    itself. Where a channel's values cancel (±1e30 of both signs) its mean is that residue, and
    ours (a pairwise sum) and torch's (a sequential one) leave different residues."""
    if case.op != "batch_norm" or not case.kwargs.get("training") or len(case.args) < 3:
        return False
    stats = {f"tensor argument {i} after the call" for i in (1, 2)}
    if any(c != "mutated argument" or d.split(":")[0] not in stats for c, d in found):
        return False
    x = theirs.tensors[0].detach()
    if x.dim() < 2 or not x.numel():
        return False
    xs = x.transpose(0, 1).reshape(x.shape[1], -1).double()
    n = xs.shape[1]
    eps = _EPS.get(x.dtype, _EPS[torch.float32])
    top = xs.abs().where(xs.isfinite(), 0).amax(1)
    for i, bound in ((1, 2 * n * eps * top), (2, 4 * n * eps * top.square() * n / max(n - 1, 1))):
        a, b = ours.tensors[i].detach().double(), theirs.tensors[i].detach().double()
        same = (a == b) | (a.isnan() & b.isnan())
        ulps = 8 * _EPS.get(theirs.tensors[i].dtype, 2.0**-10) * b.abs()
        if not bool((same | ((a - b).abs() <= bound + ulps)).all()):
            return False
    return True


def statistic_rows(case, t: torch.Tensor):
    """``t`` (x or a gradient of x's shape) as (statistics, elements per statistic) for layer_norm
    and group_norm, or None where the call has no such layout."""
    if case.op == "layer_norm":
        ns = case.args[1]
        k = len(ns) if isinstance(ns, (list, tuple)) else 1
        n = math.prod(t.shape[t.dim() - k:]) if 0 < k <= t.dim() else 0
    elif case.op == "group_norm" and t.dim() >= 2 and t.shape[1] % case.args[1] == 0:
        n = t.numel() // (t.shape[0] * case.args[1]) if t.shape[0] * case.args[1] else 0
    else:
        return None
    return t.reshape(-1, n) if n else None


def tiny_statistics(case, ours, theirs, grads) -> bool:
    """group_norm / layer_norm over one or two elements per statistic: x̂ is 0 (one element) or ±1
    (two that differ), so dx = rstd·(ĝ − mean ĝ − x̂·mean(ĝ x̂)) = 0 exactly, and with one element
    dw = Σ dy ⊙ x̂ = 0 too. Where ours differs from torch's, both are within rounding residues of
    0: 16ε·rstd·max|ĝ| for dx (~1e16 at |w| = 1e30, ~1e24 at |x| ~ 1e-39 with eps = 0), ours 0
    and torch's within 16ε·rstd·max|x|·Σ|dy| for dw."""
    x = ours.tensors[0].detach()
    rows = statistic_rows(case, x)
    if rows is None or not rows.numel() or rows.shape[1] > 2 or x.dtype not in _EPS:
        return False
    eps_arg = case.kwargs.get("eps", 1e-5) if len(case.args) <= 4 else case.args[4]
    var = rows.double().var(1, unbiased=False)
    rstd = (var + eps_arg).rsqrt().where(var + eps_arg > 0, math.inf).max().item()
    w = case.args[2] if len(case.args) > 2 else case.kwargs.get("weight")
    specs = _leaf_specs(case)
    dy = ours.dys[0].double().abs()
    wt = ours.tensors[1].detach().double() if isinstance(w, T) else None
    for i in (int(g.split()[1]) for g in grads):
        g, h = ours.grads[i], theirs.grads[i]
        differ = ~((g == h) | (g.isnan() & h.isnan()))
        if specs[i] is case.args[0]:  # dx
            bound = 16 * _EPS[x.dtype] * rstd * dy.max().item() * (1.0 if wt is None else wt.abs().max().item())
            if not all(bool((t[differ].double().abs() <= bound).all()) for t in (g, h)):
                return False
        elif specs[i] is w and rows.shape[1] == 1:  # dw
            top = x.double().abs().where(x.isfinite(), 0).max().item()
            bound = 16 * _EPS[x.dtype] * rstd * top * dy.sum().item()
            if not (bool((g[differ] == 0).all()) and bool((h[differ].double().abs() <= bound).all())):
                return False
        else:
            return False
    return True


def rms_single_element(case, ours, theirs) -> bool:
    """rms_norm over one element per statistic: x̂² = x²/(x² + eps), so dx = dy·w·r·(1 − x̂²) =
    dy·w·eps·r³ is the residue of 1 − x̂² (eps = ε by default: all but cancelled). Where ours
    differs from torch's, both are within 16ε·r·|dy·w| of that closed form (per row, summed into
    the leaf as autograd sums the view's gradient)."""
    if case.op != "rms_norm":  # first: other ops' cases (normalize's) have no normalized_shape
        return False
    ns = case.args[1]
    if math.prod(ns if isinstance(ns, (list, tuple)) else [ns]) != 1:
        return False
    x, dy = ours.tensors[0].detach(), ours.dys[0]
    if x.dtype not in _EPS or not case.args[0].grad or ours.grads[0] is None:
        return False
    w = ours.tensors[1].detach().double() if isinstance(case.kwargs.get("weight"), T) else torch.ones((), dtype=torch.float64)
    eps = case.kwargs.get("eps")
    eps = torch.finfo(x.dtype).eps if eps is None else eps
    r = (x.double() ** 2 + eps).rsqrt()
    exact, bound = dy.double() * w * eps * r ** 3, 16 * _EPS[x.dtype] * r * (dy.double() * w).abs()
    view, leaf = build(case.args[0], "float64")
    exact, bound = (torch.autograd.grad(view, leaf, t, retain_graph=True)[0] for t in (exact, bound))
    g, h = ours.grads[0].double(), theirs.grads[0].double()
    fin = exact.isfinite() & bound.isfinite() & h.isfinite()  # elsewhere (x = ±inf, NaN): torch's non-finite values
    if not bool(((g == h) | (g.isnan() & h.isnan()))[~fin].all()):
        return False
    return bool(((g - exact).abs() <= bound)[fin].all()) and bool(((h - exact).abs() <= bound)[fin].all())


def batch_stats_overflow_as_contiguous(case, ours) -> bool:
    """batch_norm training of a float32 input of a layout torch's CPU kernels do not take (neither
    contiguous nor channels-last) holding |x| ≥ 1e19, where σ² overflows float32: torch's generic
    path accumulates in double, its contiguous and channels-last kernels (and ours, in every
    layout) in float32, so σ² = inf, y = 0 and the running_var is inf or NaN there. Ours' outputs,
    running stats and gradients are torch's on a contiguous copy of x."""
    from .compare import close, run
    from .ops import OPS
    x = case.args[0]
    if (case.op != "batch_norm" or not case.kwargs.get("training") or x.dtype != "float32"
            or x.layout in ("contiguous", "channels_last")):
        return False
    v = ours.tensors[0].detach()
    if not bool((v.abs().where(v.isfinite(), 0) >= 1e19).any()):
        return False
    torch_fn = OPS["batch_norm"].pair[1]
    ref = run(lambda x, *args, **kwargs: torch_fn(x.contiguous(), *args, **kwargs), case, dys=ours.dys or None)
    pairs = [*zip(ours.outs, ref.outs), *zip(ours.tensors, ref.tensors), *zip(ours.grads, ref.grads)]
    return not ref.error and len(ref.grads) == len(ours.grads) and all(
        (a is None) == (b is None) and (a is None or not close(a, b)) for a, b in pairs)


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


def constant_row_composite_agrees(case, ours, grads) -> bool:
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
               and torch.allclose(ours.grads[i], ref.grads[i], rtol=1e-10, atol=_residue(case, ours, i), equal_nan=True)
               for i in idx)


def _residue(case, ours, i) -> float:
    """The rounding residue allowed in gradient i: 1e-10, and for an expanded x, whose leaf
    gradient sums its view's rstd·(ĝ − mean ĝ) over the copies (0 on a constant row, the residue
    of terms of size eps^−½·|dy ⊙ w|), 16ε of those terms times the copies summed."""
    spec, x = _leaf_specs(case)[i], ours.tensors[0]
    if spec is not case.args[0] or spec.layout != "expanded" or not x.numel():
        return 1e-10
    eps = case.kwargs.get("eps", 1e-5) if len(case.args) <= 4 else case.args[4]
    w = case.kwargs.get("weight", case.args[2] if len(case.args) > 2 else None)
    g = ours.dys[0].double().abs() * (ours.tensors[1].detach().double().abs() if isinstance(w, T) else 1.0)
    copies = x.numel() / max(ours.grads[i].numel(), 1)
    return max(1e-10, 16 * 2.0**-52 * eps**-0.5 * g.max().item() * copies)
