"""``Dropout``: torch.nn.Dropout with the hand-derived backward."""

from __future__ import annotations

import torch

from .. import functional as MF


class Dropout(torch.nn.Dropout):
    """Same constructor (``p``, ``inplace``), validation and ``repr`` as :class:`torch.nn.Dropout`;
    ``forward`` runs :func:`manualgrad.functional.dropout` (mask saved as one bit per element)."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.dropout(input, self.p, self.training, self.inplace)
