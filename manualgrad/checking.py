"""``manualgrad.check``: a user's own op (or a swapped model) against a reference, one call."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from typing import Callable

import torch

from .graph import tensors_in
from .verify import Diff, compare, run


@dataclass
class CheckResult:
    """What :func:`check` found: forward and per-input gradient errors, and the verdict."""

    forward: Diff
    grads: list = field(default_factory=list)  # (label, Diff)
    grad_fn: str = ""
    modules: list = field(default_factory=list)  # ModuleRow, in forward order (per_module=True)
    first_divergence: str | None = None  # the module named by per_module=True, or None

    @property
    def ok(self) -> bool:
        return self.forward.ok and all(d.ok for _, d in self.grads)

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        rows = [("forward", self.forward)] + [(f"grad {label}", d) for label, d in self.grads]
        width = max(len(label) for label, _ in rows)
        top = max((d.scale for _, d in rows[1:] if math.isfinite(d.scale)), default=0.0)
        lines = [f"{'PASS' if self.ok else 'FAIL'}  (output grad_fn: {self.grad_fn or 'none'})",
                 f"       {'':<{width}}  {'max abs err':>11}  {'max |ref|':>9}  {'err/max':>9}"]
        lines += [_row(label, d, width, top if label != "forward" else d.scale) for label, d in rows]
        if self.modules:
            lines += _module_table(self.modules, self.first_divergence)
        return "\n".join(lines)


def _row(label: str, d: Diff, width: int = 24, top: float = math.nan) -> str:
    """One line: the verdict, the max abs error, the reference's own scale (max |ref|) and the
    error against that scale. A gradient that is ≈ 0 next to the others (``top``: the largest
    scale), a bias before BatchNorm say, is rounding noise on both sides: said so, since its
    error against its own scale means nothing."""
    mark = "ok  " if d.ok else "FAIL"
    rel = d.max_abs / d.scale if d.scale > 0 else (0.0 if d.max_abs == 0 else math.inf)
    tail = f"  {d.why}" if d.why else ""
    if d.ok and math.isfinite(top) and d.scale <= 1e-6 * top:
        tail += f"  (≈ 0 next to the largest gradient, {top:.1e}: rounding noise)"
    return f"  {mark} {label:<{width}}  {d.max_abs:>11.2e}  {d.scale:>9.2e}  {rel:>9.2e}{tail}"


def _labels(args: tuple, kwargs: dict) -> list[str]:
    named = [(f"arg{i}", a) for i, a in enumerate(args)] + list(kwargs.items())
    return [n for n, a in named if isinstance(a, torch.Tensor) and a.requires_grad]


def check(fn: Callable, reference: Callable, *args, rtol: float | None = None,
          atol: float | None = None, seed: int | None = 0, per_module: bool = False, **kwargs) -> CheckResult:
    """Run ``fn`` and ``reference`` on the same inputs with one random upstream gradient and
    compare the outputs and the gradient of every input that requires grad.

    ``rtol``/``atol`` override ``torch.testing.assert_close``'s defaults for the dtype; ``seed``
    makes random ops (dropout) draw the same numbers on both sides. When ``fn`` and
    ``reference`` are both modules (a swapped model and its original, say), the gradients of
    their parameters are compared too, name by name. An output that is not a tensor (a tuple,
    dict or Hugging Face ``ModelOutput``) is compared as the concatenation of its floating-point
    tensors, flattened. Returns a :class:`CheckResult`;
    ``bool(result)`` is the verdict and ``print(result)`` a table.

    ``per_module=True`` (two modules with the same submodule names, a swapped model and its
    original) also compares, module by module, each call's output, the gradient w.r.t. that
    output, the gradient w.r.t. its inputs and its own parameters' gradients
    (``result.modules``, one :class:`ModuleRow` per call in forward order), and names in
    ``result.first_divergence`` where the two first part: the first module (in forward order,
    innermost) whose output differs; else, the module the backward reaches first whose incoming
    gradient agrees but whose gradient w.r.t. its inputs or own parameters does not — the module
    whose backward is wrong. ``None`` when every row agrees within the tolerance.

    >>> import manualgrad as mg, manualgrad.functional as MF, torch.nn.functional as F
    >>> x = torch.randn(4, 3, requires_grad=True)
    >>> print(mg.check(MF.gelu, F.gelu, x, approximate="tanh"))  # doctest: +SKIP
    """
    names, ours_p, theirs_p = _shared_parameters(fn, reference)
    if per_module and not (isinstance(fn, torch.nn.Module) and isinstance(reference, torch.nn.Module)):
        raise TypeError("check(per_module=True) compares two modules: a swapped model and its original")
    recorders = (_Recorder(fn), _Recorder(reference)) if per_module else ()
    try:
        ours = run(partial(_one_tensor, fn), args, kwargs, seed=seed, params=ours_p)
        theirs = run(partial(_one_tensor, reference), args, kwargs, dy=ours.dy, seed=seed, params=theirs_p)
    finally:
        for r in recorders:
            r.remove()
    result = CheckResult(compare(ours.out, theirs.out, rtol=rtol, atol=atol),
                         grad_fn=type(ours.out.grad_fn).__name__ if ours.out.grad_fn else "")
    labels = _labels(args, kwargs) + [f"param {n}" for n in names]
    for label, g, h in zip(labels, ours.grads, theirs.grads):
        result.grads.append((label, compare(g, h, rtol=rtol, atol=atol)))
    if per_module:
        n = len(labels) - len(names)
        params = {name: (g, h) for name, g, h in zip(names, ours.grads[n:], theirs.grads[n:])}
        result.modules = _module_rows(*recorders, params, dict(rtol=rtol, atol=atol))
        result.first_divergence = _first_divergence(result.modules)
    return result


def _one_tensor(fn: Callable, *args, **kwargs):
    """``fn``'s output; one that is not a tensor (a tuple, dict or Hugging Face ``ModelOutput``)
    as the flat concatenation of its floating-point tensors, so that all of them are compared."""
    out = fn(*args, **kwargs)
    if isinstance(out, torch.Tensor):
        return out
    return torch.cat([t.reshape(-1) for t in tensors_in(out) if t.is_floating_point()])


def _shared_parameters(fn, reference):
    """Names and parameters (requiring grad) of two modules, which must have the same names."""
    if not (isinstance(fn, torch.nn.Module) and isinstance(reference, torch.nn.Module)):
        return [], (), ()
    ours, theirs = dict(fn.named_parameters()), dict(reference.named_parameters())
    if ours.keys() != theirs.keys():
        raise ValueError(f"check(): the two modules have different parameters: "
                         f"{sorted(ours.keys() ^ theirs.keys())}")
    names = [n for n, p in ours.items() if p.requires_grad]
    return names, tuple(ours[n] for n in names), tuple(theirs[n] for n in names)


# ---------------------------------------------------------------- per module


@dataclass
class ModuleRow:
    """One call of one module (``name`` as in ``named_modules``, ``''`` for the model; ``call``
    counts from 0 for a module run several times): the Diff of its output, of the gradient w.r.t.
    its output, of the gradient its tensor inputs receive (in total, from every use) and of its
    own parameters' gradients (first call only). ``None``: nothing to compare (no such tensor,
    or none that requires grad). ``missing``: the call happened on one side only."""

    name: str
    cls: str
    call: int = 0
    output: Diff | None = None
    grad_output: Diff | None = None
    grad_input: Diff | None = None
    grad_params: Diff | None = None
    missing: str = ""

    @property
    def label(self) -> str:
        return (self.name or "<model>") + (f" (call {self.call + 1})" if self.call else "")

    @property
    def ok(self) -> bool:
        diffs = (self.output, self.grad_output, self.grad_input, self.grad_params)
        return not self.missing and all(d is None or d.ok for d in diffs)


class _Recorder:
    """Forward hooks on every submodule of ``model`` that keep, per call, a copy of each output
    and tensor hooks that keep the gradients of the outputs and of the inputs."""

    def __init__(self, model: torch.nn.Module):
        self.calls, self.order, self.count, self.open = {}, [], Counter(), {}
        self.handles = []
        for name, module in model.named_modules():
            self.handles.append(module.register_forward_pre_hook(partial(self._enter, name), with_kwargs=True))
            self.handles.append(module.register_forward_hook(partial(self._leave, name), with_kwargs=True))

    def _enter(self, name, module, args, kwargs):
        key = (name, self.count[name])
        self.count[name] += 1
        self.open.setdefault(name, []).append(key)
        record = self.calls[key] = {"cls": type(module).__name__}
        record["grad_input"] = self._watch(tensors_in(list(args) + list(kwargs.values())))

    def _leave(self, name, module, args, kwargs, output):
        key = self.open[name].pop()
        outs = tensors_in(output)
        self.calls[key]["output"] = [t.detach().clone() for t in outs]
        self.calls[key]["grad_output"] = self._watch(outs)
        self.order.append(key)  # forward order: a module's children complete before it

    @staticmethod
    def _watch(tensors) -> list:
        """One slot per tensor, filled with its gradient when the backward reaches it (stays None
        for a tensor that needs none)."""
        slots = [None] * len(tensors)
        for i, t in enumerate(tensors):
            if t.requires_grad:
                t.register_hook(partial(_keep, slots, i))
        return slots

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


def _keep(slots: list, i: int, g: torch.Tensor) -> None:
    slots[i] = g.detach().clone()


def _worst(pairs, tol) -> Diff | None:
    """The worst Diff over ``(ours, theirs)`` pairs, None when neither side has any tensor."""
    diffs = [compare(g, h, **tol) for g, h in pairs if g is not None or h is not None]
    if not diffs:
        return None
    bad = [d for d in diffs if not d.ok]
    return Diff(max(d.max_abs for d in diffs), max(d.max_rel for d in diffs), not bad,
                bad[0].why if bad else "", max(d.max_err for d in diffs))


def _module_rows(ours: _Recorder, theirs: _Recorder, params: dict, tol: dict) -> list:
    own = {}
    for pname, pair in params.items():
        own.setdefault(pname.rpartition(".")[0], []).append(pair)
    rows = []
    for key in ours.order + [k for k in theirs.order if k not in ours.calls]:
        a, b = ours.calls.get(key), theirs.calls.get(key)
        row = ModuleRow(key[0], (a or b)["cls"], key[1])
        row.missing = _unmatched(a, b)
        if not row.missing:
            row.output = _worst(zip(a["output"], b["output"]), tol)
            row.grad_output = _worst(zip(a["grad_output"], b["grad_output"]), tol)
            row.grad_input = _worst(zip(a["grad_input"], b["grad_input"]), tol)
            row.grad_params = _worst(own.get(key[0], []), tol) if key[1] == 0 else None
        rows.append(row)
    return rows


def _unmatched(a: dict | None, b: dict | None) -> str:
    """Why one call's records cannot be compared ('' when they can)."""
    if a is None or b is None:
        return "called by the reference only" if a is None else "called by fn only"
    n, m = len(a["output"]), len(b["output"])
    return f"{n} output tensors, reference {m}" if n != m else ""


def _first_divergence(rows: list) -> str | None:
    """Forward first: the first row whose output differs; else the innermost module, first reached
    by the backward (last in forward order), that receives the right gradient and passes on a
    wrong one (to its inputs or its own parameters)."""
    for r in rows:
        if r.missing or r.output is not None and not r.output.ok:
            return r.label
    bad = [r for r in rows if (r.grad_output is None or r.grad_output.ok)
           and any(d is not None and not d.ok for d in (r.grad_input, r.grad_params))]
    inner = [r for r in bad if not any(o is not r and (r.name == "" or o.name.startswith(r.name + ".")) for o in bad)]
    return inner[-1].label if inner else None


def _module_table(rows: list, first: str | None) -> list:
    cell = lambda d: "-" if d is None else f"{d.max_abs:.1e}{'' if d.ok else '!'}"  # noqa: E731
    width, cw = max(len(r.label) for r in rows) + 2, max(len(r.cls) for r in rows)
    lines = ["per module, in forward order (max abs error; ! beyond tolerance):",
             f"  {'module':<{width}}{'class':<{cw}}{'output':>10}{'d output':>10}{'d input':>10}{'d params':>10}"]
    for r in rows:
        cells = "".join(f"{cell(d):>10}" for d in (r.output, r.grad_output, r.grad_input, r.grad_params))
        lines.append(f"  {r.label:<{width}}{r.cls:<{cw}}{r.missing or cells}")
    lines.append(f"first divergence: {first}" if first else "no module diverges")
    return lines
