"""``BatchNorm1d/2d/3d`` and ``InstanceNorm1d/2d/3d``: the torch.nn classes with the hand-derived backward."""

from __future__ import annotations

import torch

from .. import functional as MF


class _BatchNormForward:
    """torch's ``_BatchNorm.forward``, step for step, calling :func:`manualgrad.functional.batch_norm`:
    input dim check, ``num_batches_tracked`` += 1 in training, ``momentum=None`` → cumulative
    moving average (factor 1/num_batches_tracked), batch statistics in training or when there
    are no running stats, the buffers passed only when they are to be used or updated."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        if self.training:
            bn_training = True
        else:
            bn_training = self.running_mean is None and self.running_var is None
        use_buffers = not self.training or self.track_running_stats
        return MF.batch_norm(input, self.running_mean if use_buffers else None,
                             self.running_var if use_buffers else None,
                             self.weight, self.bias, bn_training, factor, self.eps)


class BatchNorm1d(_BatchNormForward, torch.nn.BatchNorm1d):
    """torch.nn.BatchNorm1d: (N, C) or (N, C, L) input; same buffers, state_dict and repr."""


class BatchNorm2d(_BatchNormForward, torch.nn.BatchNorm2d):
    """torch.nn.BatchNorm2d: (N, C, H, W) input; same buffers, state_dict and repr."""


class BatchNorm3d(_BatchNormForward, torch.nn.BatchNorm3d):
    """torch.nn.BatchNorm3d: (N, C, D, H, W) input; same buffers, state_dict and repr."""


class _InstanceNormForward:
    """torch's ``_InstanceNorm`` (input checks, unbatched input, the num_features warning) with
    its one functional call made to :func:`manualgrad.functional.instance_norm`."""

    def _apply_instance_norm(self, input: torch.Tensor) -> torch.Tensor:
        return MF.instance_norm(input, self.running_mean, self.running_var, self.weight, self.bias,
                                self.training or not self.track_running_stats,
                                self.momentum if self.momentum is not None else 0.0, self.eps)


class InstanceNorm1d(_InstanceNormForward, torch.nn.InstanceNorm1d):
    """torch.nn.InstanceNorm1d: (N, C, L) or unbatched (C, L) input."""


class InstanceNorm2d(_InstanceNormForward, torch.nn.InstanceNorm2d):
    """torch.nn.InstanceNorm2d: (N, C, H, W) or unbatched (C, H, W) input."""


class InstanceNorm3d(_InstanceNormForward, torch.nn.InstanceNorm3d):
    """torch.nn.InstanceNorm3d: (N, C, D, H, W) or unbatched (C, D, H, W) input."""
