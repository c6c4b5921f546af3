"""``linear``."""

from __future__ import annotations

import torch

from ..functions.linear import LinearFunction
from ._autocast import LOWER, autocast_policy


@autocast_policy(LOWER, LinearFunction)
def linear(input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """y = input @ weightᵀ + bias. See :class:`~manualgrad.functions.linear.LinearFunction`."""
    return LinearFunction.apply(input, weight, bias)
