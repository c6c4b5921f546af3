"""Functional routing: ``torch.nn.functional`` calls and the torch functions / tensor methods that
manualgrad implements run manualgrad's Functions.

``swap`` reaches modules; code written with functions (``F.gelu`` in a Hugging Face MLP,
``torch.tanh`` inline, ``x.softmax(-1)`` in an attention, a loss written with ``F.cross_entropy``)
is reached here, with a :class:`torch.overrides.TorchFunctionMode`: while one is active, every call
of a torch function with a ``__torch_function__`` hook (all of ``torch.*``, ``torch.nn.functional.*``
and the ``Tensor`` methods) first goes to the mode's ``__torch_function__``, which looks the callable
up in :data:`ROUTES` and calls manualgrad's twin instead, or torch's own callable when there is none.

- ``F.<name>`` -> ``manualgrad.functional.<name>`` for every name both have whose signature is
  the same (parameter names, kinds and defaults; a C builtin of torch's by its documented
  parameter names, as ``tests/test_api.py`` checks them);
- torch-level aliases with the same semantics, through small adapters where the positional layout
  differs: ``torch.tanh``/``sigmoid``/``relu``/``softmax``/``log_softmax`` and the ``Tensor``
  methods of those names, ``torch.relu_``/``Tensor.relu_`` (= ``F.relu_``), ``F.elu_``,
  ``F.leaky_relu_``, ``torch.dropout``; ``F.hardtanh_``, ``F.threshold_``, ``torch.selu``/``celu``/``rrelu``
  (and their in-place ``_`` forms), ``torch.prelu``/``threshold``/``hardshrink`` and the ``Tensor``
  methods ``prelu``, ``hardshrink``. A call outside what an adapter covers (``out=``, a named
  dim) runs torch's own.
- the math primitives of :mod:`manualgrad.math` (``torch.matmul`` and ``@``, ``addmm``, ``exp``,
  ``pow`` and ``**``, ``clamp``, ``where``, ``sum``, ``mean``, ``var``, ``max``, ...; ``torch.<name>``
  and the ``Tensor`` method): :mod:`manualgrad.routing_math`, in the argument forms ``manualgrad.math``
  implements with torch's semantics; its adapter answers ``TORCH`` for any other form (integer
  tensors, a named dim, ``torch.where(condition)``), which then runs torch's own.
- with ``strict=True`` (:func:`manual`, ``swap``), the arithmetic too: :mod:`manualgrad.routing_strict`.

The mode's ``__torch_function__`` runs with the mode popped off the (thread-local) mode stack, as
every torch function mode's: the torch primitives that manualgrad's wrappers and Functions call are
not routed again (no recursion), and neither is anything a backward pass calls (``.backward()`` and
``torch.autograd.grad`` are themselves torch functions, run with the mode popped). A torch function
that is not routed runs whole with the mode popped: the ``F.linear`` inside
``F.multi_head_attention_forward`` stays torch's. Nothing is routed while grad mode is off: there
is no backward to hand-derive then (``torch.no_grad``, inference), and the forward of an autograd
Function (a swapped module's, which calls ``F.linear`` itself) runs with grad off, so it is
never routed into itself.

:func:`manual` is the context manager; ``swap(model)`` (``functional=True``) enters the same mode
around the model's forward with a pair of hooks (:func:`attach`) on the model and on every module
inside with code of its own, so that a layer activation checkpointing recomputes alone in backward
is routed again; a mode already entered on this thread is not entered again.

Under ``torch.compile`` Dynamo traces the mode (a swapped model compiles in one graph with the routed
calls as manualgrad's Functions). One difference there: a Tensor method that is not routed is called
as a method (``x.unflatten(...)``), not as the function ``Tensor.unflatten(x, ...)`` the mode
received, because Dynamo inlines the latter when it is written in Python and fails on its
``super()`` call.
"""

from __future__ import annotations

import inspect
import threading

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode, _get_current_function_mode_stack

from . import functional as MF
from . import routing_aliases, routing_math, routing_strict


def _parameters(fn) -> list | None:
    """(name, kind, default) of each parameter of ``fn``; a C builtin's names from its docstring
    with kind and default unknown (None); None when neither can be read."""
    try:
        return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]
    except ValueError:
        doc = (fn.__doc__ or "").strip()
        if "(" not in doc or ")" not in doc:
            return None
        return [(p.split("=")[0].strip(), None, None) for p in doc[doc.index("(") + 1:doc.index(")")].split(",")]


def _same_signature(ours, theirs) -> bool:
    want, got = _parameters(theirs), _parameters(ours)
    if want is None or got is None or len(want) != len(got):
        return False
    if want and want[0][1] is None:  # a builtin of torch's: names only
        return [n for n, *_ in got] == [n for n, *_ in want]
    return got == want


def _functional_routes() -> tuple[dict, dict]:
    """``F.<name>`` -> ``MF.<name>`` where the signatures are the same; and name -> why not."""
    routes, refused = {}, {}
    for name in MF.__all__:
        theirs = getattr(F, name, None)
        if theirs is None:
            continue  # manualgrad's own op, or one only a newer torch has
        if _same_signature(getattr(MF, name), theirs):
            routes[theirs] = getattr(MF, name)
        else:
            refused[name] = "signature differs from torch's"
    return routes, refused


ROUTES, REFUSED = _functional_routes()
ROUTES.update(routing_aliases.ALIASES)  # torch.tanh, x.softmax(-1), F.relu_, ...: routing_aliases.py
ROUTES.update(routing_math.ROUTES)  # torch.matmul, x.sum(-1), x ** 2, ...: routing_math.py


def routed_names(strict: bool = False) -> list[str]:
    """The torch callables routed, by their public names (``torch.nn.functional.gelu``, ...);
    ``strict``: with the arithmetic strict routing adds (:mod:`manualgrad.routing_strict`)."""
    names = set(routing_strict.NAMES) if strict else set()
    for fn in ROUTES:
        owner = getattr(fn, "__objclass__", None)
        if owner is not None:
            names.add(f"Tensor.{fn.__name__}")
        elif getattr(F, fn.__name__, None) is fn:
            names.add(f"torch.nn.functional.{fn.__name__}")
        if getattr(torch, fn.__name__, None) is fn:
            names.add(f"torch.{fn.__name__}")
    return sorted(names | set(routing_math.NAMES))


class Routing(TorchFunctionMode):
    """The torch function mode that routes (see the module docstring). Use :func:`manual`.
    ``strict``: the arithmetic too (:mod:`manualgrad.routing_strict`)."""

    def __init__(self, strict: bool = False):
        super().__init__()
        self.strict = strict

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        ours = ROUTES.get(func) or routing_math.operator(func)
        if ours is None and self.strict:
            ours = routing_strict.ROUTES.get(func) or routing_strict.operator(func)
        if ours is not None and kwargs.get("out") is None and torch.is_grad_enabled():
            # out=None as given (torch.norm's Python code hands it on) is no out
            y = ours(*args, **{k: v for k, v in kwargs.items() if k != "out"})
            if y is not routing_math.TORCH:  # a math route's answer for a form it leaves to torch
                return y
        if _compiling() and args and isinstance(args[0], torch.Tensor):
            name = getattr(func, "__name__", "")
            if getattr(torch.Tensor, name, None) is func:
                # a Tensor method: Dynamo inlines one written in Python (torch/_tensor.py: unflatten,
                # split, ...) when it is called as a function, and fails on its super() call; called
                # as a method it is traced as usual
                return getattr(args[0], name)(*args[1:], **kwargs)
        return func(*args, **kwargs)


_compiling = getattr(torch.compiler, "is_compiling", lambda: False)


def manual(*, strict: bool = False) -> Routing:
    """A context manager: inside ``with manualgrad.manual():`` the ``torch.nn.functional`` calls
    and torch functions/tensor methods manualgrad implements run manualgrad's Functions (the list:
    :func:`routed_names`). Like every torch function mode it holds for the current thread only.
    ``strict=True``: the arithmetic too (``+``, ``-``, ``*``, ``/``, unary ``-``, ``torch.add``,
    ``addcmul``, ...: :mod:`manualgrad.routing_strict`), so that every node is hand-derived."""
    return Routing(strict)


def routing(strict: bool = False) -> bool:
    """Whether calls made here and now are routed (a :class:`Routing` mode is on this thread's
    stack; ``strict``: a strict one)."""
    return any(isinstance(m, Routing) and (m.strict or not strict) for m in _get_current_function_mode_stack())


# ---- swap's hooks: the mode around the model's forward, exited even when the forward raises

_entered = threading.local()


def _open(module, strict):
    stack = _entered.__dict__.setdefault("stack", [])
    # inside a module whose hook is on this stack, or inside manual(): the mode is on already; with
    # grad off nothing would be routed, and an active mode would turn torch's fused inference paths
    # off (nn.TransformerEncoderLayer checks has_torch_function)
    # (a strict model inside a default one enters its strict mode)
    on = routing(True) if strict else stack or routing()
    mode = None if on or not torch.is_grad_enabled() else Routing(strict)
    if mode is not None:
        mode.__enter__()
    stack.append((module, mode))


def _enter(module, args):
    _open(module, False)


def _enter_strict(module, args):
    _open(module, True)


_ENTERS = (_enter, _enter_strict)


def _exit(module, args, output):
    stack = _entered.__dict__.get("stack")
    if stack and stack[-1][0] is module:  # not when a pre-hook before ours raised
        mode = stack.pop()[1]
        if mode is not None:
            mode.__exit__(None, None, None)


def attached(module: torch.nn.Module, strict: bool | None = None) -> bool:
    """Whether :func:`attach` put routing on ``module`` (``strict``: that kind of routing)."""
    wanted = _ENTERS if strict is None else (_ENTERS[strict],)
    return any(h is e for h in module._forward_pre_hooks.values() for e in wanted)


def attach(module: torch.nn.Module, strict: bool = False) -> None:
    """Run ``module``'s forward (its hooks less the ones registered before this) with functional
    calls routed (``strict``: the arithmetic too): a forward pre-hook that enters a :class:`Routing`
    mode and an always-called forward hook that exits it. Idempotent; a strict module stays strict
    (swapping a model around it does not undo that), a default one becomes strict; :func:`detach`
    undoes it."""
    if attached(module, True) or attached(module, strict):
        return
    detach(module)
    module.register_forward_pre_hook(_ENTERS[strict], prepend=True)
    module.register_forward_hook(_exit, always_call=True)


def detach(module: torch.nn.Module) -> bool:
    """Remove what :func:`attach` put on ``module``; whether there was any."""
    found = False
    for hooks, fns in ((module._forward_pre_hooks, _ENTERS), (module._forward_hooks, (_exit,))):
        for key in [k for k, h in hooks.items() if any(h is f for f in fns)]:
            del hooks[key]
            module._forward_hooks_always_called.pop(key, None)
            module._forward_hooks_with_kwargs.pop(key, None)
            module._forward_pre_hooks_with_kwargs.pop(key, None)
            found = True
    return found
