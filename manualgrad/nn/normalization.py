"""``LayerNorm``, ``GroupNorm``, ``RMSNorm``, ``LocalResponseNorm``: the torch.nn classes with the hand-derived backward.

Each is a subclass of its torch.nn twin (same constructor, parameters, initialisation,
``state_dict`` and ``repr``) whose ``forward`` is one call into :mod:`manualgrad.functional`.
"""

from __future__ import annotations

import torch

from .. import functional as MF


class LayerNorm(torch.nn.LayerNorm):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)


class GroupNorm(torch.nn.GroupNorm):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)


class RMSNorm(torch.nn.RMSNorm):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.rms_norm(input, self.normalized_shape, self.weight, self.eps)


class LocalResponseNorm(torch.nn.LocalResponseNorm):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.local_response_norm(input, self.size, self.alpha, self.beta, self.k)
