"""``manualgrad bench --layers``: each layer of a bench model on its own, torch's module against
manualgrad's twin, forward and backward timed apart, so that a model's gap splits into its layers'.

The model runs one forward with hooks on its leaf modules (and a torch function mode that sees its
``F.scaled_dot_product_attention`` calls); calls of the same kind of layer, configuration and input
shape are one row, with their count per step. Each row then times, interleaved and alternating
which side goes first, a forward on one fixed input and a backward of one fixed random dy (into the first output of several) into it and the layer's
parameters (``.backward``, so the parameters' gradients accumulate as in training);
the loss (cross-entropy on the model's output) is a row of its own. A row's "extra" is (manual −
torch) × calls per step: what that layer adds to the model's step.
"""

from __future__ import annotations

import copy
import statistics
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from . import functional as MF
from .swap import swap


@dataclass
class LayerRow:
    model: str
    layer: str                 # the module's repr, or the function's name
    shape: tuple               # the first input's shape
    calls: int                 # per step
    torch_fwd_us: float
    torch_bwd_us: float
    manual_fwd_us: float
    manual_bwd_us: float

    @property
    def extra_ms(self) -> float:
        return (self.manual_fwd_us + self.manual_bwd_us - self.torch_fwd_us - self.torch_bwd_us) * self.calls / 1e3


class _Attention(TorchFunctionMode):
    """Records the ``F.scaled_dot_product_attention`` calls of a forward (the tensors and options)."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.scaled_dot_product_attention:
            self.calls.append((args, kwargs))
        return func(*args, **kwargs)


def _twin(m: torch.nn.Module) -> torch.nn.Module:
    """A swapped deep copy of ``m``: manualgrad's twin with the same weights."""
    ours = copy.deepcopy(m)
    swap(ours)
    return ours


def _layer_calls(model: torch.nn.Module, x: torch.Tensor) -> dict:
    """{key: [torch side, manual side, inputs, calls]} of one forward: each leaf module's call and
    each attention call, with the inputs it got (detached); ``key`` (the layer, its input shapes)
    groups the same layer on the same shapes, counted, its manualgrad twin made once."""
    seen = []
    leaves = [m for m in model.modules() if not list(m.children())]
    hooks = [m.register_forward_hook(lambda m, i, o: seen.append((m, i))) for m in leaves]
    attention = _Attention()
    try:
        with torch.no_grad(), attention:
            model(x)
    finally:
        for h in hooks:
            h.remove()
    groups = {}

    def add(key, inputs, sides):
        if key not in groups:
            groups[key] = [*sides(), [t.detach() for t in inputs], 0]
        groups[key][3] += 1

    for m, inputs in seen:
        shapes = tuple(tuple(t.shape) for t in inputs if isinstance(t, torch.Tensor))
        add((repr(m), shapes), inputs, lambda m=m: (m, _twin(m)))
    for args, kwargs in attention.calls:
        kw = {k: v for k, v in kwargs.items() if k in ("dropout_p", "is_causal", "scale")}
        add((f"scaled_dot_product_attention({kw})", tuple(tuple(t.shape) for t in args)), args,
            lambda kw=kw: (lambda *a: F.scaled_dot_product_attention(*a, **kw),
                           lambda *a: MF.scaled_dot_product_attention(*a, **kw)))
    return groups


def _first(y):
    """A layer's output that the row's dy goes into: the first of several (an LSTM's sequence)."""
    return y[0] if isinstance(y, tuple) else y


def _time(side, inputs, dy, repeat: int):
    """Median forward and backward µs of ``side`` on ``inputs`` (floating ones leaves that require
    grad, passed through a clone where the layer writes its input in place)."""
    fwd, bwd = [], []
    inplace = getattr(side, "inplace", False)
    for _ in range(repeat):
        args = [t.clone().requires_grad_() if t.is_floating_point() else t for t in inputs]
        args = [t.clone() if inplace and t.requires_grad else t for t in args]
        t0 = time.perf_counter()
        y = _first(side(*args))
        t1 = time.perf_counter()
        if y.requires_grad:
            y.backward(dy)
        t2 = time.perf_counter()
        fwd.append(t1 - t0)
        bwd.append(t2 - t1)
    return statistics.median(fwd) * 1e6, statistics.median(bwd) * 1e6


def run_layers(case, device: torch.device, repeat: int = 50, warmup: int = 5) -> list[LayerRow]:
    """The rows of ``case``'s model (a :class:`manualgrad.bench.Case`), the largest extra first."""
    torch.manual_seed(0)
    model = case.build().to(device=device, dtype=case.dtype).train()
    x, target = case.batch(device, case.dtype)
    groups = _layer_calls(model, x)
    with torch.no_grad():
        logits = model(x)
    groups[("cross_entropy (the loss)", (tuple(logits.shape),))] = [
        lambda z: F.cross_entropy(z, target), lambda z: MF.cross_entropy(z, target), [logits], 1]
    rows = []
    for (layer, shapes), (theirs, ours, inputs, calls) in groups.items():
        torch.manual_seed(1)
        with torch.no_grad():
            dy = torch.randn_like(_first(theirs(*inputs)))
        times = {"torch": [], "manual": []}
        for side in (theirs, ours):
            _time(side, inputs, dy, warmup)
        order = [("torch", theirs), ("manual", ours)]
        for sides in (order, order[::-1]):  # two interleaved halves, each side first once
            for name, side in sides:
                times[name].append(_time(side, inputs, dy, max(repeat // 2, 1)))
        (tf, tb), (mf, mb) = ([statistics.mean(v) for v in zip(*times[s])] for s in ("torch", "manual"))
        rows.append(LayerRow(case.name, layer, shapes[0] if shapes else (), calls, tf, tb, mf, mb))
    return sorted(rows, key=lambda r: -r.extra_ms)


def format_layers(rows: list[LayerRow], top: int = 12) -> str:
    """One table per model: its ``top`` rows by extra, and the sum over all its rows."""
    lines = []
    for model in dict.fromkeys(r.model for r in rows):
        mine = [r for r in rows if r.model == model]
        lines.append(f"{model}: torch → manual µs per call (forward, backward), calls a step, extra ms a step")
        for r in mine[:top]:
            layer = r.layer if len(r.layer) <= 60 else r.layer[:57] + "..."
            lines.append(f"  {layer:<60} {str(r.shape):<18} fwd {r.torch_fwd_us:7.0f} → {r.manual_fwd_us:7.0f}"
                         f"  bwd {r.torch_bwd_us:7.0f} → {r.manual_bwd_us:7.0f}  ×{r.calls:<3} {r.extra_ms:+7.2f}")
        rest = sum(r.extra_ms for r in mine[top:])
        lines.append(f"  {len(mine)} rows, the {max(len(mine) - top, 0)} not shown {rest:+.2f} ms; "
                     f"sum {sum(r.extra_ms for r in mine):+.2f} ms a step")
    return "\n".join(lines)
