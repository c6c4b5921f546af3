"""``BatchNorm1d/2d/3d``, ``SyncBatchNorm`` and ``InstanceNorm1d/2d/3d``: the torch.nn classes with
the hand-derived backward."""

from __future__ import annotations

import torch
import torch.distributed as dist

from .. import functional as MF
from ..functions.sync_batch_norm import SyncBatchNormFunction


class _BatchNormForward:
    """torch's ``_BatchNorm.forward``, step for step, calling :func:`manualgrad.functional.batch_norm`:
    input dim check, ``num_batches_tracked`` += 1 in training, ``momentum=None`` → cumulative
    moving average (factor 1/num_batches_tracked), batch statistics in training or when there
    are no running stats, the buffers passed only when they are to be used or updated."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(input)
        return MF.batch_norm(input, *self._batch_norm_args())

    def _batch_norm_args(self):
        """(running_mean, running_var, weight, bias, bn_training, momentum, eps) as torch's forward
        passes them to ``F.batch_norm``, counting this batch in ``num_batches_tracked``."""
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        if self.training:
            bn_training = True
        else:
            bn_training = self.running_mean is None and self.running_var is None
        use_buffers = not self.training or self.track_running_stats
        return (self.running_mean if use_buffers else None, self.running_var if use_buffers else None,
                self.weight, self.bias, bn_training, factor, self.eps)


class BatchNorm1d(_BatchNormForward, torch.nn.BatchNorm1d):
    """torch.nn.BatchNorm1d: (N, C) or (N, C, L) input; same buffers, state_dict and repr."""


class BatchNorm2d(_BatchNormForward, torch.nn.BatchNorm2d):
    """torch.nn.BatchNorm2d: (N, C, H, W) input; same buffers, state_dict and repr."""


class BatchNorm3d(_BatchNormForward, torch.nn.BatchNorm3d):
    """torch.nn.BatchNorm3d: (N, C, D, H, W) input; same buffers, state_dict and repr."""


class SyncBatchNorm(_BatchNormForward, torch.nn.SyncBatchNorm):
    """torch.nn.SyncBatchNorm: (N, C, +) input; same constructor, buffers, state_dict and repr.
    In training under an initialised process group of more than one rank, the statistics are
    those of every rank's batch together (ranks may hold different batch sizes, or none):
    :class:`~manualgrad.functions.sync_batch_norm.SyncBatchNormFunction`. Otherwise (no process
    group, one rank, eval) it is :class:`BatchNorm1d`'s forward, as torch's falls back to
    ``F.batch_norm``. Extension: CPU input is synchronised too (over gloo), where torch's raises
    "SyncBatchNorm expected input tensor to be on GPU ..."; torch's input checks are kept."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(input)
        self._check_non_zero_input_channels(input)
        running_mean, running_var, w, b, bn_training, factor, eps = self._batch_norm_args()
        group = self._sync_group() if bn_training and self.training else None
        if group is None:
            return MF.batch_norm(input, running_mean, running_var, w, b, bn_training, factor, eps)
        return SyncBatchNormFunction.apply(input, w, b, running_mean, running_var, factor, eps, group)[0]

    def _sync_group(self):
        """The process group to synchronise over (torch's choice), None when there is nothing to
        synchronise: no initialised process group, or a group of one rank."""
        if not (dist.is_available() and dist.is_initialized()):
            return None
        group = self.process_group if self.process_group else dist.group.WORLD
        return group if dist.get_world_size(group) > 1 else None

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """torch's ``convert_sync_batchnorm``, building ``cls`` (torch's builds a
        ``torch.nn.SyncBatchNorm`` whatever class it is called on): every ``BatchNorm*d`` (any
        ``_BatchNorm``) in ``module`` becomes one, sharing its parameters and buffers."""
        out = module
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            out = cls(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats,
                      process_group, bias=module.bias is not None)
            if module.affine:
                with torch.no_grad():
                    out.weight, out.bias = module.weight, module.bias
            out.running_mean, out.running_var = module.running_mean, module.running_var
            out.num_batches_tracked, out.training = module.num_batches_tracked, module.training
            if hasattr(module, "qconfig"):
                out.qconfig = module.qconfig
        for name, child in module.named_children():
            out.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return out


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
