"""Piecewise-linear activation wrappers: hardtanh, relu6, hardsigmoid, hardswish, threshold,
softshrink, hardshrink."""

from __future__ import annotations

import torch

from ..functions.activations_piecewise import (HardsigmoidFunction, HardswishFunction, HardtanhFunction,
                                               ShrinkFunction, ThresholdFunction)
from ._autocast import autocast_policy
from ._util import _check_inplace, _out_of_place_then_copied, _written_back


@autocast_policy(None, HardtanhFunction)
def hardtanh(input: torch.Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> torch.Tensor:
    """input clamped to [min_val, max_val]. See :class:`~manualgrad.functions.activations_piecewise.HardtanhFunction`."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    if _out_of_place_then_copied(inplace):
        return input.copy_(hardtanh(input, min_val, max_val))
    if inplace:
        _check_inplace(input)
    return HardtanhFunction.apply(input, min_val, max_val, inplace)


def relu6(input: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """min(max(input, 0), 6): hardtanh(input, 0, 6), as torch's kernel."""
    return hardtanh(input, 0.0, 6.0, inplace)


@autocast_policy(None, HardsigmoidFunction)
def hardsigmoid(input: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """relu6(input + 3)/6. See :class:`~manualgrad.functions.activations_piecewise.HardsigmoidFunction`."""
    if inplace:
        return _written_back(input, HardsigmoidFunction.apply, saves_input=False)
    return HardsigmoidFunction.apply(input)


@autocast_policy(None, HardswishFunction)
def hardswish(input: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """input·relu6(input + 3)/6. See :class:`~manualgrad.functions.activations_piecewise.HardswishFunction`."""
    if inplace:
        return _written_back(input, HardswishFunction.apply, saves_input=True)
    return HardswishFunction.apply(input)


@autocast_policy(None, ThresholdFunction)
def threshold(input: torch.Tensor, threshold: float, value: float, inplace: bool = False) -> torch.Tensor:
    """input where input > threshold, else value. See :class:`~manualgrad.functions.activations_piecewise.ThresholdFunction`."""
    if _out_of_place_then_copied(inplace):
        return input.copy_(_threshold(input, threshold, value))
    if inplace:
        _check_inplace(input)
    if input.is_complex():  # torch's kernel has none: its error, before the mask's comparison raises another
        return (torch.threshold_ if inplace else torch.threshold)(input, threshold, value)
    return ThresholdFunction.apply(input, ~(input <= threshold), threshold, value, inplace)


_threshold = threshold  # the function, where its argument ``threshold`` shadows it


@autocast_policy(None, ShrinkFunction)
def softshrink(input: torch.Tensor, lambd: float = 0.5) -> torch.Tensor:
    """input ∓ lambd outside [−lambd, lambd], 0 inside. See :class:`~manualgrad.functions.activations_piecewise.ShrinkFunction`."""
    return ShrinkFunction.apply(input, lambd, True)


@autocast_policy(None, ShrinkFunction)
def hardshrink(input: torch.Tensor, lambd: float = 0.5) -> torch.Tensor:
    """input outside [−lambd, lambd], 0 inside. See :class:`~manualgrad.functions.activations_piecewise.ShrinkFunction`."""
    return ShrinkFunction.apply(input, lambd, False)
