"""Elementwise math of one tensor: ``exp``, ``log``, ``log1p``, ``expm1``, ``sqrt``, ``rsqrt``,
``reciprocal``, ``sin``, ``cos``, ``abs`` (sigmoid and tanh are the activations'; the binary ones,
pow, clamp, minimum/maximum and where, are in ``elementwise_binary.py``).

Each Function takes ``(x,)`` and returns y = f(x) in torch's result dtype (an integer x gives a
floating y, as torch's). dx = dy·f′(x), f′ written with what is saved: the output where f′ is a
function of it (exp, expm1, sqrt, rsqrt, reciprocal, as torch saves), the input otherwise. They
differ only in f, that formula and what it reads, so :func:`_elementwise` builds each from those
three; the docstring of each is its derivation. jvp: dy = f′(x)·dx (the backward applied to dx).
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


def _elementwise(name: str, f, grad, saves: str, doc: str) -> type:
    """The Function ``name``: y = f(x), dx = grad(dy, s) with s the saved x or y (``saves``)."""

    def forward(x):
        return f(x)

    def backward(ctx, dy):
        (saved,) = ctx.saved_tensors
        return grad(dy, saved)

    setup = {"x": _save_input, "y": _save_output}[saves]
    return type(name, (Function,), {
        "__doc__": f"{doc}\n    Saves {saves}.", "__module__": __name__, "__qualname__": name,
        "forward": staticmethod(forward), "setup_context": staticmethod(setup),
        "backward": staticmethod(opmath(backward)), "jvp": classmethod(diagonal_jvp)})


ExpFunction = _elementwise("ExpFunction", torch.exp, lambda dy, y: dy * y, "y", """y = eˣ
    dx = dy·y""")
Expm1Function = _elementwise("Expm1Function", torch.expm1, lambda dy, y: dy * (y + 1), "y", """y = eˣ − 1
    dx = dy·(y + 1)""")
LogFunction = _elementwise("LogFunction", torch.log, lambda dy, x: dy / x, "x", """y = ln x
    dx = dy / x   (x = 0: ±inf, as torch)""")
Log1pFunction = _elementwise("Log1pFunction", torch.log1p, lambda dy, x: dy / (x + 1), "x", """y = ln(1 + x)
    dx = dy / (1 + x)""")
SqrtFunction = _elementwise("SqrtFunction", torch.sqrt, lambda dy, y: dy / (2 * y), "y", """y = √x
    dx = dy / (2y)   (x = 0: inf)""")
RsqrtFunction = _elementwise("RsqrtFunction", torch.rsqrt, lambda dy, y: -0.5 * dy * y.pow(3), "y", """y = x^−½
    dx = −½·dy·y³""")
ReciprocalFunction = _elementwise("ReciprocalFunction", torch.reciprocal, lambda dy, y: -dy * (y * y), "y",
                                  """y = 1/x
    dx = −dy·y²""")
SinFunction = _elementwise("SinFunction", torch.sin, lambda dy, x: dy * torch.cos(x), "x", """y = sin x
    dx = dy·cos x""")
CosFunction = _elementwise("CosFunction", torch.cos, lambda dy, x: -dy * torch.sin(x), "x", """y = cos x
    dx = −dy·sin x""")
AbsFunction = _elementwise("AbsFunction", torch.abs, lambda dy, x: dy * torch.sgn(x), "x", """y = |x|
    dx = dy·sgn x   (subgradient at x = 0: 0, as torch)""")
