"""Samples for ``embedding`` (a 7 x 3 table).

Gradcheck is off where torch's gradient is by design not the derivative of the forward:
``padding_idx`` (row p gets 0), ``scale_grad_by_freq`` (rows divided by their counts) and
``max_norm`` (the renormalisation is not differentiated). tests/test_embedding.py runs
gradgradcheck on those, whose backward is still exactly differentiable in dy.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from .. import functional as MF
from ..functions.embedding import EmbeddingFunction
from ..opspec import OpSpec
from . import ErrorSample, Sample, expanded, make, noncontiguous

REPEATED = [[1, 4, 1], [6, 1, 0]]  # row 1 three times, row 5 never


def fresh_weight(fn):
    """``fn`` renormalising a clone of ``weight`` when ``max_norm`` is given: max_norm writes into
    weight, so ours and torch's each start from the sample's own rows (the gradient still flows
    back to the sample's leaf through the clone)."""

    @functools.wraps(fn)
    def call(input, weight, *args, **kwargs):
        if kwargs.get("max_norm") is not None and isinstance(weight, torch.Tensor):
            weight = weight.clone()
        return fn(input, weight, *args, **kwargs)

    return call


def samples(device, dtype):
    kw = dict(device=device, dtype=dtype)
    w = lambda *s, **k: make(*s, **kw, **k)  # noqa: E731
    i = lambda v, dt=torch.long: torch.tensor(v, device=device, dtype=dt)  # noqa: E731
    yield Sample((i([0, 3, 6]), w(7, 3)), name="1-d")
    yield Sample((i(REPEATED), w(7, 3)), name="2-d, repeated index")
    yield Sample((i(2), w(7, 3)), name="0-d index")
    yield Sample((i([[[1, 2], [2, 5]], [[0, 0], [6, 3]]]), w(7, 3)), name="3-d")
    yield Sample((i([]), w(7, 3)), name="empty")
    yield Sample((i([[], []]), w(7, 3)), name="empty 2x0")
    yield Sample((i(REPEATED, torch.int32), w(7, 3)), name="int32 indices")
    yield Sample((i(REPEATED).t(), noncontiguous(7, 3, **kw)), name="non-contiguous")
    yield Sample((i(REPEATED), expanded(7, 3, **kw)), name="expanded weight")
    yield Sample((i(REPEATED), w(7, 0)), name="zero embedding_dim")
    yield Sample((i(REPEATED), w(7, 3, requires_grad=False)), name="weight without grad")
    yield Sample((i(REPEATED), w(7, 3)), dict(padding_idx=5), name="padding_idx not looked up")
    yield Sample((i(REPEATED), w(7, 3)), dict(padding_idx=1), name="padding_idx repeated", gradcheck=False)
    yield Sample((i(REPEATED), w(7, 3)), dict(padding_idx=-1), name="negative padding_idx", gradcheck=False)
    yield Sample((i(REPEATED), w(7, 3)), dict(scale_grad_by_freq=True), name="scale_grad_by_freq",
                 gradcheck=False)
    yield Sample((i(REPEATED, torch.int32), w(7, 3)), dict(padding_idx=1, scale_grad_by_freq=True),
                 name="scale_grad_by_freq with padding_idx, int32", gradcheck=False)
    yield Sample((i(REPEATED), w(7, 3)), dict(max_norm=1.0), name="max_norm", gradcheck=False)
    yield Sample((i(REPEATED), w(7, 3)), dict(max_norm=1.5, norm_type=1.0), name="max_norm, norm_type 1",
                 gradcheck=False)
    yield Sample((i(REPEATED), w(7, 3)), dict(max_norm=100.0), name="max_norm above every norm")


def errors(device):
    w = make(7, 3, device=device, dtype=None, requires_grad=False)
    i = lambda v, dt=torch.long: torch.tensor(v, device=device, dtype=dt)  # noqa: E731
    # torch names a CUDA tensor's type 'torch.cuda.FloatTensor': matched against CPU torch's text
    # only on CPU
    dtype_match = None if torch.device(device).type == "cpu" else (
        r"Expected tensor for argument #1 'indices' to have one of the following scalar types: Long, Int")
    yield ErrorSample((i([0, 7]), w), name="index = num_embeddings", error=IndexError)
    yield ErrorSample((i([[1, -1]]), w), name="negative index", error=IndexError)
    yield ErrorSample((i(9, torch.int32), w), name="0-d int32 index out of range", error=IndexError)
    yield ErrorSample((i([9]), w), dict(max_norm=1.0), name="out of range with max_norm", error=IndexError,
                      match=r"index out of range in self: embedding index 9 is outside \[0, 7\)")
    yield ErrorSample((i([1.0], torch.float32), w), name="float indices", match=dtype_match)
    yield ErrorSample((i([True], torch.bool), w), name="bool indices", match=dtype_match)
    yield ErrorSample((i([1], torch.int16), w), name="int16 indices", match=dtype_match)
    yield ErrorSample((i([1]), w.to(torch.complex64).requires_grad_()), name="complex weight with grad")
    yield ErrorSample((i([0]), w[:0]), name="weight with no rows: torch's RuntimeError, not IndexError")
    yield ErrorSample((i(0), w[:0, :0]), dict(max_norm=1.0), name="0×0 weight with max_norm", error=IndexError,
                      match="index out of range")
    yield ErrorSample((i([[1, 7]]), w[:, :0]), name="0 columns: torch's gather RuntimeError")
    yield ErrorSample((i([-1]), w[:, :0]), dict(max_norm=1.0), name="0 columns, negative index, max_norm")
    yield ErrorSample((i([1]), w[0]), name="1-d weight")
    yield ErrorSample((i([1]), w.unsqueeze(0)), name="3-d weight")
    yield ErrorSample((i([1]), w), dict(padding_idx=7), name="padding_idx = num_embeddings", error=AssertionError)
    yield ErrorSample((i([1]), w), dict(padding_idx=-8), name="padding_idx < -num_embeddings",
                      error=AssertionError)


# op-table entries, collected by manualgrad/ops.py
OPS = [OpSpec("embedding", fresh_weight(MF.embedding), fresh_weight(F.embedding), EmbeddingFunction, samples, errors)]
