"""``RNNCell``, ``LSTMCell``, ``GRUCell``: one time step, one Function node.

Each subclasses its torch twin (constructor, ``weight_ih``/``weight_hh``/``bias_ih``/``bias_hh``,
initialisation, ``state_dict``); ``forward`` takes batched (B, I) or unbatched (I,) input with
torch's checks and messages and runs the cell function of
:mod:`manualgrad.functional._rnn` (the layer Function of its kind over one step, so the cell's
backward is the sequence backward with T = 1).
"""

from __future__ import annotations

import torch

from ..functional import _rnn


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
        out = self._step(input, states if self._states == 2 else states[0])
        if not batched:
            return tuple(h.squeeze(0) for h in out) if self._states == 2 else out.squeeze(0)
        return out


class RNNCell(_Cell, torch.nn.RNNCell):
    """:class:`torch.nn.RNNCell` (tanh or relu): :class:`~manualgrad.functions.rnn_tanh.RNNFunction`, T = 1."""

    _name = "RNNCell"

    def _step(self, x, h):
        if self.nonlinearity not in ("tanh", "relu"):
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        cell = _rnn.rnn_tanh_cell if self.nonlinearity == "tanh" else _rnn.rnn_relu_cell
        return cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


class LSTMCell(_Cell, torch.nn.LSTMCell):
    """:class:`torch.nn.LSTMCell`: :class:`~manualgrad.functions.rnn_lstm.LSTMFunction`, T = 1."""

    _name = "LSTMCell"
    _states = 2

    def _step(self, x, hx):
        return _rnn.lstm_cell(x, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


class GRUCell(_Cell, torch.nn.GRUCell):
    """:class:`torch.nn.GRUCell`: :class:`~manualgrad.functions.rnn_gru.GRUFunction`, T = 1."""

    _name = "GRUCell"

    def _step(self, x, h):
        return _rnn.gru_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
