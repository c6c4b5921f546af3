"""``RNNCell``, ``LSTMCell``, ``GRUCell``: one time step, one Function node.

Each subclasses its torch twin (constructor, ``weight_ih``/``weight_hh``/``bias_ih``/``bias_hh``,
initialisation, ``state_dict``); ``forward`` takes batched (B, I) or unbatched (I,) input with
torch's checks and messages and runs the layer Function of its kind over a single step
(``batch_sizes = (B,)``): the cell's backward is the sequence backward with T = 1.
"""

from __future__ import annotations

import torch

from ..functions.rnn_gru import GRUFunction
from ..functions.rnn_lstm import LSTMFunction
from ..functions.rnn_tanh import RNNFunction


def _check_step(cell, input, hidden):
    """torch's cell checks (``check_rnn_cell_forward_input``/``_hidden``), with its messages."""
    if input.size(1) != cell.input_size:
        raise RuntimeError(f"input has inconsistent input_size: got {input.size(1)} expected {cell.input_size}")
    for k, h in enumerate(hidden):
        if h.size(0) != input.size(0):
            raise RuntimeError(f"Input batch size {input.size(0)} doesn't match hidden{k} batch size {h.size(0)}")
        if h.size(1) != cell.hidden_size:
            raise RuntimeError(f"hidden{k} has inconsistent hidden_size: got {h.size(1)}, expected {cell.hidden_size}")


class _Cell:
    """Input and state handling shared by the three cells (torch's forwards, in one place)."""

    _name: str
    _states: int = 1  # LSTM: (h, c)

    def forward(self, input, hx=None):
        if input.dim() not in (1, 2):
            raise ValueError(f"{self._name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        states = None if hx is None else ((hx,) if self._states == 1 else tuple(hx))
        for k, h in enumerate(states or ()):
            if h.dim() not in (1, 2):
                what = "hidden" if self._states == 1 else f"hx[{k}]"
                raise ValueError(f"{self._name}: Expected {what} to be 1D or 2D, got {h.dim()}D instead")
        batched = input.dim() == 2
        if not batched:
            input = input.unsqueeze(0)
        if states is None:
            zeros = torch.zeros(input.size(0), self.hidden_size, dtype=input.dtype, device=input.device)
            states = (zeros,) * self._states
        elif not batched:
            states = tuple(h.unsqueeze(0) for h in states)
        _check_step(self, input, states)
        out = self._step(input, *states, (input.size(0),))
        if not batched:
            out = tuple(h.squeeze(0) for h in out)
        return out if self._states == 2 else out[0]


class RNNCell(_Cell, torch.nn.RNNCell):
    """:class:`torch.nn.RNNCell` (tanh or relu): :class:`~manualgrad.functions.rnn_tanh.RNNFunction`, T = 1."""

    _name = "RNNCell"

    def _step(self, x, h, batch_sizes):
        if self.nonlinearity not in ("tanh", "relu"):
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        return RNNFunction.apply(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh,
                                 self.nonlinearity, batch_sizes, False)[1:2]


class LSTMCell(_Cell, torch.nn.LSTMCell):
    """:class:`torch.nn.LSTMCell`: :class:`~manualgrad.functions.rnn_lstm.LSTMFunction`, T = 1."""

    _name = "LSTMCell"
    _states = 2

    def _step(self, x, h, c, batch_sizes):
        return LSTMFunction.apply(x, h, c, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, None,
                                  batch_sizes, False)[1:3]


class GRUCell(_Cell, torch.nn.GRUCell):
    """:class:`torch.nn.GRUCell`: :class:`~manualgrad.functions.rnn_gru.GRUFunction`, T = 1."""

    _name = "GRUCell"

    def _step(self, x, h, batch_sizes):
        return GRUFunction.apply(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh,
                                 batch_sizes, False)[1:2]
