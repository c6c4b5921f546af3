"""Elementwise activations, the rectifiers: ``relu``, ``leaky_relu``, ``elu`` (``selu`` and ``celu`` are
its scaled forms). The smooth ones (``gelu``, ``silu``, ``softplus``, ``sigmoid``, ``tanh``) are in
``activations_smooth.py`` and re-exported here; the piecewise-linear ones in
``activations_piecewise.py``, prelu/rrelu in ``activations_slopes.py``, the sigmoid- and tanh-shaped
rest in ``activations_sigmoidal.py``.

Each Function takes ``(x, *options)`` and returns y of x's shape. relu saves its output (as
torch, which the next layer usually keeps alive anyway), leaky_relu the 1-byte mask x > 0, elu
its input, so that those outputs stay free to be modified in place, as torch's are.
``inplace=True`` overwrites x and marks it dirty, as torch's in-place variants do. The forwards
are torch's own kernels: the same values, and the same errors for integer, bool and complex x.
Gradients are selected with ``torch.where`` (not a multiply by a 0/1 mask), so a NaN in dy does
not leak through a zero derivative, as in torch (ReLU multiplies first on CPU and falls back to
the select when the product is not finite: ``_pass_where_positive``).
"""

from __future__ import annotations

import math

import torch

from ._base import Function
from ._recompute import active, restore, save_sources
from ._precision import opmath
from ._transform import diagonal_jvp, save_for_forward
from .activations_smooth import GELUFunction, SigmoidFunction, SiLUFunction, SoftplusFunction, TanhFunction

# the smooth activations are re-exported: functional/_activations.py, samples/activations.py and the
# docs name them from here
__all__ = ["ReLUFunction", "LeakyReLUFunction", "ELUFunction",
           "GELUFunction", "SiLUFunction", "SoftplusFunction", "SigmoidFunction", "TanhFunction"]


def _mark_inplace(ctx, inputs):
    """Inputs are ``(x, option..., inplace)``: an in-place forward returned x itself (its jvp
    then writes the tangent of x in place)."""
    ctx.inplace = inputs[-1]
    if inputs[-1]:
        ctx.mark_dirty(inputs[0])


def _pass_where_positive(dy, y):
    """dy where y > 0 or y is NaN, else 0: exactly ``torch.where(y <= 0, 0, dy)``.

    On CPU ``where`` runs about 10× slower than a multiply on this torch build, so there the
    product dy · m comes first, m = ⌈clamp(y, 0, 1)⌉: 1 for y > 0, 0 for y ≤ 0, NaN for NaN
    (``sign`` would give 0 there); a constant, no gradient through y, as with ``where``. It is
    that select wherever it is finite (dy · 1 = dy, finite dy · 0 = ±0); a NaN or ±inf in it (a
    non-finite dy at a dead unit, a NaN y) shows in its sum, and then ``where`` is taken. In a
    first-order backward m is multiplied in place (one buffer, not two). Elsewhere (GPU,
    torch.compile, torch.func) ``where`` directly: no data-dependent branch."""
    if dy.device.type == "cpu" and active():
        m = y.detach().clamp(0, 1).ceil_()
        dx = m.mul_(dy) if m.dtype == dy.dtype and not torch.is_grad_enabled() else dy * m
        if math.isfinite(dx.detach().sum().item()):
            return dx
    return torch.where(y <= 0, 0, dy)


class ReLUFunction(Function):
    """y = max(x, 0)

    dx = dy where y > 0, else 0       ReLU'(0) = 0 as torch; y NaN passes dy, as torch
    jvp: dy = dx where y > 0, else 0  (a diagonal Jacobian: the backward applied to the tangent)
    Saves y; or, when x is a recomputable BatchNorm output (``_recompute.py``), what x is
    recomputed from (BatchNorm's own saved x, μ, rstd), reading the same mask from x > 0.
    """

    @staticmethod
    def forward(x, inplace):
        return torch.relu_(x) if inplace else torch.relu(x)

    @staticmethod
    def setup_context(ctx, inputs, output):
        _mark_inplace(ctx, inputs)
        x, inplace = inputs
        sources = save_sources(ctx, x, not inplace)
        if ctx.recompute is None:  # no recipe for x: y itself, which the next layer keeps anyway
            sources = (output,)
        ctx.save_for_backward(*sources)
        save_for_forward(ctx, *sources)

    @staticmethod
    def backward(ctx, dy):
        y = restore(ctx, ctx.saved_tensors)  # y, or the recomputed x: the same sign
        return _pass_where_positive(dy, y), None

    jvp = classmethod(diagonal_jvp)


class LeakyReLUFunction(Function):
    """y = x for x > 0, s·x otherwise   (s = negative_slope)

    dx = dy for x > 0, s·dy otherwise    at x = 0 the slope side, as torch
    jvp: dy = dx for x > 0, s·dx otherwise
    Saves the sign mask x > 0 (one byte per element, a quarter of torch's saved x), so the
    output stays free to be modified in place as torch's is; in-place with s ≥ 0 saves y (x is
    gone; x > 0 ⟺ y > 0), and with s < 0 in-place is refused with torch's message.
    """

    @staticmethod
    def forward(x, s, inplace):
        return torch.nn.functional.leaky_relu(x, s, inplace)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, s, _ = inputs
        _mark_inplace(ctx, inputs)
        z = output if ctx.inplace else x > 0  # the mask the backward reads (y > 0 ⟺ x > 0)
        ctx.save_for_backward(z)
        save_for_forward(ctx, z)
        ctx.s = s

    @staticmethod
    def backward(ctx, dy):
        (z,) = ctx.saved_tensors  # the mask x > 0, or y (in place): the same sign test
        return torch.where(z if z.dtype == torch.bool else z > 0, dy, dy * ctx.s), None, None

    jvp = classmethod(diagonal_jvp)


class ELUFunction(Function):
    """y = s·x for x > 0, s·α(e^{ιx} − 1) otherwise   (s = scale, ι = input_scale; elu: s = ι = 1,
    selu: α, s = torch's SELU constants, ι = 1; celu: s = 1, ι = 1/α), torch's ``elu`` kernel

    dx = dy·s for x > 0, dy·s·α·ι e^{ιx} = dy·ι(y + sα) otherwise     ELU'(0) = sαι, as torch
    jvp: dy = dx·s for x > 0, dx·s·α·ι e^{ιx} otherwise
    Saves x, as torch (the output stays free to be modified in place); in place with α ≥ 0 it
    saves y (x is gone; x ≤ 0 ⟺ y ≤ 0) and reads sαι e^{ιx} as ι(y + sα).
    The slope is built from z⁻ = z where z < 0, else 0 (z = the saved y or x): same value, but
    ELU''(0) = 0 as torch's elu_double_backward (mask z < 0), and no e^{+inf} in the unused branch
    (it would turn the double backward NaN).
    """

    @staticmethod
    def forward(x, alpha, scale, input_scale, inplace):
        return (torch._C._nn.elu_ if inplace else torch._C._nn.elu)(x, alpha, scale, input_scale)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, alpha, scale, input_scale, _ = inputs
        _mark_inplace(ctx, inputs)
        ctx.from_output = ctx.inplace and alpha >= 0
        ctx.save_for_backward(output if ctx.from_output else x)
        save_for_forward(ctx, output if ctx.from_output else x)
        ctx.alpha, ctx.scale, ctx.input_scale = alpha, scale, input_scale

    @staticmethod
    @opmath
    def backward(ctx, dy):
        (z,) = ctx.saved_tensors
        a, s, i = ctx.alpha, ctx.scale, ctx.input_scale
        zn = torch.where(z < 0, z, 0)
        slope = (zn + s * a) * i if ctx.from_output else torch.exp(zn * i) * (s * a * i)
        return torch.where(z <= 0, dy * slope, _scaled(dy, s)), None, None, None, None  # NaN: the x > 0 side, as torch

    jvp = classmethod(diagonal_jvp)


def _scaled(dy, s):
    """dy·s (dy itself for elu's s = 1: no extra pass)."""
    return dy if s == 1 else dy * s
