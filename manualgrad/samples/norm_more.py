"""Samples for ``instance_norm`` (functional/_batch_norm.py) and ``local_response_norm``
(functions/local_response_norm.py)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import functional as MF
from ..functions.batch_norm import InstanceNormFunction
from ..functions.local_response_norm import LocalResponseNormFunction
from ..opspec import OpSpec
from . import ErrorSample, Sample, make, noncontiguous
from .norm import _affine, _stats, fresh_running_stats




def instance_norm(device, dtype):
    kw = dict(device=device, dtype=dtype)
    for shape, name in [((2, 3, 5), "1-d"), ((2, 3, 4, 3), "2-d"), ((2, 3, 2, 3, 2), "3-d")]:
        yield Sample((make(*shape, **kw),), name=f"{name}, no affine, no running stats")
        yield Sample((make(*shape, **kw), *_stats(3, kw), *_affine(3, kw)), name=f"{name}, affine, running stats")
        yield Sample((make(*shape, **kw), *_stats(3, kw), *_affine(3, kw), False),
                     name=f"{name}, running stats used (use_input_stats=False)")
    yield Sample((make(2, 3, 4, **kw), None, None, *_affine(3, kw), True, 0.3, 1e-3), name="momentum, eps")
    yield Sample((make(2, 3, 4, **kw),), {"weight": make(3, **kw)}, name="weight only")
    yield Sample((noncontiguous(2, 3, 6, **kw), *_stats(3, kw)), name="non-contiguous")
    # empty: aten's batch_norm of N·C channels, whose empty path is torch's plain formula (no node of ours)
    yield Sample((make(0, 3, 4, **kw), *_stats(3, kw)), name="empty batch: NaN running stats, as torch", node=False)
    yield Sample((make(2, 3, 0, **kw), *_stats(3, kw), *_affine(3, kw)), name="no spatial elements", node=False)
    yield Sample((make(1, 2, 2, **kw),), name="two values per instance")


def instance_norm_errors(device):
    t = lambda *s: make(*s, device=device, dtype=None, requires_grad=False)  # noqa: E731
    yield ErrorSample((t(2, 3, 1),), name="one value per instance", error=ValueError)
    yield ErrorSample((t(2, 3, 4), t(3)), {"use_input_stats": False}, name="eval without running_var")
    yield ErrorSample((t(2, 3, 4), t(2), t(2)), name="running stats of another size")
    yield ErrorSample((t(2, 3, 4),), {"weight": t(4)}, name="weight of another size")
    yield ErrorSample((t(0, 3, 4),), {"weight": t(3)}, name="empty batch with a weight (torch's w[0])", error=IndexError)


def local_response_norm(device, dtype):
    """torch's 4-d and higher path runs avg_pool3d, which has no half kernel on CPU (ours runs:
    docs/ops.md, deliberate differences): those samples are full precision only there."""
    kw = dict(device=device, dtype=dtype)
    yield Sample((make(2, 5, 4, **kw), 3), name="3-d input, size 3")
    if torch.device(device).type == "cpu" and dtype in (torch.float16, torch.bfloat16):
        yield Sample((make(2, 4, 6, **kw), 2), name="3-d input, even size")
        return
    yield Sample((make(2, 6, 3, 2, **kw), 2), name="4-d input, even size")
    yield Sample((make(1, 4, 2, 2, 2, **kw), 5, 1e-2, 0.5, 2.0), name="5-d input, size > channels, alpha beta k")
    yield Sample((make(2, 3, 4, **kw), 1), {"beta": 1.0}, name="size 1")
    yield Sample((noncontiguous(2, 4, 6, **kw), 3), {"alpha": 0.5}, name="non-contiguous, large alpha")
    yield Sample((make(0, 3, 4, **kw), 3), name="empty: the input itself", node=False, gradcheck=False)


def local_response_norm_errors(device):
    t = lambda *s: make(*s, device=device, dtype=None, requires_grad=False)  # noqa: E731
    yield ErrorSample((t(3, 4), 2), name="2-d input", error=ValueError)
    yield ErrorSample((t(4), 2), name="1-d input", error=ValueError)
    yield ErrorSample((t(2, 3, 4), 0), name="size 0")


# op-table entries, collected by manualgrad/ops.py
# instance_norm (batch_norm of N·C channels), local_response_norm
OPS = [
    OpSpec("instance_norm", fresh_running_stats(MF.instance_norm), fresh_running_stats(F.instance_norm),
           InstanceNormFunction, instance_norm, instance_norm_errors),
    OpSpec("local_response_norm", MF.local_response_norm, F.local_response_norm, LocalResponseNormFunction,
           local_response_norm, local_response_norm_errors),
]
