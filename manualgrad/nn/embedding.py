"""``Embedding``, ``EmbeddingBag``: the torch.nn classes with the hand-derived backward."""

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


class EmbeddingBag(torch.nn.EmbeddingBag):
    """torch.nn.EmbeddingBag (same constructor, ``weight``, init, ``state_dict``, ``repr``,
    ``from_pretrained``); ``forward`` runs :func:`manualgrad.functional.embedding_bag`."""

    def forward(self, input: torch.Tensor, offsets: torch.Tensor | None = None,
                per_sample_weights: torch.Tensor | None = None) -> torch.Tensor:
        return MF.embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type, self.scale_grad_by_freq,
                                self.mode, self.sparse, per_sample_weights, self.include_last_offset,
                                self.padding_idx)
