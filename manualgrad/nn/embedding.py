"""``Embedding``: torch.nn.Embedding with the hand-derived backward."""

from __future__ import annotations

import torch

from .. import functional as MF


class Embedding(torch.nn.Embedding):
    """Same constructor, ``weight`` parameter, initialisation (padding row zeroed), ``state_dict``
    and ``repr`` as :class:`torch.nn.Embedding` (it is a subclass); ``from_pretrained`` is
    torch's classmethod, which builds ``cls(...)``, so it returns this class. ``forward`` runs
    :func:`manualgrad.functional.embedding`."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                            self.scale_grad_by_freq, self.sparse)
