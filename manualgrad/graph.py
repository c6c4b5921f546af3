"""The backward graph as :func:`manualgrad.coverage` reads it: the kind of each node, where a node
was made (from the stack anomaly mode saves), which module's forward made it, and the walk from
the loss down to the parameters. The kinds are described in ``coverage.py``'s docstring."""

from __future__ import annotations

import os
import re
import sys
from collections import defaultdict

import torch

from .functions._base import Function

KINDS = ("manualgrad", "torch math", "other Function", "torch arithmetic", "views/copies")
HEAVY_KINDS = ("torch math", "other Function")

_ARITHMETIC = {"Add", "Sub", "Mul", "Div", "Neg", "Rsub", "Addcmul", "Addcdiv"}  # addcmul: input + v·t1·t2
_VIEWS = {"View", "UnsafeView", "Reshape", "ReshapeAlias", "Permute", "Transpose", "T", "Expand", "Slice",
          "Select", "Index", "Cat", "Stack", "Split", "SplitWithSizes", "Unbind", "Chunk", "Clone", "ToCopy",
          "Copy", "CopySlices", "Squeeze", "Unsqueeze", "AsStrided", "Unflatten", "Flatten", "Narrow", "Alias",
          "Detach", "MaskedFill", "Where", "Contiguous", "Repeat", "UnsafeSplit", "SliceScatter",
          "SelectScatter", "BackwardHookFunction", "Identity", "ValueSelecting", "Lift", "Movedim"}
_PACKAGES = tuple(os.path.dirname(m.__file__) + os.sep for m in (torch, sys.modules[__package__]))
_FRAME = re.compile(r'\s*File "(?P<file>.*)", line (?P<line>\d+), in (?P<function>.*)\n(?P<code>.*)')


def _base_name(name: str) -> str:
    """``AddmmBackward0`` -> ``Addmm``; ``MulBackward1`` -> ``Mul``."""
    return re.sub(r"Backwards?\d*$", "", name)


def kind(node) -> str:
    """The kind of one backward node (one of :data:`KINDS`, or ``"leaf"`` for AccumulateGrad)."""
    name = type(node).__name__
    if name == "AccumulateGrad":
        return "leaf"
    if isinstance(node, torch.autograd.function.BackwardCFunction):
        cls = getattr(node, "_forward_cls", None)
        if isinstance(cls, type) and issubclass(cls, Function):
            return "manualgrad"
        base = _base_name(name)
        return "views/copies" if base in _VIEWS else "other Function"
    base = _base_name(name)
    if base in _ARITHMETIC:
        return "torch arithmetic"
    return "views/copies" if base in _VIEWS else "torch math"


def short(path: str) -> str:
    entries = [os.path.abspath(p) + os.sep for p in sys.path if p]
    sites = [p for p in entries if os.path.basename(p[:-1]) in ("site-packages", "dist-packages")]
    for roots in (sites, [os.getcwd() + os.sep], entries):
        best = max((r for r in roots if path.startswith(r)), key=len, default="")
        if best:
            return path[len(best):]
    return path


def origin(node, depth: int) -> tuple[str, int, str, str]:
    """(file, line, function, code) of the frame that made ``node``, from the stack anomaly mode
    saved, less its first ``depth`` frames (the caller of :func:`coverage`): the innermost frame
    outside torch and manualgrad, else (an op of a torch.nn module's own forward) the innermost
    torch frame; ``("<unknown>", 0, "", "")`` without a stack."""
    frames = [m for m in map(_FRAME.match, (node.metadata.get("traceback_") or [])[depth:]) if m]
    frames = [m for m in frames if not os.path.abspath(m["file"]).startswith(_PACKAGES[1])]  # manualgrad's
    outside = [m for m in frames if not os.path.abspath(m["file"]).startswith(_PACKAGES[0])] or frames
    if not outside:
        return "<unknown>", 0, "", ""
    m = outside[-1]
    return os.path.abspath(m["file"]), int(m["line"]), m["function"], m["code"].strip()


class ModuleCalls:
    """Forward hooks that note, for every module call, the range of autograd sequence numbers
    (node creation order) its forward spans: a node belongs to the innermost call around it."""

    def __init__(self, model: torch.nn.Module):
        self.spans, self.handles = [], []
        for path, module in model.named_modules():
            label = f"{path or '<model>'} ({type(module).__name__})"
            self.handles.append(module.register_forward_pre_hook(lambda *_, label=label: self._enter(label)))
            self.handles.append(module.register_forward_hook(lambda *_, label=label: self._leave(label)))
        self.open = []

    @staticmethod
    def _sequence_nr() -> int:
        with torch.enable_grad():
            return torch.zeros((), requires_grad=True).view(()).grad_fn._sequence_nr()

    def _enter(self, label) -> None:
        self.open.append((self._sequence_nr(), label))

    def _leave(self, label) -> None:
        start, label = self.open.pop()
        self.spans.append((start, self._sequence_nr(), label))

    def module_of(self, node) -> str:
        seq = node._sequence_nr()
        inside = [(start, label) for start, end, label in self.spans if start < seq < end]
        return max(inside)[1] if inside else ""

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


def stack_depth() -> int:
    """How many frames the caller's stack holds (its own included)."""
    frame, n = sys._getframe(1), 0
    while frame is not None:
        frame, n = frame.f_back, n + 1
    return n


def tensors_in(obj) -> list[torch.Tensor]:
    """Every tensor in ``obj``, depth first through tuples, lists and dicts (a Hugging Face
    ``ModelOutput`` is a dict), in order; other objects (caches) are passed over."""
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, dict):
        obj = list(obj.values())
    if isinstance(obj, (tuple, list)):
        return [t for o in obj for t in tensors_in(o)]
    return []


def walk(roots: list) -> tuple[list, dict]:
    """Every node reachable from ``roots``' grad_fns, and each node's parents (by id)."""
    seen, parents, todo = {}, defaultdict(list), [t.grad_fn for t in roots if t.grad_fn is not None]
    for n in todo:
        seen[id(n)] = n
    while todo:
        node = todo.pop()
        for child, _ in node.next_functions:
            if child is None:
                continue
            parents[id(child)].append(node)
            if id(child) not in seen:
                seen[id(child)] = child
                todo.append(child)
    return list(seen.values()), parents


def consumers(leaf, parents) -> list:
    """The first nodes above ``leaf`` that are not views/copies."""
    found, todo, seen = [], list(parents[id(leaf)]), set()
    while todo:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if kind(node) == "views/copies":
            todo += parents[id(node)]
        else:
            found.append(node)
    return found
