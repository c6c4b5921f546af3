"""``LinearCrossEntropyLoss``: torch 2.13's module, its ``forward`` running
:func:`manualgrad.functional.linear_cross_entropy` (chunked: the N×V logits never exist in full).

On torch ≥ 2.13 it subclasses :class:`torch.nn.LinearCrossEntropyLoss` and overrides only
``forward``. Older torch has no such class: there it is a loss module with torch 2.13's
constructor, checks, ``linear`` submodule (a :class:`torch.nn.Linear` of
``num_classes · prod(out_features)`` outputs, so the same initialisation), ``weight`` buffer,
``state_dict`` keys and ``repr``; a checkpoint moves between the two unchanged.
"""

from __future__ import annotations

import math

import torch
from torch.nn.modules.loss import _WeightedLoss

from .. import functional as MF

__all__ = ["LinearCrossEntropyLoss"]


def _forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """torch 2.13's forward, into manualgrad: the flat ``linear`` parameters reshaped to
    (C, *out_features, in_features) and (C, *out_features)."""
    weight = self.linear.weight.reshape((self.num_classes, *self.out_features, self.linear.in_features))
    bias = None if self.linear.bias is None else self.linear.bias.reshape((self.num_classes, *self.out_features))
    return MF.linear_cross_entropy(input, weight, target, linear_bias=bias, weight=self.weight,
                                   reduction=self.reduction, ignore_index=self.ignore_index,
                                   label_smoothing=self.label_smoothing, options=self.options)


if hasattr(torch.nn, "LinearCrossEntropyLoss"):  # torch >= 2.13

    class LinearCrossEntropyLoss(torch.nn.LinearCrossEntropyLoss):
        """:class:`torch.nn.LinearCrossEntropyLoss` (same constructor, ``linear`` submodule,
        ``weight`` buffer, ``state_dict``, repr); ``forward`` runs
        :func:`manualgrad.functional.linear_cross_entropy`, chunked."""

        forward = _forward

else:  # torch < 2.13: the same module, written out (a manualgrad extension there)

    class LinearCrossEntropyLoss(_WeightedLoss):
        """torch 2.13's ``LinearCrossEntropyLoss`` for older torch: cross-entropy of
        ``linear(input)`` against ``target``; constructor, parameters, ``state_dict`` and repr as
        torch 2.13's. ``options`` may be any object with a ``batch_chunk_size`` (rows per chunk)."""

        __constants__ = ["num_classes", "out_features", "reduction", "ignore_index", "label_smoothing"]

        def __init__(self, in_features: int, num_classes: int, *, out_features: tuple[int, ...] = (),
                     bias: bool = False, device=None, dtype=None, reduction: str = "mean",
                     weight: torch.Tensor | None = None, ignore_index: int | None = None,
                     label_smoothing: float = 0.0, options=None) -> None:
            if weight is not None and weight.shape != (num_classes,):
                raise RuntimeError(f"expected weight shape to be {(num_classes,)}, got {tuple(weight.shape)}")
            if label_smoothing < 0 or label_smoothing > 1.0:
                raise RuntimeError(f"expected label_smoothing to be in range [0, 1], got {label_smoothing}")
            super().__init__(weight=weight, size_average=None, reduce=None, reduction=reduction)
            self.num_classes, self.out_features = num_classes, out_features
            self.ignore_index, self.label_smoothing = ignore_index, label_smoothing
            self.linear = torch.nn.Linear(in_features, math.prod(out_features, start=num_classes), bias=bias,
                                          device=device, dtype=dtype)
            self.options = options

        forward = _forward

        def extra_repr(self) -> str:
            return (f"in_features={self.linear.in_features}, num_classes={self.num_classes},"
                    f" out_features={self.out_features}, bias={self.linear.bias is not None},"
                    f" reduction={self.reduction}, ignore_index={self.ignore_index},"
                    f" label_smoothing={self.label_smoothing}, options={self.options}")
