"""Samples for ``nll_loss`` and ``cross_entropy``."""

from __future__ import annotations

import torch

from . import ErrorSample, Sample, make, noncontiguous


def _t(*shape, C, device):
    return torch.randint(0, C, shape, device=device)


def _shared(device, dtype, probs: bool):
    """Shapes, reductions, weights and ignore_index common to both ops."""
    kw = dict(device=device, dtype=dtype)
    w = make(4, **kw, requires_grad=False, low=0.1, high=2.0)
    for reduction in ("mean", "sum", "none"):
        yield Sample((make(5, 4, **kw), _t(5, C=4, device=device)), {"reduction": reduction})
        yield Sample((make(5, 4, **kw), _t(5, C=4, device=device)), {"reduction": reduction, "weight": w})
    yield Sample((make(4, **kw), _t(C=4, device=device)), name="unbatched (C)")
    yield Sample((make(2, 4, 3, 2, **kw), _t(2, 3, 2, C=4, device=device)), {"weight": w}, name="(N,C,d1,d2)")
    yield Sample((make(2, 4, 3, **kw), _t(2, 3, C=4, device=device)), {"reduction": "none"}, name="(N,C,d1) none")
    yield Sample((noncontiguous(5, 4, **kw), _t(5, C=4, device=device)), name="non-contiguous")
    yield Sample((make(0, 4, **kw), _t(0, C=4, device=device)), {"reduction": "sum"}, name="empty batch")
    ignored = torch.tensor([0, -100, 3, 1, -100], device=device)
    yield Sample((make(5, 4, **kw), ignored), {"weight": w}, name="ignore_index -100")
    yield Sample((make(5, 4, **kw), torch.tensor([0, 2, 2, 1, 3], device=device)), {"ignore_index": 2},
                 name="ignore_index 2")
    yield Sample((make(3, 4, **kw), torch.full((3,), -100, device=device)), name="all ignored: NaN mean",
                 gradcheck=False)
    yield Sample((make(5, 4, **kw), _t(5, C=4, device=device).to(torch.uint8)), name="uint8 target")
    yield Sample((make(5, 4, **kw), _t(5, C=4, device=device)), {"size_average": False}, name="legacy")


def nll_samples(device, dtype):
    yield from _shared(device, dtype, probs=False)


def ce_samples(device, dtype):
    kw = dict(device=device, dtype=dtype)
    yield from _shared(device, dtype, probs=True)
    w = make(4, **kw, requires_grad=False, low=0.1, high=2.0)
    for eps in (0.1, 1.0):
        yield Sample((make(5, 4, **kw), _t(5, C=4, device=device)), {"label_smoothing": eps})
    yield Sample((make(5, 4, **kw), torch.tensor([0, -100, 3, 1, 2], device=device)),
                 {"label_smoothing": 0.2, "weight": w, "reduction": "none"}, name="smoothing+weight+ignore none")
    yield Sample((make(2, 4, 3, **kw), _t(2, 3, C=4, device=device)), {"label_smoothing": 0.3, "weight": w},
                 name="smoothing spatial weighted mean")
    for reduction in ("mean", "sum", "none"):
        probs = torch.rand(5, 4, **kw).softmax(1).requires_grad_()
        yield Sample((make(5, 4, **kw), probs), {"reduction": reduction}, name=f"probabilities {reduction}")
    probs = torch.rand(2, 4, 3, **kw).softmax(1).requires_grad_()
    yield Sample((make(2, 4, 3, **kw), probs), {"weight": w, "label_smoothing": 0.25}, name="probabilities smoothed")
    yield Sample((make(4, **kw), torch.rand(4, **kw).softmax(0)), name="probabilities unbatched")
    huge = (torch.tensor([[1e4, -1e4, 0.0, 5e3], [-1e4, -1e4, 1e4, 1e4]], **kw)).requires_grad_()
    yield Sample((huge, torch.tensor([1, 0], device=device)), name="logits ±1e4", gradcheck=False)
    inf = torch.tensor([[-float("inf"), 0.0, 1.0, 2.0]], **kw).requires_grad_()
    yield Sample((inf, torch.tensor([2], device=device)), name="-inf logit", gradcheck=False)


def _errors(device, ce: bool):
    x = make(3, 5, device=device, dtype=None, requires_grad=False)
    t = lambda *v: torch.tensor(v, device=device)  # noqa: E731
    yield ErrorSample((x, t(0, 1, 7)), name="target out of range")
    yield ErrorSample((x, t(0, 1, -2)), name="negative target")
    yield ErrorSample((x, t(0.0, 1.0, 2.0)), name="float class target")
    yield ErrorSample((x, t(0, 1, 2).int()), name="int32 target")
    yield ErrorSample((x, t(0, 1, 2, 3)), name="batch size mismatch")
    yield ErrorSample((x, t(0, 1, 2)), {"weight": torch.ones(4, device=device)}, name="weight size")
    yield ErrorSample((x, t(0, 1, 2)), {"weight": torch.ones(5, device=device, dtype=torch.float64)},
                      name="weight dtype")
    yield ErrorSample((x, t(0, 1, 2)), {"weight": torch.ones(5, device=device, requires_grad=True)},
                      name="weight requires grad")
    yield ErrorSample((x, t(0, 1, 2)), {"reduction": "avg"}, name="bad reduction")
    x4 = make(2, 3, 4, 5, device=device, dtype=None, requires_grad=False)
    yield ErrorSample((x4, torch.zeros(2, 4, 4, dtype=torch.long, device=device)), name="spatial size mismatch")
    if ce:
        yield ErrorSample((x, t(0, 1, 2)), {"label_smoothing": 1.5}, name="label_smoothing > 1")
        yield ErrorSample((x, t(0, 1, 2)), {"label_smoothing": -0.1}, name="label_smoothing < 0",
                          error=RuntimeError, match="label_smoothing must be between 0.0 and 1.0")
        yield ErrorSample((x, torch.rand(3, 5, device=device)), {"ignore_index": 1}, name="ignore_index with probabilities")
        yield ErrorSample((x, torch.zeros(3, 5, dtype=torch.long, device=device)), name="integer probabilities")


def nll_errors(device):
    yield from _errors(device, ce=False)


def ce_errors(device):
    yield from _errors(device, ce=True)
