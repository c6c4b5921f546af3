"""Strategies for the activations and softmax/log_softmax: any shape (0-d and empty included), any
layout and dtype (integers and bool where torch decides), every option, kinks at the op's exact
thresholds, in-place runs (on views of non-leaves too)."""

from __future__ import annotations

import hypothesis.strategies as st
import torch

from .compare import Case
from .tensors import any_dtypes, grads, seeds, shapes, tensor


def _kinks(name: str, kw: dict) -> tuple:
    """Exact values where the op's derivative has a kink, a branch or saturates."""
    if name == "softplus":
        t = kw.get("threshold", 20.0) / (kw.get("beta", 1.0) or 1.0)
        return (0.0, t, -t, 40.0, -40.0)
    if name in ("sigmoid", "tanh", "gelu", "silu"):
        return (0.0, 20.0, -20.0, 100.0, -100.0, 1e4)
    return (0.0, -0.0)


def elementwise(name: str, options: dict, inplace: bool = False):
    """Cases of an elementwise activation: ``options`` maps keyword → strategy of its values."""

    @st.composite
    def cases(draw):
        kw = {k: draw(v) for k, v in options.items() if draw(st.booleans())}
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


CASES.update(softmax=_softmax("softmax"), log_softmax=_softmax("log_softmax"))


@st.composite
def _dropout(draw):
    p = draw(st.sampled_from([0.0, 1.0, 0.5, 0.2, 0.9, 1.5, -0.1]))
    training, ip = draw(st.booleans()), draw(st.booleans())
    x = draw(tensor(draw(shapes(0, 4)), draw(any_dtypes), grad=draw(grads)))
    return Case("dropout", (x, p, training, ip), inplace=ip, seed=draw(seeds))


CASES["dropout"] = _dropout()
