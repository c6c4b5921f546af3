"""``linear``."""

from __future__ import annotations

import torch

from ..functions.linear import LinearFunction


def linear(input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """y = input @ weightᵀ + bias. See :class:`~manualgrad.functions.linear.LinearFunction`."""
    return LinearFunction.apply(input, weight, bias)
