"""Samples for ``conv1d``, ``conv2d`` and ``conv3d``: one generator over the number of spatial dims."""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F

from .. import functional as MF
from ..functions.conv import ConvFunction
from ..opspec import OpSpec
from . import ErrorSample, Sample, make, noncontiguous

# Spatial sizes and kernels per number of spatial dims: small enough for float64 gradgradcheck,
# uneven so that a transposed dim or an off-by-one in the output padding shows.
SIZE = {1: (7,), 2: (5, 6), 3: (4, 3, 5)}
KERNEL = {1: (3,), 2: (3, 2), 3: (2, 1, 3)}
EVEN = {1: (2,), 2: (2, 3), 3: (2, 3, 2)}  # an even kernel in some dim: 'same' pads asymmetrically there
IMAGE = {1: (64,), 2: (16, 16), 3: (8, 8, 8)}  # the half-precision samples: sizes that reach the blocked kernels
LAST = {2: torch.channels_last, 3: torch.channels_last_3d}


def per_dim(n, a, b):
    """A per-dim tuple option: (a, b, a)'s first ``n``."""
    return (a, b, a)[:n]


def _samples(n, device, dtype):
    kw = dict(device=device, dtype=dtype)
    t = lambda *s, **k: make(*s, **kw, **k)  # noqa: E731
    L, K, E = SIZE[n], KERNEL[n], EVEN[n]
    pair = partial(per_dim, n)
    yield Sample((t(2, 4, *L), t(3, 4, *K), t(3)), name="basic")
    yield Sample((t(2, 4, *L), t(3, 4, *K)), name="no bias")
    yield Sample((t(2, 4, *L), t(3, 4, *K), None), dict(stride=2), name="bias None, stride 2")
    yield Sample((t(2, 2, *L), t(3, 2, *E), t(3)), dict(stride=pair(2, 4)),
                 name="stride skips the last samples")
    yield Sample((t(2, 2, *L), t(3, 2, *K), t(3)), dict(padding=pair(2, 1), stride=pair(3, 2)),
                 name="per-dim padding and stride")
    yield Sample((t(1, 2, *L), t(3, 2, *K), t(3)), dict(padding="same"), name="same, odd kernel")
    yield Sample((t(2, 2, *L), t(3, 2, *E), t(3)), dict(padding="same"), name="same, even kernel (asymmetric)")
    yield Sample((t(1, 2, *L), t(2, 2, *E), t(2)), dict(padding="same", dilation=pair(3, 2)),
                 name="same, even kernel, dilation")
    yield Sample((t(2, 2, *L), t(3, 2, *K), t(3)), dict(padding="valid"), name="valid")
    yield Sample((t(2, 2, *L), t(3, 2, *E), t(3)), dict(dilation=pair(2, 1), padding=1), name="dilation")
    yield Sample((t(2, 4, *L), t(6, 2, *K), t(6)), dict(groups=2), name="groups 2")
    yield Sample((t(2, 4, *L), t(4, 1, *K), t(4)), dict(groups=4, padding=1), name="depthwise")
    yield Sample((t(1, 2, *L), t(6, 1, *E), t(6)), dict(groups=2), name="depthwise, channel multiplier 3")
    yield Sample((t(2, 4, *L), t(4, 2, *E), t(4)), dict(stride=2, padding=pair(1, 2), dilation=2, groups=2),
                 name="stride, padding, dilation and groups")
    yield Sample((t(4, *L), t(3, 4, *K), t(3)), dict(padding=1), name="unbatched")
    yield Sample((t(3, *L), t(2, 3, *E), t(2)), dict(padding="same"), name="unbatched, same asymmetric")
    yield Sample((t(0, 4, *L), t(3, 4, *K), t(3)), dict(padding=1), name="empty batch")
    yield Sample((noncontiguous(2, 3, *L, **kw), noncontiguous(2, 3, *K, **kw), t(2)), dict(stride=2),
                 name="non-contiguous input and weight")
    yield Sample((t(4, 2, *L, requires_grad=False).transpose(0, 1).requires_grad_(),
                  t(4, 3, *K, requires_grad=False).transpose(0, 1).requires_grad_(), t(3)),
                 name="transposed input and weight")
    yield from _pointwise(n, t)
    yield Sample((t(2, 3, *L, requires_grad=False), t(2, 3, *K), t(2)), name="input without grad")
    yield Sample((t(2, 3, *L), t(2, 3, *K, requires_grad=False), t(2, requires_grad=False)),
                 name="weight and bias without grad")
    yield Sample((t(2, 3, *L), t(2, 3, *K), t(2)), dict(stride=[2], padding=[1], dilation=[1]),
                 name="one-element lists")
    if n in LAST:
        yield Sample((channels_last(t, 2, 4, *L), channels_last(t, 3, 4, *K), t(3)), dict(padding=1),
                     name="channels_last input and weight")
    if dtype in (torch.bfloat16, torch.float16):
        yield from _half_precision(n, t)


def _pointwise(n, t):
    """1×1 kernels (stride 1, no padding, groups 1: matrix products, ``conv_pointwise.py``) in
    each of its branches: a bmm over the samples (≥ 16 positions), the folded matmul (fewer),
    one position a sample, channels-last input with either weight layout (y channels-last, dy
    contiguous), a weight only c10's rules read as channels-last (torch's y is channels-last
    then); and 1×1 kernels that keep the convolution (stride, padding)."""
    ones, L = (1,) * n, SIZE[n]
    yield Sample((t(2, 3, *L), t(2, 3, *ones), t(2)), name="1x1 kernel")
    yield Sample((t(3, 5, *(2,) * n), t(4, 5, *ones)), dict(padding="same", dilation=2),
                 name="1x1 kernel, few positions, 'same', dilation")
    yield Sample((t(3, 5, *ones), t(4, 5, *ones), t(4)), dict(padding="valid"), name="1x1 kernel, one position")
    yield Sample((t(2, 3, *L), t(2, 3, *ones), t(2)), dict(stride=2, padding=1), name="1x1 kernel, stride and padding")
    if n in LAST:
        yield Sample((channels_last(t, 2, 4, *L), t(3, 4, *ones), t(3)), name="1x1 kernel, channels_last input")
        yield Sample((channels_last(t, 2, 4, *L), channels_last(t, 3, 4, *ones), None),
                     name="1x1 kernel, channels_last input and weight")
        yield Sample((t(2, 4, *L), t(4, 3, *ones, requires_grad=False).transpose(0, 1).requires_grad_(), t(3)),
                     name="1x1 kernel, transposed weight")


def _half_precision(n, t):
    """Batch, channels and sizes at which y and dx run oneDNN's blocked bf16 kernels (AMX among
    them), and at which a regrouped dw convolution in bf16 would take the small-channel kernel
    (its input channels are the batch: 4 and 8) or the blocked one (16). Half precision only:
    their errors against float64 are compared with torch's there, while float32's sums of
    thousands of terms in another order than torch's miss float32's assert_close tolerance."""
    image, k = IMAGE[n], (3,) * n
    for batch in (4, 8, 16):
        yield Sample((t(batch, 3, *image), t(8, 3, *k), t(8)), dict(padding=1),
                     name=f"batch {batch}, 3 to 8 channels, {'x'.join(map(str, image))}")
    yield Sample((t(16, 8, *image), t(16, 4, *k), t(16)), dict(padding=1, groups=2),
                 name="batch 16, groups 2")
    yield Sample((t(4, 6, *image), t(6, 2, *k), t(6)), dict(groups=3, stride=3, dilation=3, padding=1),
                 name="groups 3, stride 3, dilation 3")
    if n in LAST:
        last = partial(channels_last, t)
        yield Sample((last(8, 16, *(12, 12, 6)[:n]), last(16, 16, *k), t(16)), dict(padding=1),
                     name="channels_last, batch 8, 16 channels")


def channels_last(t, *shape):
    """A leaf of ``t(*shape)`` in channels_last (4-d) or channels_last_3d (5-d) memory."""
    return t(*shape, requires_grad=False).to(memory_format=LAST[len(shape) - 2]).requires_grad_()


def _errors(n, device):
    t = lambda *s: make(*s, device=device, dtype=None, requires_grad=False)  # noqa: E731
    L, K = SIZE[n], KERNEL[n]
    x, w = t(2, 4, *L), t(3, 4, *K)
    yield ErrorSample((x, t(3, 4)), name="weight rank")
    yield ErrorSample((t(4), w), name="input rank")
    yield ErrorSample((x, t(3, 3, *K)), name="input channels mismatch")
    yield ErrorSample((x, t(6, 2, *K)), dict(groups=3), name="in channels not divisible by groups")
    yield ErrorSample((x, t(3, 2, *K)), dict(groups=2), name="out channels not divisible by groups")
    yield ErrorSample((x, w, t(4)), name="bias size")
    yield ErrorSample((x, w), dict(padding="full"), name="padding string")
    yield ErrorSample((x, w), dict(padding="same", stride=2), name="same with stride")
    yield ErrorSample((x, t(3, 4, *(9,) * n)), name="kernel larger than input")
    yield ErrorSample((x, t(3, 4, *(10,) * n)), dict(padding=1), name="kernel larger than padded input")
    yield ErrorSample((x, w), dict(padding=-1), name="negative padding")
    yield ErrorSample((x, w), dict(stride=0), name="zero stride")
    yield ErrorSample((x, w), dict(dilation=0), name="zero dilation")
    yield ErrorSample((x, w), dict(groups=0), name="zero groups")
    yield ErrorSample((x, w), dict(stride=(1,) * (n + 1)), name="stride of the wrong length")
    # a 1×1 kernel (matrix products, conv_pointwise.py) still meets torch's checks of every argument
    ones = t(3, 4, *(1,) * n)
    yield ErrorSample((x, ones), dict(stride=(1,) * (n + 1)), name="1x1 kernel, stride of the wrong length")
    yield ErrorSample((x, ones), dict(padding=(0,) * (n + 1)), name="1x1 kernel, padding of the wrong length")
    yield ErrorSample((x, ones), dict(dilation=0), name="1x1 kernel, zero dilation")


conv1d_samples, conv2d_samples, conv3d_samples = (partial(_samples, n) for n in (1, 2, 3))
conv1d_errors, conv2d_errors, conv3d_errors = (partial(_errors, n) for n in (1, 2, 3))


# op-table entries, collected by manualgrad/ops.py
# conv3d joined the table later than conv1d/conv2d: ops.py collects OPS_3D in its own place
OPS = [
    OpSpec("conv1d", MF.conv1d, F.conv1d, ConvFunction, conv1d_samples, conv1d_errors),
    OpSpec("conv2d", MF.conv2d, F.conv2d, ConvFunction, conv2d_samples, conv2d_errors),
]
OPS_3D = [OpSpec("conv3d", MF.conv3d, F.conv3d, ConvFunction, conv3d_samples, conv3d_errors)]
