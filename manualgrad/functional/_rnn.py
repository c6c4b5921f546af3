"""The multi-layer, bidirectional recurrent driver behind ``manualgrad.nn.RNN``/``LSTM``/``GRU``.

torch has no public functional RNN; :func:`rnn` takes the arguments of torch's internal
``torch._VF.<mode>`` (the call its modules make), so the op table compares it with that very
call. Per layer and direction it runs one recurrent Function over the whole sequence
(``functions/rnn_*.py``); the directions' outputs are concatenated along features, inter-layer
dropout (training only, not after the last layer) is :func:`manualgrad.functional.dropout`, which
draws its mask as torch's CPU kernel does, and the final states are stacked layer by layer.
"""

from __future__ import annotations

import torch

from ..functions.rnn_gru import GRUFunction
from ..functions.rnn_lstm import LSTMFunction
from ..functions.rnn_tanh import RNNFunction
from ._dropout import dropout as _dropout

MODES = ("RNN_TANH", "RNN_RELU", "LSTM", "GRU")


def _layer(mode, x, h0, c0, w, has_biases, batch_sizes, reverse):
    """One layer in one direction: the mode's Function on its weights [w_ih, w_hh, b_ih, b_hh, w_hr]."""
    w_ih, w_hh = w[0], w[1]
    b_ih, b_hh = (w[2], w[3]) if has_biases else (None, None)
    if mode == "LSTM":
        w_hr = w[4 if has_biases else 2] if len(w) in (3, 5) else None
        return LSTMFunction.apply(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, batch_sizes, reverse)[:3]
    if mode == "GRU":
        return GRUFunction.apply(x, h0, w_ih, w_hh, b_ih, b_hh, batch_sizes, reverse)[:2]
    nonlinearity = "tanh" if mode == "RNN_TANH" else "relu"
    return RNNFunction.apply(x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity, batch_sizes, reverse)[:2]


def rnn(mode: str, input: torch.Tensor, batch_sizes, hx, params, has_biases: bool, num_layers: int,
        dropout: float, train: bool, bidirectional: bool, batch_first: bool = False):
    """``(output, h_n)``, or ``(output, h_n, c_n)`` for ``mode`` "LSTM" (``hx`` then ``(h0, c0)``).

    ``input``: padded (T, B, I) ((B, T, I) if ``batch_first``) with ``batch_sizes`` None, or a
    PackedSequence's data (N, I) with its ``batch_sizes``. ``hx``: (L·D, B, P) (c0: (L·D, B, H)).
    ``params``: the flat weights per layer and direction, in torch's order (``_flat_weights``):
    w_ih, w_hh[, b_ih, b_hh][, w_hr].
    """
    if mode not in MODES:
        raise ValueError(f"Unknown mode '{mode}'")
    if input.dtype in (torch.float16, torch.bfloat16):  # the stack in float32, rounded once (as oneDNN)
        hx = tuple(h.float() for h in hx) if mode == "LSTM" else hx.float()
        out = rnn(mode, input.float(), batch_sizes, hx, [w.float() for w in params], has_biases, num_layers,
                  dropout, train, bidirectional, batch_first)
        return tuple(t.to(input.dtype) for t in out)
    directions = 2 if bidirectional else 1
    h0, c0 = hx if mode == "LSTM" else (hx, None)
    if batch_sizes is None:
        x, bs = (input.transpose(0, 1) if batch_first else input), ()
        if x.shape[0] == 0:
            raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
    else:
        x, bs = input, tuple(int(n) for n in batch_sizes)
    per = len(params) // (num_layers * directions)
    hs, cs = [], []
    for layer in range(num_layers):
        ys = []
        for d in range(directions):
            k = layer * directions + d
            out = _layer(mode, x, h0[k], None if c0 is None else c0[k], params[k * per:(k + 1) * per], has_biases,
                         bs, d == 1)
            ys.append(out[0])
            hs.append(out[1])
            cs.append(out[2] if mode == "LSTM" else None)
        x = ys[0] if directions == 1 else torch.cat(ys, -1)
        if dropout and train and layer < num_layers - 1:
            x = _dropout(x, dropout, True)
    output = x.transpose(0, 1) if batch_first and batch_sizes is None else x
    if mode == "LSTM":
        return output, torch.stack(hs), torch.stack(cs)
    return output, torch.stack(hs)


def _check_cell(input, hidden, w_hh):
    """torch's cell checks (``check_rnn_cell_forward_input``/``_hidden``), with its messages."""
    hidden_size = w_hh.shape[1]
    for k, h in enumerate(hidden):
        if h.size(0) != input.size(0):
            raise RuntimeError(f"Input batch size {input.size(0)} doesn't match hidden{k} batch size {h.size(0)}")
        if h.size(1) != hidden_size:
            raise RuntimeError(f"hidden{k} has inconsistent hidden_size: got {h.size(1)}, expected {hidden_size}")


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """``(h', c')`` of one LSTM step (``torch.lstm_cell``): :class:`LSTMFunction` with T = 1."""
    _check_input_size(input, w_ih)
    _check_cell(input, hx, w_hh)
    return LSTMFunction.apply(input, hx[0], hx[1], w_ih, w_hh, b_ih, b_hh, None, (input.size(0),), False)[1:3]


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """h' of one GRU step (``torch.gru_cell``): :class:`GRUFunction` with T = 1."""
    _check_input_size(input, w_ih)
    _check_cell(input, (hx,), w_hh)
    return GRUFunction.apply(input, hx, w_ih, w_hh, b_ih, b_hh, (input.size(0),), False)[1]


def _elman_cell(nonlinearity):
    def cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
        _check_input_size(input, w_ih)
        _check_cell(input, (hx,), w_hh)
        return RNNFunction.apply(input, hx, w_ih, w_hh, b_ih, b_hh, nonlinearity, (input.size(0),), False)[1]

    cell.__name__ = cell.__qualname__ = f"rnn_{nonlinearity}_cell"
    cell.__doc__ = f"h' of one Elman step, {nonlinearity} (``torch.rnn_{nonlinearity}_cell``): RNNFunction with T = 1."
    return cell


rnn_tanh_cell, rnn_relu_cell = _elman_cell("tanh"), _elman_cell("relu")


def _check_input_size(input, w_ih):
    if input.size(1) != w_ih.size(1):
        raise RuntimeError(f"input has inconsistent input_size: got {input.size(1)} expected {w_ih.size(1)}")
