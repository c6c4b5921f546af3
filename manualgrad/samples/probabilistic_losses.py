"""Samples for kl_div, poisson_nll_loss, gaussian_nll_loss and multilabel_soft_margin_loss.
``SAMPLES[op]`` / ``ERRORS[op]`` are the op table's generators."""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F

from .. import functional as MF
from ..functions import probabilistic_losses as _fn
from ..opspec import OpSpec
from . import ErrorSample, Sample, make
from .losses import _common, _exact, _maker
from .margin_losses import _reductions


def _kl_div(device, dtype):
    x = _maker(device, dtype, -3.0, 0.0)  # log-probabilities
    p = _maker(device, dtype, 0.05, 1.0)  # probabilities (t log t: away from 0 for gradcheck)
    yield from _common(x, p)
    for log_target in (False, True):
        t = _maker(device, dtype, -3.0, 0.0) if log_target else p
        for red in ("batchmean", "mean", "sum", "none"):
            yield Sample((x(4, 5), t(4, 5)), {"reduction": red, "log_target": log_target},
                         name=f"log_target={log_target} {red}")
        yield Sample((x(), t()), {"reduction": "batchmean", "log_target": log_target}, name="0-d batchmean: the sum")
        yield Sample((x(0, 3), t(0, 3)), {"reduction": "batchmean", "log_target": log_target},
                     name="empty batchmean (nan)", gradcheck=False)
    yield Sample((x(4, 5), p(5)), {"reduction": "batchmean"}, name="target broadcast")
    for sa, r in ((True, True), (False, True), (None, False)):  # torch divides the legacy result by N too
        yield Sample((x(4, 5), p(4, 5)), {"size_average": sa, "reduce": r, "reduction": "batchmean"},
                     name=f"legacy {sa}/{r} with batchmean")
    kw = dict(device=device, dtype=dtype)
    yield Sample((_exact([-1.0, -2.0, -0.5], **kw), _exact([0.0, 0.5, 1.0], **kw)), {"reduction": "sum"},
                 name="target 0: dt = NaN as torch (xlogy)", gradcheck=False)


def _poisson_nll(device, dtype):
    x = _maker(device, dtype, -2.0, 2.0)
    rate = _maker(device, dtype, 0.1, 3.0)
    t = _maker(device, dtype, 0.0, 4.0)  # counts on both sides of the Stirling mask t > 1
    yield from _reductions(lambda: (x(4, 5), t(4, 5)), alias=False)
    for log_input in (True, False):
        for full in (False, True):
            for red in ("none", "mean", "sum"):
                yield Sample(((x if log_input else rate)(4, 5), t(4, 5)),
                             {"log_input": log_input, "full": full, "reduction": red},
                             name=f"log_input={log_input} full={full} {red}")
    yield Sample((rate(4, 5), t(4, 5), False, True, None, 0.5), name="positional log_input, full, eps=0.5")
    yield Sample((x(), t()), name="0-d")
    yield Sample((x(0, 3), t(0, 3)), {"reduction": "sum"}, name="empty")
    yield Sample((x(4, 5), t(5)), {"full": True}, name="target broadcast")
    yield Sample((x(3, 4), torch.randint(0, 5, (3, 4), device=device)), {"full": True}, name="integer counts")
    kw = dict(device=device, dtype=dtype)
    yield Sample((_exact([0.5, -1.0, 1.0], **kw), _exact([0.0, 1.0, 2.0], **kw)), {"full": True, "reduction": "sum"},
                 name="full with t = 0: dt = NaN as torch", gradcheck=False)


def _gaussian_nll(device, dtype):
    x = _maker(device, dtype, -2.0, 2.0)
    v = _maker(device, dtype, 0.2, 2.0)
    for red in ("none", "mean", "sum"):
        for full in (False, True):
            yield Sample((x(4, 5), x(4, 5), v(4, 5)), {"reduction": red, "full": full}, name=f"full={full} {red}")
        yield Sample((x(4, 5), x(4, 5), v(4)), {"reduction": red}, name=f"var one dim short {red}")
        yield Sample((x(4, 5), x(4, 5), v(4, 1)), {"reduction": red}, name=f"var (N, 1) {red}")
    yield Sample((x(4, 5), x(4, 5), v(1, 5)), name="var (1, C)")
    yield Sample((x(2, 3, 4), x(2, 3, 4), v(2, 1, 4)), name="var with one size-1 dim, rank 3")
    yield Sample((x(4, 5), x(4, 5), 0.5), {"full": True}, name="float var")
    yield Sample((x(4, 5), x(4, 5), v(4, 5), True, 0.1), name="positional full, eps=0.1")
    yield Sample((x(4, 5), x(5), v(4, 5)), name="target broadcast")
    yield Sample((x(), x(), v()), name="0-d")
    yield Sample((x(0, 3), x(0, 3), v(0, 3)), {"reduction": "sum"}, name="empty")
    yield Sample((x(4, 5), x(4, 5, requires_grad=False), v(4, 5, requires_grad=False)), name="only input")
    small = make(4, device=device, dtype=dtype, requires_grad=False, low=0.0, high=1e-3)
    # var below eps: torch passes the gradient through the clamp (straight-through), which is not
    # the clamped function's derivative, so no gradcheck; ours equals torch's
    yield Sample((x(4), x(4), small.requires_grad_()), {"eps": 0.01}, name="var below eps", gradcheck=False)


def _multilabel_soft_margin(device, dtype):
    x = _maker(device, dtype, -3.0, 3.0)
    t = _maker(device, dtype, 0.0, 1.0)
    w = _maker(device, dtype, 0.5, 2.0)
    yield from _reductions(lambda: (x(4, 5), t(4, 5)), alias=False)
    for red in ("none", "mean", "sum"):
        yield Sample((x(4, 5), t(4, 5), w(5)), {"reduction": red}, name=f"weight (C,) {red}")
        yield Sample((x(4, 5), t(4, 5)), {"weight": w(4, 5), "reduction": red}, name=f"weight (N, C) {red}")
    yield Sample((x(4, 5), t(4, 5)), {"weight": w(5, requires_grad=False)}, name="constant weight")
    yield Sample((x(4, 5), t(4, 5)), {"weight": w(4, 1)}, name="weight (N, 1)")
    yield Sample((x(5), t(5)), {"reduction": "none"}, name="1-d: one row")
    yield Sample((x(2, 3, 4), t(2, 3, 4)), {"reduction": "none"}, name="rank 3: the last dim is the class dim")
    yield Sample((x(0, 5), t(0, 5)), {"reduction": "sum"}, name="empty")
    yield Sample((x(4, 5), torch.randint(0, 2, (4, 5), device=device)), name="integer target")


def _errors(op, device):
    t = partial(make, device=device, dtype=None, requires_grad=False)
    args = (t(4, 5), t(4, 5).abs()) + ((t(4, 5).abs(),) if op == "gaussian_nll_loss" else ())
    yield ErrorSample(args, {"reduction": "foo"}, name="bad reduction")
    if op != "kl_div":  # these do not take torch's deprecated alias
        yield ErrorSample(args, {"reduction": "elementwise_mean"}, name="deprecated alias refused")
    if op in ("kl_div", "poisson_nll_loss", "multilabel_soft_margin_loss"):
        yield ErrorSample((t(4, 5), t(3)), name="target does not broadcast")
    if op == "gaussian_nll_loss":
        yield ErrorSample((t(4, 5), t(4, 5), -t(4, 5).abs() - 0.1), name="negative var")
        yield ErrorSample((t(4, 5), t(4, 5), -1.0), name="negative float var")
        yield ErrorSample((t(4, 5), t(4, 5), t(3, 5).abs()), name="var of incorrect size")
        yield ErrorSample((t(4, 5), t(4, 5), t(2, 1).abs()), name="var with two mismatched dims")
    if op == "multilabel_soft_margin_loss":
        yield ErrorSample((t(), t()), name="0-d input: no class dim")
        yield ErrorSample((t(4, 5), t(4, 5)), {"weight": t(3)}, name="weight does not broadcast")


NAMES = ("kl_div", "poisson_nll_loss", "gaussian_nll_loss", "multilabel_soft_margin_loss")
SAMPLES = {"kl_div": _kl_div, "poisson_nll_loss": _poisson_nll, "gaussian_nll_loss": _gaussian_nll,
           "multilabel_soft_margin_loss": _multilabel_soft_margin}
ERRORS = {op: partial(_errors, op) for op in NAMES}


# op-table entries, collected by manualgrad/ops.py
OPS = [OpSpec(name, getattr(MF, name), getattr(F, name), function, SAMPLES[name], ERRORS[name])
       for name, function in [("kl_div", _fn.KLDivFunction),
                              ("poisson_nll_loss", _fn.PoissonNLLLossFunction),
                              ("gaussian_nll_loss", _fn.GaussianNLLLossFunction),
                              ("multilabel_soft_margin_loss", _fn.MultiLabelSoftMarginLossFunction)]]
