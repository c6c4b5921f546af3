"""Resampling modules: torch.nn.Upsample, UpsamplingNearest2d and UpsamplingBilinear2d with the
hand-derived backward (constructor, attributes, ``repr`` and empty ``state_dict`` are torch's own)."""

from __future__ import annotations

import torch

from .. import functional as MF


def _forward(self, input: torch.Tensor) -> torch.Tensor:
    return MF.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                          recompute_scale_factor=self.recompute_scale_factor)


class Upsample(torch.nn.Upsample):
    forward = _forward


class UpsamplingNearest2d(torch.nn.UpsamplingNearest2d):
    forward = _forward


class UpsamplingBilinear2d(torch.nn.UpsamplingBilinear2d):
    forward = _forward
