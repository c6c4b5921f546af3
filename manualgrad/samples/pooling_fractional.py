"""Samples for fractional_max_pool2d/3d (``functions/pooling_fractional.py``). Most pass
``_random_samples`` (so gradcheck sees fixed windows); the ones without draw them, from the
op table's shared seed (``seeded=True``), as torch does."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import functional as MF
from ..functions.pooling_fractional import FractionalMaxPoolFunction
from ..opspec import OpSpec
from . import ErrorSample, Sample, make, noncontiguous
from .pooling import values_only

# torch needs output + kernel − 1 < input along each dim; 3-d smaller (fewer channels, a smaller
# overlapping output), as its float64 gradcheck costs a forward per input element
_SPACE = {2: (7, 8), 3: (5, 6, 5)}
_C = {2: 3, 3: 2}
_OVERLAPPING = {2: 4, 3: 2}  # output size with k = 3
_PER_DIM = {2: (3, 4), 3: (3, 3, 2)}  # output sizes with the kernel (2, 3, 1)


def _u(n, c, nd, device, dtype):
    """Window placements u in [0, 1), one per batch row, channel and pooled dim."""
    return torch.rand(n, c, nd, device=device, dtype=dtype)


def _inputs(nd, device, dtype):
    kw, space, c = dict(device=device, dtype=dtype), _SPACE[nd], _C[nd]
    yield "batched", make(2, c, *space, **kw), 2
    yield "unbatched", make(c, *space, **kw), 1
    yield "empty batch", make(0, c, *space, **kw), 0
    yield "non-contiguous", noncontiguous(1, c, *space, **kw), 1
    fmt = torch.channels_last if nd == 2 else torch.channels_last_3d
    yield "channels-last", make(2, c, *space, **kw, requires_grad=False).contiguous(memory_format=fmt).requires_grad_(), 2


def fractional_max_pool(nd):
    def samples(device, dtype):
        for name, x, n in _inputs(nd, device, dtype):
            u = _u(n, _C[nd], nd, device, dtype)
            yield Sample((x, 2), {"output_size": 3, "_random_samples": u}, name=f"{name}, k=2, output_size=3")
            yield Sample((x, 3), {"output_size": _OVERLAPPING[nd], "_random_samples": u},
                         name=f"{name}, k=3 (overlapping windows)")
        x = lambda: make(2, _C[nd], *_SPACE[nd], device=device, dtype=dtype)  # noqa: E731
        u = _u(2, _C[nd], nd, device, dtype)
        yield Sample((x(), (2, 3, 1)[:nd]), {"output_size": _PER_DIM[nd], "_random_samples": u}, name="per-dim kernel, size")
        yield Sample((x(), 2), {"output_ratio": (0.5, 0.7, 0.6)[:nd], "_random_samples": u}, name="output_ratio")
        yield Sample((x(), 2, None, (0.5,) * nd, True, u), name="every argument positional, return_indices")
        yield Sample((x(), 2), {"output_size": 1, "_random_samples": u}, name="output_size=1")
        yield Sample((x(), 2), {"output_size": 3}, name="random samples drawn as torch draws them")
        if nd == 3:
            yield Sample((x(), 2), {"output_ratio": 0.5}, name="one float output_ratio, drawn samples")
    return samples


def fractional_max_pool_errors(nd):
    def errors(device):
        x = make(1, 2, *_SPACE[nd], device=device, dtype=None, requires_grad=False)
        u = _u(1, 2, nd, device, x.dtype)
        yield ErrorSample((x, 2), name="neither output_size nor output_ratio")
        yield ErrorSample((x, 9), {"output_size": 3, "_random_samples": u}, name="kernel too large")
        yield ErrorSample((x, 2), {"output_size": 9, "_random_samples": u}, name="output larger than the input")
        yield ErrorSample((x, 2), {"output_size": 3, "_random_samples": u[:, :1]}, name="samples for too few channels")
        if nd == 2:
            yield ErrorSample((x, 2), {"output_ratio": (0.5, 0.5, 0.5)}, name="three ratios")
            yield ErrorSample((x, 2), {"output_ratio": 0.5}, name="a float ratio (torch takes its len)")
    return errors


OPS = [
    OpSpec(f"fractional_max_pool{n}d", values_only(getattr(MF, f"fractional_max_pool{n}d")),
           values_only(getattr(F, f"fractional_max_pool{n}d")), FractionalMaxPoolFunction,
           fractional_max_pool(n), fractional_max_pool_errors(n), seeded=True)
    for n in (2, 3)
]
