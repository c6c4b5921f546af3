"""``swap`` / ``revert``: turn the ``torch.nn`` modules of an existing model into their manualgrad
twins in place, and back.

A manualgrad module is a subclass of its ``torch.nn`` twin that overrides only ``forward``, so a
swap is a change of the module's ``__class__``: the module object stays the same, and with it every
``Parameter`` and buffer object (an optimizer built before the swap keeps working), the training
mode, device, dtype, registered hooks and ``state_dict``. A subclass of a torch module (a user's
``class MyConv(nn.Conv2d)``, torch's own ``NonDynamicallyQuantizableLinear``, a parametrized module)
is swapped into a class made on the fly that puts the manualgrad twin under it in the MRO, as long
as the subclass redefines nothing the twin's forward relies on; otherwise it is left alone and the
report says why. Never swap what cannot be proven equal.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Iterable

import torch

from . import nn as mnn
from . import routing
from .forward_source import UNREADABLE, math_calls, rearranges_only

# torch.nn classes with no arithmetic of their own: nothing to swap, nothing to report.
_STRUCTURAL = (torch.nn.Sequential, torch.nn.ModuleList, torch.nn.ModuleDict, torch.nn.ParameterList,
               torch.nn.ParameterDict, torch.nn.Identity, torch.nn.Flatten, torch.nn.Unflatten)
# Names a subclass may redefine without changing what the twin's forward computes; any other name
# the twin's torch.nn classes define (forward, _conv_forward, _check_input_dim, ...) or the call
# machinery rules the swap out.
_HARMLESS = {"__init__", "__module__", "__qualname__", "__doc__", "__dict__", "__weakref__",
             "__annotations__", "__firstlineno__", "__static_attributes__", "__constants__",
             "reset_parameters", "extra_repr", "_version", "__orig_bases__", "__parameters__"}
_CALL = {"__call__", "_call_impl", "_wrapped_call_impl", "forward"}


def _twins() -> dict[type, type]:
    """torch.nn class -> manualgrad.nn class, for every module manualgrad implements."""
    pairs = {}
    for name in mnn.__all__:
        ours, twin = getattr(mnn, name), getattr(torch.nn, name, None)
        if twin is not None and issubclass(ours, twin):  # extensions have no twin to replace
            pairs[twin] = ours
    return pairs


@dataclass
class SwapEntry:
    """One module: its path in the model (``''`` for the model itself), classes before and after
    (``after`` is ``None`` when it was left alone) and why it was left alone."""

    path: str
    before: type
    after: type | None = None
    reason: str = ""

    def __str__(self) -> str:
        where = self.path or "<model>"
        if self.after is not None:
            return f"  {where}: {_name(self.before)} -> {_name(self.after)}"
        return f"  {where}: {_name(self.before)} left alone: {self.reason}"


def _name(cls: type) -> str:
    if "_mg_original" in cls.__dict__:  # a user's subclass with manualgrad's twin slipped under it
        return f"{cls.__qualname__} (on {_name(cls.__dict__['_mg_twin'])})"
    base = cls.__module__.split(".")[0]
    return f"{base}.{cls.__qualname__}" if base in ("torch", "manualgrad") else cls.__qualname__


@dataclass
class SwapReport:
    """What :func:`swap` (or :func:`revert`) did: ``swapped`` and ``skipped`` entries."""

    swapped: list[SwapEntry] = field(default_factory=list)
    skipped: list[SwapEntry] = field(default_factory=list)
    action: str = "swapped"
    functional: bool = False  # swap: functional calls routed while the model runs; revert: routing removed
    strict: bool = False  # swap: the arithmetic routed too

    def __str__(self) -> str:
        lines = [f"{len(self.swapped)} module(s) {self.action}, {len(self.skipped)} left alone"]
        lines += [str(e) for e in self.swapped] + [str(e) for e in self.skipped]
        if self.functional:
            lines.append("functional routing removed" if self.action == "reverted" else
                         "functional routing on: the torch.nn.functional calls and torch functions manualgrad "
                         "implements run manualgrad's while the model runs (manualgrad.routing.routed_names())"
                         + ("; strict: the arithmetic too (routed_names(strict=True))" if self.strict else ""))
        return "\n".join(lines)

    def __len__(self) -> int:
        return len(self.swapped)


def _selected(path: str, cls: type, patterns) -> bool:
    """``patterns``: classes (matched with issubclass) or strings (a class name, or an fnmatch
    pattern over the dotted path of the module or of one of its parents: ``"encoder"`` is the
    whole subtree)."""
    parts = path.split(".")
    paths = [".".join(parts[:i]) for i in range(1, len(parts) + 1)] if path else [""]
    for p in patterns:
        if isinstance(p, type) and issubclass(cls, p):
            return True
        if isinstance(p, str) and (p == cls.__name__ or any(fnmatch.fnmatchcase(q, p) for q in paths)):
            return True
    return False


_MADE: dict[tuple[type, type], type] = {}


def _subclass_twin(cls: type, twin: type, ours: type) -> type | str:
    """A class ``cls`` with ``ours`` slipped under it, or why that cannot be proven equal."""
    twin_names = _CALL | {n for k in twin.__mro__[:-2] for n in vars(k)}  # less Module, object
    for k in cls.__mro__[:cls.__mro__.index(twin)]:
        changed = sorted(n for n in vars(k) if n in twin_names and n not in _HARMLESS)
        if changed:
            return f"{k.__qualname__} redefines {', '.join(changed)}; cannot prove it equal to manualgrad's"
    key = (cls, ours)
    if key not in _MADE:
        made = type(cls.__name__, (cls, ours), {"__module__": cls.__module__, "_mg_original": cls,
                                                 "_mg_twin": ours})
        made.__qualname__ = cls.__qualname__
        _MADE[key] = made
    return _MADE[key]


def _routed(module: torch.nn.Module, strict: bool = False) -> str:
    """What functional routing makes of the forward of a module left alone, read as source."""
    calls = math_calls(module)
    if calls == [UNREADABLE]:
        return "its own forward runs with functional routing (its source cannot be read)"
    names = {n.rsplit(".", 1)[1] for n in routing.routed_names(strict)} | {"@", "**"}
    ours, theirs = [c for c in calls if c in names], [c for c in calls if c not in names]
    parts = [f"{', '.join(ours)} {'is' if len(ours) == 1 else 'are'} manualgrad's"] if ours else []
    parts += [f"{', '.join(theirs)} {'stays' if len(theirs) == 1 else 'stay'} torch's"] if theirs else []
    arithmetic = "arithmetic (manualgrad's: strict)" if strict else "arithmetic"
    rest = f"the rest is {arithmetic} and rearranging" if parts else \
        f"only {arithmetic} and rearranging" + ("" if strict else " (torch's)")
    return f"its own forward runs with functional routing: {', '.join(parts + [rest])}"


def _plan(module: torch.nn.Module, twins: dict, functional: bool, strict: bool = False) -> type | str | None:
    """The class ``module`` becomes, a reason it stays, or None (nothing to say)."""
    cls = type(module)
    if isinstance(module, tuple(twins.values())):
        return None  # manualgrad already
    if isinstance(module, torch.jit.ScriptModule):
        return "a TorchScript module"
    if isinstance(module, torch.nn.modules.lazy.LazyModuleMixin):
        return "a lazy module: swap after its first forward, once its shapes are known"
    twin = next((k for k in cls.__mro__ if k in twins), None)
    if twin is None:
        if cls in _STRUCTURAL or cls.__module__.split(".")[0] != "torch" and len(module._modules):
            return None  # containers: their children are looked at one by one
        if cls.__module__.startswith("torch.nn"):
            return f"manualgrad does not implement {cls.__name__} yet (children swapped where possible)"
        if rearranges_only(module):
            return None  # a Permute, a stochastic-depth mask multiply: no layer arithmetic of its own
        own = _routed(module, strict) if functional else "its own forward runs as written"
        return f"not a torch.nn module: {own} (manualgrad.coverage(model, *inputs) lists what stays torch's)"
    unsupported = getattr(twins[twin], "_mg_unsupported", None)
    why = unsupported(module) if unsupported else None
    if why:
        return why  # an option of this instance that manualgrad's twin does not implement
    if cls is twin:
        return twins[twin]
    made = _subclass_twin(cls, twin, twins[twin])
    return f"{made}; {_routed(module, strict)}" if functional and isinstance(made, str) else made


def swap(model: torch.nn.Module, *, include: Iterable | None = None,
         exclude: Iterable | None = None, functional: bool | None = None, strict: bool = False) -> SwapReport:
    """Replace, in place and recursively, every ``torch.nn`` submodule manualgrad implements (and
    ``model`` itself if it is one) by its manualgrad twin; returns a :class:`SwapReport`.

    ``include``: only modules matching one of these (classes, class names, or fnmatch patterns of
    the dotted module path such as ``"encoder.*"``); ``exclude``: never these. Parameters, buffers,
    mode, device, dtype, hooks and ``state_dict`` are untouched: the modules are the same objects.

    ``functional``: also route, while ``model`` runs, the ``torch.nn.functional`` calls and torch
    functions/tensor methods manualgrad implements (``F.gelu``, ``torch.tanh``, ``x.softmax(-1)``,
    ... in the forward of any module inside: see :mod:`manualgrad.routing`), through a forward
    pre-hook and an always-called forward hook on ``model`` and on each module inside that is not
    a manualgrad module (so that a layer recomputed alone by activation checkpointing is routed
    as it was in the forward; a mode already entered is not entered again). Default (None): on, unless
    ``include`` or ``exclude`` is given (routing reaches every module's code, the excluded ones'
    too); ``True`` routes whatever the selection.

    ``strict``: route the arithmetic too (``+``, ``-``, ``*``, ``/``, unary ``-``, ``torch.add``,
    ``addcmul``, ...: :mod:`manualgrad.routing_strict`), so that every node of the backward is
    hand-derived; it implies ``functional`` (``functional=False`` with it is a ValueError).
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"swap() expects a torch.nn.Module, got {type(model).__name__}")
    include, exclude = (None if include is None else list(include)), list(exclude or ())
    report, twins = SwapReport(), _twins()
    if strict and functional is False:
        raise ValueError("swap(strict=True) routes the arithmetic of the model's code: it needs functional routing")
    if functional is None:
        functional = strict or (include is None and not exclude)
    for path, module in model.named_modules(remove_duplicate=True):
        cls = type(module)
        if include is not None and not _selected(path, cls, include) or _selected(path, cls, exclude):
            continue
        plan = _plan(module, twins, functional, strict)
        if isinstance(plan, type):
            module.__class__ = plan
            report.swapped.append(SwapEntry(path, cls, plan))
        elif plan is not None:
            report.skipped.append(SwapEntry(path, cls, reason=plan))
    if functional:
        # on every module with code of its own, not only on the model: a layer that activation
        # checkpointing recomputes in backward is called alone, and must run routed again
        ours = tuple(twins.values())
        for module in model.modules():
            if module is model or not isinstance(module, ours):
                routing.attach(module, strict)
        report.functional = True
        report.strict = strict
    return report


def revert(model: torch.nn.Module) -> SwapReport:
    """Put the original classes back on every module :func:`swap` changed (and on manualgrad
    modules built directly: they become their ``torch.nn`` twins), and removes functional routing
    from every module that has it. Returns what was changed."""
    report, torch_of = SwapReport(action="reverted"), {ours: twin for twin, ours in _twins().items()}
    for path, module in model.named_modules(remove_duplicate=True):
        cls = type(module)
        back = cls.__dict__.get("_mg_original") or torch_of.get(cls)
        if back is not None:
            module.__class__ = back
            report.swapped.append(SwapEntry(path, cls, back))
        report.functional |= routing.detach(module)
    return report
