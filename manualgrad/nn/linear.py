"""``Linear``, ``Bilinear``: the torch.nn classes with the hand-derived backward."""

from __future__ import annotations

import torch

from .. import functional as MF


class Linear(torch.nn.Linear):
    """Same constructor, parameters (``weight``, ``bias``), initialisation, ``state_dict`` and
    ``repr`` as :class:`torch.nn.Linear` (it is a subclass, so the same seed draws the same
    weights); ``forward`` runs :func:`manualgrad.functional.linear`."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.linear(input, self.weight, self.bias)


class Bilinear(torch.nn.Bilinear):
    """torch.nn.Bilinear (same constructor, parameters, init, state_dict, repr); ``forward`` runs
    :func:`manualgrad.functional.bilinear`."""

    def forward(self, input1: torch.Tensor, input2: torch.Tensor) -> torch.Tensor:
        return MF.bilinear(input1, input2, self.weight, self.bias)
