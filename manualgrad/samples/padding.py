"""Samples for ``pad`` (``functions/padding.py``): every mode on 1, 2 and 3 padded dims, batched and
unbatched, empty batch, non-contiguous and channels-last input, pads wider than half the input
(border entries copied several times), zero and negative pads (cropping)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import functional as MF
from ..functions.padding import PadFunction
from ..opspec import OpSpec
from . import ErrorSample, Sample, make, noncontiguous

# pad tuples per number of padded dims: symmetric, asymmetric with zeros, negative (crop)
_PADS = {1: [(2, 1), (-1, 2)], 2: [(1, 2, 2, 0), (3, 1, 1, 2), (1, -1, -2, 1)],
         3: [(1, 0, 2, 1, 1, 2), (0, 2, -1, 1, 2, -1)]}
_SPATIAL = {1: (5,), 2: (4, 5), 3: (3, 4, 5)}


def _layouts(k, device, dtype):
    """(name, x) with k padded dims: batched, unbatched, empty batch, non-contiguous, channels_last."""
    kw = dict(device=device, dtype=dtype)
    spatial = _SPATIAL[k]
    yield "batched", make(2, 3, *spatial, **kw)
    yield "unbatched", make(3, *spatial, **kw)
    yield "empty batch", make(0, 3, *spatial, **kw)
    yield "non-contiguous", noncontiguous(2, 3, *spatial, **kw)
    if k in (2, 3):
        fmt = torch.channels_last if k == 2 else torch.channels_last_3d
        yield "channels_last", make(2, 3, *spatial, **kw, requires_grad=False).contiguous(
            memory_format=fmt).requires_grad_()


def pad(device, dtype):
    for mode in ("constant", "reflect", "replicate", "circular"):
        for k, pads in _PADS.items():
            for name, x in _layouts(k, device, dtype):
                if k == 2 or name in ("batched", "unbatched"):
                    yield Sample((x, pads[0]), dict(mode=mode), name=f"{mode}, {k} dims, {name}")
            for p in pads[1:]:
                yield Sample((make(2, 3, *_SPATIAL[k], device=device, dtype=dtype), p), dict(mode=mode),
                             name=f"{mode}, {k} dims, pad {p}")
    x = lambda: make(2, 3, 4, 5, device=device, dtype=dtype)  # noqa: E731
    yield Sample((x(), (4, 4, 3, 3)), dict(mode="reflect"), name="reflect, pad n − 1 (widest)")
    yield Sample((x(), (7, 6, 5, 9)), dict(mode="replicate"), name="replicate, pads wider than the input")
    yield Sample((x(), (5, 5, 4, 4)), dict(mode="circular"), name="circular, pad n (a whole copy)")
    yield Sample((x(), (0, 0, 0, 0)), dict(mode="reflect"), name="reflect, zero pads")
    yield Sample((x(), (0, 0)), name="constant, zero pads")
    yield Sample((x(), (1, 1)), dict(value=2.5), name="constant, value 2.5")
    yield Sample((x(), (1, 2, 0, 1), "constant", -1.0), name="every argument positional")
    yield Sample((x(), (1, 1, 1, 1, 1, 0, 0, 2)), name="constant, every dim padded (4 dims)")
    yield Sample((x(), (-2, -1, -1, 0)), name="constant, only crops")
    yield Sample((make(device=device, dtype=dtype), ()), name="constant, 0-d input, empty pad")
    yield Sample((make(3, device=device, dtype=dtype), [2, 1]), dict(value=1.0), name="constant, 1-d, list pad")


def _t(*shape, device):
    return make(*shape, device=device, dtype=None, requires_grad=False)


def pad_errors(device):
    x = _t(2, 3, 4, 5, device=device)
    yield ErrorSample((x, (1, 1, 1)), name="odd pad length")
    yield ErrorSample((x, (1,) * 10), name="pads more dims than the input has")
    yield ErrorSample((x, (5, 0)), dict(mode="reflect"), name="reflect pad = n")
    yield ErrorSample((x, (1, 1)), dict(mode="reflect", value=1.0), name="value with reflect")
    yield ErrorSample((x, (6, 0)), dict(mode="circular"), name="circular pad > n")
    yield ErrorSample((x, (1, 1)), dict(mode="wrap"), name="unknown mode")
    yield ErrorSample((x, 2), dict(mode="reflect"), name="pad an int, not a sequence")
    yield ErrorSample((x, (1.5, 1)), name="float pad")
    yield ErrorSample((x, (1, 1)), dict(mode="replicate"), name="replicate, 2 pads on 4-d input")
    yield ErrorSample((_t(5, device=device), (1, 1)), dict(mode="reflect"), name="reflect, 1-d input")
    yield ErrorSample((_t(1, 2, 3, 4, 5, 6, device=device), (1,) * 6), dict(mode="replicate"),
                      name="replicate, 6-d input")
    yield ErrorSample((x, (-3, -3)), name="constant, crops more than the dim")
    yield ErrorSample((_t(2, 0, 5, device=device), (1, 1)), dict(mode="reflect"), name="reflect, empty channel dim")
    x3 = _t(2, 3, 5, device=device)  # torch returns uninitialised memory for the two below
    yield ErrorSample((x3, (2, -5)), dict(mode="circular"), name="circular: dim cropped away, then padded",
                      match="wraps around more than the cropped part")
    yield ErrorSample((x3, (3, -3)), dict(mode="circular"), name="circular: pad longer than the cropped dim",
                      match="wraps around more than the cropped part")


# op-table entries, collected by manualgrad/ops.py
OPS = [OpSpec("pad", MF.pad, F.pad, PadFunction, pad, pad_errors)]
