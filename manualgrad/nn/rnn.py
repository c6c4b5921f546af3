"""``RNN``, ``LSTM``, ``GRU``: torch's recurrent modules with the hand-derived backward through time.

Each subclasses its torch twin: same constructor, parameters (``weight_ih_l{k}[_reverse]``,
``weight_hh_…``, ``bias_ih_…``, ``bias_hh_…``, ``weight_hr_…``), initialisation, ``state_dict``,
``flatten_parameters`` and ``repr``; ``forward`` takes what torch's takes (padded, batch_first,
unbatched or a ``PackedSequence``; hx or (h0, c0)) with torch's checks and messages, and runs
:func:`manualgrad.functional._rnn.rnn` where torch calls ``torch._VF``.
"""

from __future__ import annotations

import torch
from torch.nn.utils.rnn import PackedSequence

from ..functional._rnn import rnn


class _Recurrent:
    """The forward shared by RNN, LSTM and GRU (torch's three forwards, differing only in
    messages and in LSTM's (h0, c0) pair)."""

    _name: str  # how torch's messages name the module

    def forward(self, input, hx=None):
        self._update_flat_weights()
        lstm = self.mode == "LSTM"
        packed = isinstance(input, PackedSequence)
        sorted_indices = unsorted_indices = batch_sizes = None
        batched = True
        if packed:
            input, batch_sizes, sorted_indices, unsorted_indices = input
            batch = int(batch_sizes[0])
        else:
            if input.dim() not in (2, 3):
                tensor = " tensor" if self.mode.startswith("RNN") else ""
                raise ValueError(f"{self._name}: Expected input to be 2D or 3D, got {input.dim()}D{tensor} instead")
            batched = input.dim() == 3
            if not batched:
                input = input.unsqueeze(0 if self.batch_first else 1)
            if hx is not None:
                hx = self._batched_hidden(hx, batched)
            batch = input.size(0) if self.batch_first else input.size(1)
        if hx is None:
            hx = self._zero_hidden(input, batch)
        else:
            hx = self.permute_hidden(hx, sorted_indices)
        self.check_forward_args(input, hx, batch_sizes)
        result = rnn(self.mode, input, batch_sizes, hx, self._flat_weights, self.bias, self.num_layers,
                     float(self.dropout), self.training, self.bidirectional, self.batch_first)
        output, hidden = result[0], (result[1:] if lstm else result[1])
        if packed:
            return PackedSequence(output, batch_sizes, sorted_indices, unsorted_indices), \
                self.permute_hidden(hidden, unsorted_indices)
        if not batched:
            output = output.squeeze(0 if self.batch_first else 1)
            hidden = tuple(h.squeeze(1) for h in hidden) if lstm else hidden.squeeze(1)
        return output, hidden

    def _zero_hidden(self, input, batch):
        """torch's default state: zeros of (L·D, B, P) (and (L·D, B, H) for LSTM's c0)."""
        layers = self.num_layers * (2 if self.bidirectional else 1)
        size = self.proj_size if self.proj_size > 0 else self.hidden_size
        h0 = torch.zeros(layers, batch, size, dtype=input.dtype, device=input.device)
        if self.mode != "LSTM":
            return h0
        return h0, torch.zeros(layers, batch, self.hidden_size, dtype=input.dtype, device=input.device)

    def _batched_hidden(self, hx, batched):
        """hx of a padded input with torch's dimension checks; an unbatched one gains the batch dim."""
        want = 3 if batched else 2
        kind = "batched 3-D" if batched else "unbatched 2-D"
        if self.mode == "LSTM":
            if hx[0].dim() != want or hx[1].dim() != want:
                raise RuntimeError(f"For {kind} input, hx and cx should also be {want}-D but got "
                                   f"({hx[0].dim()}-D, {hx[1].dim()}-D) tensors")
            return hx if batched else (hx[0].unsqueeze(1), hx[1].unsqueeze(1))
        if hx.dim() != want:
            raise RuntimeError(f"For {kind} input, hx should also be {want}-D but got {hx.dim()}-D tensor")
        return hx if batched else hx.unsqueeze(1)


class RNN(_Recurrent, torch.nn.RNN):
    """:class:`torch.nn.RNN` (tanh or relu) with the hand-derived backward
    (:class:`~manualgrad.functions.rnn_tanh.RNNFunction` per layer and direction)."""

    _name = "RNN"


class LSTM(_Recurrent, torch.nn.LSTM):
    """:class:`torch.nn.LSTM` (incl. ``proj_size``) with the hand-derived backward
    (:class:`~manualgrad.functions.rnn_lstm.LSTMFunction` per layer and direction)."""

    _name = "LSTM"


class GRU(_Recurrent, torch.nn.GRU):
    """:class:`torch.nn.GRU` with the hand-derived backward
    (:class:`~manualgrad.functions.rnn_gru.GRUFunction` per layer and direction)."""

    _name = "GRU"
