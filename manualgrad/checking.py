"""``manualgrad.check``: a user's own op (or a swapped model) against a reference, one call."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from .verify import Diff, compare, run


@dataclass
class CheckResult:
    """What :func:`check` found: forward and per-input gradient errors, and the verdict."""

    forward: Diff
    grads: list = field(default_factory=list)  # (label, Diff)
    grad_fn: str = ""

    @property
    def ok(self) -> bool:
        return self.forward.ok and all(d.ok for _, d in self.grads)

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        lines = [f"{'PASS' if self.ok else 'FAIL'}  (output grad_fn: {self.grad_fn or 'none'})",
                 _row("forward", self.forward)]
        lines += [_row(f"grad {label}", d) for label, d in self.grads]
        return "\n".join(lines)


def _row(label: str, d: Diff) -> str:
    mark = "ok  " if d.ok else "FAIL"
    tail = f"  {d.why}" if d.why else ""
    return f"  {mark} {label:<24} max abs {d.max_abs:.3e}  max rel {d.max_rel:.3e}{tail}"


def _labels(args: tuple, kwargs: dict) -> list[str]:
    named = [(f"arg{i}", a) for i, a in enumerate(args)] + list(kwargs.items())
    return [n for n, a in named if isinstance(a, torch.Tensor) and a.requires_grad]


def check(fn: Callable, reference: Callable, *args, rtol: float | None = None,
          atol: float | None = None, seed: int | None = 0, **kwargs) -> CheckResult:
    """Run ``fn`` and ``reference`` on the same inputs with one random upstream gradient and
    compare the outputs and the gradient of every input that requires grad.

    ``rtol``/``atol`` override ``torch.testing.assert_close``'s defaults for the dtype; ``seed``
    makes random ops (dropout) draw the same numbers on both sides. When ``fn`` and
    ``reference`` are both modules (a swapped model and its original, say), the gradients of
    their parameters are compared too, name by name. Returns a :class:`CheckResult`;
    ``bool(result)`` is the verdict and ``print(result)`` a table.

    >>> import manualgrad as mg, manualgrad.functional as MF, torch.nn.functional as F
    >>> x = torch.randn(4, 3, requires_grad=True)
    >>> print(mg.check(MF.gelu, F.gelu, x, approximate="tanh"))  # doctest: +SKIP
    """
    names, ours_p, theirs_p = _shared_parameters(fn, reference)
    ours = run(fn, args, kwargs, seed=seed, params=ours_p)
    theirs = run(reference, args, kwargs, dy=ours.dy, seed=seed, params=theirs_p)
    result = CheckResult(compare(ours.out, theirs.out, rtol=rtol, atol=atol),
                         grad_fn=type(ours.out.grad_fn).__name__ if ours.out.grad_fn else "")
    labels = _labels(args, kwargs) + [f"param {n}" for n in names]
    for label, g, h in zip(labels, ours.grads, theirs.grads):
        result.grads.append((label, compare(g, h, rtol=rtol, atol=atol)))
    return result


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
