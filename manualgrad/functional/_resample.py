"""Resampling wrapper: interpolate.

Arguments go to ``F.interpolate`` untouched, so every rule (size vs scale_factor,
recompute_scale_factor, align_corners, antialias, the input rank a mode needs) and every error
(type and message) is torch's.
"""

from __future__ import annotations

import torch

from ..functions.resample import InterpolateFunction
from ._autocast import autocast_policy


@autocast_policy(None, InterpolateFunction)
def interpolate(input: torch.Tensor, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                recompute_scale_factor=None, antialias: bool = False) -> torch.Tensor:
    """Resample the spatial dims of (N, C, d1, …) input to ``size`` or by ``scale_factor`` in
    ``mode`` (nearest, nearest-exact, linear, bilinear, bicubic, trilinear, area; antialias for
    bilinear, bicubic and lanczos). See :class:`~manualgrad.functions.resample.InterpolateFunction`.
    """
    return InterpolateFunction.apply(input, size, scale_factor, mode, align_corners, recompute_scale_factor,
                                      antialias)
