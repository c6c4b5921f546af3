"""Samples for the piecewise-linear (``functions/activations_piecewise.py``), slope
(``activations_slopes.py``) and sigmoidal (``activations_sigmoidal.py``) activations, selu/celu
and softmin; and the rrelu reference."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import functional as MF
from ..functions import activations_piecewise as _pw, activations_sigmoidal as _sig
from ..functions.activations import ELUFunction
from ..functions.activations_slopes import PReLUFunction, RReLUFunction
from ..functions.softmax import SoftminFunction
from ..opspec import OpSpec
from ..functional._activations_slopes import rrelu_slopes
from . import ErrorSample, Sample, expanded, make, noncontiguous
from .activations import _elementwise, _softmax, _special, inplace_leaf_errors

# Breakpoints at their exact values: torch's subgradient there is what the backward must give.
hardswish = _elementwise([{}], inplace=True, inplace_node=False, kinks=(-3.0, 3.0), wide=True)
hardsigmoid = _elementwise([{}], inplace=True, inplace_node=False, kinks=(-3.0, 3.0), wide=True)
relu6 = _elementwise([{}], inplace=True, kinks=(0.0, 6.0), wide=True)
hardtanh = _elementwise([{}, {"min_val": -0.5, "max_val": 2.0}, {"min_val": 0.5, "max_val": 0.5}], inplace=True,
                        kinks=(-1.0, 1.0, -0.5, 2.0, 0.5), wide=True)
threshold = _elementwise([{"threshold": 0.5, "value": 2.0}, {"threshold": -1.0, "value": -3.0},
                          {"threshold": 0.0, "value": 0.0}], inplace=True, inplace_node=False,
                         kinks=(0.5, -1.0, 0.0), wide=True)
softshrink = _elementwise([{}, {"lambd": 1.5}, {"lambd": 0.0}], kinks=(-0.5, 0.5, -1.5, 1.5, 0.0), wide=True)
hardshrink = _elementwise([{}, {"lambd": 1.5}, {"lambd": -0.5}], kinks=(-0.5, 0.5, -1.5, 1.5), wide=True)
selu = _elementwise([{}], inplace=True, wide=True)
# α dyadic: torch's celu backward rounds 1/α to float32 (ours: float64, docs/ops.md), pinned in
# tests/test_activations_more.py
celu = _elementwise([{}, {"alpha": 0.5}, {"alpha": 2.0}, {"alpha": -0.5}], inplace=True, wide=True)
mish = _elementwise([{}], inplace=True, inplace_node=False, wide=True)
logsigmoid = _elementwise([{}], wide=True)
softsign = _elementwise([{}], wide=True)
tanhshrink = _elementwise([{}], wide=True)
softmin = _softmax


def glu(device, dtype):
    kw = dict(device=device, dtype=dtype)
    yield Sample((make(4, 6, **kw),))
    yield Sample((make(4, 6, **kw), 0), name="dim 0")
    yield Sample((make(2, 4, 3, **kw),), {"dim": 1}, name="rank 3 middle dim")
    yield Sample((make(6, **kw),), name="1-d")
    yield Sample((make(0, 4, **kw),), name="empty")
    yield Sample((make(3, 0, **kw), -1), name="size 0 along dim")
    yield Sample((noncontiguous(3, 4, **kw),), name="non-contiguous")
    yield Sample((expanded(4, 3, **kw), 0), name="expanded along dim")
    yield Sample((_special(device, dtype)[:8],), name="inf/nan", gradcheck=False)


def prelu(device, dtype):
    kw = dict(device=device, dtype=dtype)

    def w(*shape, grad=True):
        return make(*shape, **kw, low=-0.5, high=1.0, requires_grad=grad)

    yield Sample((make(2, 3, 4, **kw), w(3)), name="per channel")
    yield Sample((make(2, 3, 4, **kw), w(1)), name="one weight")
    yield Sample((make(2, 3, 4, **kw), w()), name="0-d weight")
    yield Sample((make(4, 3, **kw), w(3)), name="2-d")
    yield Sample((make(2, 3, 2, 2, **kw), w(3)), name="rank 4")
    yield Sample((make(5, **kw), w(1)), name="1-d")
    yield Sample((make(**kw), w(1)), name="0-d input")
    yield Sample((make(0, 3, **kw), w(3)), name="empty")
    yield Sample((noncontiguous(3, 4, **kw), w(4)), name="non-contiguous")
    yield Sample((expanded(3, 4, **kw), w(4)), name="expanded")
    yield Sample((make(2, 3, 4, **kw), w(3, grad=False)), name="weight without grad")
    yield Sample((make(2, 3, 4, **kw, requires_grad=False), w(3)), name="input without grad")
    at = torch.tensor([[-1.0, 0.0, 0.0, 1.0]] * 2, **kw).requires_grad_()
    yield Sample((at, w(4)), name="exact 0", gradcheck=False)
    yield Sample((_special(device, dtype), w(1)), name="inf/nan", gradcheck=False)


def rrelu(device, dtype):
    """Seeded (the op table draws both sides from one seed)."""
    kw = dict(device=device, dtype=dtype)
    yield Sample((make(4, 5, **kw),), {"training": True}, name="training")
    yield Sample((make(4, 5, **kw), 0.1, 0.9, True), name="training, wide bounds")
    yield Sample((make(4, 5, **kw), 0.3, 0.3, True), name="training, lower = upper")
    yield Sample((make(4, 5, **kw), -0.5, -0.1, True), name="training, negative bounds")
    yield Sample((make(4, 5, **kw),), name="eval: leaky_relu", node=False)
    yield Sample((make(4, 5, **kw), 0.2, 0.6), name="eval, bounds", node=False)
    yield Sample((make(**kw),), {"training": True}, name="0-d")
    yield Sample((make(0, 3, **kw),), {"training": True}, name="empty")
    yield Sample((make(2, 3, 2, 2, **kw),), {"training": True}, name="rank 4")
    yield Sample((noncontiguous(3, 4, **kw),), {"training": True}, name="non-contiguous")
    yield Sample((expanded(3, 4, **kw),), {"training": True}, name="expanded")
    yield Sample((make(3, 4, **kw),), {"training": True, "inplace": True}, name="inplace", clone_input=True)
    yield Sample((make(3, 4, **kw),), {"inplace": True}, name="inplace eval", clone_input=True, node=False)
    at = torch.tensor([-1.0, 0.0, 0.0, 1.0], **kw).requires_grad_()
    yield Sample((at,), {"training": True}, name="exact 0", gradcheck=False)
    yield Sample((_special(device, dtype),), {"training": True}, name="inf/nan", gradcheck=False)


def rrelu_reference(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """rrelu in training written with torch autograd ops, its slopes drawn as ours are (on CPU
    these equal ``F.rrelu``'s under the same seed: tests/test_activations_more.py checks that);
    everything else is ``F.rrelu`` itself."""
    if not training or lower > upper or not input.is_floating_point():
        return F.rrelu(input, lower, upper, training, inplace)
    y = (input * rrelu_slopes(input, lower, upper)).to(input.dtype)
    return input.copy_(y) if inplace else y


def _x(device):
    return make(4, 6, device=device, dtype=None, requires_grad=False)


def hardtanh_errors(device):
    yield from inplace_leaf_errors(device)
    yield ErrorSample((_x(device), 2.0, 1.0), name="min_val > max_val")


def celu_errors(device):
    yield from inplace_leaf_errors(device)
    yield ErrorSample((_x(device), 0.0), name="alpha = 0")
    x = make(3, device=device, dtype=None) * 1  # needs grad, not a leaf
    yield ErrorSample((x, -0.5), {"inplace": True}, name="inplace, negative alpha", error=RuntimeError,
                      match="In-place elu backward.*negative")


def softshrink_errors(device):
    yield ErrorSample((_x(device), -0.5), name="negative lambd")


def glu_errors(device):
    yield ErrorSample((make(4, 5, device=device, dtype=None, requires_grad=False),), name="odd last dim")
    yield ErrorSample((make(3, 4, device=device, dtype=None, requires_grad=False), 0), name="odd dim 0")
    yield ErrorSample((make(device=device, dtype=None, requires_grad=False),), name="0-d")


def prelu_errors(device):
    x = make(2, 3, 4, device=device, dtype=None, requires_grad=False)
    yield ErrorSample((x, torch.ones(4, device=device)), name="weight numel ≠ channels")
    yield ErrorSample((x, torch.ones(3, 1, device=device)), name="2-d weight")
    yield ErrorSample((make(device=device, dtype=None), torch.ones(3, device=device)), name="0-d input, 3 weights")
    yield ErrorSample((x, torch.ones(3, device=device, dtype=torch.float64)), name="weight of another dtype")


def rrelu_errors(device):
    yield from inplace_leaf_errors(device)
    yield ErrorSample((_x(device), 0.5, 0.1, True), name="lower > upper, training")
    yield ErrorSample((_x(device), 0.5, 0.1, False), name="lower > upper, eval")


def softmin_errors(device):
    yield ErrorSample((_x(device), 2), name="dim out of range")


# op-table entries, collected by manualgrad/ops.py
# activations beyond relu/elu/gelu/...: piecewise-linear, slopes, sigmoidal, selu/celu, softmin
OPS = [
    OpSpec("hardtanh", MF.hardtanh, F.hardtanh, _pw.HardtanhFunction, hardtanh, hardtanh_errors),
    OpSpec("relu6", MF.relu6, F.relu6, _pw.HardtanhFunction, relu6, inplace_leaf_errors),
    OpSpec("hardsigmoid", MF.hardsigmoid, F.hardsigmoid, _pw.HardsigmoidFunction, hardsigmoid, inplace_leaf_errors),
    OpSpec("hardswish", MF.hardswish, F.hardswish, _pw.HardswishFunction, hardswish, inplace_leaf_errors),
    OpSpec("threshold", MF.threshold, F.threshold, _pw.ThresholdFunction, threshold),
    OpSpec("softshrink", MF.softshrink, F.softshrink, _pw.ShrinkFunction, softshrink, softshrink_errors),
    OpSpec("hardshrink", MF.hardshrink, F.hardshrink, _pw.ShrinkFunction, hardshrink),
    OpSpec("prelu", MF.prelu, F.prelu, PReLUFunction, prelu, prelu_errors),
    OpSpec("rrelu", MF.rrelu, rrelu_reference, RReLUFunction, rrelu, rrelu_errors, seeded=True),
    OpSpec("selu", MF.selu, F.selu, ELUFunction, selu, inplace_leaf_errors),
    OpSpec("celu", MF.celu, F.celu, ELUFunction, celu, celu_errors),
    OpSpec("mish", MF.mish, F.mish, _sig.MishFunction, mish, inplace_leaf_errors),
    OpSpec("logsigmoid", MF.logsigmoid, F.logsigmoid, _sig.LogSigmoidFunction, logsigmoid),
    OpSpec("softsign", MF.softsign, F.softsign, _sig.SoftsignFunction, softsign),
    OpSpec("tanhshrink", MF.tanhshrink, F.tanhshrink, _sig.TanhshrinkFunction, tanhshrink),
    OpSpec("glu", MF.glu, F.glu, _sig.GLUFunction, glu, glu_errors),
    OpSpec("softmin", MF.softmin, F.softmin, SoftminFunction, softmin, softmin_errors),
]
