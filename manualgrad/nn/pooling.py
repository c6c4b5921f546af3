"""Pooling modules: torch.nn.MaxPool2d, AvgPool2d and AdaptiveAvgPool2d with the hand-derived
backward (constructor, attributes, ``repr`` and empty ``state_dict`` are torch's own)."""

from __future__ import annotations

import torch

from .. import functional as MF


class MaxPool2d(torch.nn.MaxPool2d):
    def forward(self, input: torch.Tensor):
        return MF.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                             ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class AvgPool2d(torch.nn.AvgPool2d):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                             self.count_include_pad, self.divisor_override)


class AdaptiveAvgPool2d(torch.nn.AdaptiveAvgPool2d):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.adaptive_avg_pool2d(input, self.output_size)
