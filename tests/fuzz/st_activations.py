"""Strategies for the activations and softmax/softmin/log_softmax: any shape (0-d and empty included), any
layout and dtype (integers and bool where torch decides), every option, kinks at the op's exact
thresholds, in-place runs (on views of non-leaves too)."""

from __future__ import annotations

import hypothesis.strategies as st
import torch

from .compare import Case
from .tensors import any_dtypes, grads, other, seeds, shapes, tensor


def _kinks(name: str, kw: dict) -> tuple:
    """Exact values where the op's derivative has a kink, a branch or saturates."""
    if name == "softplus":
        t = kw.get("threshold", 20.0) / (kw.get("beta", 1.0) or 1.0)
        return (0.0, t, -t, 40.0, -40.0)
    if name in ("sigmoid", "tanh", "gelu", "silu", "mish", "logsigmoid", "softsign", "tanhshrink"):
        return (0.0, 20.0, -20.0, 100.0, -100.0, 1e4)
    if name in ("hardswish", "hardsigmoid"):
        return (0.0, 3.0, -3.0)
    if name == "relu6":
        return (0.0, 6.0)
    if name == "hardtanh":
        return (kw.get("min_val", -1.0), kw.get("max_val", 1.0), 0.0)
    if name == "threshold":
        return (kw["threshold"], kw["value"], 0.0)
    if name in ("softshrink", "hardshrink"):
        lambd = kw.get("lambd", 0.5)
        return (lambd, -lambd, 0.0)
    return (0.0, -0.0)


def elementwise(name: str, options: dict, inplace: bool = False, required: tuple = ()):
    """Cases of an elementwise activation: ``options`` maps keyword → strategy of its values
    (each drawn or left at its default, except the ``required`` ones)."""

    @st.composite
    def cases(draw):
        kw = {k: draw(v) for k, v in options.items() if k in required or draw(st.booleans())}
        ip = inplace and draw(st.booleans())
        if ip:
            kw["inplace"] = True
        x = draw(tensor(draw(shapes(0, 4)), draw(any_dtypes), kinks=_kinks(name, kw), grad=draw(grads)))
        return Case(name, (x,), kw, inplace=ip)

    return cases()


slopes = st.sampled_from([0.01, 0.2, 0.0, 1.0, -0.3, 2.5])
CASES = {
    "relu": elementwise("relu", {}, inplace=True),
    "leaky_relu": elementwise("leaky_relu", {"negative_slope": slopes}, inplace=True),
    "elu": elementwise("elu", {"alpha": st.sampled_from([1.0, 0.5, 0.0, -0.7, 2.0])}, inplace=True),
    "gelu": elementwise("gelu", {"approximate": st.sampled_from(["none", "tanh", "tanh", "erf"])}),
    "silu": elementwise("silu", {}, inplace=True),
    "softplus": elementwise("softplus", {"beta": st.sampled_from([1.0, 2.0, 0.5, -1.0, 0.0]),
                                         "threshold": st.sampled_from([20.0, 1.0, 0.0, -1.0])}),
    "sigmoid": elementwise("sigmoid", {}),
    "tanh": elementwise("tanh", {}),
}

bounds = st.sampled_from([-1.0, 1.0, 0.0, 6.0, 0.5, -2.5, 3.0])  # hardtanh's min/max: min > max raises
lambdas = st.sampled_from([0.5, 0.0, 1.0, 2.5, -0.5])  # softshrink refuses λ < 0, hardshrink takes it
CASES.update({
    "hardswish": elementwise("hardswish", {}, inplace=True),
    "hardsigmoid": elementwise("hardsigmoid", {}, inplace=True),
    "relu6": elementwise("relu6", {}, inplace=True),
    "hardtanh": elementwise("hardtanh", {"min_val": bounds, "max_val": bounds}, inplace=True),
    "threshold": elementwise("threshold", {"threshold": st.sampled_from([0.0, 0.5, -1.0, 2.0]),
                                           "value": st.sampled_from([0.0, 2.0, -3.0, 0.5])},
                             inplace=True, required=("threshold", "value")),
    "softshrink": elementwise("softshrink", {"lambd": lambdas}),
    "hardshrink": elementwise("hardshrink", {"lambd": lambdas}),
    "selu": elementwise("selu", {}, inplace=True),
    "celu": elementwise("celu", {"alpha": st.sampled_from([1.0, 0.5, 0.3, 2.0, -0.7, 0.0])}, inplace=True),
    "mish": elementwise("mish", {}, inplace=True),
    "logsigmoid": elementwise("logsigmoid", {}),
    "softsign": elementwise("softsign", {}),
    "tanhshrink": elementwise("tanhshrink", {}),
})


def _softmax(name):
    @st.composite
    def cases(draw):
        shape = draw(shapes(0, 4))
        n = max(len(shape), 1)
        args = (draw(tensor(shape, draw(any_dtypes), kinks=(0.0, 1e4, -1e4), grad=draw(grads))),)
        kw = {"dim": draw(st.integers(-n - 1, n))}  # out of range: torch's IndexError
        if draw(st.booleans()):
            kw["dtype"] = draw(st.sampled_from([torch.float32, torch.float64, torch.bfloat16, torch.int64]))
        return Case(name, args, kw)
    return cases()


CASES.update(softmax=_softmax("softmax"), log_softmax=_softmax("log_softmax"), softmin=_softmax("softmin"))


@st.composite
def _glu(draw):
    shape = draw(shapes(0, 4))
    n = max(len(shape), 1)
    x = draw(tensor(shape, draw(any_dtypes), kinks=(0.0, 20.0, -20.0), grad=draw(grads)))
    return Case("glu", (x,), {"dim": draw(st.integers(-n - 1, n))} if draw(st.booleans()) else {})


@st.composite
def _prelu(draw):
    """Per-channel weights (C = dim 1, or 1 for a 1-d input), one weight, and mismatches."""
    shape = draw(shapes(0, 4))
    channels = shape[1] if len(shape) > 1 else 1
    w_shape = draw(st.sampled_from([(channels,), (1,), (), (channels + 1,), (channels, 1)]))
    dtype = draw(any_dtypes)
    x = draw(tensor(shape, dtype, grad=draw(grads)))
    w = draw(tensor(w_shape, other(draw, dtype), grad=draw(grads)))
    return Case("prelu", (x, w))


@st.composite
def _rrelu(draw):
    lower = draw(st.sampled_from([1.0 / 8, 0.0, 0.3, -0.5, 0.9]))
    upper = draw(st.sampled_from([1.0 / 3, 0.3, 0.5, 1.0, -0.1]))
    training, ip = draw(st.booleans()), draw(st.booleans())
    x = draw(tensor(draw(shapes(0, 4)), draw(any_dtypes), grad=draw(grads)))
    return Case("rrelu", (x, lower, upper, training, ip), inplace=ip, seed=draw(seeds))


CASES.update(glu=_glu(), prelu=_prelu(), rrelu=_rrelu())


@st.composite
def _dropout(draw):
    p = draw(st.sampled_from([0.0, 1.0, 0.5, 0.2, 0.9, 1.5, -0.1]))
    training, ip = draw(st.booleans()), draw(st.booleans())
    x = draw(tensor(draw(shapes(0, 4)), draw(any_dtypes), grad=draw(grads)))
    return Case("dropout", (x, p, training, ip), inplace=ip, seed=draw(seeds))


CASES["dropout"] = _dropout()
