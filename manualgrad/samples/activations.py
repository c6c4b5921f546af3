"""Samples for the activations (``functions/activations.py``, ``functions/softmax.py``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import functional as MF
from ..functions import activations as _act
from ..functions.softmax import LogSoftmaxFunction, SoftmaxFunction
from ..opspec import OpSpec
from . import ErrorSample, Sample, expanded, make, noncontiguous

INF, NAN = float("inf"), float("nan")


def _special(device, dtype):
    """Kinks and non-finite values: 0, ±0.5, ±inf, NaN."""
    return torch.tensor([-INF, -2.0, -0.5, 0.0, 0.0, 0.5, 2.0, INF, NAN], device=device,
                        dtype=dtype).requires_grad_()


def _common(device, dtype, kwargs, kinks=(0.0,), wide=False):
    """Shapes every elementwise activation is sampled on, with ``kwargs``; ``kinks``: the op's
    breakpoints, hit exactly (with ±1 beside them); ``wide``: one sample over [−8, 8), for ops
    whose pieces lie beyond the default [−2, 2)."""
    kw = dict(device=device, dtype=dtype)
    yield Sample((make(4, 5, **kw),), dict(kwargs))
    if wide:
        yield Sample((make(4, 5, **kw, low=-8.0, high=8.0),), dict(kwargs), name="wide")
    yield Sample((make(**kw),), dict(kwargs), name="0-d")
    yield Sample((make(0, 3, **kw),), dict(kwargs), name="empty")
    yield Sample((make(2, 3, 2, 2, **kw),), dict(kwargs), name="rank 4")
    yield Sample((noncontiguous(3, 4, **kw),), dict(kwargs), name="non-contiguous")
    yield Sample((expanded(3, 4, **kw),), dict(kwargs), name="expanded")
    at = torch.tensor([-1.0, *kinks, *kinks, 1.0], device=device, dtype=dtype).requires_grad_()
    yield Sample((at,), dict(kwargs), name="exact kinks", gradcheck=False)
    yield Sample((_special(device, dtype),), dict(kwargs), name="inf/nan", gradcheck=False)


def _elementwise(options, inplace=False, inplace_node=True, kinks=(0.0,), wide=False):
    """A sample generator over ``_common`` shapes for each options dict, plus an in-place run
    with the first (non-negative slope) options; ``inplace_node=False`` where that run ends in
    the copy back into x (silu: its Function runs on a copy of x), not in the op's Function."""
    def samples(device, dtype):
        for kwargs in options:
            yield from _common(device, dtype, kwargs, kinks, wide)
        if inplace:
            yield Sample((make(3, 4, device=device, dtype=dtype, low=-8.0 if wide else -2.0, high=8.0 if wide else 2.0),),
                         dict(options[0], inplace=True), name="inplace", clone_input=True, node=inplace_node)
    return samples


relu = _elementwise([{}], inplace=True)
leaky_relu = _elementwise([{}, {"negative_slope": 0.2}, {"negative_slope": -0.3}], inplace=True)
elu = _elementwise([{}, {"alpha": 0.5}, {"alpha": -0.7}], inplace=True)
gelu = _elementwise([{}, {"approximate": "none"}, {"approximate": "tanh"}])
silu = _elementwise([{}], inplace=True, inplace_node=False)
softplus = _elementwise([{}, {"beta": 2.0}, {"beta": 0.5, "threshold": 1.0}])
sigmoid = _elementwise([{}])
tanh = _elementwise([{}])


def _softmax(device, dtype):
    kw = dict(device=device, dtype=dtype)
    yield Sample((make(4, 5, **kw), 1))
    yield Sample((make(4, 5, **kw), 0))
    yield Sample((make(4, 5, **kw),), {"dim": -1})
    yield Sample((make(2, 3, 4, **kw),), {"dim": 1}, name="rank 3 middle dim")
    yield Sample((make(**kw), 0), name="0-d")
    yield Sample((make(0, 3, **kw), 1), name="empty")
    yield Sample((noncontiguous(3, 4, **kw), 1), name="non-contiguous")
    yield Sample((expanded(3, 4, **kw), 1), name="expanded")
    yield Sample((make(3, 4, **kw, low=-1e4, high=1e4), 1), name="huge logits", gradcheck=False)
    row = torch.tensor([[-INF, 0.0, 1.0], [INF, 0.0, 1.0], [NAN, 0.0, 1.0]], **kw).requires_grad_()
    yield Sample((row, 1), name="inf/nan", gradcheck=False)
    if dtype != torch.float64:
        yield Sample((make(3, 4, **kw), 1), {"dtype": torch.float64}, name="dtype=float64",
                     gradcheck=False)
    yield Sample((make(3, 4, **kw), 1), {"dtype": torch.float32}, name="dtype=float32",
                 gradcheck=False)


softmax = log_softmax = _softmax


def no_errors(device):
    return ()


def gelu_errors(device):
    x = make(3, device=device, dtype=None, requires_grad=False)
    yield ErrorSample((x,), {"approximate": "foo"}, name="unknown approximate")


def inplace_leaf_errors(device):
    """In-place on a leaf that requires grad: torch's RuntimeError."""
    yield ErrorSample((make(3, device=device, dtype=None),), {"inplace": True}, name="inplace on a leaf")


def _refused_inplace(option, what):
    """torch accepts the in-place forward but fails in backward; we refuse it up front."""
    def errors(device):
        yield from inplace_leaf_errors(device)
        x = make(3, device=device, dtype=None) * 1  # needs grad, not a leaf
        yield ErrorSample((x, -0.5), {"inplace": True}, name=f"inplace, negative {option}",
                          error=RuntimeError, match=f"In-place {what} backward.*negative")
    return errors


leaky_relu_errors = _refused_inplace("negative_slope", "leakyReLu")
elu_errors = _refused_inplace("alpha", "elu")


# op-table entries, collected by manualgrad/ops.py
OPS = [
    OpSpec("relu", MF.relu, F.relu, _act.ReLUFunction, relu, inplace_leaf_errors),
    OpSpec("leaky_relu", MF.leaky_relu, F.leaky_relu, _act.LeakyReLUFunction, leaky_relu, leaky_relu_errors),
    OpSpec("elu", MF.elu, F.elu, _act.ELUFunction, elu, elu_errors),
    OpSpec("gelu", MF.gelu, F.gelu, _act.GELUFunction, gelu, gelu_errors),
    OpSpec("silu", MF.silu, F.silu, _act.SiLUFunction, silu, inplace_leaf_errors),
    OpSpec("softplus", MF.softplus, F.softplus, _act.SoftplusFunction, softplus),
    OpSpec("sigmoid", MF.sigmoid, torch.sigmoid, _act.SigmoidFunction, sigmoid),
    OpSpec("tanh", MF.tanh, torch.tanh, _act.TanhFunction, tanh),
    OpSpec("softmax", MF.softmax, F.softmax, SoftmaxFunction, softmax),
    OpSpec("log_softmax", MF.log_softmax, F.log_softmax, LogSoftmaxFunction, log_softmax),
]
