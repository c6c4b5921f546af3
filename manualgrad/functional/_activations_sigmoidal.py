"""Sigmoid- and tanh-shaped activation wrappers: mish, logsigmoid, softsign, tanhshrink, glu."""

from __future__ import annotations

import torch

from ..functions.activations_sigmoidal import (GLUFunction, LogSigmoidFunction, MishFunction, SoftsignFunction,
                                               TanhshrinkFunction)
from ._autocast import autocast_policy
from ._util import _written_back


@autocast_policy(None, MishFunction)
def mish(input: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """input·tanh(softplus(input)). See :class:`~manualgrad.functions.activations_sigmoidal.MishFunction`."""
    if inplace:
        return _written_back(input, MishFunction.apply, saves_input=True)
    return MishFunction.apply(input)


@autocast_policy(None, LogSigmoidFunction)
def logsigmoid(input: torch.Tensor) -> torch.Tensor:
    """log σ(input). See :class:`~manualgrad.functions.activations_sigmoidal.LogSigmoidFunction`."""
    return LogSigmoidFunction.apply(input)


@autocast_policy(None, SoftsignFunction)
def softsign(input):
    """input/(1 + |input|). See :class:`~manualgrad.functions.activations_sigmoidal.SoftsignFunction`."""
    return SoftsignFunction.apply(input)


@autocast_policy(None, TanhshrinkFunction)
def tanhshrink(input):
    """input − tanh(input). See :class:`~manualgrad.functions.activations_sigmoidal.TanhshrinkFunction`."""
    return TanhshrinkFunction.apply(input)


@autocast_policy(None, GLUFunction)
def glu(input: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """a·σ(b) for the halves (a, b) of input along ``dim``. See :class:`~manualgrad.functions.activations_sigmoidal.GLUFunction`."""
    if input.dim() == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    return GLUFunction.apply(input, dim)
