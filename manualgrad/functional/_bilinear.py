"""``bilinear``."""

from __future__ import annotations

import torch

from ..functions.bilinear import BilinearFunction
from ._autocast import autocast_policy


@autocast_policy(None, BilinearFunction)  # not on autocast's lists: torch's CPU result stays float32
def bilinear(input1: torch.Tensor, input2: torch.Tensor, weight: torch.Tensor,
             bias: torch.Tensor | None = None) -> torch.Tensor:
    """y = input1ᵀ · weight · input2 + bias per output feature. See
    :class:`~manualgrad.functions.bilinear.BilinearFunction`."""
    return BilinearFunction.apply(input1, input2, weight, bias)
