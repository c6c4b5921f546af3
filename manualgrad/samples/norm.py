"""Samples for the normalisations (``functions/batch_norm.py``, ``functions/norms.py``)."""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from .. import functional as MF
from ..functions.batch_norm import BatchNormFunction
from ..functions.norms import GroupNormFunction, LayerNormFunction, RMSNormFunction
from ..opspec import OpSpec
from . import ErrorSample, Sample, make, noncontiguous


def fresh_running_stats(fn):
    """``fn`` (batch_norm) called on its own copies of ``running_mean``/``running_var``: it updates
    them in place, and ours and torch's must each start from the sample's values.
    tests/test_norm.py compares the updated stats themselves."""

    @functools.wraps(fn)
    def call(input, running_mean=None, running_var=None, *args, **kwargs):
        copy = lambda t: None if t is None else t.clone()  # noqa: E731
        return fn(input, copy(running_mean), copy(running_var), *args, **kwargs)

    return call


def _torch_raises(fn, args, kwargs) -> bool:
    try:
        fresh_running_stats(fn)(*args, **kwargs)
    except ValueError:
        return True
    return False


def _affine(c, kw, weight=True, bias=True):
    """(weight, bias) of size ``c``, each or both None when asked."""
    return (make(c, **kw) if weight else None), (make(c, **kw) if bias else None)


def _stats(c, kw):
    """running_mean, running_var (positive), without grad."""
    return (make(c, **kw, requires_grad=False),
            make(c, **kw, requires_grad=False, low=0.5, high=2.0))


def batch_norm(device, dtype):
    kw = dict(device=device, dtype=dtype)
    for shape, name in [((4, 3), "rank 2"), ((4, 3, 5), "rank 3"), ((2, 3, 2, 2), "rank 4")]:
        for training in (True, False):
            yield Sample((make(*shape, **kw), *_stats(3, kw), *_affine(3, kw), training),
                         name=f"{name} {'train' if training else 'eval'}")
    yield Sample((make(4, 3, **kw), None, None, *_affine(3, kw), True), name="train without running stats")
    yield Sample((make(4, 3, 2, **kw), *_stats(3, kw)), {"training": True}, name="train, weight and bias None")
    yield Sample((make(4, 3, 2, **kw), *_stats(3, kw), make(3, **kw)), {"training": False},
                 name="eval, bias None")
    yield Sample((make(4, 3, 2, **kw), *_stats(3, kw), None, make(3, **kw), True, 0.3, 1e-3),
                 name="train, weight None, momentum 0.3, eps 1e-3")
    yield Sample((noncontiguous(2, 3, 4, **kw), *_stats(3, kw), *_affine(3, kw), True), name="non-contiguous")
    yield Sample((make(2, 3, **kw), *_stats(3, kw), *_affine(3, kw), True), name="train, two per channel")
    yield Sample((make(1, 3, **kw), *_stats(3, kw), *_affine(3, kw), False), name="eval, batch of one")
    yield Sample((make(0, 3, **kw), *_stats(3, kw), *_affine(3, kw), True), name="train, empty batch")
    yield Sample((make(0, 3, 2, **kw), *_stats(3, kw), *_affine(3, kw), False), name="eval, empty batch")
    # torch returns an empty input before checking the running stats
    yield Sample((make(0, 3, **kw), None, None, *_affine(3, kw), False), name="eval, empty batch, no running stats")
    yield Sample((make(2, 0, **kw), *_stats(4, kw), None, None, True), name="no channels, running stats of 4")
    yield Sample((make(4, 3, **kw, requires_grad=False), *_stats(3, kw), *_affine(3, kw), True),
                 name="input without grad")


# torch's CPU dtype rules for (input, weight, bias): mixed means the first parameter given is not
# of the input's dtype, which needs float32 parameters and a half/bfloat16 input
DTYPE_ERRORS = [
    ((torch.float64, torch.float32, torch.float32), "float64 input, float32 parameters"),
    ((torch.float32, torch.float64, torch.float64), "float32 input, float64 parameters"),
    ((torch.bfloat16, torch.float32, torch.bfloat16), "bfloat16 input, float32 weight, bfloat16 bias"),
    ((torch.float64, torch.float64, torch.float32), "float64 input and weight, float32 bias"),
    ((torch.float64, None, torch.float32), "float64 input, float32 bias only"),
    ((torch.int64, None, None), "integer input"),
    ((torch.int64, torch.float32, torch.float32), "integer input, float32 parameters"),
    ((torch.int64, torch.int64, torch.int64), "integer input and parameters"),
    ((torch.bool, None, None), "bool input"),
    ((torch.complex64, None, None), "complex input"),
]


def _dtype_errors(device, call):
    """ErrorSamples for :data:`DTYPE_ERRORS`: ``call(x, w, b)`` gives an op's (args, kwargs)."""
    for (x_dtype, w_dtype, b_dtype), name in DTYPE_ERRORS:
        x, w, b = (None if d is None else torch.ones(3, 4, device=device, dtype=d)[0] if i else
                   torch.ones(3, 4, device=device, dtype=d) for i, d in enumerate((x_dtype, w_dtype, b_dtype)))
        yield ErrorSample(*call(x, w, b), name=name)


def batch_norm_errors(device):
    kw = dict(device=device, dtype=None)
    t = lambda *s: make(*s, **kw, requires_grad=False)  # noqa: E731
    stats = lambda c=3: _stats(c, kw)  # noqa: E731
    yield ErrorSample((t(1, 3), *stats(), None, None, True), name="one value per channel")
    yield ErrorSample((t(1, 3, 1), *stats(), None, None, True), name="one value per channel, rank 3")
    yield ErrorSample((t(4, 3), stats(4)[0], stats()[1], None, None, True), name="running_mean size")
    yield ErrorSample((t(4, 3), stats()[0], stats(4)[1], None, None, False), name="running_var size")
    yield ErrorSample((t(4, 3), *stats(), t(4), None, True), name="weight size")
    yield ErrorSample((t(4, 3), None, None, None, t(2), True), name="bias size")
    yield ErrorSample((t(4, 3), None, None, None, None, False), name="eval without running stats")
    yield ErrorSample((t(4, 3), stats()[0], None, None, None, False), name="eval without running_var")
    yield ErrorSample((t(4, 3), stats()[0], None, None, None, True), name="running_var None only")
    yield ErrorSample((t(4, 3), stats()[0], stats()[1].requires_grad_()), {"training": True},
                      name="running_var requires grad")
    yield ErrorSample((t(4, 3), *stats()), {"training": True, "momentum": None}, name="momentum None")
    for kwargs, name in [({"training": True, "eps": 0.0}, "eps 0 in training"), ({"eps": -1.0}, "negative eps")]:
        bad = (t(4, 3), *stats())
        # torch 2.13 checks eps; an older torch that does not is still refused by ours
        match = None if _torch_raises(torch.nn.functional.batch_norm, bad, kwargs) else "batch_norm eps must be"
        yield ErrorSample(bad, kwargs, name=name, error=ValueError, match=match)
    yield ErrorSample((t(2, 0), None, None, t(0), None, False), name="empty input, empty weight (torch's w[0])")
    strided = torch.ones(4, 3, dtype=torch.int32, device=device).t()  # no kernel layout: torch's at::mean error
    yield ErrorSample((strided, None, None, None, None, True), name="transposed integer input in training")
    yield ErrorSample((t(3), *stats(), None, None, True), name="1-d input with running stats")
    yield ErrorSample((t(3), None, None, None, None, True), name="1-d input")
    yield ErrorSample((t(), None, None, None, None, True), name="0-d input")
    yield from _dtype_errors(device, lambda x, w, b: ((x, None if w is None else w.detach(), None if w is None else
                                                       w.detach().abs(), w, b, w is None), {}))
    yield from _dtype_errors(device, lambda x, w, b: ((x, None, None, w, b, True), {}))


def layer_norm(device, dtype):
    kw = dict(device=device, dtype=dtype)
    yield Sample((make(4, 5, **kw), (5,), *_affine(5, kw)), name="rank 2")
    yield Sample((make(2, 3, 4, **kw), [3, 4], make(3, 4, **kw), make(3, 4, **kw)), name="last two dims")
    yield Sample((make(2, 3, 4, **kw), torch.Size([4]), *_affine(4, kw)), name="last dim of rank 3")
    yield Sample((make(2, 2, 2, 3, **kw), (2, 3), make(2, 3, **kw)), {"eps": 1e-3}, name="rank 4, bias absent")
    yield Sample((make(5, **kw), (5,), *_affine(5, kw)), name="unbatched")
    yield Sample((make(4, 5, **kw), (5,)), name="weight and bias None")
    yield Sample((make(4, 5, **kw), (5,)), {"bias": make(5, **kw)}, name="bias only")
    yield Sample((noncontiguous(3, 4, **kw), (4,), noncontiguous(1, 4, **kw)[0], make(4, **kw)),
                 name="non-contiguous")
    yield Sample((make(0, 4, **kw), (4,), *_affine(4, kw)), name="empty batch")
    yield Sample((make(4, 5, **kw, requires_grad=False), (5,), *_affine(5, kw)), name="input without grad")


def _normalized_shape_errors(t, extra=()):
    yield ErrorSample((t(4, 3), (5,)), name="input shape")
    yield ErrorSample((t(4, 3), (4, 3, 1)), name="normalized_shape longer than input")
    yield ErrorSample((t(4, 3), (3,), t(4)), name="weight shape")
    yield ErrorSample((t(4, 3), ()), name="empty normalized_shape")
    yield ErrorSample((t(4, 3), 3), name="int normalized_shape", error=TypeError)
    yield from extra


def layer_norm_errors(device):
    t = lambda *s: make(*s, device=device, dtype=None, requires_grad=False)  # noqa: E731
    yield from _normalized_shape_errors(t, [ErrorSample((t(4, 3), (3,), None, t(2)), name="bias shape")])
    yield from _dtype_errors(device, lambda x, w, b: ((x, (4,), w, b), {}))


def rms_norm(device, dtype):
    kw = dict(device=device, dtype=dtype)
    yield Sample((make(4, 5, **kw), (5,), make(5, **kw)), name="rank 2")
    yield Sample((make(4, 5, **kw), [5]), name="weight None, eps None")
    yield Sample((make(2, 3, 4, **kw), (3, 4), make(3, 4, **kw)), {"eps": 1e-3}, name="last two dims, eps")
    yield Sample((make(5, **kw), (5,), make(5, **kw)), name="unbatched")
    yield Sample((noncontiguous(3, 4, **kw), (4,), make(4, **kw)), name="non-contiguous")
    yield Sample((make(0, 4, **kw), (4,), make(4, **kw)), name="empty batch")
    yield Sample((make(4, 5, **kw, requires_grad=False), (5,), make(5, **kw)), name="input without grad")


def rms_norm_errors(device):
    yield from _normalized_shape_errors(lambda *s: make(*s, device=device, dtype=None, requires_grad=False))
    for dtype in (torch.int64, torch.bool, torch.uint8):  # any weight dtype is taken (a composite op)
        yield ErrorSample((torch.ones(3, 4, device=device, dtype=dtype), (4,)), name=f"{dtype} input")


def group_norm(device, dtype):
    kw = dict(device=device, dtype=dtype)
    yield Sample((make(4, 6, 2, **kw), 3, *_affine(6, kw)), name="rank 3")
    yield Sample((make(4, 6, **kw), 2, *_affine(6, kw)), name="rank 2")
    yield Sample((make(2, 4, 2, 2, **kw), 2, *_affine(4, kw)), {"eps": 1e-3}, name="rank 4, eps")
    yield Sample((make(2, 4, 3, **kw), 1, *_affine(4, kw)), name="one group")
    yield Sample((make(2, 4, 3, **kw), 4, *_affine(4, kw)), name="a group per channel")
    yield Sample((make(3, 4, 2, **kw), 2), name="weight and bias None")
    yield Sample((make(3, 4, 2, **kw), 2, make(4, **kw)), name="bias None")
    yield Sample((noncontiguous(2, 4, 3, **kw), 2, *_affine(4, kw)), name="non-contiguous")
    yield Sample((make(2, 4, 3, **kw), 2, noncontiguous(1, 4, **kw)[0], noncontiguous(1, 4, **kw)[0]),
                 name="non-contiguous weight and bias")
    yield Sample((make(0, 4, 3, **kw), 2, *_affine(4, kw)), name="empty batch")
    yield Sample((make(3, 4, 2, **kw, requires_grad=False), 2, *_affine(4, kw)), name="input without grad")


def group_norm_errors(device):
    t = lambda *s: make(*s, device=device, dtype=None, requires_grad=False)  # noqa: E731
    yield ErrorSample((t(4, 6, 5), 4), name="channels not divisible")
    yield ErrorSample((t(6), 3), name="1-d input")
    yield ErrorSample((t(4, 6), 3, t(5)), name="weight size")
    yield ErrorSample((t(4, 6), 3, None, t(3, 2)), name="bias shape")
    yield ErrorSample((t(1, 2), 2), name="one value per group")
    yield ErrorSample((t(4, 6), 0), name="zero groups", error=ZeroDivisionError)
    yield ErrorSample((t(4, 6), -2), name="negative groups")
    yield from _dtype_errors(device, lambda x, w, b: ((x, 2, w, b), {}))


# op-table entries, collected by manualgrad/ops.py
OPS = [
    OpSpec("batch_norm", fresh_running_stats(MF.batch_norm), fresh_running_stats(F.batch_norm), BatchNormFunction,
           batch_norm, batch_norm_errors),
    OpSpec("layer_norm", MF.layer_norm, F.layer_norm, LayerNormFunction, layer_norm, layer_norm_errors),
    OpSpec("group_norm", MF.group_norm, F.group_norm, GroupNormFunction, group_norm, group_norm_errors),
    OpSpec("rms_norm", MF.rms_norm, F.rms_norm, RMSNormFunction, rms_norm, rms_norm_errors),
]
