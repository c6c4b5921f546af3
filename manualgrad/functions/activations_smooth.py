"""Elementwise activations, the smooth ones: ``gelu``, ``silu``, ``softplus``, ``sigmoid``,
``tanh`` (the rectifiers are in ``activations.py``, which re-exports these).

Each Function takes ``(x, *options)`` and returns y of x's shape. sigmoid and tanh save their
output (the derivative is a function of it, and the next layer keeps it anyway); the others save
the input, as torch does, so their output stays free to be modified in place.
"""

from __future__ import annotations

import math

import torch

from ._base import Function
from ._precision import opmath
from ._recompute import active
from ._transform import diagonal_jvp, save_for_forward

_K = math.sqrt(2.0 / math.pi)  # tanh-GELU: u = K (x + C x³)
_C = 0.044715
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class GELUFunction(Function):
    """approximate='none':  y = x Φ(x),  Φ(x) = ½(1 + erf(x/√2))
        dx = dy·(Φ(x) + x φ(x)),  φ(x) = e^{−x²/2}/√(2π)
    approximate='tanh':  y = ½ x (1 + t),  t = tanh(K(x + C x³)),  K = √(2/π), C = 0.044715
        dx = dy·(½(1 + t) + ½ x (1 − t²) K (1 + 3C x²))
    jvp: dy = GELU′(x)·dx, the slope above
    Saves x (the derivative is not a function of y).
    """

    @staticmethod
    def forward(x, approximate):
        if approximate == "tanh" and _sigmoid_form(x):
            return _gelu_tanh_by_sigmoid(x)
        return torch.nn.functional.gelu(x, approximate=approximate)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])
        save_for_forward(ctx, inputs[0])
        ctx.approximate = inputs[1]

    @staticmethod
    @opmath
    def backward(ctx, dy):
        (x,) = ctx.saved_tensors
        if not torch.is_grad_enabled() and active():  # first-order, eager: nothing records these ops,
            return _GRAD_UNRECORDED[ctx.approximate](x, dy), None  # and the chunk loop is not traced
        if ctx.approximate == "tanh":
            t = torch.tanh(_K * (x + _C * x * x * x))
            slope = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _K * (1 + 3 * _C * x * x)
        else:
            cdf = 0.5 * (1 + torch.erf(x * _INV_SQRT_2))
            slope = cdf + x * torch.exp(-0.5 * x * x) * _INV_SQRT_2PI
        return dy * slope, None

    jvp = classmethod(diagonal_jvp)


_CHUNK_BYTES = 1 << 19  # per operand: four of them (x, dy, dx, φ) stay in a core's L2 cache


def _in_chunks(x: torch.Tensor, dy: torch.Tensor, scratch: int, body) -> torch.Tensor:
    """dx of x's shape in dy's layout (as torch's kernels), filled by ``body(xc, gc, oc, *bufs)``
    over cache-sized chunks of x, dy and dx with ``scratch`` chunk-sized buffers made here: each
    in-place pass then reads and writes L2, not memory. A broadcast or strided dy or x is one chunk."""
    dx = torch.empty_like(dy if dy.shape == x.shape else x)
    if x.is_contiguous() and dy.is_contiguous() and dy.shape == x.shape:
        step = max(1, _CHUNK_BYTES // x.element_size())
        xs, gs, out = x.view(-1), dy.view(-1), dx.view(-1)
    else:
        step, xs, gs, out = max(1, x.numel()), x, dy.expand_as(x), dx
    bufs = [torch.empty(min(step, xs.numel()), dtype=x.dtype, device=x.device) for _ in range(scratch)]
    for start in range(0, xs.numel(), step):
        xc, gc, oc = (t if step >= xs.numel() else t[start:start + step] for t in (xs, gs, out))
        body(xc, gc, oc, *(b[:xc.numel()].view_as(xc) for b in bufs))
    return dx


def _gelu_grad_unrecorded(x: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
    """dy·(Φ(x) + x φ(x)) as in GELUFunction.backward, for a first-order backward (grad mode off:
    in-place erf_/exp_ would not be differentiable again): seven in-place passes over L2-sized
    chunks instead of eleven fresh tensors (on CPU, 512×1024 floats: 1.75 ms → 0.7 ms standalone)."""
    def body(xc, gc, oc, pc):
        torch.addcmul(pc.new_zeros(()), xc, xc, value=-0.5, out=pc).exp_()  # e^{−x²/2}
        torch.mul(xc, _INV_SQRT_2, out=oc).erf_()  # E = erf(x/√2) = 2Φ(x) − 1
        oc.addcmul_(xc, pc, value=2 * _INV_SQRT_2PI)  # E + 2x φ(x)
        torch.addcmul(gc, gc, oc, out=oc).mul_(0.5)  # dy·(1 + E + 2x φ)/2 = dy·(Φ + x φ)
    return _in_chunks(x, dy, 1, body)


def _gelu_tanh_grad_unrecorded(x: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
    """dy·(½(1 + t) + P(1 − t²)),  P = ½ K x (1 + 3C x²), as in GELUFunction.backward (tanh), for a
    first-order backward, through s = σ(2u) = ½(1 + t) (u = K(x + C x³); 1 − t² = 4s(1 − s)):
        dx = dy·s·(1 + 4P(1 − s))
    seven in-place passes over L2-sized chunks. torch's CPU tanh kernel costs 5.6× its sigmoid
    (256×512 floats: 290 against 52 µs), so the tanh form took 270 µs where this takes 108
    (torch's fused gelu_backward 129); against float64 it is as close as the tanh form or closer."""
    def body(xc, gc, oc, pc):
        two_k = xc.new_full((), 2 * _K)
        torch.addcmul(two_k, xc, xc, value=2 * _K * _C, out=oc).mul_(xc).sigmoid_()  # s = σ(2u)
        torch.addcmul(two_k, xc, xc, value=6 * _K * _C, out=pc).mul_(xc)  # 4P = 2Kx(1 + 3C x²)
        pc.addcmul_(pc, oc, value=-1)  # 4P(1 − s)
        torch.addcmul(oc, oc, pc, out=oc).mul_(gc)  # dy·s·(1 + 4P(1 − s))
    return _in_chunks(x, dy, 1, body)


def _sigmoid_form(x: torch.Tensor) -> bool:
    """Whether tanh-GELU runs through σ here: eager float32/64 on CPU, where torch's tanh kernel
    costs several times its sigmoid (half types keep torch's kernel, which computes in float32)."""
    return x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64) and active()


def _gelu_tanh_by_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """tanh-GELU's forward ½x(1 + tanh u) = x·σ(2u), u = K(x + C x³), in four passes (256×512
    floats: 58 µs against torch's kernel's 143). Closer to float64 than the tanh form where x ≪ 0
    (1 + tanh u cancels, σ(2u) does not); ±inf and NaN give torch's results (x·σ: −inf·0 = NaN as
    ½x·(1 + tanh) does). The recomputation of a tagged output (``_recompute.py``) runs this same
    Function, so it reproduces these bits."""
    y = torch.addcmul(x.new_full((), 2 * _K), x, x, value=2 * _K * _C)  # 2K(1 + C x²)
    return y.mul_(x).sigmoid_().mul_(x)


_GRAD_UNRECORDED = {"none": _gelu_grad_unrecorded, "tanh": _gelu_tanh_grad_unrecorded}


class SiLUFunction(Function):
    """y = x σ(x)

    dx = dy·σ(x)(1 + x(1 − σ(x))) = dy·(s + y(1 − s)),  s = σ(x)
    jvp: dy = dx·(s + y(1 − s))
    Saves x, as torch, and recomputes s and y (in float32 for half/bfloat16), so the output stays
    free to be modified in place. ``silu(inplace=True)`` runs this on a copy of x and writes y
    back into x (``functional/_activations.py``): torch's in-place silu saves such a copy too.
    """

    @staticmethod
    def forward(x):
        return torch.nn.functional.silu(x)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])
        save_for_forward(ctx, inputs[0])

    @staticmethod
    @opmath
    def backward(ctx, dy):
        (x,) = ctx.saved_tensors
        s = torch.sigmoid(x)
        y = x * s
        return dy * (s + y * (1 - s))

    jvp = classmethod(diagonal_jvp)


class SoftplusFunction(Function):
    """y = log(1 + e^{βx})/β for βx ≤ threshold, x above it (torch's rule)

    dx = dy·σ(βx) for βx ≤ threshold, dy above it
    jvp: dy = dx·σ(βx) for βx ≤ threshold, dx above it
    σ reads βx with βx ≥ threshold replaced by the constant threshold: same value, but the second
    derivative at βx = threshold is 0, as torch's double backward (mask βx < threshold); NaN stays.
    Saves x.
    """

    @staticmethod
    def forward(x, beta, threshold):
        return torch.nn.functional.softplus(x, beta, threshold)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])
        save_for_forward(ctx, inputs[0])
        ctx.beta, ctx.threshold = inputs[1], inputs[2]

    @staticmethod
    @opmath
    def backward(ctx, dy):
        (x,) = ctx.saved_tensors
        bx = x * ctx.beta
        below = torch.where(bx >= ctx.threshold, ctx.threshold, bx)
        return torch.where(bx > ctx.threshold, dy, dy * torch.sigmoid(below)), None, None

    jvp = classmethod(diagonal_jvp)


def _save_output(ctx, inputs, output):
    """setup_context of a Function whose derivative is a function of its output alone."""
    ctx.save_for_backward(output)
    save_for_forward(ctx, output)


class SigmoidFunction(Function):
    """y = σ(x) = 1/(1 + e^{−x})

    dx = dy·y(1 − y)
    jvp: dy = dx·y(1 − y)
    Saves y.
    """

    @staticmethod
    def forward(x):
        return torch.sigmoid(x)

    setup_context = staticmethod(_save_output)

    @staticmethod
    @opmath
    def backward(ctx, dy):
        (y,) = ctx.saved_tensors
        return dy * y * (1 - y)

    jvp = classmethod(diagonal_jvp)


class TanhFunction(Function):
    """y = tanh(x)

    dx = dy·(1 − y²)
    jvp: dy = dx·(1 − y²)
    Saves y.
    """

    @staticmethod
    def forward(x):
        return torch.tanh(x)

    setup_context = staticmethod(_save_output)

    @staticmethod
    @opmath
    def backward(ctx, dy):
        (y,) = ctx.saved_tensors
        return dy * (1 - y * y)

    jvp = classmethod(diagonal_jvp)
