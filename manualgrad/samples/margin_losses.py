"""Samples for the margin losses: margin_ranking, hinge_embedding, soft_margin, cosine_embedding,
multi_margin, multilabel_margin, triplet_margin, triplet_margin_with_distance.
``SAMPLES[op]`` / ``ERRORS[op]`` are the op table's generators."""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F

from .. import functional as MF
from ..functions import margin_losses as _fn
from ..opspec import OpSpec
from . import ErrorSample, Sample, make, noncontiguous
from .losses import LEGACY, REDUCTIONS, _exact

LOW_PRECISION = (torch.float16, torch.bfloat16)


def _signs(*shape, device, dtype, requires_grad=False, zeros=False):
    """±1 labels (``zeros``: some 0s too, which neither branch takes)."""
    values = torch.tensor([-1.0, 1.0, 0.0] if zeros else [-1.0, 1.0], device=device, dtype=dtype)
    picked = values[torch.randint(0, len(values), shape, device=device)]
    return picked.requires_grad_(requires_grad)


def _reductions(args, extra=None, legacy=True, alias=True):
    """Every reduction, (``alias``) the deprecated 'elementwise_mean' and (``legacy``) the
    size_average/reduce pairs."""
    extra = extra or {}
    for red in (*REDUCTIONS, "elementwise_mean") if alias else REDUCTIONS:
        yield Sample(args(), {**extra, "reduction": red}, name=f"reduction={red}")
    for sa, r in LEGACY if legacy else ():
        yield Sample(args(), {**extra, "size_average": sa, "reduce": r}, name=f"legacy size_average={sa} reduce={r}")


def _margin_ranking(device, dtype):
    x = partial(make, device=device, dtype=dtype)
    s = partial(_signs, device=device, dtype=dtype)
    yield from _reductions(lambda: (x(4, 5), x(4, 5), s(4, 5, requires_grad=True)))
    for margin in (0.5, -0.5):
        yield Sample((x(4, 5), x(4, 5), s(4, 5)), {"margin": margin}, name=f"margin={margin}")
    yield Sample((x(4, 1), x(1, 5), x(4, 5)), {"reduction": "none"}, name="broadcast, real-valued target")
    yield Sample((x(), x(), s(requires_grad=True)), name="0-d")
    yield Sample((x(0, 3), x(0, 3), s(0, 3)), {"reduction": "sum"}, name="empty")
    yield Sample((noncontiguous(3, 4, device=device, dtype=dtype), x(3, 4), s(3, 4)), name="non-contiguous")
    kw = dict(device=device, dtype=dtype)
    yield Sample((_exact([1.0, 2.0, 0.5], **kw), _exact([1.0, 1.0, 1.5], **kw), _exact([1.0, 1.0, -1.0], **kw)),
                 {"margin": 1.0, "reduction": "none"}, name="kinks h = 0 (gradient passes)", gradcheck=False)


def _hinge_embedding(device, dtype):
    x = partial(make, device=device, dtype=dtype)
    s = partial(_signs, device=device, dtype=dtype)
    yield from _reductions(lambda: (x(4, 5), s(4, 5)))
    for margin in (0.5, -1.0, 2.0):
        yield Sample((x(4, 5), s(4, 5)), {"margin": margin}, name=f"margin={margin}")
    yield Sample((x(4, 5), s(4, 5, zeros=True)), {"reduction": "none"}, name="target 0: both terms")
    yield Sample((x(4, 5), s(5)), {"reduction": "sum"}, name="target broadcast")
    yield Sample((x(), s()), name="0-d")
    yield Sample((x(0, 3), s(0, 3)), name="empty mean (nan)")
    yield Sample((x(3, 4), torch.randint(0, 2, (3, 4), device=device) * 2 - 1), name="integer target")
    yield Sample((_exact([1.0, 0.5, 2.0], device=device, dtype=dtype), s(3).fill_(-1)), {"reduction": "none"},
                 name="kink at margin − x = 0", gradcheck=False)


def _soft_margin(device, dtype):
    x = partial(make, device=device, dtype=dtype)
    s = partial(_signs, device=device, dtype=dtype)
    yield from _reductions(lambda: (x(4, 5), s(4, 5)))
    yield Sample((x(), s()), name="0-d")
    yield Sample((x(0, 3), s(0, 3)), {"reduction": "sum"}, name="empty")
    yield Sample((noncontiguous(3, 4, device=device, dtype=dtype), s(3, 4)), name="non-contiguous")
    yield Sample((x(3, 4), x(3, 4, requires_grad=False)), name="real-valued target")


def _cosine_embedding(device, dtype):
    x = partial(make, device=device, dtype=dtype)
    s = partial(_signs, device=device, dtype=dtype)
    yield from _reductions(lambda: (x(4, 5), x(4, 5), s(4)))
    for margin in (0.3, -0.5):
        yield Sample((x(4, 5), x(4, 5), s(4)), {"margin": margin, "reduction": "none"}, name=f"margin={margin}")
    yield Sample((x(5), x(5), s().fill_(-1)), {"margin": -0.9}, name="1-d inputs, 0-d target -1")
    yield Sample((x(5), x(5), s().fill_(1)), name="1-d inputs, 0-d target 1")
    yield Sample((x(4, 5), x(4, 5), s(4, zeros=True)), {"reduction": "sum"}, name="target 0: no loss")
    yield Sample((x(4, 5), x(1, 5), s(4)), name="broadcast input2")
    yield Sample((x(0, 5), x(0, 5), s(0)), {"reduction": "sum"}, name="empty batch")
    yield Sample((x(3, 4), x(3, 4, requires_grad=False), torch.tensor([1, -1, 1], device=device)),
                 name="integer target, input2 without grad")


def _class_targets(N, C, device):
    return torch.randint(0, C, (N,), device=device)


def _multi_margin(device, dtype):
    if dtype in LOW_PRECISION:  # torch has no CPU kernel for them (an error sample)
        return
    x = partial(make, device=device, dtype=dtype)
    y = partial(_class_targets, device=device)
    w = partial(make, device=device, dtype=dtype, requires_grad=False, low=0.5, high=2.0)
    yield from _reductions(lambda: (x(4, 5), y(4, 5)))
    for p in (1, 2):
        for margin in (1.0, 0.5, -0.5):
            yield Sample((x(4, 5), y(4, 5)), {"p": p, "margin": margin}, name=f"p={p} margin={margin}")
        for red in REDUCTIONS:
            yield Sample((x(4, 5), y(4, 5)), {"p": p, "weight": w(5), "reduction": red}, name=f"p={p} weight {red}")
    yield Sample((x(4, 5), y(4, 5), 2, 0.7, w(5)), name="positional p, margin, weight")
    yield Sample((x(5), torch.tensor(2, device=device)), {"reduction": "none"}, name="1-d input, 0-d target")
    yield Sample((x(5), torch.tensor([3], device=device)), name="1-d input, 1-element target")
    yield Sample((x(0, 5), y(0, 5)), {"reduction": "none"}, name="empty batch (reduced: tests/test_margin_losses.py)")
    yield Sample((noncontiguous(3, 4, device=device, dtype=dtype), y(3, 4)), name="non-contiguous")


def _multilabel_targets(device):
    return torch.tensor([[3, 0, -1, 1, 2], [0, 1, 2, 3, 4], [-1, 0, 0, 0, 0], [1, 1, 4, -1, 0]], device=device)


def _multilabel_margin(device, dtype):
    if dtype in LOW_PRECISION:  # torch has no CPU kernel for them (an error sample)
        return
    x = partial(make, device=device, dtype=dtype)
    yield from _reductions(lambda: (x(4, 5), _multilabel_targets(device)))
    yield Sample((x(5), torch.tensor([2, 4, -1, 0, 0], device=device)), {"reduction": "none"}, name="1-d")
    # reduced, torch's result of an empty batch is uninitialised memory (tests/test_margin_losses.py)
    yield Sample((x(0, 5), torch.zeros(0, 5, dtype=torch.long, device=device)), {"reduction": "none"}, name="empty")
    yield Sample((noncontiguous(4, 5, device=device, dtype=dtype), _multilabel_targets(device)), name="non-contiguous")


def _triplet(device, dtype):
    x = partial(make, device=device, dtype=dtype)
    yield from _reductions(lambda: (x(4, 5), x(4, 5), x(4, 5)))
    for p in (1.0, 2.0, 3.0):
        for swap in (False, True):
            yield Sample((x(4, 5), x(4, 5), x(4, 5)), {"p": p, "swap": swap, "margin": 2.0},
                         name=f"p={p} swap={swap}")
    yield Sample((x(4, 5), x(4, 5), x(4, 5), 0.5, 2, 1e-3, True), name="positional margin, p, eps, swap")
    yield Sample((x(5), x(5), x(5)), {"swap": True}, name="1-d")
    yield Sample((x(4, 5), x(1, 5), x(4, 5)), {"reduction": "none"}, name="broadcast positive")
    yield Sample((x(0, 5), x(0, 5), x(0, 5)), {"reduction": "sum"}, name="empty batch")


def _cosine_distance(a, b):
    """A user's distance: plain torch ops, differentiated by autograd on both sides."""
    return 1.0 - F.cosine_similarity(a, b, dim=-1)


def _triplet_with_distance(device, dtype):
    x = partial(make, device=device, dtype=dtype)
    for red in REDUCTIONS:
        yield Sample((x(4, 5), x(4, 5), x(4, 5)), {"reduction": red}, name=f"default distance {red}")
        yield Sample((x(4, 5), x(4, 5), x(4, 5)), {"reduction": red, "swap": True, "margin": 2.0},
                     name=f"swap {red}")
    yield Sample((x(0, 5), x(0, 5), x(0, 5)), {"reduction": "sum"}, name="empty batch")
    # a user's distance: its output goes through our minimum and margin-ranking hinge, a
    # composition of Functions (node=False: the final node is MarginRankingLossFunction)
    for red in REDUCTIONS:
        yield Sample((x(4, 5), x(4, 5), x(4, 5)), {"reduction": red, "distance_function": _cosine_distance,
                                                   "margin": 0.5}, name=f"user distance {red}", node=False)
    yield Sample((x(5), x(5), x(5)), {"distance_function": _cosine_distance, "swap": True},
                 name="1-d, user distance, swap", node=False)


def _margin_ranking_errors(device):
    t = partial(make, device=device, dtype=None, requires_grad=False)
    yield ErrorSample((t(4, 5), t(4, 5), t(4, 5)), {"reduction": "foo"}, name="bad reduction")
    yield ErrorSample((t(4, 5), t(4, 5), t(4)), name="target of another rank")
    yield ErrorSample((t(4, 5), t(4, 4), t(4, 5)), name="sizes do not broadcast")


def _hinge_errors(device):
    t = partial(make, device=device, dtype=None, requires_grad=False)
    yield ErrorSample((t(4, 5), t(4, 5)), {"reduction": "foo"}, name="bad reduction")
    yield ErrorSample((t(4, 5), t(3)), name="target does not broadcast")


def _soft_margin_errors(device):
    t = partial(make, device=device, dtype=None, requires_grad=False)
    yield ErrorSample((t(4, 5), t(4, 5)), {"reduction": "foo"}, name="bad reduction")
    yield ErrorSample((t(4, 5), t(4, 5).requires_grad_()), name="target requires grad")
    yield ErrorSample((t(4, 5), t(3)), name="target does not broadcast")


def _cosine_embedding_errors(device):
    t = partial(make, device=device, dtype=None, requires_grad=False)
    yield ErrorSample((t(4, 5), t(4, 5), t(4)), {"reduction": "foo"}, name="bad reduction")
    yield ErrorSample((t(4, 5), t(4, 5), t(4, 5)), name="2-d target")
    yield ErrorSample((t(5), t(5), t(4)), name="1-d target, 1-d inputs")
    yield ErrorSample((t(4, 5), t(4, 5), t()), name="0-d target, 2-d inputs")


def _multi_margin_errors(device):
    t = partial(make, device=device, dtype=None, requires_grad=False)
    y = torch.tensor([0, 1, 2, 3], device=device)
    yield ErrorSample((t(4, 5), y), {"reduction": "foo"}, name="bad reduction")
    yield ErrorSample((t(4, 5), y), {"p": 3}, name="p = 3")
    yield ErrorSample((t(4, 5), y), {"weight": t(5, 1)}, name="2-d weight")
    yield ErrorSample((t(4, 5), y), {"weight": t(4)}, name="weight of another size")
    yield ErrorSample((t(4, 5), y), {"weight": t(5).requires_grad_()}, name="weight requires grad")
    yield ErrorSample((t(4, 5), y[:3]), name="target of another size")
    yield ErrorSample((t(4, 5), y + 2), name="target out of range")
    yield ErrorSample((t(4, 0), y), name="no classes")
    yield ErrorSample((t(4, 5).bfloat16(), y), name="bfloat16 (no CPU kernel)")


def _multilabel_margin_errors(device):
    t = partial(make, device=device, dtype=None, requires_grad=False)
    y = _multilabel_targets(device)
    yield ErrorSample((t(4, 5), y), {"reduction": "foo"}, name="bad reduction")
    yield ErrorSample((t(4, 5), y[:, :3]), name="target of another shape")
    yield ErrorSample((t(4, 0), y[:, :0]), name="no classes")
    yield ErrorSample((t(4, 5).bfloat16(), y), name="bfloat16 (no CPU kernel)")


def _triplet_errors(device, with_distance=False):
    t = partial(make, device=device, dtype=None, requires_grad=False)
    yield ErrorSample((t(4, 5), t(4, 5), t(4, 5)), {"reduction": "foo"}, name="bad reduction")
    yield ErrorSample((t(4, 5), t(4, 5), t(4, 5)), {"margin": 0.0}, name="margin 0")
    yield ErrorSample((t(4, 5), t(4, 5), t(4, 5)), {"margin": -1.0, "reduction": "foo"},
                      name="bad reduction before margin")
    yield ErrorSample((t(4, 5), t(5), t(4, 5)), name="positive of another rank")
    if with_distance:
        yield ErrorSample((t(4, 5), t(4, 5), t(4, 5)), {"reduction": "elementwise_mean"},
                          name="no deprecated alias here")


SAMPLES = {"margin_ranking_loss": _margin_ranking, "hinge_embedding_loss": _hinge_embedding,
           "soft_margin_loss": _soft_margin, "cosine_embedding_loss": _cosine_embedding,
           "multi_margin_loss": _multi_margin, "multilabel_margin_loss": _multilabel_margin,
           "triplet_margin_loss": _triplet, "triplet_margin_with_distance_loss": _triplet_with_distance}
ERRORS = {"margin_ranking_loss": _margin_ranking_errors, "hinge_embedding_loss": _hinge_errors,
          "soft_margin_loss": _soft_margin_errors, "cosine_embedding_loss": _cosine_embedding_errors,
          "multi_margin_loss": _multi_margin_errors, "multilabel_margin_loss": _multilabel_margin_errors,
          "triplet_margin_loss": _triplet_errors,
          "triplet_margin_with_distance_loss": partial(_triplet_errors, with_distance=True)}


# op-table entries, collected by manualgrad/ops.py
OPS = [OpSpec(name, getattr(MF, name), getattr(F, name), function, SAMPLES[name], ERRORS[name])
       for name, function in [("margin_ranking_loss", _fn.MarginRankingLossFunction),
                              ("hinge_embedding_loss", _fn.HingeEmbeddingLossFunction),
                              ("soft_margin_loss", _fn.SoftMarginLossFunction),
                              ("cosine_embedding_loss", _fn.CosineEmbeddingLossFunction),
                              ("multi_margin_loss", _fn.MultiMarginLossFunction),
                              ("multilabel_margin_loss", _fn.MultiLabelMarginLossFunction),
                              ("triplet_margin_loss", _fn.TripletMarginLossFunction),
                              ("triplet_margin_with_distance_loss", _fn.TripletMarginLossFunction)]]
