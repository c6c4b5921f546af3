"""``Conv1d``, ``Conv2d``, ``Conv3d``, ``ConvTranspose1d/2d/3d``: the torch.nn modules with the
hand-derived backward."""

from __future__ import annotations

import torch

from .. import functional as MF
from ..functional._conv import _pad
from ..functions.conv import padding_lo_hi

_FUNCTIONAL = {1: MF.conv1d, 2: MF.conv2d, 3: MF.conv3d}
_TRANSPOSED = {1: MF.conv_transpose1d, 2: MF.conv_transpose2d, 3: MF.conv_transpose3d}


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


class Conv3d(_ConvForward, torch.nn.Conv3d):
    """Same constructor, parameters, initialisation, ``state_dict`` and ``repr`` as
    :class:`torch.nn.Conv3d`; ``forward`` runs :func:`manualgrad.functional.conv3d`."""


class _ConvTransposeForward:
    """The forward shared by the ConvTranspose modules, torch's: only padding_mode 'zeros'
    (torch's ValueError otherwise), and ``output_size`` turned into ``output_padding`` by torch's
    own ``_output_padding`` (the same checks and messages)."""

    def forward(self, input: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        n = len(self.kernel_size)
        if self.padding_mode != "zeros":
            raise ValueError(f"Only `zeros` padding mode is supported for ConvTranspose{n}d")
        output_padding = self._output_padding(input, output_size, self.stride, self.padding, self.kernel_size, n,
                                              self.dilation)
        return _TRANSPOSED[n](input, self.weight, self.bias, self.stride, self.padding, output_padding, self.groups,
                              self.dilation)


class ConvTranspose1d(_ConvTransposeForward, torch.nn.ConvTranspose1d):
    """Same constructor, parameters, initialisation, ``state_dict`` and ``repr`` as
    :class:`torch.nn.ConvTranspose1d`; ``forward`` runs :func:`manualgrad.functional.conv_transpose1d`."""


class ConvTranspose2d(_ConvTransposeForward, torch.nn.ConvTranspose2d):
    """Same constructor, parameters, initialisation, ``state_dict`` and ``repr`` as
    :class:`torch.nn.ConvTranspose2d`; ``forward`` runs :func:`manualgrad.functional.conv_transpose2d`."""


class ConvTranspose3d(_ConvTransposeForward, torch.nn.ConvTranspose3d):
    """Same constructor, parameters, initialisation, ``state_dict`` and ``repr`` as
    :class:`torch.nn.ConvTranspose3d`; ``forward`` runs :func:`manualgrad.functional.conv_transpose3d`."""
