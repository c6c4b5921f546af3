"""Samples for ``embedding_bag`` (a 7 x 3 table; bags given by offsets or a 2-d input).

``scale_grad_by_freq`` (torch 2.13's CPU backward divides by the wrong counts, pytorch#190063)
and ``sparse`` (a sparse gradient) are tested in tests/test_embedding_bag.py."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import functional as MF
from ..functions.embedding_bag import EmbeddingBagFunction
from ..opspec import OpSpec
from . import ErrorSample, Sample, make

IDX = [1, 4, 1, 6, 0, 2, 2, 5]
OFFSETS = [0, 3, 3, 6]  # bag 1 empty


def samples(device, dtype):
    kw = dict(device=device, dtype=dtype)
    w = lambda: make(7, 3, **kw)  # noqa: E731
    i = lambda v: torch.tensor(v, device=device, dtype=torch.long)  # noqa: E731
    for mode in ("sum", "mean", "max"):
        yield Sample((i(IDX), w(), i(OFFSETS)), {"mode": mode}, name=f"{mode}, offsets, an empty bag")
        yield Sample((i([IDX[:4], IDX[4:]]), w()), {"mode": mode}, name=f"{mode}, 2-d input")
        yield Sample((i(IDX), w(), i(OFFSETS)), {"mode": mode, "padding_idx": 1}, name=f"{mode}, padding_idx")
        yield Sample((i(IDX), w(), i(OFFSETS + [8])), {"mode": mode, "include_last_offset": True},
                     name=f"{mode}, include_last_offset")
    yield Sample((i(IDX), w(), i(OFFSETS)), {"mode": "sum", "per_sample_weights": make(8, **kw)},
                 name="per_sample_weights")
    yield Sample((i([IDX[:4], IDX[4:]]), w()), {"mode": "sum", "per_sample_weights": make(2, 4, **kw),
                                                 "padding_idx": -1}, name="per_sample_weights, 2-d, padding_idx -1")
    yield Sample((i([], ), w(), i([0, 0])), {"mode": "sum"}, name="empty input")
    yield Sample((i(IDX), w(), i(OFFSETS[:1] + [8])), {"include_last_offset": True, "mode": "max"},
                 name="one bag, include_last_offset")


def errors(device):
    w = make(7, 3, device=device, dtype=None, requires_grad=False)
    i = lambda v: torch.tensor(v, device=device, dtype=torch.long)  # noqa: E731
    yield ErrorSample((i(IDX), w), name="1-d input without offsets", error=ValueError)
    yield ErrorSample((i([IDX]), w, i([0])), name="2-d input with offsets", error=ValueError)
    yield ErrorSample((i(IDX), w, i([1, 3])), name="offsets[0] not 0")
    yield ErrorSample((i(IDX), w, i([0, 9])), name="offsets past the input")
    yield ErrorSample((i(IDX), w, i(OFFSETS)), {"mode": "median"}, name="unknown mode", error=ValueError)
    yield ErrorSample((i(IDX), w, i(OFFSETS)), {"mode": "max", "scale_grad_by_freq": True}, name="max, freq",
                      error=ValueError)
    yield ErrorSample((i(IDX), w, i(OFFSETS)), {"mode": "mean", "per_sample_weights": make(8, device=device,
                      dtype=None, requires_grad=False)}, name="per_sample_weights with mean", error=NotImplementedError)
    yield ErrorSample((i(IDX), w, i(OFFSETS)), {"padding_idx": 7}, name="padding_idx out of range")
    yield ErrorSample((i(IDX), w[0], i(OFFSETS)), name="1-d weight", error=ValueError)


# op-table entries, collected by manualgrad/ops.py
OPS = [OpSpec("embedding_bag", MF.embedding_bag, F.embedding_bag, EmbeddingBagFunction, samples, errors)]
