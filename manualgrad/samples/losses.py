"""Samples for the regression losses (``mse_loss``, ``l1_loss``, ``smooth_l1_loss``,
``huber_loss``) and the binary ones (``binary_cross_entropy``,
``binary_cross_entropy_with_logits``). ``SAMPLES[op]`` / ``ERRORS[op]`` are the op table's
generators.
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F

from .. import functional as MF
from ..functions import binary_losses, regression_losses
from ..opspec import OpSpec
from . import ErrorSample, Sample, expanded, make, noncontiguous

REDUCTIONS = ("none", "mean", "sum")
LEGACY = ((False, None), (None, False), (True, True), (False, True))  # (size_average, reduce)
PARAM = {"smooth_l1_loss": ("beta", (0.5, 2.0, 0.0)), "huber_loss": ("delta", (0.5, 2.0))}
WEIGHTED = ("mse_loss", "l1_loss", "huber_loss")  # torch 2.13 takes weight= for these


def _exact(values, *, device, dtype, requires_grad=True):
    """A leaf holding ``values`` exactly (dyadic numbers, so kinks are hit on the dot)."""
    return torch.tensor(values, device=device, dtype=dtype).requires_grad_(requires_grad)


def _maker(device, dtype, low, high):
    """``new(*shape, layout=None, requires_grad=True, dtype=dtype)``: a leaf uniform in
    [low, high); ``layout`` ``noncontiguous`` or ``expanded`` gives that helper's memory layout
    with its values redrawn in [low, high) (probabilities must stay in [0, 1])."""
    def new(*shape, layout=None, requires_grad=True, dtype=dtype):
        kw = dict(device=device, dtype=dtype, requires_grad=False)
        if layout is noncontiguous:
            v = noncontiguous(*shape, **kw).uniform_(low, high)
        elif layout is expanded:  # redraw the single row, then broadcast it as ``expanded`` does
            v = make(1, *shape[1:], **kw, low=low, high=high).expand(*shape)
        else:
            v = make(*shape, **kw, low=low, high=high)
        return v.requires_grad_(requires_grad)
    return new


def _common(x, t, legacy=True, mixed=True):
    """Shapes and layouts every loss is run on; ``x(*shape)``/``t(*shape)`` make its inputs.
    ``legacy``: the op takes size_average/reduce; ``mixed``: it accepts a target of another dtype."""
    for red in REDUCTIONS:
        yield Sample((x(4, 5), t(4, 5)), {"reduction": red}, name=f"reduction={red}")
    yield Sample((x(4, 5), t(4, 5)), {"reduction": "elementwise_mean"}, name="elementwise_mean (deprecated 'mean')")
    yield Sample((x(), t()), name="0-d")
    yield Sample((x(), t()), {"reduction": "none"}, name="0-d none")
    yield Sample((x(0, 3), t(0, 3)), name="empty batch mean (nan)")
    yield Sample((x(0, 3), t(0, 3)), {"reduction": "sum"}, name="empty batch sum")
    yield Sample((x(7), t(7)), {"reduction": "sum"}, name="unbatched")
    yield Sample((x(2, 3, 2, 2), t(2, 3, 2, 2)), name="rank 4")
    yield Sample((x(3, 4, layout=noncontiguous), t(3, 4, layout=noncontiguous)), {"reduction": "none"},
                 name="non-contiguous")
    yield Sample((x(3, 4, layout=expanded), t(3, 4)), {"reduction": "none"}, name="expanded input")
    yield Sample((x(3, 4), t(3, 4, layout=expanded)), {"reduction": "sum"}, name="expanded target")
    yield Sample((x(3, 4), t(3, 4, requires_grad=False)), name="target without grad")
    yield Sample((x(3, 4, requires_grad=False), t(3, 4)), name="input without grad")
    if mixed:
        yield Sample((x(3, 4), t(3, 4, dtype=torch.float64)), {"reduction": "none"}, name="float64 target")
    for sa, r in LEGACY if legacy else ():
        yield Sample((x(3, 4), t(3, 4)), {"size_average": sa, "reduce": r},
                     name=f"legacy size_average={sa} reduce={r}")


# ------------------------------------------------------------------ regression losses


def _regression(op, device, dtype):
    kw = dict(device=device, dtype=dtype)
    x = t = _maker(device, dtype, -2.0, 2.0)
    # huber: no legacy arguments; torch's backward fails on a float64 target ("Found dtype
    # Double but expected Float"), so mixed dtypes are in tests/test_losses.py instead
    yield from _common(x, t, legacy=op != "huber_loss", mixed=op != "huber_loss")
    for red in REDUCTIONS:
        yield Sample((x(3, 1), t(1, 4)), {"reduction": red}, name=f"broadcast input vs target {red}")
    yield Sample((x(3, 4), t(4)), name="target broadcast to input")
    if op != "huber_loss":  # torch's huber backward fails on it too (tests/test_losses.py)
        yield Sample((x(3, 4), torch.randint(-2, 3, (3, 4), device=device)), name="integer target")
        yield Sample((torch.randint(-2, 3, (3, 4), device=device), t(3, 4)), name="integer input, float target")
    if op in ("mse_loss", "smooth_l1_loss"):  # their kernels read a bool as 0/1 (l1_loss's `-` refuses it)
        yield Sample((x(3, 4), torch.rand(3, 4, device=device) > 0.5), name="bool target")
    name, values = PARAM.get(op, (None, ()))
    for v in values:
        for red in REDUCTIONS:
            yield Sample((x(4, 5), t(4, 5)), {"reduction": red, name: v}, name=f"{name}={v} {red}")
    if op in WEIGHTED:
        w = partial(make, device=device, dtype=dtype, low=0.5, high=2.0)
        for red in REDUCTIONS:
            yield Sample((x(4, 5), t(4, 5)), {"reduction": red, "weight": w(4, 5)}, name=f"weight {red}")
            yield Sample((x(3, 1), t(1, 4)), {"reduction": red, "weight": w(3, 1)},
                         name=f"weight, broadcast input vs target {red}")
        yield Sample((x(4, 5), t(4, 5)), {"weight": w(4, 5, requires_grad=False)}, name="weight without grad")
        yield Sample((x(4, 5), t(4, 5, requires_grad=False)), {"weight": w(4, 5)}, name="only weight and input")
        yield Sample((x(4, 5), t(4, 5)), {"weight": w(4, 5, dtype=torch.float64)}, name="float64 weight")
        for red in REDUCTIONS:
            yield Sample((x(0, 2), t(0, 2)), {"weight": w(0, 2), "reduction": red}, name=f"weight, empty {red}")
        if op == "huber_loss":
            yield Sample((x(4, 5), t(4, 5)), {"weight": w(4, 5), "delta": 0.5}, name="weight, delta=0.5")
        else:
            yield Sample((x(3, 4), t(3, 4)), {"size_average": True, "reduce": True, "weight": w(3, 4)},
                         name="weight, legacy mean")
    # kinks: d = x − t exactly 0 and exactly ±β / ±δ (torch's subgradients; not smooth there)
    for edge in (1.0, 0.5):
        target = [0.25, -0.5, 1.0, 0.0, 2.0, -1.5, 0.75]
        d = [edge, -edge, 0.0, 2 * edge, 0.5 * edge, -3 * edge, -0.0]
        kwargs = {"reduction": "none"}
        if name and edge != 1.0:
            kwargs[name] = edge
        yield Sample((_exact([a + b for a, b in zip(target, d)], **kw), _exact(target, **kw)), kwargs,
                     name=f"kinks at 0 and ±{edge}", gradcheck=False)
    nonfinite = ([float("nan"), float("inf"), -float("inf"), 1.0, 0.5, float("inf")],
                 [0.0, 0.0, 0.0, float("inf"), float("nan"), float("inf")])
    for red in ("none", "sum"):
        yield Sample(tuple(_exact(v, **kw) for v in nonfinite), {"reduction": red},
                     name=f"inf and nan {red}", gradcheck=False)
    if op != "huber_loss":  # torch broadcasts first, so a 0-d target's dtype promotes as a full one's
        yield Sample((x(3, 4), t(dtype=torch.float64)), {"reduction": "none"}, name="0-d float64 target")
        yield Sample((x(dtype=torch.float64), t(3, 4)), name="0-d float64 input")
        if op in WEIGHTED:
            yield Sample((x(3, 4), t(dtype=torch.float64)), {"weight": make(3, 4, **kw, low=0.5, high=2.0)},
                         name="weight, 0-d float64 target")


def _regression_errors(op, device):
    t = partial(make, device=device, dtype=None, requires_grad=False)
    yield ErrorSample((t(3), t(4)), name="sizes do not broadcast")
    yield ErrorSample((t(3, 4), t(3, 4)), {"reduction": "foo"}, name="bad reduction")
    i = lambda *s, dtype=torch.long: torch.ones(s, dtype=dtype, device=device)  # noqa: E731
    for dtype in (torch.long, torch.uint8, torch.bool):
        yield ErrorSample((i(3, 4, dtype=dtype), i(3, 4, dtype=dtype)), name=f"{dtype} input and target")
    yield ErrorSample((i(3, 4, dtype=torch.int8), i(3, 4, dtype=torch.int32)), name="int8 input, int32 target")
    if op != "l1_loss":
        yield ErrorSample((t(3, 4).to(torch.complex64), t(3, 4)), name="complex input")
        yield ErrorSample((t(3, 4), t(3, 4).to(torch.complex64)), name="complex target")
    if op == "huber_loss":  # its kernel writes into the input's dtype
        yield ErrorSample((i(3, 4), t(3, 4)), name="integer input, float target")
        yield ErrorSample((i(3, 4, dtype=torch.bool), i(3, 4)), name="bool input, integer target")
        yield ErrorSample((i(3, 4), i(3, 4)), {"weight": t(3, 4)}, name="weighted, integer input")
    if op == "smooth_l1_loss":
        yield ErrorSample((t(3, 4), t(3, 4)), {"beta": -1.0}, name="negative beta")
        yield ErrorSample((t(3, 4), t(3, 4)), {"beta": -1.0, "reduction": "foo"}, name="negative beta, bad reduction")
    if op == "huber_loss":
        yield ErrorSample((t(3, 4), t(3, 4)), {"delta": 0.0}, name="zero delta")
        yield ErrorSample((t(3, 4), t(3, 4)), {"delta": -1.0}, name="negative delta")
        yield ErrorSample((t(3, 4), t(3, 4)), {"delta": -1.0, "reduction": "foo"}, name="bad delta and reduction")
        yield ErrorSample((t(3, 4), t(3, 4)), {"delta": -1.0, "reduction": "foo", "weight": t(3, 4)},
                          name="weighted: bad delta before bad reduction")
    if op in WEIGHTED:
        yield ErrorSample((t(3, 4), t(3, 4)), {"weight": t(4)}, name="weight of another size")
        yield ErrorSample((t(3, 1), t(1, 4)), {"weight": t(3, 4)}, name="weight of the broadcast size")
        yield ErrorSample((t(3, 4), t(3, 4)), {"weight": t(3, 4), "reduction": "foo"},
                          name="weighted: bad reduction")


# ------------------------------------------------------------------ binary cross-entropy


def _bce(device, dtype):
    kw = dict(device=device, dtype=dtype)
    x = _maker(device, dtype, 0.05, 0.95)  # probabilities, away from 0 and 1 for gradcheck
    t = _maker(device, dtype, 0.0, 1.0)
    yield from _common(x, t, mixed=False)  # torch's BCE wants one dtype (see the errors)
    w = partial(make, device=device, dtype=dtype, requires_grad=False, low=0.0, high=2.0)
    for red in REDUCTIONS:
        yield Sample((x(4, 5), t(4, 5), w(4, 5)), {"reduction": red}, name=f"weight {red}")
        yield Sample((x(4, 5), t(4, 5), w(5)), {"reduction": red}, name=f"weight broadcast (5,) {red}")
    yield Sample((x(4, 5), t(4, 5)), {"weight": w(4, 1)}, name="weight broadcast (4, 1)")
    yield Sample((x(4, 5), t(4, 5)), {"weight": w(5, dtype=torch.float64)}, name="float64 weight")
    yield Sample((x(2, 3, 2), t(2, 3, 2)), {"weight": w(3, 1)}, name="rank 3 with (C, 1) weight")
    hard = torch.randint(0, 2, (4, 5), device=device).to(dtype)  # t±eps leaves [0, 1]: no grad
    yield Sample((x(4, 5), hard), name="hard labels")
    probs = [0.0, 1.0, 0.0, 1.0, 0.5, 1e-30, 1.0 - 2 ** -20]
    labels = [0.0, 0.0, 1.0, 1.0, 0.5, 0.3, 0.5]
    for red in ("none", "sum"):
        yield Sample((_exact(probs, **kw), _exact(labels, **kw)), {"reduction": red},
                     name=f"x at 0 and 1: logs floored at -100 {red}", gradcheck=False)


def _bce_errors(device):
    t = partial(make, device=device, dtype=None, requires_grad=False, low=0.1, high=0.9)
    yield ErrorSample((t(4, 5), t(5)), name="target size differs")
    yield ErrorSample((t(4, 5), t(5)), {"reduction": "foo"}, name="bad reduction before size")
    yield ErrorSample((t(4, 5) + 1, t(4, 5)), name="input above 1")
    yield ErrorSample((t(4, 5) - 1, t(4, 5)), name="input below 0")
    yield ErrorSample((t(4, 5) * float("nan"), t(4, 5)), name="nan input")
    yield ErrorSample((t(4, 5), t(4, 5) + 1), name="target above 1")
    yield ErrorSample((t(4, 5), t(4, 5).double()), name="target of another dtype")
    for dtype in (torch.long, torch.uint8, torch.bool, torch.complex64):
        yield ErrorSample((t(4, 5).to(dtype), t(4, 5).to(dtype)), name=f"{dtype} input and target")
    yield ErrorSample((t(4, 5).long(), t(4, 5).long(), t(4, 5)), name="integer input, float weight")
    yield ErrorSample((t(4, 5), t(4, 5), t(5).requires_grad_()), name="weight requires grad")
    yield ErrorSample((t(4, 5), t(4, 5), t(3)), name="weight does not broadcast")
    yield ErrorSample((t(4, 5), t(4, 5), t(2, 4, 5)), name="weight larger than input")


def _bce_with_logits(device, dtype):
    kw = dict(device=device, dtype=dtype)
    x = _maker(device, dtype, -3.0, 3.0)
    t = _maker(device, dtype, 0.0, 1.0)
    yield from _common(x, t)
    w = partial(make, device=device, dtype=dtype, requires_grad=False, low=0.0, high=2.0)
    for red in REDUCTIONS:
        yield Sample((x(4, 5), t(4, 5)), {"reduction": red, "weight": w(4, 5)}, name=f"weight {red}")
        yield Sample((x(4, 5), t(4, 5)), {"reduction": red, "pos_weight": w(5)}, name=f"pos_weight {red}")
        yield Sample((x(4, 5), t(4, 5)), {"reduction": red, "weight": w(4, 1), "pos_weight": w(4, 5)},
                     name=f"weight and pos_weight {red}")
    yield Sample((x(4, 5), t(4, 5), w(5)), name="positional weight (5,)")
    yield Sample((x(2, 3, 2, 2), t(2, 3, 2, 2)), {"pos_weight": w(3, 1, 1)}, name="pos_weight (C, 1, 1)")
    yield Sample((x(), t()), {"pos_weight": w(), "weight": w()}, name="0-d weights")
    yield Sample((x(4, 5), t(4, 5)), {"pos_weight": w(5, dtype=torch.float64)}, name="float64 pos_weight")
    hard = torch.randint(0, 2, (4, 5), device=device).to(dtype).requires_grad_()
    yield Sample((x(4, 5), hard), {"pos_weight": w(5)}, name="hard labels")
    big = _exact([-100.0, -50.0, -20.0, 20.0, 50.0, 100.0], **kw)
    yield Sample((big, t(6)), {"reduction": "sum", "pos_weight": w(6)}, name="large logits (stable)")
    nonfinite = [float("inf"), -float("inf"), float("inf"), -float("inf"), float("nan"), 1.0]
    for red in ("none", "sum"):
        yield Sample((_exact(nonfinite, **kw), _exact([0.0, 1.0, 1.0, 0.0, 1.0, float("nan")], **kw)),
                     {"reduction": red}, name=f"inf and nan {red}", gradcheck=False)


def _bce_with_logits_errors(device):
    t = partial(make, device=device, dtype=None, requires_grad=False)
    yield ErrorSample((t(4, 5), t(5)), name="target size differs")
    yield ErrorSample((t(4, 5), t(4, 5)), {"reduction": "foo"}, name="bad reduction")
    yield ErrorSample((t(4, 5), t(4, 5), t(5).requires_grad_()), name="weight requires grad")
    yield ErrorSample((t(4, 5), t(4, 5)), {"pos_weight": t(5).requires_grad_()}, name="pos_weight requires grad")
    yield ErrorSample((t(4, 5), t(4, 5), t(2, 4, 5)), name="weight larger than input")
    yield ErrorSample((t(4, 5), t(4, 5)), {"pos_weight": t(2, 4, 5)}, name="pos_weight larger than input")
    yield ErrorSample((t(4, 5), t(4, 5)), {"pos_weight": t(3)}, name="pos_weight does not broadcast")
    yield ErrorSample((t(4, 5), t(4, 5), t(3)), name="weight does not broadcast")
    yield ErrorSample((t(4, 5), torch.ones(4, 5, dtype=torch.long, device=device)), name="integer target")
    yield ErrorSample((t(4, 5).long(), t(4, 5)), name="integer input")
    yield ErrorSample((t(4, 5).requires_grad_(), t(4, 5).to(torch.complex64)), name="complex target, input with grad")


REGRESSION = ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss")
SAMPLES = {op: partial(_regression, op) for op in REGRESSION}
SAMPLES.update(binary_cross_entropy=_bce, binary_cross_entropy_with_logits=_bce_with_logits)
ERRORS = {op: partial(_regression_errors, op) for op in REGRESSION}
ERRORS.update(binary_cross_entropy=_bce_errors, binary_cross_entropy_with_logits=_bce_with_logits_errors)


# op-table entries, collected by manualgrad/ops.py
OPS = [OpSpec(name, getattr(MF, name), getattr(F, name), function, SAMPLES[name], ERRORS[name])
       for name, function in [("mse_loss", regression_losses.MSELossFunction),
                              ("l1_loss", regression_losses.L1LossFunction),
                              ("smooth_l1_loss", regression_losses.SmoothL1LossFunction),
                              ("huber_loss", regression_losses.HuberLossFunction),
                              ("binary_cross_entropy", binary_losses.BinaryCrossEntropyFunction),
                              ("binary_cross_entropy_with_logits", binary_losses.BinaryCrossEntropyWithLogitsFunction)]]
