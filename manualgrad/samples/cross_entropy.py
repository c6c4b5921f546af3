"""Samples for ``nll_loss`` and ``cross_entropy`` (class indices, and class probabilities for
``cross_entropy``). C = 4 classes throughout; class-index targets come from the global RNG."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import functional as MF
from ..functions.cross_entropy import CrossEntropyFunction
from ..functions.nll import NLLLossFunction
from ..opspec import OpSpec
from . import ErrorSample, Sample, expanded, make, noncontiguous

C = 4
REDUCTIONS = ("mean", "sum", "none")
INF, NAN = float("inf"), float("nan")


def _targets(*shape, device, ignored=()):
    """Random class indices of ``shape``; the flat positions in ``ignored`` set to −100."""
    t = torch.randint(0, C, shape, device=device)
    t.view(-1)[list(ignored)] = -100
    return t


def _class_index(device, dtype):
    """What both ops take: class-index targets with every reduction, weight, ignore_index,
    shape and layout."""
    kw = dict(device=device, dtype=dtype)
    x = lambda *s, **k: make(*s, **kw, **k)  # noqa: E731
    t = lambda *s, **k: _targets(*s, device=device, **k)  # noqa: E731
    w = make(C, **kw, requires_grad=False, low=0.1, high=2.0)
    for red in REDUCTIONS:
        yield Sample((x(5, C), t(5)), {"reduction": red}, name=f"reduction={red}")
        yield Sample((x(5, C), t(5, ignored=[1])), {"reduction": red, "weight": w}, name=f"weighted {red}")
    yield Sample((x(C), t()), name="unbatched (C), 0-d target")
    yield Sample((x(C), t()), {"reduction": "none", "weight": w}, name="unbatched none weighted")
    # torch's own backward fails here ("size mismatch"): forward only; tests/test_cross_entropy.py
    # checks our gradient against the 0-d target's
    yield Sample((x(C, requires_grad=False), t(1)), {"reduction": "none"}, name="unbatched (C), (1) target")
    yield Sample((x(C), torch.tensor(-100, device=device)), {"reduction": "sum"}, name="unbatched ignored")
    yield Sample((x(2, C, 3), t(2, 3, ignored=[2])), {"reduction": "none"}, name="(N, C, d) none")
    yield Sample((x(2, C, 3), t(2, 3)), {"weight": w}, name="(N, C, d) weighted mean")
    yield Sample((x(2, C, 3, 2), t(2, 3, 2, ignored=[0, 5])), {"weight": w}, name="(N, C, d1, d2) weighted")
    yield Sample((x(2, C, 2, 1, 2), t(2, 2, 1, 2)), {"reduction": "sum"}, name="(N, C, d1, d2, d3) sum")
    yield Sample((x(0, C), t(0)), name="empty batch mean (nan)")
    yield Sample((x(0, C), t(0)), {"reduction": "sum", "weight": w}, name="empty batch sum")
    yield Sample((x(2, C, 0), t(2, 0)), {"reduction": "none"}, name="empty spatial none")
    yield Sample((noncontiguous(5, C, **kw), t(10)[::2]), {"weight": w}, name="non-contiguous")
    yield Sample((expanded(5, C, **kw), t(5)), {"reduction": "sum"}, name="expanded input")
    yield Sample((x(5, C), torch.tensor([0, 2, 2, 1, 3], device=device)), {"ignore_index": 2, "weight": w},
                 name="ignore_index=2 (a real class)")
    yield Sample((x(5, C), torch.tensor([0, -1, 3, -1, 1], device=device)), {"ignore_index": -1,
                 "reduction": "none"}, name="ignore_index=-1")
    yield Sample((x(3, C), t(3, ignored=[0, 1, 2])), {"weight": w}, name="all ignored mean (nan)",
                 gradcheck=False)
    yield Sample((x(3, C), t(3, ignored=[0, 1, 2])), {"reduction": "sum"}, name="all ignored sum")
    yield Sample((x(5, C), t(5).to(torch.uint8)), name="uint8 target")
    yield Sample((x(5, C), t(5).to(torch.uint8)), {"reduction": "none", "weight": w}, name="uint8 target none")
    yield Sample((x(5, C), t(5, ignored=[2])), {"reduction": "elementwise_mean", "weight": w},
                 name="elementwise_mean (deprecated 'mean') weighted")
    yield Sample((x(0, C), t(0).to(torch.uint8)), {"reduction": "sum"}, name="uint8 target, empty batch")
    for sa, r in ((False, None), (None, False), (True, True)):
        yield Sample((x(5, C), t(5)), {"size_average": sa, "reduce": r, "weight": w},
                     name=f"legacy size_average={sa} reduce={r} weighted")
    yield Sample((x(5, C, requires_grad=False), t(5)), name="input without grad")


def nll_samples(device, dtype):
    kw = dict(device=device, dtype=dtype)
    yield from _class_index(device, dtype)
    logp = torch.tensor([[-INF, -1.0, -2.0, -0.5], [-1.0, NAN, -0.3, -2.0], [NAN, -1.0, -1.0, -1.0]], **kw)
    yield Sample((logp.requires_grad_(), torch.tensor([0, 2, 0], device=device)), {"reduction": "none"},
                 name="±inf/nan: inf at its target, nan elsewhere unused, nan at its target", gradcheck=False)


def _logits(rows, device, dtype):
    return torch.tensor(rows, device=device, dtype=dtype).requires_grad_()


def ce_samples(device, dtype):
    kw = dict(device=device, dtype=dtype)
    x = lambda *s, **k: make(*s, **kw, **k)  # noqa: E731
    t = lambda *s, **k: _targets(*s, device=device, **k)  # noqa: E731
    w = make(C, **kw, requires_grad=False, low=0.1, high=2.0)
    yield from _class_index(device, dtype)
    # label smoothing with class indices
    for red in REDUCTIONS:
        yield Sample((x(5, C), t(5)), {"label_smoothing": 0.1, "reduction": red}, name=f"smoothing {red}")
        yield Sample((x(5, C), t(5, ignored=[3])), {"label_smoothing": 0.2, "weight": w, "reduction": red},
                     name=f"smoothing + weight + ignored {red}")
    yield Sample((x(5, C), t(5)), {"label_smoothing": 1.0}, name="smoothing 1.0")
    for red in REDUCTIONS:  # torch: ε/C = ∞ times the (empty) smoothing sum
        yield Sample((x(0, 0), t(0)), {"label_smoothing": 0.3, "reduction": red},
                     name=f"smoothing, no rows, no classes {red}", gradcheck=False)
    yield Sample((x(C), t()), {"label_smoothing": 0.3, "weight": w}, name="smoothing unbatched")
    yield Sample((x(2, C, 3, 2), t(2, 3, 2, ignored=[1])), {"label_smoothing": 0.3, "weight": w},
                 name="smoothing (N, C, d1, d2) weighted")
    yield Sample((x(3, C), t(3, ignored=[0, 1, 2])), {"label_smoothing": 0.1}, name="smoothing all ignored (nan)",
                 gradcheck=False)
    # class probabilities (any real target is allowed, and it gets a gradient)
    p = lambda *s, **k: make(*s, **{**kw, **k}, low=0.0, high=1.0)  # noqa: E731
    for red in REDUCTIONS:
        yield Sample((x(5, C), p(5, C)), {"reduction": red}, name=f"probabilities {red}")
        yield Sample((x(5, C), p(5, C)), {"reduction": red, "weight": w, "label_smoothing": 0.25},
                     name=f"probabilities weighted smoothed {red}")
    yield Sample((x(5, C), p(5, C)), {"weight": x(C, low=0.1)}, name="probabilities, weight with grad")
    yield Sample((x(C), p(C)), {"weight": w}, name="probabilities unbatched")
    for red in ("sum", "none"):  # torch refuses only the weighted smoothed 'mean' of a uint8 target
        yield Sample((x(5, C), t(5).to(torch.uint8)), {"label_smoothing": 0.1, "weight": w, "reduction": red},
                     name=f"uint8 target, weighted smoothed {red}")
    yield Sample((x(0, C), t(0).to(torch.uint8)), {"label_smoothing": 0.1, "weight": w},
                 name="uint8 target, weighted smoothed mean of an empty batch (nan)")
    yield Sample((x(5, C), p(5, C)), {"reduction": "elementwise_mean"}, name="probabilities elementwise_mean")
    yield Sample((x(2, C, 3, 2), p(2, C, 3, 2)), {"label_smoothing": 0.5, "reduction": "sum"},
                 name="probabilities (N, C, d1, d2)")
    yield Sample((x(0, C), p(0, C)), name="probabilities empty mean (nan)")
    yield Sample((x(5, C), p(5, C, requires_grad=False)), name="probabilities target without grad")
    yield Sample((x(5, C, requires_grad=False), p(5, C)), name="probabilities input without grad")
    yield Sample((x(5, C), p(5, C, dtype=torch.float64)), {"reduction": "none"}, name="float64 probabilities")
    yield Sample((x(5, C), p(5, C)), {"ignore_index": -1}, name="probabilities, negative ignore_index")
    yield Sample((noncontiguous(3, C, **kw), noncontiguous(3, C, **kw).detach().abs_().requires_grad_()),
                 name="probabilities non-contiguous")
    yield Sample((x(3, C), expanded(3, C, **kw)), {"reduction": "sum"}, name="probabilities expanded target")
    # large and non-finite logits
    huge = [[1e4, -1e4, 0.0, 5e3], [-1e4, -1e4, 1e4, 1e4], [1e4, 1e4 - 1, 1e4 - 2, 1e4 - 3]]
    yield Sample((_logits(huge, **kw), torch.tensor([1, 0, 3], device=device)), {"reduction": "none"},
                 name="logits ±1e4")
    yield Sample((_logits(huge, **kw), torch.tensor([1, 0, 3], device=device)), {"label_smoothing": 0.1},
                 name="logits ±1e4 smoothed")
    yield Sample((_logits(huge, **kw), p(3, C)), name="logits ±1e4 probabilities")
    odd = [[-INF, 0.0, 1.0, 2.0], [INF, 0.0, 1.0, 2.0], [NAN, 0.0, 1.0, 2.0], [-INF, -INF, -INF, -INF]]
    for eps in (0.0, 0.1):
        yield Sample((_logits(odd, **kw), torch.tensor([2, 1, 0, 3], device=device)),
                     {"reduction": "none", "label_smoothing": eps}, name=f"±inf/nan logits, smoothing {eps}",
                     gradcheck=False)
    yield Sample((_logits(odd[:1], **kw), torch.tensor([0], device=device)), name="-inf logit at the target",
                 gradcheck=False)


# ---------------------------------------------------------------- bad input


def _class_index_errors(device, op):
    x = make(3, 5, device=device, dtype=None, requires_grad=False)
    x4 = make(2, 5, 3, 2, device=device, dtype=None, requires_grad=False)
    t = lambda *v, **k: torch.tensor(v, device=device, **k)  # noqa: E731
    z = lambda *s, dtype=torch.long: torch.zeros(s, dtype=dtype, device=device)  # noqa: E731
    ones = lambda *s, **k: torch.ones(s, device=device, **k)  # noqa: E731
    yield ErrorSample((x, t(0, 1, 7)), name="target out of range")
    yield ErrorSample((x, t(0, -1, 2)), name="negative target")
    yield ErrorSample((x, t(0, 5, 2)), {"ignore_index": 5, "weight": ones(4)}, name="weight size (before bounds)")
    yield ErrorSample((x, t(0, -100, 9)), {"reduction": "none"}, name="out of range, none")
    yield ErrorSample((make(2, 5, 3, device=device, dtype=None), z(2, 3) + 5), name="(N, C, d) out of range")
    yield ErrorSample((x4, z(2, 3, 2) - 3), name="(N, C, d1, d2) out of range")
    for dtype in (torch.int32, torch.float32, torch.bool):
        yield ErrorSample((x, z(3, dtype=dtype)), name=f"{dtype} target")
    yield ErrorSample((x4, z(2, 3, 2, dtype=torch.uint8)), name="uint8 target with (N, C, d1, d2)")
    yield ErrorSample((make(2, 5, 3, device=device, dtype=None), z(2, 3, dtype=torch.uint8)),
                      name="uint8 target with (N, C, d)")
    yield ErrorSample((x, t(0, 1, 2, 3)), name="batch size mismatch")
    yield ErrorSample((x, t(1)), name="0-d target for (N, C)")
    yield ErrorSample((make(5, device=device, dtype=None), t(0, 1)), name="(2) target for (C)")
    yield ErrorSample((x, z(3, 2)), name="multi-target")
    yield ErrorSample((make(2, 5, 3, device=device, dtype=None), z(2, 4)), name="(N, C, d) target size")
    yield ErrorSample((x4, z(2, 3)), name="(N, C, d1, d2) target rank")
    yield ErrorSample((x4, z(2, 3, 3)), name="(N, C, d1, d2) size mismatch")
    yield ErrorSample((z(1, 0, 1, dtype=None), z(1, 1)), name="(N, 0, d) size mismatch (viewed (N, 0, 0, 0))")
    yield ErrorSample((z(2, 0, 2, 1, 1, dtype=None), z(2, 2, 1, 1)), name="(N, 0, d1, d2, d3) size mismatch")
    yield ErrorSample((x, t(0, 1, 2)), {"weight": ones(4)}, name="weight size")
    yield ErrorSample((x, t(0, 1, 2)), {"weight": ones(5, 1)}, name="weight rank")
    yield ErrorSample((x4, z(2, 3, 2)), {"weight": ones(4)}, name="(N, C, d1, d2) weight size")
    yield ErrorSample((x, t(0, 1, 9)), {"weight": ones(5, dtype=torch.float64)}, name="weight dtype")
    yield ErrorSample((x, t(0, 1, 2)), {"weight": ones(5, requires_grad=True)}, name="weight requires grad")
    yield ErrorSample((x4, z(2, 3, 2)), {"weight": ones(5, requires_grad=True)}, name="(N, C, d1, d2) weight grad")
    yield ErrorSample((x.long(), t(0, 1, 9)), name="integer input")
    yield ErrorSample((x, t(0, 1, 2)), {"reduction": "avg"}, name="bad reduction")
    if op == "nll_loss":
        yield ErrorSample((make(device=device, dtype=None), t(0)), name="0-d input")


def nll_errors(device):
    yield from _class_index_errors(device, "nll_loss")


def ce_errors(device):
    yield from _class_index_errors(device, "cross_entropy")
    x = make(3, 5, device=device, dtype=None, requires_grad=False)
    t = torch.tensor([0, 1, 2], device=device)
    probs = make(3, 5, device=device, dtype=None, requires_grad=False, low=0, high=1)
    smoothing = "label_smoothing must be between 0.0 and 1.0. Got: -0.1$"
    yield ErrorSample((x, t), {"label_smoothing": 1.5}, name="label_smoothing > 1")
    yield ErrorSample((x, t.to(torch.uint8)), {"label_smoothing": 0.1, "weight": torch.ones(5, device=device)},
                      name="uint8 target, weighted smoothed mean (torch's gather refuses it)")
    yield ErrorSample((x, probs), {"label_smoothing": 2.0}, name="label_smoothing > 1, probabilities")
    yield ErrorSample((x, t), {"label_smoothing": -0.1}, name="label_smoothing < 0",
                      error=RuntimeError, match=smoothing)
    yield ErrorSample((x, probs), {"label_smoothing": -0.1}, name="label_smoothing < 0, probabilities",
                      error=RuntimeError, match=smoothing)
    for bad, name in (((x.long(), t), "integer input"), ((make(5, 3, 0, 4, device=device, dtype=None).int(),
                                                        torch.zeros(5, 0, 4, dtype=torch.long, device=device)),
                                                       "empty integer (N, C, 0, d) input")):
        yield ErrorSample(bad, {"label_smoothing": -0.1}, name=f"label_smoothing < 0 after torch's errors: {name}")
    yield ErrorSample((x, probs), {"ignore_index": 1}, name="ignore_index with probabilities")
    yield ErrorSample((x, probs), {"weight": torch.ones(4, device=device)}, name="weight size, probabilities")
    yield ErrorSample((x, torch.zeros(3, 5, dtype=torch.long, device=device)), name="integer probabilities")
    yield ErrorSample((make(device=device, dtype=None), torch.tensor(0.5, device=device)),
                      name="0-d input, 0-d probability")
    yield ErrorSample((make(device=device, dtype=None), t), name="0-d input, class indices")
    yield ErrorSample((x, t), {"weight": torch.ones(5, device=device, requires_grad=True), "label_smoothing": 0.1},
                      name="weight requires grad, smoothing")
    yield ErrorSample((x.long(), probs), name="integer input, probabilities")


# op-table entries, collected by manualgrad/ops.py
OPS = [
    OpSpec("nll_loss", MF.nll_loss, F.nll_loss, NLLLossFunction, nll_samples, nll_errors),
    OpSpec("cross_entropy", MF.cross_entropy, F.cross_entropy, CrossEntropyFunction, ce_samples, ce_errors),
]
