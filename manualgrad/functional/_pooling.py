"""Pooling wrappers: max_pool2d, avg_pool2d, adaptive_avg_pool2d.

Arguments go to torch's own forward kernels untouched, so every shape rule (ceil_mode, padding,
dilation, None in output_size) and every error (type and message) is torch's.
"""

from __future__ import annotations

import torch

from ..functions.pooling import AdaptiveAvgPool2dFunction, AvgPool2dFunction, MaxPool2dFunction
from ._autocast import autocast_policy


def _max_pool2d(input: torch.Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
                return_indices: bool = False):
    y, indices = MaxPool2dFunction.apply(input, kernel_size, stride, padding, dilation, ceil_mode)
    return (y, indices) if return_indices else y


@autocast_policy(None, MaxPool2dFunction)
def max_pool2d(*args, **kwargs):
    """max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False)

    Max over each (dilated) window; with ``return_indices`` also the argmax, flat in the H·W
    plane. The signature is ``(*args, **kwargs)`` as torch's (a dispatch on ``return_indices``).
    See :class:`~manualgrad.functions.pooling.MaxPool2dFunction`.
    """
    return _max_pool2d(*args, **kwargs)


@autocast_policy(None, AvgPool2dFunction)
def avg_pool2d(input: torch.Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> torch.Tensor:
    """Mean over each window. See :class:`~manualgrad.functions.pooling.AvgPool2dFunction`."""
    return AvgPool2dFunction.apply(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                                   divisor_override)


@autocast_policy(None, AdaptiveAvgPool2dFunction)
def adaptive_avg_pool2d(input: torch.Tensor, output_size) -> torch.Tensor:
    """Mean over windows that tile the plane into ``output_size`` (None keeps that dim).
    See :class:`~manualgrad.functions.pooling.AdaptiveAvgPool2dFunction`."""
    return AdaptiveAvgPool2dFunction.apply(input, output_size)
