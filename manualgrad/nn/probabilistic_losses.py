"""Likelihood-loss modules: each subclasses its :mod:`torch.nn` twin (constructor with the
deprecated ``size_average``/``reduce``, ``weight`` buffer, ``state_dict``, repr) and overrides
only ``forward``, one line into :mod:`manualgrad.functional`."""

from __future__ import annotations

import torch

from .. import functional as MF

__all__ = ["KLDivLoss", "PoissonNLLLoss", "GaussianNLLLoss", "MultiLabelSoftMarginLoss"]


class KLDivLoss(torch.nn.KLDivLoss):
    """:class:`torch.nn.KLDivLoss` (``reduction`` incl. 'batchmean', ``log_target``); ``forward``
    runs :func:`manualgrad.functional.kl_div`."""

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return MF.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class PoissonNLLLoss(torch.nn.PoissonNLLLoss):
    """:class:`torch.nn.PoissonNLLLoss` (``log_input``, ``full``, ``eps``); ``forward`` runs
    :func:`manualgrad.functional.poisson_nll_loss`."""

    def forward(self, log_input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return MF.poisson_nll_loss(log_input, target, log_input=self.log_input, full=self.full, eps=self.eps,
                                   reduction=self.reduction)


class GaussianNLLLoss(torch.nn.GaussianNLLLoss):
    """:class:`torch.nn.GaussianNLLLoss` (``full``, ``eps``); ``forward`` runs
    :func:`manualgrad.functional.gaussian_nll_loss`."""

    def forward(self, input: torch.Tensor, target: torch.Tensor, var: torch.Tensor | float) -> torch.Tensor:
        return MF.gaussian_nll_loss(input, target, var, full=self.full, eps=self.eps, reduction=self.reduction)


class MultiLabelSoftMarginLoss(torch.nn.MultiLabelSoftMarginLoss):
    """:class:`torch.nn.MultiLabelSoftMarginLoss` (``weight`` buffer); ``forward`` runs
    :func:`manualgrad.functional.multilabel_soft_margin_loss`."""

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return MF.multilabel_soft_margin_loss(input, target, weight=self.weight, reduction=self.reduction)
