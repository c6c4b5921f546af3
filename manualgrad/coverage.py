"""``manualgrad.coverage``: which of a model's backward runs through manualgrad, and where the rest
is made.

One forward (under anomaly mode, so every autograd node remembers the stack that created it) and
one backward; then the backward graph, walked from the loss, is sorted into kinds:

- ``manualgrad``: a node of a manualgrad ``Function`` (a ``BackwardCFunction`` whose
  ``_forward_cls`` subclasses ``manualgrad.functions._base.Function``);
- ``torch math``: any other node of torch's (``MmBackward0``, ``AddmmBackward0``,
  ``SoftmaxBackward0``, ``TanhBackward0``, ``PowBackward0``, ``NativeLayerNormBackward0``, ...):
  the *heavy* nodes, each listed with the file:line and function of the code that made it (the
  innermost frame outside torch and manualgrad's own package below the ``coverage`` call; for an
  op of a ``torch.nn`` module's own forward, torch's file) and the innermost module whose forward
  was running;
- ``other Function``: a node of an ``autograd.Function`` that is not manualgrad's (yours, a
  library's): also listed with where it was made;
- ``torch arithmetic``: add/sub/mul/div/neg/rsub and their scalar forms (residuals, scaling), and
  ``addcmul``/``addcdiv`` (input + value·t1·t2, a fused product and sum);
- ``views/copies``: views, reshapes, transposes, expands, slicing, indexing, masking,
  concatenation, splits, clones, dtype/device copies, backward-hook identities;
- the leaves (``AccumulateGrad``) are not counted as nodes: they are the parameters below.

Parameter share. A parameter's gradient *comes from manualgrad* when every node that consumes it
in the backward graph is a manualgrad node, where a consumer is found by walking up from the
parameter's ``AccumulateGrad`` node through views/copies nodes only (``w.t()``, ``w.view(...)``,
a dtype cast, ``w[i]``) until a node of another kind. A parameter whose consumers are all torch's is
``torch``, one with both kinds ``mixed`` (a tied weight used by a manualgrad Embedding and by a
torch ``F.linear``, say; it counts as not covered). Only parameters that require grad and that the
loss reaches count; the others are listed as unused. ``param_share`` is the covered fraction of
those tensors, ``element_share`` the covered fraction of their elements (``None`` for a model with
no such parameter).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Callable

import torch

from .graph import (HEAVY_KINDS, KINDS, ModuleCalls, consumers, kind, origin, short, stack_depth, tensors_in,
                    walk)
from .verify import seeded

__all__ = ["coverage", "CoverageReport", "HeavyNode", "ParamSource", "KINDS", "HEAVY_KINDS", "kind", "tensors_in"]


@dataclass
class HeavyNode:
    """Nodes of one name made at one place: ``file``:``line`` in ``function`` (``code`` is the line)."""

    name: str
    file: str
    line: int
    function: str
    code: str = ""
    count: int = 1
    kind: str = "torch math"
    modules: tuple = ()  # "path (Class)" of the innermost module whose forward made them

    @property
    def where(self) -> str:
        """``file:line``, the file relative to the site-packages folder holding it, else to the
        current folder, else to the ``sys.path`` entry holding it."""
        return f"{short(self.file)}:{self.line}" if self.line else self.file


@dataclass
class ParamSource:
    """Where one parameter's gradient is computed: ``source`` is ``"manualgrad"``, ``"torch"`` or
    ``"mixed"``; ``via`` names the consuming nodes."""

    name: str
    numel: int
    source: str
    via: tuple = ()


@dataclass
class CoverageReport:
    """What :func:`coverage` found. ``by_kind``: node count per kind; ``names``: kind -> {node name:
    count}; ``heavy``: the torch math and other-Function nodes grouped by (name, where made), most
    frequent first; ``params``: one :class:`ParamSource` per parameter the loss reaches;
    ``unused``: names of the parameters requiring grad it does not reach; ``param_share`` /
    ``element_share``: covered fraction by tensor / by element (None without parameters)."""

    by_kind: dict = field(default_factory=dict)
    names: dict = field(default_factory=dict)
    heavy: list = field(default_factory=list)
    params: list = field(default_factory=list)
    unused: list = field(default_factory=list)

    @property
    def nodes(self) -> int:
        return sum(self.by_kind.values())

    @property
    def param_share(self) -> float | None:
        return sum(p.source == "manualgrad" for p in self.params) / len(self.params) if self.params else None

    @property
    def element_share(self) -> float | None:
        total = sum(p.numel for p in self.params)
        return sum(p.numel for p in self.params if p.source == "manualgrad") / total if total else None

    def as_dict(self) -> dict:
        """Plain data (for ``json.dumps``)."""
        return {"nodes": self.nodes, "by_kind": dict(self.by_kind),
                "names": {k: dict(v) for k, v in self.names.items()},
                "heavy": [dict(vars(h), where=h.where) for h in self.heavy],
                "params": [dict(vars(p), via=list(p.via)) for p in self.params], "unused": list(self.unused),
                "param_share": self.param_share, "element_share": self.element_share}

    def __str__(self) -> str:
        lines = [f"backward graph: {self.nodes} nodes (leaves not counted)"]
        for k in KINDS:
            top = sorted(self.names.get(k, {}).items(), key=lambda kv: (-kv[1], kv[0]))
            shown = ", ".join(f"{n} {c}" for n, c in top[:5]) + (", ..." if len(top) > 5 else "")
            lines.append(f"  {k:<17} {self.by_kind.get(k, 0):>6}  {shown}")
        lines.append(self._params_line())
        lines += [f"    {p.source:<5} {p.name} ({p.numel:,} elements) via {', '.join(p.via)}"
                  for p in self.params if p.source != "manualgrad"]
        if self.unused:
            lines.append(f"  not reached by the loss: {', '.join(self.unused)}")
        if not self.heavy:
            lines.append("no heavy node outside manualgrad")
            return "\n".join(lines)
        width = max(len(h.name) for h in self.heavy)
        places = [f"{h.where} in {h.function}" for h in self.heavy]
        room = max(map(len, places))
        lines.append("heavy nodes outside manualgrad, by where they were made (and the innermost module around):")
        lines.append(f"  {'count':>5}  {'node':<{width}}  {'where':<{room}}  module")
        for h, place in zip(self.heavy, places):
            module = h.modules[0] + (f" +{len(h.modules) - 1} more" if len(h.modules) > 1 else "") if h.modules else "-"
            lines.append(f"  {h.count:>5}  {h.name:<{width}}  {place:<{room}}  {module}")
        return "\n".join(lines)

    def _params_line(self) -> str:
        if not self.params:
            return "parameters: none reached by the loss"
        n = sum(p.source == "manualgrad" for p in self.params)
        total = sum(p.numel for p in self.params)
        elems = sum(p.numel for p in self.params if p.source == "manualgrad")
        return (f"parameters whose gradient comes from manualgrad: {n}/{len(self.params)} tensors "
                f"({100 * self.param_share:.1f} %), {elems:,}/{total:,} elements ({100 * self.element_share:.1f} %)")


def _roots(out, loss_fn: Callable | None) -> list[torch.Tensor]:
    """The tensors backward starts from: ``loss_fn(out)``, else ``out.loss`` / ``out["loss"]``,
    else every tensor of ``out`` that requires grad."""
    if loss_fn is not None:
        out = loss_fn(out)
    else:
        loss = out.get("loss") if isinstance(out, dict) else getattr(out, "loss", None)
        out = loss if isinstance(loss, torch.Tensor) and loss.requires_grad else out
    return [t for t in tensors_in(out) if t.requires_grad]


def _snapshot_buffers(model):
    return [(m, name, b, b.detach().clone()) for m in model.modules() for name, b in m._buffers.items()
            if b is not None]


@torch.no_grad()
def _restore_buffers(saved) -> None:
    for module, name, b, copy in saved:
        module._buffers[name] = b
        b.copy_(copy)


def coverage(model: torch.nn.Module, *inputs, loss_fn: Callable | None = None, seed: int | None = 0,
             **kwargs) -> CoverageReport:
    """Run ``model(*inputs, **kwargs)`` forward and backward once and report which backward nodes
    are manualgrad's, which torch's (with the file:line that made each heavy one) and which
    parameters get their gradient from manualgrad; see the module docstring for the definitions.

    The backward starts from ``loss_fn(output)`` when given; else from ``output.loss`` when the
    output has one (a Hugging Face ``ModelOutput`` given labels); else from every tensor of the
    output (a tensor, or tuples/lists/dicts of them) that requires grad, each with a random upstream
    gradient drawn from a generator seeded 0 (deterministic; a ones gradient would do as well for
    coverage). When no parameter of ``model`` requires grad, floating-point inputs are made to (on
    copies), so a parameter-free model still has a backward to look at.

    The model is left as it was found: the backward runs through ``torch.autograd.grad``, so no
    ``.grad`` is written (nor any backward hook of a leaf fired); buffers (BatchNorm running
    statistics) are restored; the forward runs under a forked RNG seeded ``seed`` (None: unseeded),
    and anomaly mode is switched back to what it was. It runs in the model's current mode: call
    ``model.train()`` first to see the training backward (dropout included).
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"coverage() expects a torch.nn.Module, got {type(model).__name__}")
    if not any(p.requires_grad for p in model.parameters()):
        inputs, kwargs = tuple(map(_needing_grad, inputs)), {k: _needing_grad(v) for k, v in kwargs.items()}
    saved, calls, depth = _snapshot_buffers(model), ModuleCalls(model), stack_depth()
    try:
        with seeded(seed), torch.autograd.set_detect_anomaly(True, check_nan=False):
            roots = _roots(model(*inputs, **kwargs), loss_fn)
        nodes, parents = walk(roots)
        _backward(roots, nodes)
        return _report(model, nodes, parents, lambda node: (*origin(node, depth), calls.module_of(node)))
    finally:
        calls.remove()
        _restore_buffers(saved)


def _needing_grad(a):
    """A floating-point tensor as a leaf copy that requires grad; anything else as it is."""
    return a.detach().requires_grad_() if isinstance(a, torch.Tensor) and a.is_floating_point() else a


def _backward(roots: list, nodes: list) -> None:
    leaves = [n.variable for n in nodes if type(n).__name__ == "AccumulateGrad"]
    if not leaves:
        return
    gen = torch.Generator().manual_seed(0)
    dys = [torch.randn(t.shape, generator=gen, dtype=torch.float64).to(t) for t in roots]
    torch.autograd.grad(roots, leaves, dys, allow_unused=True)


def _report(model, nodes, parents, origin: Callable) -> CoverageReport:
    report = CoverageReport(by_kind=dict.fromkeys(KINDS, 0), names={k: Counter() for k in KINDS})
    heavy: Counter = Counter()
    modules = defaultdict(set)
    leaves = {}
    for node in nodes:
        k = kind(node)
        if k == "leaf":
            leaves[id(node.variable)] = node
            continue
        name = type(node).__name__
        report.by_kind[k] += 1
        report.names[k][name] += 1
        if k in HEAVY_KINDS:
            *where, module = origin(node)
            heavy[(name, k, *where)] += 1
            modules[(name, k, *where)].add(module)
    report.heavy = [HeavyNode(name, f, line, fn, code, count, k, tuple(sorted(modules[key] - {""})))
                    for key, count in sorted(heavy.items(), key=lambda kv: (-kv[1], kv[0]))
                    for name, k, f, line, fn, code in [key]]
    for pname, p in model.named_parameters():
        if not p.requires_grad:
            continue
        leaf = leaves.get(id(p))
        if leaf is None:
            report.unused.append(pname)
            continue
        via = consumers(leaf, parents)
        ours = [kind(n) == "manualgrad" for n in via]
        source = "manualgrad" if via and all(ours) else "mixed" if any(ours) else "torch"
        report.params.append(ParamSource(pname, p.numel(), source, tuple(sorted({type(n).__name__ for n in via}))))
    return report
