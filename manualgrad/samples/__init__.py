"""Sample inputs for the op table (``manualgrad.ops``), one module per op family.

A sample generator is ``fn(device, dtype) -> Iterable[Sample]``: floating tensors are made on
``device`` with ``dtype`` and ``requires_grad`` set where the op is differentiable; index tensors
are ``torch.long``. Samples are small so that float64 ``gradcheck``/``gradgradcheck`` stay fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class Sample:
    """One call of an op: ``op(*args, **kwargs)``.

    ``gradcheck``: include in float64 gradcheck/gradgradcheck (off for inf/NaN samples).
    ``clone_input``: the op writes into ``args[0]`` (``inplace=True``), so each run gets a
    non-leaf clone of it.
    ``node``: the output must come from the op's Function (off where torch returns the input
    unchanged, as ``dropout(training=False)``).
    """

    args: tuple
    kwargs: dict = field(default_factory=dict)
    name: str = ""
    gradcheck: bool = True
    clone_input: bool = False
    node: bool = True

    def __repr__(self) -> str:
        return self.name or describe(self.args, self.kwargs)


@dataclass
class ErrorSample:
    """A bad call. ``match=None``: torch raises too, and ours must raise the same type and
    message. Otherwise torch accepts it but we reject it: ``error`` and ``match`` (a regex)."""

    args: tuple
    kwargs: dict = field(default_factory=dict)
    name: str = ""
    error: type = RuntimeError
    match: str | None = None

    def __repr__(self) -> str:
        return self.name or describe(self.args, self.kwargs)


def describe(args: tuple, kwargs: dict) -> str:
    def one(a: Any) -> str:
        if isinstance(a, torch.Tensor):
            return "x".join(map(str, a.shape)) or "0d"
        return repr(a)

    parts = [one(a) for a in args] + [f"{k}={one(v)}" for k, v in kwargs.items()]
    return ",".join(parts)


def make(*shape, device, dtype, requires_grad=True, low=-2.0, high=2.0):
    """A uniform random tensor in [low, high); ``make(**kw)`` or ``make((), **kw)`` is 0-d."""
    if len(shape) == 1 and isinstance(shape[0], tuple):
        shape = shape[0]
    t = torch.empty(shape, device=device, dtype=dtype).uniform_(low, high)
    return t.requires_grad_(requires_grad)


def noncontiguous(*shape, device, dtype, requires_grad=True):
    """A leaf of the given shape whose memory is not contiguous (every other element)."""
    *lead, last = shape
    base = torch.empty(*lead, 2 * last, device=device, dtype=dtype).uniform_(-2, 2)
    t = base[..., ::2]
    assert not t.is_contiguous() or t.numel() <= 1
    return t.requires_grad_(requires_grad)


def expanded(*shape, device, dtype, requires_grad=True):
    """A leaf broadcast along its first dim (stride 0), as ``x.expand`` gives."""
    t = torch.empty(1, *shape[1:], device=device, dtype=dtype).uniform_(-2, 2).expand(*shape)
    return t.requires_grad_(requires_grad)
