"""Recomputable activations: a saved-bytes saving that autograd cannot make on its own.

In ``Linear → GELU → Linear`` torch keeps GELU's input z (for GELU's derivative) *and* its output
a = gelu(z) (the next Linear's input, for dW = dyᵀa): two activations per layer. a is one cheap
elementwise op away from z, which is kept anyway. So the GELU wrapper *tags* its output with how
to recompute it from z, and a Linear that must save its input saves z instead when the input
carries a valid tag, recomputing a in backward through the same Function (double backward stays
exact). One activation per layer instead of two.

The same holds for ``Conv → BatchNorm → ReLU → Conv`` (In-Place-ABN's observation): BatchNorm
keeps its input x and per-channel μ, rstd; its output z = w·(x − μ)·rstd + b is tagged, ReLU then
saves x, μ, rstd (not its output) and reads its mask from the recomputed z, and tags its own
output relu(z), which the next Conv saves as x, μ, rstd too: one activation per block instead of
BatchNorm's input plus ReLU's output.

A tag is valid only for the tensor it was put on, at the version it had (an in-place change
afterwards voids it), while grad mode is on, outside torch.compile and torch.func transforms,
and under the saved-tensor hooks it was made under: a tag never crosses into or out of a
``torch.utils.checkpoint`` region (or ``save_on_cpu``), since checkpoint's recomputation sees a
fresh, untagged input object and must save what the first forward saved. Hooks that only look
(``memory.SavedBytes``) are declared with :func:`transparent` and do not count.
"""

from __future__ import annotations

import torch

_ATTR = "_mg_recompute"


def active() -> bool:
    """Outside torch.compile tracing and torch.func transforms (eager code may branch on data)."""
    return not torch.compiler.is_compiling() and not torch._C._are_functorch_transforms_active()


_TRANSPARENT: dict = {}  # pack hook of an observer -> the hooks in force beneath it


def _hooks():
    """The pack hook of the innermost ``saved_tensors_hooks`` (checkpoint's among them) that is
    not :func:`transparent`, or None."""
    top = getattr(torch._C._autograd, "_top_saved_tensors_default_hooks", None)  # private: guarded
    found = top(True) if top is not None else None
    return _TRANSPARENT.get(found[0], found[0]) if found else None


def transparent(pack):
    """Declare ``pack`` (about to be pushed) a hook that returns what it is given: tags made
    outside it stay valid inside. Returns a callable that withdraws the declaration."""
    _TRANSPARENT[pack] = _hooks()
    return lambda: _TRANSPARENT.pop(pack, None)


def taggable(y: torch.Tensor) -> bool:
    """Whether :func:`tag` would mark ``y`` (to skip building a recipe that would be dropped)."""
    return y.requires_grad and torch.is_grad_enabled() and active()


def tag(y: torch.Tensor, fn, *sources: torch.Tensor) -> torch.Tensor:
    """Mark ``y`` (an output that requires grad) as ``fn(*sources)``; returns ``y``."""
    if taggable(y):
        setattr(y, _ATTR, (fn, sources, y._version, _hooks()))
    return y


def recipe(x: torch.Tensor):
    """``(fn, sources)`` if ``x`` may be recomputed as ``fn(*sources)``, else None (called from a
    ``setup_context``, where grad mode is off)."""
    if torch.compiler.is_compiling():  # first: torch.compile must not trace the attribute lookup
        return None
    found = x.__dict__.get(_ATTR) if hasattr(x, "__dict__") else None
    if found is None or not active() or found[2] != x._version or found[3] is not _hooks():
        return None
    return found[0], found[1]


def save_sources(ctx, x: torch.Tensor, needed: bool) -> tuple:
    """What a Function saves for its tensor ``x``: ``(None,)`` when not ``needed``, the sources
    of ``x``'s recipe when it has one (``ctx.recompute`` set), else ``(x,)``. Pair with
    :func:`restore` in backward."""
    ctx.recompute = None
    if not needed:
        return (None,)
    found = recipe(x)
    if found is None:
        return (x,)
    ctx.recompute, sources = found
    return sources


def restore(ctx, saved):
    """``x`` from what :func:`save_sources` saved (recomputed when it saved a recipe's sources)."""
    return ctx.recompute(*saved) if ctx.recompute is not None else saved[0]


def chain(outer, inner):
    """The recipe ``outer(inner(*sources))``."""
    return lambda *sources: outer(inner(*sources))
