"""Run one drawn case on both sides and say how they disagree (if at all).

The rules: if torch raises (in forward or in backward), ours raises an exception of the same type
(in the same call, or already in forward where torch only fails in backward); if torch returns,
ours returns. Then every output, every tensor argument after the call (in-place writes, running
statistics, max_norm renormalisation) and the gradient of every differentiable input for one
random upstream gradient equal torch's: dtype and shape exactly, non-finite entries at the same
places, finite values within ``close``; a gradient one side leaves None the other may give as
zeros (autograd's None means zero).
"""

from __future__ import annotations

import warnings
import zlib
from dataclasses import dataclass, field

import torch

from manualgrad.verify import seeded
from . import deviations
from .tensors import T, build

# Low precision: ours may be at most FACTOR times torch's own error against float64 (plus FLOOR
# ulps where torch happens to be exact). A backward written as a few torch ops rounds to the
# storage dtype 2-4 times where torch's fused kernel rounds once; a factor of 4 allows that and
# still catches a gradient computed in the storage dtype end to end (errors of 10-100×).
FACTOR, FLOOR = 4.0, 4.0
EPS = {torch.float64: 2.0**-52, torch.float32: 2.0**-23, torch.bfloat16: 2.0**-7, torch.float16: 2.0**-10}


@dataclass
class Case:
    """One call: ``op(*args, **kwargs)`` with ``T`` recipes for tensors. ``inplace``: the op
    writes into ``args[0]``. ``seed``: the op draws random numbers (both sides from this seed)."""

    op: str
    args: tuple
    kwargs: dict = field(default_factory=dict)
    inplace: bool = False
    seed: int | None = None

    def precision(self) -> torch.dtype:
        """The least precise floating dtype the op computes in: of its inputs and dtype options."""
        dts = [getattr(torch, a.dtype) for a in (*self.args, *self.kwargs.values()) if isinstance(a, T) and a.floating]
        dts += [v for v in self.kwargs.values() if isinstance(v, torch.dtype) and v.is_floating_point]
        return max(dts, key=EPS.get, default=torch.float64)

    def __repr__(self) -> str:
        extra = "".join(f", {k}={getattr(self, k)!r}" for k in ("inplace", "seed") if getattr(self, k))
        return f"Case({self.op!r}, {self.args!r}, {self.kwargs!r}{extra})"


@dataclass
class Side:
    outs: tuple = ()
    tensors: list = field(default_factory=list)  # every tensor argument, after the call
    grads: tuple = ()
    dys: tuple = ()
    error: tuple | None = None  # (phase, exception type, message)


def _materialize(case: Case, dtype: str | None):
    tensors, leaves = [], []

    def one(a, mutable=False):
        if not isinstance(a, T):
            return a
        x, leaf = build(a, dtype, mutable)
        tensors.append(x)
        if leaf is not None:
            leaves.append(leaf)
        return x

    def option(v):  # the float64 reference computes in float64 where a dtype option asks for less
        return torch.float64 if dtype and isinstance(v, torch.dtype) and v.is_floating_point else one(v)

    args = tuple(one(a, case.inplace and i == 0) for i, a in enumerate(case.args))
    return args, {k: option(v) for k, v in case.kwargs.items()}, tensors, leaves


def run(fn, case: Case, dtype: str | None = None, dys: tuple | None = None, backward: bool = True) -> Side:
    """``fn`` on the case's tensors (floating ones cast to ``dtype`` if given), then (if
    ``backward``) the gradients for ``dys`` (one per differentiable output; drawn from the case
    when None)."""
    args, kwargs, tensors, leaves = _materialize(case, dtype)
    side = Side(tensors=tensors)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with seeded(case.seed):
                out = fn(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - the exception is what is compared
            side.error = ("forward", type(e), str(e).splitlines()[0] if str(e) else "")
            return side
    side.outs = out if isinstance(out, tuple) else (out,)
    diff = [o for o in side.outs if isinstance(o, torch.Tensor) and o.requires_grad]
    if not diff or not leaves or not backward:
        return side
    if dys is None:
        gen = torch.Generator().manual_seed(zlib.crc32(repr(case).encode()))
        dys = tuple(torch.randn(o.shape, generator=gen, dtype=torch.float64).to(o.dtype) for o in diff)
    side.dys = tuple(d.to(o.dtype) for d, o in zip(dys, diff))
    try:
        side.grads = torch.autograd.grad(diff, leaves, side.dys, allow_unused=True)
    except Exception as e:  # noqa: BLE001
        side.error = ("backward", type(e), str(e).splitlines()[0] if str(e) else "")
    return side


def _same(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Elementwise: equal, or both NaN."""
    return (a == b) | (a.isnan() & b.isnan())


def _error(got: torch.Tensor, ref: torch.Tensor, fin: torch.Tensor, scale: float) -> float:
    """max |got − ref| where ``ref`` is finite (a non-finite ``got`` there is an infinite error),
    over ``scale``."""
    if not fin.any():
        return 0.0
    return (got.double()[fin] - ref[fin]).abs().nan_to_num(nan=float("inf")).max().item() / scale


def close(got: torch.Tensor, want: torch.Tensor, exact=None, precision=torch.float64) -> str:
    """'' when ``got`` (ours) is as good as ``want`` (torch's), else why not. ``exact()`` gives
    torch's float64 result on the same (rounded) inputs, used where ``got`` or the computation
    (``precision``, the least precise dtype involved) is below float64."""
    if (got.dtype, got.shape) != (want.dtype, want.shape):
        return f"dtype/shape {got.dtype}{tuple(got.shape)} vs torch {want.dtype}{tuple(want.shape)}"
    if got.numel() == 0:
        return ""
    if not got.is_floating_point():
        return "" if torch.equal(got, want) else "values differ"
    g, w = got.detach(), want.detach()
    pattern = bool(_same(g.isfinite(), w.isfinite()).all() and _same(g[~g.isfinite()], w[~w.isfinite()]).all())
    why = "non-finite entries differ"
    if pattern:
        try:
            torch.testing.assert_close(g, w, equal_nan=True)
            return ""
        except AssertionError as e:
            lines = str(e).strip().splitlines()
            why = lines[-2] if len(lines) > 2 else lines[0]
    eps = max(EPS[got.dtype], EPS[precision])
    ref = exact() if exact is not None and eps > EPS[torch.float64] else None
    if ref is None or ref.shape != got.shape:
        fin = w.isfinite()
        scale = max(w[fin].abs().max().item() if fin.any() else 0.0, 1.0)
        err, limit = _error(g, w.double(), fin, scale), (1e-10 if eps == EPS[torch.float64] else 2 * FLOOR * eps)
        return "" if pattern and err <= limit else f"scale-relative error {err:.3g} ({why})"
    ref = ref.detach().double()
    fin = ref.isfinite()
    # where the exact result is not finite, ours is torch's or the exact one
    if not (_same(g.double(), w.double()) | _same(g.double(), ref) | fin).all():
        return "non-finite entries differ from torch's and float64's"
    # relative to the largest |value|, absolute below 1 (an exact 0, where ops cancel, has no scale)
    scale = max(ref[fin].abs().max().item() if fin.any() else 0.0, 1.0)
    ours, theirs = _error(g, ref, fin, scale), _error(w, ref, fin, scale)
    if ours <= FACTOR * theirs + FLOOR * eps:
        return ""
    return f"error vs float64 {ours:.3g}, torch's {theirs:.3g} (> {FACTOR:g}× + {FLOOR:g} eps; {why})"


def disagreements(ours_fn, torch_fn, case: Case) -> tuple[str, list[tuple[str, str]]]:
    """``(outcome, [(class, detail)])``: outcome 'returned', 'both raise' or 'deviation' (one that
    docs/ops.md documents, see deviations.py); the list is empty when ours behaves as torch."""
    if deviations.torch_crashes(case):
        return "deviation", _empty_result(run(ours_fn, case))
    if deviations.torch_crashes_exact(case):
        return "deviation", _against_float64(ours_fn, torch_fn, case)
    backward = not deviations.torch_backward_skipped(case)
    theirs = run(torch_fn, case, backward=backward)
    ours = run(ours_fn, case, dys=theirs.dys or None, backward=backward)
    if theirs.error or ours.error:
        found = _errors(ours.error, theirs.error)
        if found and deviations.accepted(case, ours.error, theirs.error):
            return "deviation", []
        return "both raise" if theirs.error and ours.error else "returned", found
    reference = lambda: run(torch_fn, case, "float64", dys=theirs.dys or None, backward=backward)  # noqa: E731
    found = _compare(ours, theirs, reference, case.precision())
    if found and deviations.accepted_gradients(case, ours, theirs, found):
        return "deviation", []
    return "returned", found


def _empty_result(ours: Side) -> list[tuple[str, str]]:
    """Where torch crashes (deviations.torch_crashes): ours raises, or returns only empty outputs
    and zero gradients."""
    if ours.error:
        return []
    if any(isinstance(o, torch.Tensor) and o.numel() for o in ours.outs):
        return [("output", "torch crashes here; ours must return an empty result")]
    if any(g is not None and bool((g != 0).any()) for g in ours.grads):
        return [("gradient", "torch crashes here; ours must give zero gradients")]
    return []


def _against_float64(ours_fn, torch_fn, case: Case) -> list[tuple[str, str]]:
    """Where torch crashes but ours computes (deviations.torch_crashes_exact): ours against
    float64 torch, whose results rounded once to ours' dtypes stand in for torch's. Ours may
    raise (as where torch crashes in _empty_result): it runs torch's own kernel on a padded copy,
    so it raises torch's checks (a bias of another dtype), which float64 casts away."""
    ours = run(ours_fn, case)
    if ours.error:
        return []
    ref = run(torch_fn, case, "float64", dys=ours.dys or None)
    if ref.error:
        return _errors(ours.error, ref.error)

    def rounded(ts, like):
        return tuple(t.to(u.dtype) if isinstance(t, torch.Tensor) and isinstance(u, torch.Tensor) else t
                     for t, u in zip(ts, like))
    theirs = Side(outs=rounded(ref.outs, ours.outs), tensors=list(rounded(ref.tensors, ours.tensors)),
                  grads=rounded(ref.grads, ours.grads), dys=ours.dys)
    return _compare(ours, theirs, lambda: ref, case.precision())


def _compare(ours: Side, theirs: Side, reference, precision) -> list[tuple[str, str]]:
    cache = {}

    def exact():
        if "side" not in cache:
            cache["side"] = reference()
        return cache["side"]

    def pick(what, i):
        def get():
            side = exact()
            if side.error:
                return None
            return getattr(side, what)[i]
        return get

    found = []
    if len(ours.outs) != len(theirs.outs):
        return [("output", f"{len(ours.outs)} outputs, torch {len(theirs.outs)}")]
    for i, (a, b) in enumerate(zip(ours.outs, theirs.outs)):
        why = close(a, b, pick("outs", i), precision) if isinstance(b, torch.Tensor) else ("" if a == b else f"{a} != {b}")
        if why:
            found.append(("output", f"output {i}: {why}"))
    for i, (a, b) in enumerate(zip(ours.tensors, theirs.tensors)):
        why = close(a, b, pick("tensors", i), precision)
        if why:
            found.append(("mutated argument", f"tensor argument {i} after the call: {why}"))
    for i, (g, h) in enumerate(zip(ours.grads, theirs.grads)):
        if (g is None) != (h is None):  # None means zero: all zeros (or empty) on the other side agrees
            given = g if h is None else h
            if not bool((given.detach() == 0).all()):
                found.append(("gradient missing/extra", f"grad {i}: {'torch' if h is None else 'ours'} gives None"))
        elif g is not None:
            why = close(g, h, pick("grads", i), precision)
            if why:
                found.append(("gradient", f"grad {i}: {why}"))
    if len(ours.grads) != len(theirs.grads):
        found.append(("gradient missing/extra", f"{len(ours.grads)} gradients, torch {len(theirs.grads)}"))
    return found


def _errors(ours, theirs) -> list[tuple[str, str]]:
    if theirs and not ours:
        where = "torch raises" if theirs[0] == "forward" else "torch's backward raises"
        return [(f"{where}, ours returns", f"torch {theirs[1].__name__} in {theirs[0]}: {theirs[2]}")]
    if ours and not theirs:
        return [("ours raises, torch returns", f"ours {ours[1].__name__} in {ours[0]}: {ours[2]}")]
    if ours[1] is not theirs[1]:
        return [("exception type", f"ours {ours[1].__name__} ({ours[2]}), torch {theirs[1].__name__} ({theirs[2]})")]
    if ours[0] == "backward" and theirs[0] == "forward":
        return [("raises later than torch", f"{ours[1].__name__}: {ours[2]}")]
    return []


def check(case: Case) -> None:
    """Raise ``AssertionError`` naming every disagreement of ``case`` (the reproducer's entry
    point: ``PYTHONPATH=.:tests python -c "from fuzz import *; check(Case(...))"``)."""
    from .ops import OPS
    _, found = disagreements(*OPS[case.op].pair, case)
    assert not found, "\n".join(f"[{c}] {d}" for c, d in found) + f"\nreproduce: check({case!r})"
