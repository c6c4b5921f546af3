"""torch.func support shared by the Functions: when data-dependent checks must be skipped,
forward-mode AD (``jvp``) plumbing and the error for the ops that have no forward mode.

vmap: every Function has ``generate_vmap_rule = True`` (``_base.Function``): torch.func runs
forward, setup_context and backward under vmap, so they must not read tensor values into Python
(``bool(t)``, ``.item()``, ``.tolist()``). The few value checks (target and index ranges, BCE's
[0, 1]) are skipped under torch.func transforms and torch.compile (:func:`values_hidden`).

Forward mode: a Function that supports it defines ``jvp(ctx, *tangents)`` (the formula is the
``dy = ...`` line of its docstring) and saves what the jvp reads with :func:`save_for_forward`,
which saves nothing unless forward-mode AD can be running, so that a kept output's ``grad_fn``
does not hold tensors alive that the backward has released.
"""

from __future__ import annotations

import torch
from torch.autograd import forward_ad


def transforms_active() -> bool:
    """Inside a torch.func transform (vmap, grad, jvp, jacrev, ...)."""
    return torch._C._are_functorch_transforms_active()


def values_hidden() -> bool:
    """Tensor values cannot be read into Python here (torch.func transforms, torch.compile):
    data-dependent checks are skipped."""
    return torch.compiler.is_compiling() or transforms_active()


def forward_mode_possible() -> bool:
    """A forward-mode AD tangent may be attached to the inputs: a ``forward_ad.dual_level`` is
    open or a torch.func transform runs (``torch.func.jvp``/``jacfwd``); never while
    torch.compile traces (what it traces has no jvp: see ``_base.Function``)."""
    if torch.compiler.is_compiling():
        return False
    return transforms_active() or getattr(forward_ad, "_current_level", 0) >= 0


def save_for_forward(ctx, *tensors) -> None:
    """``ctx.save_for_forward(*tensors)`` when forward mode is possible (else nothing kept)."""
    if forward_mode_possible():
        ctx.save_for_forward(*tensors)


def tangent(ctx, dx: torch.Tensor, result: torch.Tensor) -> torch.Tensor:
    """The output tangent ``result``; for an in-place forward (``ctx.inplace``) written into the
    input's tangent ``dx``, as forward-mode AD requires of a dirty input."""
    return dx.copy_(result) if getattr(ctx, "inplace", False) else result


def forward_mode_ops() -> list[str]:
    """Names of the Functions with a jvp of their own."""
    from ._base import Function

    found, todo = [], list(Function.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        owner = next(k for k in cls.__mro__ if "jvp" in vars(k))
        if owner is not Function and not cls.__name__.startswith("_"):
            found.append(cls.__name__)
    return sorted(set(found))


def no_forward_mode(cls) -> NotImplementedError:
    """The error for forward-mode AD through a Function without a jvp."""
    return NotImplementedError(
        f"manualgrad: forward-mode AD (torch.func.jvp, jacfwd, forward_ad dual tensors) is not "
        f"implemented for {cls.__name__}; it has a hand-derived backward only (use reverse mode: "
        f"torch.func.grad, vjp, jacrev). Forward mode works for: {', '.join(forward_mode_ops())}.")


def diagonal_jvp(cls, ctx, dx, *_):
    """jvp of an elementwise y = f(x): dy = f′(x) ⊙ dx. The Jacobian diag(f′) is its own
    transpose, so J·dx is the Function's backward applied to dx (which reads the same tensors,
    saved for forward too). Use as ``jvp = classmethod(diagonal_jvp)``."""
    dy = cls.backward(ctx, dx)
    return tangent(ctx, dx, dy[0] if isinstance(dy, tuple) else dy)


def add_tangents(*terms):
    """Σ of the terms that are not None (None if all are)."""
    present = [t for t in terms if t is not None]
    return sum(present[1:], present[0]) if present else None
