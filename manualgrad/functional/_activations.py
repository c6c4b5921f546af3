"""Activation wrappers: relu, leaky_relu, elu, selu, celu, gelu, silu, softplus, sigmoid, tanh,
softmax, softmin, log_softmax (the piecewise-linear ones are in ``_activations_piecewise.py``,
prelu/rrelu in ``_activations_slopes.py``, mish and the sigmoid-shaped rest in
``_activations_sigmoidal.py``)."""

from __future__ import annotations

import torch

from ..functions.activations import (ELUFunction, GELUFunction, LeakyReLUFunction, ReLUFunction, SigmoidFunction,
                                     SiLUFunction, SoftplusFunction, TanhFunction)
from ..functions._recompute import active, chain, recipe, tag
from ..functions.softmax import LogSoftmaxFunction, SoftmaxFunction, SoftminFunction
from ._autocast import FP32, autocast_policy
from ._util import _check_inplace, _out_of_place_then_copied, _written_back


def _refuse_negative_inplace(input, value, what):
    """torch runs these in place and fails only in backward; refuse up front, same message."""
    if value < 0 and input.requires_grad and torch.is_grad_enabled():
        raise RuntimeError(
            f"In-place {what} backward calculation is triggered with a negative slope which is not supported. "
            "This is caused by calling in-place forward function with a negative slope, please call "
            "out-of-place version instead.")


@autocast_policy(None, ReLUFunction)
def relu(input: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """max(input, 0). See :class:`~manualgrad.functions.activations.ReLUFunction`."""
    if _out_of_place_then_copied(inplace):
        return input.copy_(relu(input))
    if inplace:
        _check_inplace(input)
        return ReLUFunction.apply(input, inplace)
    found = recipe(input)  # after BatchNorm: relu(z) is recomputable from what made z
    y = ReLUFunction.apply(input, inplace)
    return y if found is None else tag(y, chain(_relu_again, found[0]), *found[1])


def _relu_again(z):
    """relu of a recomputed z, which the recipe has just made: in a first-order backward (nothing
    records) in place, one fresh activation-sized buffer fewer."""
    if not torch.is_grad_enabled() and active():
        return z.clamp_min_(0)
    return ReLUFunction.apply(z, False)


@autocast_policy(None, LeakyReLUFunction)
def leaky_relu(input: torch.Tensor, negative_slope: float = 0.01, inplace: bool = False) -> torch.Tensor:
    """input if > 0 else negative_slope·input. See :class:`~manualgrad.functions.activations.LeakyReLUFunction`."""
    if inplace:
        _check_inplace(input)
        _refuse_negative_inplace(input, negative_slope, "leakyReLu")
    if _out_of_place_then_copied(inplace):
        return input.copy_(leaky_relu(input, negative_slope))
    return LeakyReLUFunction.apply(input, negative_slope, inplace)


@autocast_policy(None, ELUFunction)
def elu(input: torch.Tensor, alpha: float = 1.0, inplace: bool = False) -> torch.Tensor:
    """input if > 0 else alpha·(exp(input) − 1). See :class:`~manualgrad.functions.activations.ELUFunction`."""
    if inplace:
        _check_inplace(input)
        _refuse_negative_inplace(input, alpha, "elu")
    return _elu(input, alpha, 1.0, 1.0, inplace)


def _elu(input, alpha, scale, input_scale, inplace):
    """ELUFunction, in place or not (elu, selu, celu: the checks done by the caller)."""
    if _out_of_place_then_copied(inplace):
        return input.copy_(_elu(input.clone(), alpha, scale, input_scale, False))  # its saved x must outlive the copy
    return ELUFunction.apply(input, alpha, scale, input_scale, inplace)


_SELU_ALPHA = 1.6732632423543772848170429916717  # torch's constants (ATen's Activation.cpp)
_SELU_SCALE = 1.0507009873554804934193349852946


@autocast_policy(None, ELUFunction)
def selu(input: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """scale·elu(input, alpha) with SELU's constants. See :class:`~manualgrad.functions.activations.ELUFunction`."""
    if inplace:
        _check_inplace(input)
    return _elu(input, _SELU_ALPHA, _SELU_SCALE, 1.0, inplace)


@autocast_policy(None, ELUFunction)
def celu(input: torch.Tensor, alpha: float = 1.0, inplace: bool = False) -> torch.Tensor:
    """max(0, input) + min(0, alpha·(exp(input/alpha) − 1)). See :class:`~manualgrad.functions.activations.ELUFunction`."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    if inplace:
        _check_inplace(input)
        _refuse_negative_inplace(input, alpha, "elu")
    return _elu(input, alpha, 1.0, 1.0 / alpha, inplace)


@autocast_policy(None, GELUFunction)
def gelu(input: torch.Tensor, approximate: str = "none") -> torch.Tensor:
    """input·Φ(input), exact or tanh-approximated. See :class:`~manualgrad.functions.activations.GELUFunction`."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    return tag(GELUFunction.apply(input, approximate), _gelu_again(approximate), input)


def _gelu_again(approximate: str):
    """Recompute a GELU output from its input (for a Linear that saves the input instead)."""
    return lambda z: GELUFunction.apply(z, approximate)


@autocast_policy(None, SiLUFunction)
def silu(input: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """input·σ(input). See :class:`~manualgrad.functions.activations.SiLUFunction`."""
    if inplace:  # SiLU saves its x
        return _written_back(input, SiLUFunction.apply, saves_input=True)
    return SiLUFunction.apply(input)


@autocast_policy(FP32, SoftplusFunction, cpu=None)
def softplus(input: torch.Tensor, beta: float = 1.0, threshold: float = 20.0) -> torch.Tensor:
    """log(1 + exp(β·input))/β, linear above ``threshold``. See :class:`~manualgrad.functions.activations.SoftplusFunction`."""
    return SoftplusFunction.apply(input, beta, threshold)


@autocast_policy(None, SigmoidFunction)
def sigmoid(input: torch.Tensor) -> torch.Tensor:
    """1/(1 + exp(−input)). See :class:`~manualgrad.functions.activations.SigmoidFunction`."""
    return SigmoidFunction.apply(input)


@autocast_policy(None, TanhFunction)
def tanh(input: torch.Tensor) -> torch.Tensor:
    """tanh(input). See :class:`~manualgrad.functions.activations.TanhFunction`."""
    return TanhFunction.apply(input)


def _softmax_dim(name: str, input: torch.Tensor, dim, stacklevel: int) -> int:
    """``dim=None`` picks torch's deprecated implicit dim, with torch's warning."""
    if dim is None:
        from torch.nn.functional import _get_softmax_dim
        dim = _get_softmax_dim(name, input.dim(), stacklevel + 3)  # + this frame, the autocast and one_op wrappers
    return dim


@autocast_policy(FP32, SoftmaxFunction, cpu=None)
def softmax(input: torch.Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype: torch.dtype | None = None) -> torch.Tensor:
    """exp(input)/Σ exp(input) along ``dim``. See :class:`~manualgrad.functions.softmax.SoftmaxFunction`."""
    return SoftmaxFunction.apply(input, _softmax_dim("softmax", input, dim, _stacklevel), dtype)


@autocast_policy(FP32, SoftminFunction, cpu=None)
def softmin(input: torch.Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype: torch.dtype | None = None) -> torch.Tensor:
    """softmax(−input) along ``dim``. See :class:`~manualgrad.functions.softmax.SoftminFunction`."""
    return SoftminFunction.apply(input, _softmax_dim("softmin", input, dim, _stacklevel), dtype)


@autocast_policy(FP32, LogSoftmaxFunction, cpu=None)
def log_softmax(input: torch.Tensor, dim: int | None = None, _stacklevel: int = 3,
                dtype: torch.dtype | None = None) -> torch.Tensor:
    """input − logsumexp(input) along ``dim``. See :class:`~manualgrad.functions.softmax.LogSoftmaxFunction`."""
    return LogSoftmaxFunction.apply(input, _softmax_dim("log_softmax", input, dim, _stacklevel), dtype)
