"""Pooling modules: torch.nn's MaxPool, AvgPool, AdaptiveAvgPool, AdaptiveMaxPool, LPPool (1-3d),
MaxUnpool (1-3d) and FractionalMaxPool (2d, 3d) with the hand-derived backward (constructor,
attributes, ``repr`` and empty ``state_dict`` are torch's own)."""

from __future__ import annotations

import torch

from .. import functional as MF


def _max_pool(base, fn):
    class MaxPool(base):
        def forward(self, input: torch.Tensor):
            return fn(input, self.kernel_size, self.stride, self.padding, self.dilation,
                      ceil_mode=self.ceil_mode, return_indices=self.return_indices)
    return MaxPool


def _adaptive_max_pool(base, fn):
    class AdaptiveMaxPool(base):
        def forward(self, input: torch.Tensor):
            return fn(input, self.output_size, self.return_indices)
    return AdaptiveMaxPool


def _adaptive_avg_pool(base, fn):
    class AdaptiveAvgPool(base):
        def forward(self, input: torch.Tensor) -> torch.Tensor:
            return fn(input, self.output_size)
    return AdaptiveAvgPool


def _lp_pool(base, fn):
    class LPPool(base):
        def forward(self, input: torch.Tensor) -> torch.Tensor:
            return fn(input, float(self.norm_type), self.kernel_size, self.stride, self.ceil_mode)
    return LPPool


def _max_unpool(base, fn):
    class MaxUnpool(base):
        def forward(self, input: torch.Tensor, indices: torch.Tensor, output_size=None) -> torch.Tensor:
            return fn(input, indices, self.kernel_size, self.stride, self.padding, output_size)
    return MaxUnpool


def _fractional_max_pool(base, fn):
    class FractionalMaxPool(base):
        def forward(self, input: torch.Tensor):
            return fn(input, self.kernel_size, self.output_size, self.output_ratio, self.return_indices,
                      _random_samples=self._random_samples)
    return FractionalMaxPool


def _named(cls, base):
    cls.__name__ = cls.__qualname__ = base.__name__
    cls.__module__ = __name__
    cls.__doc__ = f"torch.nn.{base.__name__} with the hand-derived backward of manualgrad.functional."
    return cls


class AvgPool1d(torch.nn.AvgPool1d):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                             self.count_include_pad)


class AvgPool2d(torch.nn.AvgPool2d):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                             self.count_include_pad, self.divisor_override)


class AvgPool3d(torch.nn.AvgPool3d):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.avg_pool3d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                             self.count_include_pad, self.divisor_override)


_nn = torch.nn
MaxPool1d = _named(_max_pool(_nn.MaxPool1d, MF.max_pool1d), _nn.MaxPool1d)
MaxPool2d = _named(_max_pool(_nn.MaxPool2d, MF.max_pool2d), _nn.MaxPool2d)
MaxPool3d = _named(_max_pool(_nn.MaxPool3d, MF.max_pool3d), _nn.MaxPool3d)
AdaptiveMaxPool1d = _named(_adaptive_max_pool(_nn.AdaptiveMaxPool1d, MF.adaptive_max_pool1d), _nn.AdaptiveMaxPool1d)
AdaptiveMaxPool2d = _named(_adaptive_max_pool(_nn.AdaptiveMaxPool2d, MF.adaptive_max_pool2d), _nn.AdaptiveMaxPool2d)
AdaptiveMaxPool3d = _named(_adaptive_max_pool(_nn.AdaptiveMaxPool3d, MF.adaptive_max_pool3d), _nn.AdaptiveMaxPool3d)
AdaptiveAvgPool1d = _named(_adaptive_avg_pool(_nn.AdaptiveAvgPool1d, MF.adaptive_avg_pool1d), _nn.AdaptiveAvgPool1d)
AdaptiveAvgPool2d = _named(_adaptive_avg_pool(_nn.AdaptiveAvgPool2d, MF.adaptive_avg_pool2d), _nn.AdaptiveAvgPool2d)
AdaptiveAvgPool3d = _named(_adaptive_avg_pool(_nn.AdaptiveAvgPool3d, MF.adaptive_avg_pool3d), _nn.AdaptiveAvgPool3d)
LPPool1d = _named(_lp_pool(_nn.LPPool1d, MF.lp_pool1d), _nn.LPPool1d)
LPPool2d = _named(_lp_pool(_nn.LPPool2d, MF.lp_pool2d), _nn.LPPool2d)
LPPool3d = _named(_lp_pool(_nn.LPPool3d, MF.lp_pool3d), _nn.LPPool3d)
MaxUnpool1d = _named(_max_unpool(_nn.MaxUnpool1d, MF.max_unpool1d), _nn.MaxUnpool1d)
MaxUnpool2d = _named(_max_unpool(_nn.MaxUnpool2d, MF.max_unpool2d), _nn.MaxUnpool2d)
MaxUnpool3d = _named(_max_unpool(_nn.MaxUnpool3d, MF.max_unpool3d), _nn.MaxUnpool3d)
FractionalMaxPool2d = _named(_fractional_max_pool(_nn.FractionalMaxPool2d, MF.fractional_max_pool2d),
                             _nn.FractionalMaxPool2d)
FractionalMaxPool3d = _named(_fractional_max_pool(_nn.FractionalMaxPool3d, MF.fractional_max_pool3d),
                             _nn.FractionalMaxPool3d)
