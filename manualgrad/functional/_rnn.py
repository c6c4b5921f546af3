"""The multi-layer, bidirectional recurrent driver behind ``manualgrad.nn.RNN``/``LSTM``/``GRU``,
and the single steps behind the cells.

torch has no public functional RNN; :func:`rnn` takes the arguments of torch's internal
``torch._VF.<mode>`` (the call its modules make), so the op table compares it with that very
call. Per layer and direction it runs one recurrent Function over the whole sequence
(``functions/rnn_*.py``); the directions' outputs are concatenated along features, inter-layer
dropout (training only, not after the last layer) is :func:`manualgrad.functional.dropout`, which
draws its mask as torch's CPU kernel does, and the final states are stacked layer by layer.
The cells (``lstm_cell``, ``gru_cell``, ``rnn_tanh_cell``, ``rnn_relu_cell``: ``torch.<name>``'s
signatures and checks) run the layer Function over one step.

Autocast, as torch's CPU kernels come out: ``lstm`` (padded input), ``rnn_tanh``/``rnn_relu``
and their cells return autocast's dtype; ``gru``, ``gru_cell``, ``lstm_cell`` and a packed
``lstm`` (whose torch outputs stay float32) the widest of their inputs' dtypes. Either way the
walk runs in float32 from the inputs as given and rounds its results once (torch rounds the
inputs to autocast's dtype first): same dtypes as torch, values at least as close.
"""

from __future__ import annotations

import functools

import torch

from ..functions.rnn_gru import GRUFunction
from ..functions.rnn_lstm import LSTMFunction
from ..functions.rnn_tanh import RNNFunction
from ._autocast import PROMOTE, autocast_policy
from ._dropout import dropout as _dropout

MODES = ("RNN_TANH", "RNN_RELU", "LSTM", "GRU")
_LOW = (torch.float16, torch.bfloat16)


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
    states = tuple(hx) if mode == "LSTM" else (hx,)
    promoted = mode == "GRU" or (mode == "LSTM" and batch_sizes is not None)
    run = _stack_promoted if promoted else _stack_lowered
    return run(mode, input, batch_sizes, len(states), *states, *params, has_biases=has_biases, num_layers=num_layers,
               dropout=dropout, train=train, bidirectional=bidirectional, batch_first=batch_first)


def _stack(mode, input, batch_sizes, n_states, *tensors, has_biases, num_layers, dropout, train, bidirectional,
           batch_first):
    """:func:`rnn` on flat tensors (the states, then the weights), autocast already applied."""
    if input.dtype in _LOW:  # the stack in float32, rounded once (as oneDNN)
        out = _stack(mode, input.float(), batch_sizes, n_states, *(t.float() for t in tensors),
                     has_biases=has_biases, num_layers=num_layers, dropout=dropout, train=train,
                     bidirectional=bidirectional, batch_first=batch_first)
        return tuple(t.to(input.dtype) for t in out)
    h0, c0 = tensors[0], tensors[1] if n_states == 2 else None
    params = tensors[n_states:]
    directions = 2 if bidirectional else 1
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
            out = _layer(mode, x, h0[k:k + 1], None if c0 is None else c0[k:k + 1], params[k * per:(k + 1) * per],
                         has_biases, bs, d == 1)
            ys.append(out[0])
            hs.append(out[1])
            cs.append(out[2] if mode == "LSTM" else None)
        x = ys[0] if directions == 1 else torch.cat(ys, -1)
        if dropout and train and layer < num_layers - 1:
            x = _dropout(x, dropout, True)
    output = x.transpose(0, 1) if batch_first and batch_sizes is None else x
    if mode == "LSTM":
        return output, _joined(hs), _joined(cs)
    return output, _joined(hs)


def _lowered_outputs(fn):
    """``fn`` whose floating outputs come back in autocast's dtype while autocast is on for them
    (the inputs are left as given: ``fn`` runs under the PROMOTE policy)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        out = fn(*args, **kwargs)
        many = isinstance(out, tuple)
        outs = out if many else (out,)
        device = outs[0].device.type
        if not (torch.amp.is_autocast_available(device) and torch.is_autocast_enabled(device)):
            return out
        low = torch.get_autocast_dtype(device)
        outs = tuple(t.to(low) if t.dtype != torch.float64 else t for t in outs)
        return outs if many else outs[0]

    return wrapper


def _joined(states):
    """The layers' final states (each (1, B, W)) as one (L·D, B, W) tensor: a single one as is."""
    return states[0] if len(states) == 1 else torch.cat(states)


_stack_lowered = _lowered_outputs(autocast_policy(PROMOTE, LSTMFunction, RNNFunction)(_stack))
_stack_promoted = autocast_policy(PROMOTE, GRUFunction)(_stack)


def _check_cell(input, hidden, w_ih, w_hh):
    """torch's cell checks (``check_rnn_cell_forward_input``/``_hidden``), with its messages."""
    if input.size(1) != w_ih.size(1):
        raise RuntimeError(f"input has inconsistent input_size: got {input.size(1)} expected {w_ih.size(1)}")
    for k, h in enumerate(hidden):
        if h.size(0) != input.size(0):
            raise RuntimeError(f"Input batch size {input.size(0)} doesn't match hidden{k} batch size {h.size(0)}")
        if h.size(1) != w_hh.size(1):
            raise RuntimeError(f"hidden{k} has inconsistent hidden_size: got {h.size(1)}, expected {w_hh.size(1)}")


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """``(h', c')`` of one LSTM step (``torch.lstm_cell``): :class:`LSTMFunction` with T = 1."""
    return _lstm_step(input, hx[0], hx[1], w_ih, w_hh, b_ih, b_hh)


@autocast_policy(PROMOTE, LSTMFunction)
def _lstm_step(input, h, c, w_ih, w_hh, b_ih, b_hh):
    _check_cell(input, (h, c), w_ih, w_hh)
    return LSTMFunction.apply(input, h, c, w_ih, w_hh, b_ih, b_hh, None, (input.size(0),), False)[1:3]


@autocast_policy(PROMOTE, GRUFunction)
def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """h' of one GRU step (``torch.gru_cell``): :class:`GRUFunction` with T = 1."""
    _check_cell(input, (hx,), w_ih, w_hh)
    return GRUFunction.apply(input, hx, w_ih, w_hh, b_ih, b_hh, (input.size(0),), False)[1]


def _elman_cell(nonlinearity):
    @_lowered_outputs
    @autocast_policy(PROMOTE, RNNFunction)
    def cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
        _check_cell(input, (hx,), w_ih, w_hh)
        return RNNFunction.apply(input, hx, w_ih, w_hh, b_ih, b_hh, nonlinearity, (input.size(0),), False)[1]

    cell.__name__ = cell.__qualname__ = f"rnn_{nonlinearity}_cell"
    cell.__doc__ = f"h' of one Elman step, {nonlinearity} (``torch.rnn_{nonlinearity}_cell``): RNNFunction with T = 1."
    return cell


rnn_tanh_cell, rnn_relu_cell = _elman_cell("tanh"), _elman_cell("relu")
