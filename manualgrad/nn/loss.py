"""Loss modules: the torch.nn losses with hand-derived backwards.

Each class subclasses its :mod:`torch.nn` twin, so the constructor (including the deprecated
``size_average``/``reduce``), the ``weight``/``pos_weight`` buffers, ``state_dict``, ``repr`` and
``extra_repr`` are torch's own; only ``forward`` is overridden, with one line into
:mod:`manualgrad.functional`.
"""

from __future__ import annotations

import warnings

import torch

from .. import functional as MF

__all__ = ["MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "BCELoss", "BCEWithLogitsLoss",
           "NLLLoss", "CrossEntropyLoss",
           "NLLLoss2d"]


class MSELoss(torch.nn.MSELoss):
    """:class:`torch.nn.MSELoss` (same constructor, ``reduction``, repr); ``forward`` runs
    :func:`manualgrad.functional.mse_loss`."""

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return MF.mse_loss(input, target, reduction=self.reduction)


class L1Loss(torch.nn.L1Loss):
    """:class:`torch.nn.L1Loss` (same constructor, ``reduction``, repr); ``forward`` runs
    :func:`manualgrad.functional.l1_loss`."""

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return MF.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(torch.nn.SmoothL1Loss):
    """:class:`torch.nn.SmoothL1Loss` (same constructor, ``reduction``, ``beta``, repr);
    ``forward`` runs :func:`manualgrad.functional.smooth_l1_loss`."""

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return MF.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(torch.nn.HuberLoss):
    """:class:`torch.nn.HuberLoss` (same constructor, ``reduction``, ``delta``, repr);
    ``forward`` runs :func:`manualgrad.functional.huber_loss`."""

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return MF.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class BCELoss(torch.nn.BCELoss):
    """:class:`torch.nn.BCELoss` (same constructor, ``weight`` buffer, ``state_dict``, repr);
    ``forward`` runs :func:`manualgrad.functional.binary_cross_entropy`."""

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return MF.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(torch.nn.BCEWithLogitsLoss):
    """:class:`torch.nn.BCEWithLogitsLoss` (same constructor, ``weight`` and ``pos_weight``
    buffers, ``state_dict``, repr); ``forward`` runs
    :func:`manualgrad.functional.binary_cross_entropy_with_logits`."""

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return MF.binary_cross_entropy_with_logits(input, target, self.weight, pos_weight=self.pos_weight,
                                                   reduction=self.reduction)


class NLLLoss(torch.nn.NLLLoss):
    """:class:`torch.nn.NLLLoss` (same constructor, ``weight`` buffer, ``ignore_index``,
    ``state_dict``, repr); ``forward`` runs :func:`manualgrad.functional.nll_loss`."""

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return MF.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                           reduction=self.reduction)


with warnings.catch_warnings():  # torch warns on subclassing its deprecated class, not only on use
    warnings.simplefilter("ignore", FutureWarning)

    class NLLLoss2d(torch.nn.NLLLoss2d):
        """:class:`torch.nn.NLLLoss2d`, torch's deprecated alias of ``NLLLoss`` (its constructor and
        deprecation warning, which torch's decorator gives its own class only); ``forward`` is
        :class:`NLLLoss`'s."""

        def __new__(cls, *args, **kwargs):
            warnings.warn(torch.nn.NLLLoss2d.__deprecated__, FutureWarning, stacklevel=2)
            return super().__new__(cls, *args, **kwargs)

        forward = NLLLoss.forward


class CrossEntropyLoss(torch.nn.CrossEntropyLoss):
    """:class:`torch.nn.CrossEntropyLoss` (same constructor, ``weight`` buffer,
    ``ignore_index``, ``label_smoothing``, ``state_dict``, repr); ``forward`` runs
    :func:`manualgrad.functional.cross_entropy`."""

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return MF.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                                reduction=self.reduction, label_smoothing=self.label_smoothing)

