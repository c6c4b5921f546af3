"""``Conv1d``, ``Conv2d``: the torch.nn modules with the hand-derived backward."""

from __future__ import annotations

import torch

from .. import functional as MF
from ..functional._conv import _pad
from ..functions.conv import padding_lo_hi

_FUNCTIONAL = {1: MF.conv1d, 2: MF.conv2d}


class _ConvForward:
    """The forward shared by the Conv modules (torch's ``_conv_forward``): padding_mode 'zeros'
    is the conv's own padding; 'reflect', 'replicate' and 'circular' pad first (hand-derived
    :class:`~manualgrad.functions.conv.PadFunction`), then convolve unpadded."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        n = len(self.kernel_size)
        padding = self.padding
        if self.padding_mode != "zeros":
            lo, hi = padding_lo_hi(padding, self.kernel_size, self.dilation)
            input = _pad(input, [p for a, b in zip(reversed(lo), reversed(hi)) for p in (a, b)], self.padding_mode)
            padding = 0
        return _FUNCTIONAL[n](input, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class Conv1d(_ConvForward, torch.nn.Conv1d):
    """Same constructor, parameters, initialisation, ``state_dict`` and ``repr`` as
    :class:`torch.nn.Conv1d`; ``forward`` runs :func:`manualgrad.functional.conv1d`."""


class Conv2d(_ConvForward, torch.nn.Conv2d):
    """Same constructor, parameters, initialisation, ``state_dict`` and ``repr`` as
    :class:`torch.nn.Conv2d`; ``forward`` runs :func:`manualgrad.functional.conv2d`."""
