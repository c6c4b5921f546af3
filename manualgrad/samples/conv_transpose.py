"""Samples for ``conv_transpose1d/2d/3d``: one generator over the number of spatial dims (the
sizes of :mod:`manualgrad.samples.conv`)."""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F

from .. import functional as MF
from ..functions.conv_transpose import ConvTransposeFunction
from ..opspec import OpSpec
from . import ErrorSample, Sample, make, noncontiguous
from .conv import EVEN, IMAGE, KERNEL, LAST, SIZE, channels_last, per_dim

# The output is larger than the input: 3-d keeps float64 gradgradcheck fast with a smaller input.
_SIZE = {**SIZE, 3: (3, 3, 2)}


def _samples(n, device, dtype):
    kw = dict(device=device, dtype=dtype)
    t = lambda *s, **k: make(*s, **kw, **k)  # noqa: E731
    L, K, E = _SIZE[n], KERNEL[n], EVEN[n]
    pair = partial(per_dim, n)
    # weight (in channels, out channels / groups, *kernel)
    yield Sample((t(2, 4, *L), t(4, 3, *K), t(3)), name="basic")
    yield Sample((t(2, 4, *L), t(4, 3, *K)), name="no bias")
    yield Sample((t(2, 4, *L), t(4, 3, *K), None), dict(stride=2), name="bias None, stride 2")
    yield Sample((t(2, 2, *L), t(2, 3, *E), t(3)), dict(stride=pair(2, 3), output_padding=pair(1, 2)),
                 name="per-dim stride and output_padding")
    yield Sample((t(2, 2, *L), t(2, 3, *K), t(3)), dict(padding=pair(2, 1), stride=pair(3, 2)),
                 name="per-dim padding and stride")
    yield Sample((t(2, 2, *L), t(2, 3, *E), t(3)), dict(dilation=pair(2, 1), padding=1), name="dilation")
    yield Sample((t(1, 2, *L), t(2, 2, *K), t(2)), dict(dilation=3, output_padding=2),
                 name="output_padding ≥ stride, below dilation")
    yield Sample((t(2, 4, *L), t(4, 3, *K), t(6)), dict(groups=2), name="groups 2")
    yield Sample((t(2, 4, *L), t(4, 1, *K), t(4)), dict(groups=4, padding=1), name="depthwise")
    yield Sample((t(1, 2, *L), t(2, 3, *E), t(6)), dict(groups=2), name="depthwise, channel multiplier 3")
    yield Sample((t(2, 4, *L), t(4, 2, *E), t(4)),
                 dict(stride=2, padding=pair(1, 2), output_padding=1, dilation=2, groups=2),
                 name="stride, padding, output_padding, dilation and groups")
    yield Sample((t(4, *L), t(4, 3, *K), t(3)), dict(padding=1, stride=2, output_padding=1), name="unbatched")
    yield Sample((t(0, 4, *L), t(4, 3, *K), t(3)), dict(padding=1), name="empty batch")
    yield Sample((noncontiguous(2, 3, *L, **kw), noncontiguous(3, 2, *K, **kw), t(2)), dict(stride=2),
                 name="non-contiguous input and weight")
    yield Sample((t(4, 2, *L, requires_grad=False).transpose(0, 1).requires_grad_(),
                  t(3, 4, *K, requires_grad=False).transpose(0, 1).requires_grad_(), t(3)),
                 name="transposed input and weight")
    if n in LAST:
        yield Sample((channels_last(t, 2, 4, *L), channels_last(t, 4, 3, *K), t(3)), dict(stride=2),
                     name="channels_last input and weight")
    yield Sample((t(2, 3, *L), t(3, 2, *(1,) * n), t(2)), name="1x1 kernel")
    yield Sample((t(2, 3, *L), t(3, 2, *(1,) * n), t(2)), dict(stride=2, output_padding=1),
                 name="1x1 kernel, stride 2 (zeros between the samples)")
    yield Sample((t(2, 3, *L, requires_grad=False), t(3, 2, *K), t(2)), name="input without grad")
    yield Sample((t(2, 3, *L), t(3, 2, *K, requires_grad=False), t(2, requires_grad=False)),
                 name="weight and bias without grad")
    yield Sample((t(2, 3, *L), t(3, 2, *K), t(2)), dict(stride=[2], padding=[1], output_padding=[1], dilation=[1]),
                 name="one-element lists")
    if dtype in (torch.bfloat16, torch.float16):
        yield from _half_precision(n, t)


def _half_precision(n, t):
    """The sizes of conv's half-precision samples (oneDNN's blocked kernels for y and dx; dw's
    regrouped convolution, whose input channels are here the batch of dy, would take the
    small-channel or the blocked bf16 kernel at batch 4, 8 and 16)."""
    image, k = tuple(i // 2 for i in IMAGE[n]), (3,) * n
    for batch in (4, 8, 16):
        yield Sample((t(batch, 8, *image), t(8, 3, *k), t(3)), dict(stride=2, padding=1, output_padding=1),
                     name=f"batch {batch}, 8 to 3 channels, stride 2, {'x'.join(map(str, image))}")
    yield Sample((t(16, 16, *image), t(16, 4, *k), t(8)), dict(padding=1, groups=2), name="batch 16, groups 2")
    yield Sample((t(4, 6, *image), t(6, 2, *k), t(6)), dict(groups=3, stride=3, dilation=3, padding=1),
                 name="groups 3, stride 3, dilation 3")
    if n in LAST:
        last = partial(channels_last, t)
        yield Sample((last(8, 16, *(6, 6, 3)[:n]), last(16, 16, *k), t(16)), dict(stride=2, padding=1),
                     name="channels_last, batch 8, 16 channels")


def _errors(n, device):
    # Not here: a non-positive output size and dilation 0, which torch's CPU kernel (oneDNN)
    # rejects with its own message, another than CUDA's (ours raises what torch's kernel raises).
    t = lambda *s: make(*s, device=device, dtype=None, requires_grad=False)  # noqa: E731
    L, K = _SIZE[n], KERNEL[n]
    x, w = t(2, 4, *L), t(4, 3, *K)
    yield ErrorSample((x, t(4, 3)), name="weight rank")
    yield ErrorSample((t(4), w), name="input rank")
    yield ErrorSample((x, t(3, 3, *K)), name="input channels mismatch")
    yield ErrorSample((x, t(6, 2, *K)), dict(groups=4), name="weight's in channels not divisible by groups")
    yield ErrorSample((x, w, t(4)), name="bias size")
    yield ErrorSample((x, w), dict(stride=2, output_padding=2), name="output_padding not below stride or dilation")
    yield ErrorSample((x, w), dict(padding=-1), name="negative padding")
    yield ErrorSample((x, w), dict(output_padding=-1), name="negative output_padding")
    yield ErrorSample((x, w), dict(stride=0), name="zero stride")
    yield ErrorSample((x, w), dict(groups=0), name="zero groups")
    yield ErrorSample((x, w), dict(stride=(1,) * (n + 1)), name="stride of the wrong length")
    yield ErrorSample((x, w), dict(padding="same"), name="padding string")


conv_transpose1d_samples, conv_transpose2d_samples, conv_transpose3d_samples = (
    partial(_samples, n) for n in (1, 2, 3))
conv_transpose1d_errors, conv_transpose2d_errors, conv_transpose3d_errors = (partial(_errors, n) for n in (1, 2, 3))


# op-table entries, collected by manualgrad/ops.py
# 3-d float32: db and dw sum ~1000 terms in another order than torch's oneDNN deconvolution; both
# are within float32 rounding of float64 (the '1x1 kernel, stride 2' sample's db: torch's 5.9e-6
# off, ours 4.5e-6), 2.4e-6 apart relative, over assert_close's 1.3e-6.
_TOL = {3: {torch.float32: (1e-5, 1e-5)}}
_SAMPLES = {1: conv_transpose1d_samples, 2: conv_transpose2d_samples, 3: conv_transpose3d_samples}
_ERRORS = {1: conv_transpose1d_errors, 2: conv_transpose2d_errors, 3: conv_transpose3d_errors}
OPS = [OpSpec(f"conv_transpose{n}d", getattr(MF, f"conv_transpose{n}d"), getattr(F, f"conv_transpose{n}d"),
              ConvTransposeFunction, _SAMPLES[n], _ERRORS[n], tol=_TOL.get(n, {})) for n in (1, 2, 3)]
