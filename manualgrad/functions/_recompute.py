"""Recomputable activations: a saved-bytes saving that autograd cannot make on its own.

In ``Linear → GELU → Linear`` torch keeps GELU's input z (for GELU's derivative) *and* its output
a = gelu(z) (the next Linear's input, for dW = dyᵀa): two activations per layer. a is one cheap
elementwise op away from z, which is kept anyway. So the GELU wrapper *tags* its output with how
to recompute it from z, and a Linear that must save its input saves z instead when the input
carries a valid tag, recomputing a in backward through the same Function (double backward stays
exact). One activation per layer instead of two.

A tag is valid only for the tensor it was put on, at the version it had (an in-place change
afterwards voids it), while grad mode is on, outside torch.compile and torch.func transforms.
"""

from __future__ import annotations

import torch

_ATTR = "_mg_recompute"


def _active() -> bool:
    return not torch.compiler.is_compiling() and not torch._C._are_functorch_transforms_active()


def tag(y: torch.Tensor, fn, *sources: torch.Tensor) -> torch.Tensor:
    """Mark ``y`` (an output that requires grad) as ``fn(*sources)``; returns ``y``."""
    if y.requires_grad and torch.is_grad_enabled() and _active():
        setattr(y, _ATTR, (fn, sources, y._version))
    return y


def recipe(x: torch.Tensor):
    """``(fn, sources)`` if ``x`` may be recomputed as ``fn(*sources)``, else None (called from a
    ``setup_context``, where grad mode is off)."""
    if not _active():  # first: torch.compile must not trace the attribute lookup
        return None
    found = x.__dict__.get(_ATTR) if hasattr(x, "__dict__") else None
    if found is None or found[2] != x._version:
        return None
    return found[0], found[1]
