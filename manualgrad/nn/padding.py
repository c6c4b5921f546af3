"""Padding modules: torch.nn's ZeroPad, ConstantPad, ReflectionPad, ReplicationPad and
CircularPad in 1-d, 2-d and 3-d with the hand-derived backward (constructor, attributes, ``repr``
and empty ``state_dict`` are torch's own)."""

from __future__ import annotations

import torch

from .. import functional as MF


def _constant(self, input: torch.Tensor) -> torch.Tensor:
    return MF.pad(input, self.padding, "constant", self.value)


def _reflect(self, input: torch.Tensor) -> torch.Tensor:
    return MF.pad(input, self.padding, "reflect")


def _replicate(self, input: torch.Tensor) -> torch.Tensor:
    return MF.pad(input, self.padding, "replicate")


def _circular(self, input: torch.Tensor) -> torch.Tensor:
    self._check_input_dim(input)
    return MF.pad(input, self.padding, "circular")


class ZeroPad1d(torch.nn.ZeroPad1d):
    forward = _constant


class ZeroPad2d(torch.nn.ZeroPad2d):
    forward = _constant


class ZeroPad3d(torch.nn.ZeroPad3d):
    forward = _constant


class ConstantPad1d(torch.nn.ConstantPad1d):
    forward = _constant


class ConstantPad2d(torch.nn.ConstantPad2d):
    forward = _constant


class ConstantPad3d(torch.nn.ConstantPad3d):
    forward = _constant


class ReflectionPad1d(torch.nn.ReflectionPad1d):
    forward = _reflect


class ReflectionPad2d(torch.nn.ReflectionPad2d):
    forward = _reflect


class ReflectionPad3d(torch.nn.ReflectionPad3d):
    forward = _reflect


class ReplicationPad1d(torch.nn.ReplicationPad1d):
    forward = _replicate


class ReplicationPad2d(torch.nn.ReplicationPad2d):
    forward = _replicate


class ReplicationPad3d(torch.nn.ReplicationPad3d):
    forward = _replicate


class CircularPad1d(torch.nn.CircularPad1d):
    forward = _circular


class CircularPad2d(torch.nn.CircularPad2d):
    forward = _circular


class CircularPad3d(torch.nn.CircularPad3d):
    forward = _circular
