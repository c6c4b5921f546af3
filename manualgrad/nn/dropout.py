"""``Dropout``, the channel-wise ``Dropout1d/2d/3d``, ``AlphaDropout`` and ``FeatureAlphaDropout``:
the torch.nn classes with the hand-derived backward."""

from __future__ import annotations

import torch

from .. import functional as MF


class Dropout(torch.nn.Dropout):
    """Same constructor (``p``, ``inplace``), validation and ``repr`` as :class:`torch.nn.Dropout`;
    ``forward`` runs :func:`manualgrad.functional.dropout` (mask saved as one bit per element)."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.dropout(input, self.p, self.training, self.inplace)


class Dropout1d(torch.nn.Dropout1d):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.dropout1d(input, self.p, self.training, self.inplace)


class Dropout2d(torch.nn.Dropout2d):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.dropout2d(input, self.p, self.training, self.inplace)


class Dropout3d(torch.nn.Dropout3d):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.dropout3d(input, self.p, self.training, self.inplace)


class AlphaDropout(torch.nn.AlphaDropout):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.alpha_dropout(input, self.p, self.training)


class FeatureAlphaDropout(torch.nn.FeatureAlphaDropout):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.feature_alpha_dropout(input, self.p, self.training)
