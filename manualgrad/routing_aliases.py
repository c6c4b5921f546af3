"""The torch-level aliases functional routing sends to manualgrad (:mod:`manualgrad.routing`):
``torch.tanh``/``sigmoid``/``relu``/``softmax``/``log_softmax`` and their ``Tensor`` methods, the
in-place ``_`` forms, ``torch.dropout``, ``torch.selu``/``celu``/``rrelu``/``prelu``/``threshold``/
``hardshrink``. Each adapter takes torch's positional layout and calls manualgrad's wrapper; a call
outside what it covers (a named dim, a caller's generator) runs torch's own."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import functional as MF
from . import routing_math


def _softmax(input, dim, dtype=None):
    if not isinstance(dim, int):  # a named dim
        return torch.softmax(input, dim, dtype=dtype)
    return MF.softmax(input, dim, dtype=dtype)


def _log_softmax(input, dim, dtype=None):
    if not isinstance(dim, int):
        return torch.log_softmax(input, dim, dtype=dtype)
    return MF.log_softmax(input, dim, dtype=dtype)


def _relu_(input):
    return MF.relu(input, inplace=True)


def _elu_(input, alpha=1.0):
    return MF.elu(input, alpha, inplace=True)


def _leaky_relu_(input, negative_slope=0.01):
    return MF.leaky_relu(input, negative_slope, inplace=True)


def _dropout(input, p, train):
    return MF.dropout(input, p, train)


def _one_input(ours):
    def route(input):
        return ours(input)

    route.__name__ = ours.__name__
    return route


ALIASES = {
    torch.tanh: _one_input(MF.tanh), torch.Tensor.tanh: _one_input(MF.tanh),
    torch.sigmoid: _one_input(MF.sigmoid), torch.Tensor.sigmoid: _one_input(MF.sigmoid),
    torch.relu: _one_input(MF.relu), torch.Tensor.relu: _one_input(MF.relu),
    torch.relu_: _relu_, torch.Tensor.relu_: _relu_,  # torch.relu_ is F.relu_
    F.elu_: _elu_, F.leaky_relu_: _leaky_relu_,
    torch.softmax: _softmax, torch.Tensor.softmax: _softmax,
    torch.log_softmax: _log_softmax, torch.Tensor.log_softmax: _log_softmax,
    torch.dropout: _dropout,
}


# the activations' in-place functions and torch-level names (their F.<name> routes by signature)
def _hardtanh_(input, min_val=-1.0, max_val=1.0):
    return MF.hardtanh(input, min_val, max_val, inplace=True)


def _threshold_(input, threshold, value):
    return MF.threshold(input, threshold, value, inplace=True)


def _selu_(input):
    return MF.selu(input, inplace=True)


def _celu_(input, alpha=1.0):
    return MF.celu(input, alpha, inplace=True)


def _rrelu(inplace):
    def route(input, lower=1.0 / 8, upper=1.0 / 3, training=False, generator=None):
        if generator is not None:  # a generator of the caller's: torch's own draws from it
            return routing_math.TORCH
        return MF.rrelu(input, lower, upper, training, inplace)
    return route


ALIASES.update({
    F.hardtanh_: _hardtanh_, F.threshold_: _threshold_,  # F.threshold_ is torch.threshold_
    torch.selu_: _selu_, torch.celu_: _celu_, torch.rrelu_: _rrelu(True), torch.rrelu: _rrelu(False),
    torch.selu: _one_input(MF.selu), torch.celu: MF.celu, torch.threshold: MF.threshold,
    torch.prelu: MF.prelu, torch.Tensor.prelu: MF.prelu,
    torch.hardshrink: MF.hardshrink, torch.Tensor.hardshrink: MF.hardshrink,
})
