"""Samples for ``unfold`` (im2col) and ``fold`` (col2im): the same block layouts for both, fold's
input sized to the blocks each layout gives."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .. import functional as MF
from ..functions.fold import FoldFunction, UnfoldFunction
from ..opspec import OpSpec
from . import ErrorSample, Sample, make, noncontiguous
from .conv import channels_last

# (image size (H, W), keyword arguments): every option, per-dim and int forms; blocks that
# overlap (stride < kernel), leave gaps (stride > kernel) and cross the padding.
_LAYOUTS = [
    ((5, 6), dict(kernel_size=(2, 3)), "basic"),
    ((5, 6), dict(kernel_size=2, stride=2), "stride skips the last row"),
    ((5, 6), dict(kernel_size=(2, 3), dilation=(2, 1), padding=1, stride=(2, 1)), "dilation, padding, stride"),
    ((6, 5), dict(kernel_size=2, dilation=2, padding=(0, 2), stride=3), "gaps between blocks"),
    ((4, 4), dict(kernel_size=1), "1x1 kernel"),
    ((4, 3), dict(kernel_size=(4, 3)), "one block: the whole image"),
]


def _blocks(size, kernel_size, dilation=1, padding=0, stride=1) -> tuple[int, int]:
    """(kernel entries, number of blocks L) of a layout."""
    two = lambda v: tuple(v) if isinstance(v, (list, tuple)) else (v, v)  # noqa: E731
    k, d, p, s = two(kernel_size), two(dilation), two(padding), two(stride)
    count = [(n + 2 * pi - di * (ki - 1) - 1) // si + 1 for n, ki, di, pi, si in zip(size, k, d, p, s)]
    return math.prod(k), math.prod(count)


def unfold(device, dtype):
    kw = dict(device=device, dtype=dtype)
    t = lambda *s, **k: make(*s, **kw, **k)  # noqa: E731
    for size, opts, name in _LAYOUTS:
        yield Sample((t(2, 3, *size),), opts, name=name)
    yield Sample((t(3, 5, 6),), dict(kernel_size=(2, 3), padding=1), name="unbatched")
    yield Sample((t(0, 3, 5, 6),), dict(kernel_size=2), name="empty batch")
    yield Sample((noncontiguous(2, 3, 5, 6, **kw),), dict(kernel_size=2, stride=(1, 2)), name="non-contiguous")
    yield Sample((channels_last(t, 2, 3, 5, 6),), dict(kernel_size=2, padding=1), name="channels_last")
    if dtype in (torch.bfloat16, torch.float16):
        yield Sample((t(8, 16, 32, 32),), dict(kernel_size=3, padding=1), name="8x16x32x32, 3x3, padding 1")


def fold(device, dtype):
    kw = dict(device=device, dtype=dtype)
    t = lambda *s, **k: make(*s, **kw, **k)  # noqa: E731
    for size, opts, name in _LAYOUTS:
        k, blocks = _blocks(size, **opts)
        yield Sample((t(2, 3 * k, blocks), size), opts, name=name)
    yield Sample((t(3 * 6, 18), (5, 6)), dict(kernel_size=(2, 3), padding=1, stride=(2, 1)), name="unbatched")
    yield Sample((t(0, 12, 20), (5, 6)), dict(kernel_size=2), name="empty batch")
    yield Sample((t(12, 21, requires_grad=False).t().unsqueeze(0).expand(2, 21, 12).transpose(1, 2).requires_grad_(),
                  6), dict(kernel_size=2, padding=(1, 0), stride=(1, 2)), name="transposed and expanded input, int size")
    yield Sample((noncontiguous(2, 12, 20, **kw), (5, 6)), dict(kernel_size=2), name="non-contiguous")
    if dtype in (torch.bfloat16, torch.float16):
        yield Sample((t(8, 16 * 9, 32 * 32), (32, 32)), dict(kernel_size=3, padding=1),
                     name="8x144x1024 into 32x32, 3x3, padding 1")


def unfold_errors(device):
    t = lambda *s: make(*s, device=device, dtype=None, requires_grad=False)  # noqa: E731
    x = t(2, 3, 5, 6)
    yield ErrorSample((t(2, 3, 4, 5, 6), 2), name="5-d input")
    yield ErrorSample((t(2, 0, 5, 6), 2), name="no channels")
    yield ErrorSample((x, 7), name="kernel larger than the image")
    yield ErrorSample((x, 2), dict(stride=0), name="zero stride")
    yield ErrorSample((x, 2), dict(dilation=0), name="zero dilation")
    yield ErrorSample((x, 2), dict(padding=-1), name="negative padding")
    yield ErrorSample((x, (2, 2, 2)), name="kernel_size of the wrong length")
    yield ErrorSample((make(2, 3, 5, 6, device=device, dtype=None, requires_grad=False).long(), 2),
                      name="integer input")


def fold_errors(device):
    t = lambda *s: make(*s, device=device, dtype=None, requires_grad=False)  # noqa: E731
    x = t(2, 12, 20)
    yield ErrorSample((x, (5, 6), (2, 3)), name="block count does not match output_size")
    yield ErrorSample((t(2, 13, 20), (6, 5), 2), name="channels not divisible by the kernel")
    yield ErrorSample((t(2, 3, 12, 20), (6, 5), 2), name="4-d input")
    yield ErrorSample((x, (6, 5), 2), dict(stride=0), name="zero stride")
    yield ErrorSample((x, (6, 5), 2), dict(padding=-1), name="negative padding")
    yield ErrorSample((x, (6, 5, 1), 2), name="output_size of the wrong length")


# op-table entries, collected by manualgrad/ops.py
OPS = [
    OpSpec("unfold", MF.unfold, F.unfold, UnfoldFunction, unfold, unfold_errors),
    OpSpec("fold", MF.fold, F.fold, FoldFunction, fold, fold_errors),
]
