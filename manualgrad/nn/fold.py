"""``Fold``, ``Unfold``: the torch.nn modules with the hand-derived backward."""

from __future__ import annotations

import torch

from .. import functional as MF


class Fold(torch.nn.Fold):
    """Same constructor, ``repr`` and (empty) ``state_dict`` as :class:`torch.nn.Fold`;
    ``forward`` runs :func:`manualgrad.functional.fold`."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)


class Unfold(torch.nn.Unfold):
    """Same constructor, ``repr`` and (empty) ``state_dict`` as :class:`torch.nn.Unfold`;
    ``forward`` runs :func:`manualgrad.functional.unfold`."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)
