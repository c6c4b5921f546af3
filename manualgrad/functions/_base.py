"""The base of every manualgrad Function: ``torch.autograd.Function`` with a leaner ``apply``."""

from __future__ import annotations

import functools

import torch
from torch._C import _len_torch_function_stack, _pop_torch_function_stack, _push_on_torch_function_stack

from ._transform import no_forward_mode


def _dynamo_tracing() -> bool:
    """torch.compile is tracing right now (Dynamo sets a TracingContext; private, guarded)."""
    guards = getattr(torch, "_guards", None)
    context = getattr(guards, "TracingContext", None)
    return context is not None and context.try_get() is not None


class _JvpSlot:
    """A Function's ``jvp`` attribute. Dynamo refuses to trace an autograd.Function whose ``jvp``
    is not torch's default, so while it traces, the slot shows torch's default (compiled code
    never runs forward mode through us); everywhere else it gives ``fn`` (a staticmethod or
    classmethod, bound as usual), or for ``fn`` None the clear no-forward-mode error."""

    def __init__(self, fn=None):
        self.fn = fn

    def __get__(self, obj, owner):
        if _dynamo_tracing():
            return torch.autograd.Function.jvp
        if self.fn is None:
            def jvp(ctx, *tangents):
                raise no_forward_mode(owner)
            return jvp
        return self.fn.__get__(obj, owner)


class Function(torch.autograd.Function):
    """``torch.autograd.Function`` whose ``apply`` skips the Python-side work torch's does for every
    call of a ``setup_context``-style Function (binding default arguments through
    ``inspect.signature``, unwrapping functorch wrappers): about 15 µs per op, the bulk of the
    per-op overhead of a small model. Our forwards take no defaults and the functional wrappers
    pass every argument, so the binding is a no-op; under torch.func transforms or while
    torch.compile traces, torch's own ``apply`` runs unchanged.

    ``torch.func.vmap`` batches forward, setup_context and backward as written
    (``generate_vmap_rule``; see ``_transform.py``). Forward mode needs a ``jvp`` of the
    Function's own: without one, ``jvp`` raises a clear NotImplementedError naming the op.
    """

    generate_vmap_rule = True
    jvp = _JvpSlot()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("jvp")
        if own is not None and not isinstance(own, _JvpSlot):
            cls.jvp = _JvpSlot(own)

    @classmethod
    def apply(cls, *args, **kwargs):
        if kwargs or torch._C._are_functorch_transforms_active() or torch.compiler.is_compiling():
            return super().apply(*args, **kwargs)
        if _len_torch_function_stack():
            with _FunctionModesPopped():
                return super(torch.autograd.Function, cls).apply(*args)
        return super(torch.autograd.Function, cls).apply(*args)  # torch._C._FunctionBase.apply


class _FunctionModesPopped:
    """``with _FunctionModesPopped():`` runs its body with this thread's torch function modes
    popped, pushed back after (also on error). A Function is one op to a mode, as torch's own
    are: its forward's torch calls skip the modes' Python dispatch (functional routing's costs
    about 1.5 µs a call: an LSTM's walk makes hundreds, 1 ms a step of a swapped LSTM
    classifier). A context manager, not a wrapper: no stack frame between a functional's
    ``warnings.warn(stacklevel=…)`` and its caller."""

    def __enter__(self):
        self.modes = [_pop_torch_function_stack() for _ in range(_len_torch_function_stack())]

    def __exit__(self, *exc):
        for mode in reversed(self.modes):
            _push_on_torch_function_stack(mode)


def one_op(fn):
    """``fn`` (a ``manualgrad.functional`` wrapper) run as one op to the torch function modes, as
    :meth:`Function.apply` is: its checks and argument handling (a BatchNorm's make 35 torch calls)
    skip the modes' Python dispatch, about 2 µs a call under functional routing. Not while
    torch.compile traces (Dynamo traces the modes itself). One stack frame in every case: a
    warning inside ``fn`` names its caller with one more ``stacklevel``."""

    @functools.wraps(fn)
    def call(*args, **kwargs):
        if torch.compiler.is_compiling() or not _len_torch_function_stack():
            return fn(*args, **kwargs)
        with _FunctionModesPopped():
            return fn(*args, **kwargs)

    return call


def unviewed(y: torch.Tensor) -> torch.Tensor:
    """``y``, a view of its kernel's own fresh result (never of an input: ``F.linear`` reshaping
    its matmul's output), as a tensor of its own on the same memory: what :func:`owned` gives,
    without the copy (``aten._unsafe_view``, as ``torch.matmul`` returns its folded result)."""
    if torch.compiler.is_compiling() or not y._is_view():
        return y
    return torch.ops.aten._unsafe_view(y, y.shape)


def owned(y: torch.Tensor) -> torch.Tensor:
    """``y``, copied when it is a view (a torch kernel squeezing an unbatched input's result): a
    Function must not return a view of one of its intermediates, or the caller could not modify
    the output in place (autograd refuses, where torch's own op allows it)."""
    if torch.compiler.is_compiling():  # Dynamo cannot trace _is_view; AOT autograd handles views itself
        return y
    return y.clone() if y._is_view() else y

