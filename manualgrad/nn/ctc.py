"""``CTCLoss``: torch's module (``blank``, ``reduction``, ``zero_infinity``) with ``forward``
through :func:`manualgrad.functional.ctc_loss`."""

from __future__ import annotations

import torch

from .. import functional as MF

__all__ = ["CTCLoss"]


class CTCLoss(torch.nn.CTCLoss):
    """:class:`torch.nn.CTCLoss`; ``forward`` runs :func:`manualgrad.functional.ctc_loss`."""

    def forward(self, log_probs: torch.Tensor, targets: torch.Tensor, input_lengths: torch.Tensor,
                target_lengths: torch.Tensor) -> torch.Tensor:
        return MF.ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank, self.reduction,
                           self.zero_infinity)
