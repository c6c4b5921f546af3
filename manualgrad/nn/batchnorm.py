"""``BatchNorm1d``, ``BatchNorm2d``: the torch.nn classes with the hand-derived backward."""

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
