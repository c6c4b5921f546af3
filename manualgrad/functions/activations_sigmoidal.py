"""Sigmoid- and tanh-shaped activations: ``mish``, ``logsigmoid``, ``softsign``, ``tanhshrink``,
and the gate ``glu``.

Each Function saves its input x, as torch does (softsign and tanhshrink are composites in torch,
which keep x and an intermediate), so that the output stays free to be modified in place; what
the derivative needs of σ, tanh or softplus is recomputed from x. Half/bfloat16 backwards are
computed in float32 and rounded once.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._base import Function
from ._precision import opmath
from ._transform import diagonal_jvp, save_for_forward


def _save_input(ctx, inputs, output):
    """setup_context of a Function whose backward reads x alone."""
    ctx.save_for_backward(inputs[0])
    save_for_forward(ctx, inputs[0])


class MishFunction(Function):
    """y = x·tanh(softplus(x))

    dx = dy·(t + x σ(x)(1 − t²)),  t = tanh(softplus(x))     (NaN at ±inf, as torch: ∞·0)
    jvp: dy = dx·(t + x σ(x)(1 − t²))
    Saves x, as torch. ``mish(inplace=True)`` runs this on a copy of x and writes y back, as silu.
    """

    @staticmethod
    def forward(x):
        return torch._C._nn.mish(x)

    setup_context = staticmethod(_save_input)

    @staticmethod
    @opmath
    def backward(ctx, dy):
        (x,) = ctx.saved_tensors
        t = torch.tanh(F.softplus(x))
        return dy * (t + x * torch.sigmoid(x) * (1 - t * t))

    jvp = classmethod(diagonal_jvp)


class LogSigmoidFunction(Function):
    """y = log σ(x) = −softplus(−x)

    dx = dy·σ(−x)
    jvp: dy = dx·σ(−x)
    Saves x (torch: x and a buffer of e^{−|x|}).
    """

    @staticmethod
    def forward(x):
        return torch._C._nn.log_sigmoid(x)

    setup_context = staticmethod(_save_input)

    @staticmethod
    @opmath
    def backward(ctx, dy):
        (x,) = ctx.saved_tensors
        return dy * torch.sigmoid(-x)

    jvp = classmethod(diagonal_jvp)


class SoftsignFunction(Function):
    """y = x/u,  u = 1 + |x|

    dx = dy·(1 − |x|/u)/u   (= dy/u², written as the quotient rule's two terms: at x = ±inf it is
                             NaN, as torch's, whose y is NaN there too)
    jvp: dy = dx·(1 − |x|/u)/u
    Saves x (torch's composite: x and u).
    """

    @staticmethod
    def forward(x):
        return x / (x.abs() + 1)  # torch's own expression: the same values and dtype promotion

    setup_context = staticmethod(_save_input)

    @staticmethod
    @opmath
    def backward(ctx, dy):
        (x,) = ctx.saved_tensors
        u = 1 + x.abs()
        return dy * ((1 - x.abs() / u) / u)

    jvp = classmethod(diagonal_jvp)


class TanhshrinkFunction(Function):
    """y = x − tanh(x)

    dx = dy·tanh²(x)
    jvp: dy = dx·tanh²(x)
    Saves x (torch's composite: tanh(x)).
    """

    @staticmethod
    def forward(x):
        return x - x.tanh()  # torch's own expression

    setup_context = staticmethod(_save_input)

    @staticmethod
    @opmath
    def backward(ctx, dy):
        (x,) = ctx.saved_tensors
        t = torch.tanh(x)
        return dy * (t * t)

    jvp = classmethod(diagonal_jvp)


class GLUFunction(Function):
    """y = a ⊙ σ(b),   (a, b) = the two halves of x along ``dim``

    da = dy ⊙ σ(b);   db = dy ⊙ a ⊙ σ(b)(1 − σ(b));   dx = cat(da, db) along dim
    jvp: dy = dx_a ⊙ σ(b) + a ⊙ σ(b)(1 − σ(b)) ⊙ dx_b
    Saves x, as torch; σ(b) is recomputed.
    """

    @staticmethod
    def forward(x, dim):
        return torch._C._nn.glu(x, dim)

    @staticmethod
    def setup_context(ctx, inputs, output):
        _save_input(ctx, inputs, output)
        ctx.dim = inputs[1]

    @staticmethod
    @opmath
    def backward(ctx, dy):
        (x,) = ctx.saved_tensors
        a, s, ds = _gate(x, ctx.dim)
        return torch.cat([dy * s, dy * a * ds], ctx.dim), None

    @staticmethod
    def jvp(ctx, dx, *_):
        (x,) = ctx.saved_tensors
        a, s, ds = _gate(x, ctx.dim)
        dx_a, dx_b = _halves(dx, ctx.dim)
        return dx_a * s + a * ds * dx_b


def _gate(x, dim):
    """a, σ(b) and σ′(b) = σ(b)(1 − σ(b)) of x's halves (a, b) along dim."""
    a, b = _halves(x, dim)
    s = torch.sigmoid(b)
    return a, s, s * (1 - s)


def _halves(x, dim):
    """The first and second half of x along dim (``chunk`` would give one chunk for size 0)."""
    h = x.shape[dim] // 2
    return x.narrow(dim, 0, h), x.narrow(dim, h, h)
