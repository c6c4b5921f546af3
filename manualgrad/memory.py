"""What the backward keeps alive: bytes saved for backward, measured with
``torch.autograd.graph.saved_tensors_hooks``, for a whole call or module by module, manualgrad
against the ``torch.nn`` twin.

>>> print(manualgrad.memory_report(model, x))      # per module: manualgrad vs torch.nn bytes
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch


class SavedBytes:
    """Counts the bytes of every tensor autograd saves while active; each storage once (a tensor
    saved by two nodes, or a view of one already saved, is not counted twice). ``by`` attributes
    them to a label (the module running when they were saved). Tensors sharing storage with one
    in ``ignore`` (say ``model.parameters()``: a layer saving its weight costs nothing) are not
    counted: what remains are the saved activations."""

    def __init__(self, ignore=()):
        self.total, self.count, self.by = 0, 0, {}
        self.label = ""
        self._seen: set = {self._key(t) for t in ignore}

    @staticmethod
    def _key(t: torch.Tensor):
        storage = t.untyped_storage()
        return storage.data_ptr(), t.device, storage.nbytes()

    def _pack(self, t: torch.Tensor):
        storage = t.untyped_storage()
        key = self._key(t)
        if t.numel() and key not in self._seen:
            self._seen.add(key)
            self.total += storage.nbytes()
            self.by[self.label] = self.by.get(self.label, 0) + storage.nbytes()
        self.count += 1
        return t

    def __enter__(self):
        from .functions._recompute import transparent

        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda t: t)
        self._withdraw = transparent(self._pack)  # counting does not change what a layer may save
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc):
        self._hooks.__exit__(*exc)
        self._withdraw()


def saved_bytes(fn, *args, **kwargs) -> tuple[int, object]:
    """``(bytes saved for backward, result)`` of ``fn(*args, **kwargs)``."""
    with SavedBytes() as counter:
        out = fn(*args, **kwargs)
    return counter.total, out


def _by_module(model: torch.nn.Module, inputs) -> dict[str, int]:
    """Saved bytes per leaf module path ('' for what the model's own code saves)."""
    counter, handles = SavedBytes(), []
    for path, module in model.named_modules():
        if path and not len(module._modules):
            def pre(m, args, path=path):
                counter.label = path

            def post(m, args, out):
                counter.label = ""
            handles += [module.register_forward_pre_hook(pre), module.register_forward_hook(post)]
    try:
        with counter:
            model(*inputs)
    finally:
        for h in handles:
            h.remove()
    return counter.by


@dataclass
class MemoryReport:
    """Rows of (module path, class name, manualgrad bytes, torch bytes) and the totals."""

    rows: list = field(default_factory=list)

    @property
    def manual(self) -> int:
        return sum(r[2] for r in self.rows)

    @property
    def torch(self) -> int:
        return sum(r[3] for r in self.rows)

    def __str__(self) -> str:
        def ratio(a, b):
            return f"{a / b:6.2f}" if b else "   n/a"
        lines = [f"{'module':<32} {'class':<20} {'manualgrad':>12} {'torch.nn':>12} {'ratio':>6}"]
        for path, cls, ours, theirs in self.rows:
            lines.append(f"{path or '<model code>':<32} {cls:<20} {ours:>12,} {theirs:>12,} {ratio(ours, theirs)}")
        lines.append(f"{'total':<53} {self.manual:>12,} {self.torch:>12,} {ratio(self.manual, self.torch)}")
        return "\n".join(lines)


def memory_report(model: torch.nn.Module, *inputs) -> MemoryReport:
    """Bytes saved for backward by each module of ``model`` on ``inputs``: manualgrad (a swapped
    copy) against torch.nn (a reverted copy). ``model`` itself is not changed; its train/eval mode
    is what is measured (BatchNorm and Dropout save differently in each)."""
    from .swap import revert, swap
    from .verify import seeded

    ours, theirs = copy.deepcopy(model), copy.deepcopy(model)
    swap(ours)
    revert(theirs)
    with seeded(0):  # the same dropout masks on both sides
        a = _by_module(ours, inputs)
    with seeded(0):
        b = _by_module(theirs, inputs)
    classes = {path: type(m).__name__ for path, m in model.named_modules()}
    order = [p for p in classes if p in a or p in b] + [p for p in a.keys() | b.keys() if p not in classes]
    return MemoryReport([(p, classes.get(p, ""), a.get(p, 0), b.get(p, 0)) for p in order])
