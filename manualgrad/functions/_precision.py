"""dtype helpers: torch's names of dtypes for its error messages, and low-precision backward
(compute in float32, round once)."""

from __future__ import annotations

import functools

import torch

_LOW = (torch.float16, torch.bfloat16)


def dtype_name(dtype: torch.dtype) -> str:
    """torch's C++ name of ``dtype`` ('Float', 'Double', 'Half', 'Long', ...)."""
    return torch.empty(0, dtype=dtype).type()[len("torch."):-len("Tensor")]


def opmath_value(v):
    """``v`` in float32 when it is a half/bfloat16 tensor (a backward computed there and rounded
    once into each input's dtype by its ``sum_to``), else ``v`` itself (None included)."""
    return v.float() if v is not None and v.dtype in _LOW else v


class _Float32View:
    """A ctx whose saved tensors read as float32 (everything else is the real ctx)."""

    def __init__(self, ctx):
        self._ctx = ctx

    def __getattr__(self, name):
        return getattr(self._ctx, name)

    @property
    def saved_tensors(self):
        return tuple(t.float() if t is not None and t.is_floating_point() else t
                     for t in self._ctx.saved_tensors)  # integer tensors (indices) stay as they are


def opmath(backward):
    """Half/bfloat16 backward computed in float32 and rounded once, as torch's kernels do (a
    chain of bf16 products would round at every step). The input gradient is rounded to
    ``ctx.x_dtype`` where a Function casts its input (softmax's ``dtype``), else to dy's dtype."""

    @functools.wraps(backward)
    def wrapped(ctx, dy, *more):
        if dy is None or dy.dtype not in _LOW:
            return backward(ctx, dy, *more)
        up = [m.float() if isinstance(m, torch.Tensor) else m for m in more]
        grads = backward(_Float32View(ctx), dy.float(), *up)
        dtype = getattr(ctx, "x_dtype", dy.dtype)
        if isinstance(grads, torch.Tensor):  # a single-input Function returns the tensor itself
            return grads.to(dtype)
        dx, *rest = grads
        return (None if dx is None else dx.to(dtype), *rest)

    return wrapped
