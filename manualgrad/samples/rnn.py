"""Samples for the recurrent ops: ``rnn_tanh``, ``rnn_relu``, ``lstm``, ``gru`` (the multi-layer
driver against ``torch._VF.<mode>``, the call torch's modules make) and the four cells against
``torch.<mode>_cell``.

The table compares one output per entry (``lstm`` the output sequence, ``lstm.h_n``,
``lstm.c_n`` the final states), so each entry backpropagates from one output only; the module
tests (tests/test_rnn.py) backpropagate from all at once. Sizes are tiny (H = 2) so float64
gradcheck/gradgradcheck of the whole sequence stay fast. ``node`` is on where the output is the
Function's own (one layer, one direction, no batch_first/unbatched view on top).
"""

from __future__ import annotations

import functools

import torch

from ..functional._rnn import rnn as _rnn_driver
from ..functions import rnn_gru as _gru, rnn_lstm as _lstm, rnn_tanh as _tanh
from ..opspec import OpSpec
from . import ErrorSample, Sample, make

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}
_VF_CELL = {"RNN_TANH": "rnn_tanh_cell", "RNN_RELU": "rnn_relu_cell", "LSTM": "lstm_cell", "GRU": "gru_cell"}


def torch_rnn(mode, input, batch_sizes, hx, params, has_biases, num_layers, dropout, train, bidirectional,
              batch_first):
    """``torch._VF.<mode>`` (torch's own kernel), in :func:`manualgrad.functional._rnn.rnn`'s signature."""
    vf = getattr(torch._VF, mode.lower())
    if batch_sizes is None:
        return vf(input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first)
    return vf(input, batch_sizes, hx, params, has_biases, num_layers, dropout, train, bidirectional)


def table_op(core, mode: str, out: int):
    """``op(input, h0[, c0], *weights, batch_sizes=None, num_layers=1, bidirectional=False,
    batch_first=False, dropout=0.0, train=True, bias=True)``: output ``out`` of ``core`` (ours or
    :func:`torch_rnn`); a 2-D ``input`` without ``batch_sizes`` is unbatched (as the modules take it)."""

    def op(input, *tensors, batch_sizes=None, num_layers=1, bidirectional=False, batch_first=False, dropout=0.0,
           train=True, bias=True):
        states = 2 if mode == "LSTM" else 1
        hx, params = list(tensors[:states]), list(tensors[states:])
        unbatched = batch_sizes is None and input.dim() == 2
        if unbatched:
            input, hx = input.unsqueeze(0 if batch_first else 1), [h.unsqueeze(1) for h in hx]
        result = core(mode, input, batch_sizes, tuple(hx) if states == 2 else hx[0], params, bias, num_layers,
                      dropout, train, bidirectional, batch_first)
        y = result[out]
        return y.squeeze(1 if out or not batch_first else 0) if unbatched else y

    return op


def cell_op(mode: str, out: int, ours: bool):
    """``op(input, h[, c], w_ih, w_hh, b_ih=None, b_hh=None)``: output ``out`` of the cell."""
    from ..functional import _rnn
    fn = getattr(_rnn if ours else torch, _VF_CELL[mode])

    def op(input, *tensors):
        if mode != "LSTM":
            return fn(input, *tensors)
        return fn(input, tensors[:2], *tensors[2:])[out]

    return op


def _weights(mode, i, h, layers, directions, bias, proj, **kw):
    g, p = _GATES[mode] * h, proj or h
    out = []
    for layer in range(layers):
        width = i if layer == 0 else p * directions
        for _ in range(directions):
            out += [make(g, width, **kw), make(g, p, **kw)]
            out += [make(g, **kw), make(g, **kw)] if bias else []
            out += [make(proj, h, **kw)] if proj else []
    return out


def _case(mode, kw, t, b, *, i=3, h=2, layers=1, bidirectional=False, bias=True, proj=0, batch_first=False,
          batch_sizes=None, unbatched=False, **opts):
    """(args, kwargs) of one call: input (padded, batch_first, unbatched or packed data), states, weights."""
    directions = 2 if bidirectional else 1
    if batch_sizes is not None:
        x = make(sum(batch_sizes), i, **kw)
        opts["batch_sizes"] = torch.tensor(batch_sizes)
        b = batch_sizes[0]
    elif unbatched:
        x = make(t, i, **kw)
    else:
        x = make(*((b, t) if batch_first else (t, b)), i, **kw)
    lead = () if unbatched else (b,)
    states = [make(layers * directions, *lead, proj or h, **kw)]
    states += [make(layers * directions, *lead, h, **kw)] if mode == "LSTM" else []
    w = _weights(mode, i, h, layers, directions, bias, proj, **kw)
    return (x, *states, *w), dict(num_layers=layers, bidirectional=bidirectional, batch_first=batch_first,
                                  bias=bias, **opts)


_STATE_GRADCHECK = ("1 layer", "packed, lengths 4, 3, 1", "proj_size", "dropout, training")


def samples(mode, out, device, dtype):
    """``out``: which output the entry compares (the sequence, h_n or c_n)."""
    kw = dict(device=device, dtype=dtype)
    case = functools.partial(_case, mode, kw)

    def sample(name, *a, node=False, **k):
        args, kwargs = case(*a, **k)
        # the final states' entries gradcheck the paths the sequence entry does not (dh_n, dc_n
        # entering the walk, at each sequence's own end) on the small single-stack samples
        gradcheck = out == 0 or name in _STATE_GRADCHECK
        return Sample(args, kwargs, name=name, node=node, gradcheck=gradcheck)

    yield sample("1 layer", 3, 2, node=True)
    yield sample("one time step", 1, 2, node=True)
    yield sample("packed, lengths 4, 3, 1", 0, 0, batch_sizes=[3, 2, 2, 1], node=True)
    yield sample("2 layers, bidirectional", 3, 2, layers=2, bidirectional=True)
    yield sample("packed, 2 layers, bidirectional", 0, 0, batch_sizes=[3, 3, 1], layers=2, bidirectional=True)
    yield sample("batch_first", 3, 2, batch_first=True)
    yield sample("unbatched", 3, 0, unbatched=True)
    yield sample("unbatched, batch_first, bidirectional", 2, 0, unbatched=True, batch_first=True,
                 bidirectional=True)
    yield sample("zero-length batch", 2, 0, layers=2, bidirectional=True)
    yield sample("no bias", 3, 2, bias=False, node=True)
    # cuDNN draws its dropout mask from a generator of its own: no mask to match off the CPU, where
    # the sample keeps its place in the list (tests index samples by position) in eval mode
    yield sample("dropout, training", 3, 2, layers=2, dropout=0.5, train=torch.device(device).type == "cpu")
    yield sample("dropout, eval", 3, 2, layers=2, dropout=0.5, train=False)
    if mode == "LSTM":
        yield sample("proj_size", 3, 2, h=3, proj=2, node=True)
        yield sample("proj_size, packed, 2 layers, bidirectional, no bias", 0, 0, h=3, proj=2, layers=2,
                     bidirectional=True, bias=False, batch_sizes=[2, 2, 1])


def cell_samples(mode, device, dtype):
    kw = dict(device=device, dtype=dtype)
    g = _GATES[mode] * 2
    states = 2 if mode == "LSTM" else 1
    for b, name in [(3, "batch 3"), (0, "empty batch")]:
        hx = [make(b, 2, **kw) for _ in range(states)]
        yield Sample((make(b, 3, **kw), *hx, make(g, 3, **kw), make(g, 2, **kw), make(g, **kw), make(g, **kw)),
                     name=name)
    hx = [make(3, 2, **kw) for _ in range(states)]
    yield Sample((make(3, 3, **kw), *hx, make(g, 3, **kw), make(g, 2, **kw)), name="no bias")


def errors(mode, device):
    kw = dict(device=device, dtype=torch.float32, requires_grad=False)
    args, kwargs = _case(mode, kw, 2, 2)
    yield ErrorSample((args[0][:0], *args[1:]), kwargs, name="zero-length sequence")


def cell_errors(mode, device):
    kw = dict(device=device, dtype=torch.float32, requires_grad=False)
    g, states = _GATES[mode] * 2, 2 if mode == "LSTM" else 1
    w = (make(g, 3, **kw), make(g, 2, **kw))
    yield ErrorSample((make(3, 4, **kw), *[make(3, 2, **kw)] * states, *w), name="input size")
    yield ErrorSample((make(3, 3, **kw), *[make(2, 2, **kw)] * states, *w), name="batch size")
    yield ErrorSample((make(3, 3, **kw), *[make(3, 3, **kw)] * states, *w), name="hidden size")


# op-table entries, collected by manualgrad/ops.py
# the multi-layer driver vs torch._VF.<mode>, one entry per output, and the cells
_FUNCTION = {"RNN_TANH": _tanh.RNNFunction, "RNN_RELU": _tanh.RNNFunction,
             "LSTM": _lstm.LSTMFunction, "GRU": _gru.GRUFunction}
_OUTPUTS = {"RNN_TANH": ("", ".h_n"), "RNN_RELU": ("", ".h_n"), "LSTM": ("", ".h_n", ".c_n"), "GRU": ("", ".h_n")}
_CELL_OUTPUTS = {"RNN_TANH": ("",), "RNN_RELU": ("",), "LSTM": (".h", ".c"), "GRU": ("",)}
OPS = [
    *[OpSpec(mode.lower() + suffix, table_op(_rnn_driver, mode, k), table_op(torch_rnn, mode, k),
             _FUNCTION[mode], functools.partial(samples, mode, k), functools.partial(errors, mode), seeded=True)
      for mode, suffixes in _OUTPUTS.items() for k, suffix in enumerate(suffixes)],
    *[OpSpec(mode.lower() + "_cell" + suffix, cell_op(mode, k, True), cell_op(mode, k, False),
             _FUNCTION[mode], functools.partial(cell_samples, mode), functools.partial(cell_errors, mode))
      for mode, suffixes in _CELL_OUTPUTS.items() for k, suffix in enumerate(suffixes)],
]
