"""Elementwise math of one tensor: ``exp``, ``log``, ``log1p``, ``expm1``, ``sqrt``, ``rsqrt``,
``reciprocal``, ``sin``, ``cos``, ``abs`` (sigmoid and tanh are the activations'; the binary ones,
pow, clamp, minimum/maximum and where, are in ``elementwise_binary.py``).

Each Function takes ``(x,)`` and returns y = f(x) in torch's result dtype (an integer x gives a
floating y, as torch's). dx = dy·f′(x), f′ written with what is saved: the output where f′ is a
function of it (exp, expm1, sqrt, rsqrt, reciprocal, as torch saves), the input otherwise.
Half/bfloat16 backward runs in float32 and rounds once (``opmath``).
"""

from __future__ import annotations

import torch

from ._base import Function
from ._precision import opmath
from ._transform import diagonal_jvp, save_for_forward


def _save_output(ctx, inputs, output):
    ctx.save_for_backward(output)
    save_for_forward(ctx, output)


def _save_input(ctx, inputs, output):
    ctx.save_for_backward(inputs[0])
    save_for_forward(ctx, inputs[0])


class ExpFunction(Function):
    """y = eˣ
    dx = dy·y
    Saves y."""

    @staticmethod
    def forward(x):
        return torch.exp(x)

    setup_context = staticmethod(_save_output)

    @staticmethod
    @opmath
    def backward(ctx, dy):
        (y,) = ctx.saved_tensors
        return dy * y

    jvp = classmethod(diagonal_jvp)


class Expm1Function(Function):
    """y = eˣ − 1
    dx = dy·(y + 1)
    Saves y."""

    @staticmethod
    def forward(x):
        return torch.expm1(x)

    setup_context = staticmethod(_save_output)

    @staticmethod
    @opmath
    def backward(ctx, dy):
        (y,) = ctx.saved_tensors
        return dy * (y + 1)

    jvp = classmethod(diagonal_jvp)


class LogFunction(Function):
    """y = ln x
    dx = dy / x   (x = 0: ±inf, as torch)
    Saves x."""

    @staticmethod
    def forward(x):
        return torch.log(x)

    setup_context = staticmethod(_save_input)

    @staticmethod
    @opmath
    def backward(ctx, dy):
        (x,) = ctx.saved_tensors
        return dy / x

    jvp = classmethod(diagonal_jvp)


class Log1pFunction(Function):
    """y = ln(1 + x)
    dx = dy / (1 + x)
    Saves x."""

    @staticmethod
    def forward(x):
        return torch.log1p(x)

    setup_context = staticmethod(_save_input)

    @staticmethod
    @opmath
    def backward(ctx, dy):
        (x,) = ctx.saved_tensors
        return dy / (x + 1)

    jvp = classmethod(diagonal_jvp)


class SqrtFunction(Function):
    """y = √x
    dx = dy / (2y)   (x = 0: inf)
    Saves y."""

    @staticmethod
    def forward(x):
        return torch.sqrt(x)

    setup_context = staticmethod(_save_output)

    @staticmethod
    @opmath
    def backward(ctx, dy):
        (y,) = ctx.saved_tensors
        return dy / (2 * y)

    jvp = classmethod(diagonal_jvp)


class RsqrtFunction(Function):
    """y = x^−½
    dx = −½·dy·y³
    Saves y."""

    @staticmethod
    def forward(x):
        return torch.rsqrt(x)

    setup_context = staticmethod(_save_output)

    @staticmethod
    @opmath
    def backward(ctx, dy):
        (y,) = ctx.saved_tensors
        return -0.5 * dy * y.pow(3)

    jvp = classmethod(diagonal_jvp)


class ReciprocalFunction(Function):
    """y = 1/x
    dx = −dy·y²
    Saves y."""

    @staticmethod
    def forward(x):
        return torch.reciprocal(x)

    setup_context = staticmethod(_save_output)

    @staticmethod
    @opmath
    def backward(ctx, dy):
        (y,) = ctx.saved_tensors
        return -dy * (y * y)

    jvp = classmethod(diagonal_jvp)


class SinFunction(Function):
    """y = sin x
    dx = dy·cos x
    Saves x."""

    @staticmethod
    def forward(x):
        return torch.sin(x)

    setup_context = staticmethod(_save_input)

    @staticmethod
    @opmath
    def backward(ctx, dy):
        (x,) = ctx.saved_tensors
        return dy * torch.cos(x)

    jvp = classmethod(diagonal_jvp)


class CosFunction(Function):
    """y = cos x
    dx = −dy·sin x
    Saves x."""

    @staticmethod
    def forward(x):
        return torch.cos(x)

    setup_context = staticmethod(_save_input)

    @staticmethod
    @opmath
    def backward(ctx, dy):
        (x,) = ctx.saved_tensors
        return -dy * torch.sin(x)

    jvp = classmethod(diagonal_jvp)


class AbsFunction(Function):
    """y = |x|
    dx = dy·sgn x   (subgradient at x = 0: 0, as torch)
    Saves x."""

    @staticmethod
    def forward(x):
        return torch.abs(x)

    setup_context = staticmethod(_save_input)

    @staticmethod
    @opmath
    def backward(ctx, dy):
        (x,) = ctx.saved_tensors
        return dy * torch.sgn(x)

    jvp = classmethod(diagonal_jvp)
