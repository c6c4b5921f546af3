"""Samples for ``linear_cross_entropy`` (small chunks, so that several chunks and a ragged last
one are exercised)."""

from __future__ import annotations

import re
from types import SimpleNamespace

import torch
import torch.nn.functional as F

from .. import functional as MF
from ..functions.linear_cross_entropy import LinearCrossEntropyFunction
from ..opspec import OpSpec
from . import ErrorSample, Sample, make, noncontiguous


def chunks(n):
    """``options`` with a ``batch_chunk_size``, as torch's LinearCrossEntropyOptions has."""
    return SimpleNamespace(batch_chunk_size=n)


def samples(device, dtype):
    kw = dict(device=device, dtype=dtype)
    t = torch.tensor([0, 5, 2, 2, 1, 3, 4], device=device)
    x, w, b = (lambda: make(7, 5, **kw)), (lambda: make(6, 5, **kw)), (lambda: make(6, **kw))
    yield Sample((x(), w(), t), name="default (one chunk)")
    yield Sample((x(), w(), t), dict(linear_bias=b(), options=chunks(3)), name="bias, ragged chunks of 3")
    for red in ("sum", "none"):
        yield Sample((x(), w(), t), dict(linear_bias=b(), reduction=red, options=chunks(2)), name=red)
    cw = make(6, **kw, requires_grad=False, low=0.2, high=1.0)
    yield Sample((x(), w(), t), dict(weight=cw, label_smoothing=0.1, options=chunks(3)), name="class weight, smoothing")
    yield Sample((x(), w(), t), dict(weight=cw, options=chunks(3)), name="class weight (torch's nll_loss kernel)")
    yield Sample((x(), w(), t), dict(weight=cw, reduction="elementwise_mean"), name="elementwise_mean (deprecated)")
    yield Sample((x(), w(), t), dict(ignore_index=2, options=chunks(3)), name="ignore_index")
    yield Sample((x(), w(), torch.full((7,), -100, device=device)), dict(options=chunks(4)),
                 name="every target ignored (NaN mean)", gradcheck=False)
    yield Sample((make(5, **kw), w(), torch.tensor(4, device=device)), dict(linear_bias=b()), name="unbatched")
    yield Sample((make(0, 5, **kw), w(), t[:0]), dict(reduction="sum"), name="empty batch")
    yield Sample((noncontiguous(7, 5, **kw), noncontiguous(6, 5, **kw), t), dict(options=chunks(3)),
                 name="non-contiguous")
    probs = torch.softmax(make(7, 6, **kw, requires_grad=False), 1)
    yield Sample((x(), w(), probs), dict(linear_bias=b()), name="probability targets (composite)", node=False)
    yield Sample((make(4, 5, **kw), make(6, 2, 5, **kw), torch.randint(0, 6, (4, 2), device=device)),
                 dict(linear_bias=make(6, 2, **kw)), name="K-dim weight (composite)", node=False)


def errors(device):
    """Bad calls. The shape checks are torch 2.13's Python checks: compared with torch where it has
    ``F.linear_cross_entropy``, else with torch 2.13's messages written here (``match``)."""
    f = lambda *s: make(*s, device=device, dtype=None, requires_grad=False)  # noqa: E731
    own = lambda msg: None if hasattr(F, "linear_cross_entropy") else re.escape(msg)  # noqa: E731
    t = torch.tensor([0, 1, 2], device=device)
    yield ErrorSample((f(3, 2, 5), f(6, 5), t), name="3-d input",
                      match=own("expected input with dimensionality 1 or 2, got 3"))
    yield ErrorSample((f(3, 5), f(5), t), name="1-d weight",
                      match=own("expected linear_weight with dimensionality at least 2, got 1"))
    yield ErrorSample((f(3, 4), f(6, 5), t), name="in_features mismatch",
                      match=own("expected equal input and linear_weight last dimensions (in_features), got 4 and 5"))
    yield ErrorSample((f(3, 5), f(6, 5), t), dict(linear_bias=f(5)), name="bias shape",
                      match=own("expected linear_bias shape (6,), got (5,)"))
    yield ErrorSample((f(5), f(6, 2, 5), t[0]), name="K-dim weight, unbatched input",
                      match=own("K-dimensional loss defined by linear_weight shape (6, 2, 5) requires batched input"))
    yield ErrorSample((f(3, 5), f(6, 5), torch.tensor([0, 9, 1], device=device)), name="target out of range")
    for dtype in (torch.long, torch.bool, torch.complex64):  # linear's error, then log_softmax's, before the target's
        yield ErrorSample((f(3, 5).to(dtype), f(6, 5).to(dtype), t.int()), name=f"{dtype} input and weight")
    yield ErrorSample((f(3, 5).long(), f(6, 5), t), name="integer input, float weight")
    yield ErrorSample((f(3, 5), f(6, 5), t.to(torch.uint8)), dict(weight=f(6), label_smoothing=0.1),
                      name="uint8 target, weighted smoothed mean (torch's gather refuses it)")
    yield ErrorSample((f(3, 5), f(6, 5), t), dict(linear_bias=f(6).double()), name="float64 bias")
    yield ErrorSample((f(3, 5), f(6, 5), t), dict(label_smoothing=1.5), name="label_smoothing > 1")
    yield ErrorSample((f(3, 5), f(6, 5), t), dict(weight=f(5)), name="class weight shape")
    yield ErrorSample((f(3, 5), f(6, 5), torch.softmax(f(3, 6), 1)), dict(ignore_index=1),
                      name="probabilities with ignore_index",
                      match=own("ignore_index cannot be specified when target contains probabilities"))


# op-table entries, collected by manualgrad/ops.py
def reference(input, linear_weight, target, *, linear_bias=None, weight=None, reduction="mean",
              ignore_index=None, label_smoothing=0.0, options=None):
    """torch's unchunked reference: ``F.linear_cross_entropy`` without ``options`` (cross_entropy
    of the full logits) where torch has it, else that composite written out."""
    if hasattr(F, "linear_cross_entropy"):
        return F.linear_cross_entropy(input, linear_weight, target, linear_bias=linear_bias, weight=weight,
                                      reduction=reduction, ignore_index=ignore_index,
                                      label_smoothing=label_smoothing)
    n_classes, out = linear_weight.shape[0], tuple(linear_weight.shape[1:-1])
    shape = (*input.shape[:-1], n_classes, *out)
    bias = None if linear_bias is None else linear_bias.reshape(-1)
    logits = F.linear(input, linear_weight.reshape(-1, input.shape[-1]), bias).reshape(shape)
    if ignore_index is not None and tuple(target.shape) == shape:
        raise RuntimeError("ignore_index cannot be specified when target contains probabilities")
    return F.cross_entropy(logits, target, weight=weight, reduction=reduction,
                           ignore_index=-100 if ignore_index is None else ignore_index, label_smoothing=label_smoothing)


OPS = [OpSpec("linear_cross_entropy", MF.linear_cross_entropy, reference, LinearCrossEntropyFunction, samples, errors)]
