"""``batch_norm`` (torch's checks, in torch's order, with its exception types and messages)."""

from __future__ import annotations

import numbers

import torch

from ..functions._precision import dtype_name
from ..functions._recompute import tag, taggable
from ..functions.batch_norm import BatchNormFunction, InstanceNormFunction, batch_norm_again
from ._autocast import autocast_policy
from ._norms import _verify_batch_size, check_norm_dtypes
from ._util import _refuse_grad


def _check_buffers(input, running_mean, running_var, weight, bias, training: bool) -> None:
    """torch's checks of the running stats, weight and bias against the channel count."""
    if training and (running_mean is None) != (running_var is None):
        raise ValueError("running_mean and running_var must either both be None or neither be None")
    named = (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias))
    # a 1-d input has no channel dim: torch reads size(1) (an IndexError) unless a buffer is given
    channels = input.size(1) if input.dim() > 1 or all(t is None for _, t in named) else 0
    for i, (name, t) in enumerate(named):
        if t is None and i < 2 and not training:
            raise RuntimeError(f"{name} must be defined in evaluation mode")
        if t is not None and t.numel() != channels:
            raise RuntimeError(f"{name} should contain {channels} elements not {t.numel()}")


def _check_no_overlap(running_mean, running_var) -> None:
    """Stricter than torch: a running stat that training updates in place must not have elements
    sharing one memory location (a stride-0 dim of size > 1, e.g. an ``expand()``); torch's CPU
    kernel writes such a stat in an unspecified order, ours raises (docs/ops.md, "Deliberate differences")."""
    for name, t in (("running_mean", running_mean), ("running_var", running_var)):
        if t is not None and t.numel() and any(st == 0 and n > 1 for st, n in zip(t.stride(), t.shape)):
            raise RuntimeError(f"batch_norm: {name} has elements that share one memory location (a stride-0 "
                               f"dim, e.g. from expand()), so training cannot update it in place; pass "
                               f"{name}.clone() or a tensor of its own")


def _empty_input(input, running_mean, running_var, weight, bias, training: bool):
    """torch returns ``input·w[0] + b[0]`` for an empty input before any check of the running
    stats (absent in eval, of any size, requiring grad): ours normalises it with the statistics of
    its empty batch instead, an empty y with zero gradients for w and b, where w and b fit the
    channels and the dtype (else the usual checks raise). Returns the (running_mean, running_var,
    training) to go on with."""
    fits = input.dim() > 1 and input.is_floating_point() and all(
        t is None or (t.numel() == input.size(1) and t.dtype == input.dtype) for t in (weight, bias))
    return (None, None, True) if fits else (running_mean, running_var, training)


def _check_generic_path(input, *params) -> None:
    """torch's training statistics of an input its CPU kernel does not take (neither contiguous
    nor channels-last) run through ``at::mean``, whose error an integer or bool input meets first
    where the parameters are not of the mixed kind (the first one given of the input's dtype)."""
    given = [p for p in params if p is not None]
    if input.is_floating_point() or input.is_complex() or (given and given[0].dtype != input.dtype):
        return
    formats = [torch.contiguous_format] + ([torch.channels_last] if input.dim() == 4 else [])
    if not any(input.is_contiguous(memory_format=f) for f in formats):
        raise RuntimeError("mean(): could not infer output dtype. Input dtype must be either a floating point or "
                           f"complex dtype. Got: {dtype_name(input.dtype)}")


def _torch_formula_fits(input, weight, bias) -> bool:
    """An empty input that :func:`_empty_input` cannot normalise (not floating, or w/b of another
    dtype), with nothing to differentiate: torch's own ``input·w[0] + b[0]`` (no graph) fits it."""
    plain = not input.is_floating_point() or any(t is not None and t.dtype != input.dtype for t in (weight, bias))
    return plain and not any(t is not None and t.requires_grad for t in (input, weight, bias))


def _empty_output(input, weight, bias) -> torch.Tensor:
    """torch's result for an empty input: ``input.clone()·w[0] + b[0]`` (dtypes promote as there)."""
    out = input.clone()
    for t, op in ((weight, torch.mul), (bias, torch.add)):
        if t is not None:
            out = op(out, t[0])
    return out


@autocast_policy(None, BatchNormFunction)
def batch_norm(input: torch.Tensor, running_mean: torch.Tensor | None, running_var: torch.Tensor | None,
               weight: torch.Tensor | None = None, bias: torch.Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> torch.Tensor:
    """Per-channel normalisation with batch (``training``) or running statistics; in training the
    running stats (when given) are updated in place with ``momentum``.
    See :class:`~manualgrad.functions.batch_norm.BatchNormFunction`."""
    if training:
        _verify_batch_size(input.size())
    if training and eps <= 0.0:
        raise ValueError(f"batch_norm eps must be positive during training, but got {eps}")
    elif eps < 0.0:
        raise ValueError(f"batch_norm eps must be non-negative, but got {eps}")
    return _aten_batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def _aten_batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps) -> torch.Tensor:
    """``torch.batch_norm``: :func:`batch_norm` less torch.nn.functional's own checks of the batch
    size and of eps (aten's instance_norm runs this, with any eps ≥ 0)."""
    if not isinstance(momentum, numbers.Real):
        raise TypeError(f"batch_norm(): argument 'momentum' (position 7) must be float, not "
                        f"{type(momentum).__name__}")
    if input.numel() == 0:  # torch returns input·w[0] + b[0] before checking the running stats
        for t in (weight, bias):
            if t is not None and t.numel() == 0:  # torch's w[0]
                raise IndexError(f"select(): index 0 out of range for tensor of size {list(t.shape)} at dimension 0")
        if _torch_formula_fits(input, weight, bias):
            return _empty_output(input, weight, bias)
        running_mean, running_var, training = _empty_input(input, running_mean, running_var, weight, bias, training)
    _check_buffers(input, running_mean, running_var, weight, bias, training)
    _refuse_grad("native_batch_norm", running_mean=running_mean, running_var=running_var)
    if training:
        _check_generic_path(input, weight, bias, running_mean, running_var)
    check_norm_dtypes("batch_norm", input, weight, bias, running_mean, running_var, input_first=True)
    if training and input.numel():
        _check_no_overlap(running_mean, running_var)
    y, mean, rstd = BatchNormFunction.apply(input, running_mean, running_var, weight, bias, bool(training),
                                            float(momentum), eps)
    if training and taggable(y):  # the layers after it may save (input, μ, rstd) instead of y: see _recompute.py
        tag(y, batch_norm_again(weight, bias), input, mean, rstd)
    return y


def _verify_spatial_size(size) -> None:
    """torch.nn.functional's check that instance statistics see more than one value."""
    size_mods = 1
    for s in size[2:]:
        size_mods *= s
    if size_mods == 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size {size}")


def _empty_instances(input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps):
    """aten's own algorithm, for an empty input: ``torch.batch_norm`` of the input viewed as one
    sample of N·C channels, w, b and the running stats repeated N times (no check of eps, which
    torch.nn.functional's batch_norm alone makes; batch_norm returns ``input·w[0] + b[0]`` before
    any other check, as torch's), then with input statistics the running
    stats set to the mean of their repeats over N (unchanged, or NaN for N = 0, as torch's)."""
    n, c = input.size(0), input.size(1)
    w, b, rm, rv = (None if t is None else t.repeat(n) for t in (weight, bias, running_mean, running_var))
    kind = (input if weight is None else weight).dtype  # what torch's update of the stats takes a mean of
    # torch's batch_norm of an empty input checks only that w[0] and b[0] exist (else IndexError, ours
    # below); the mean's error comes next, before the dtype checks ours makes there (a deviation of its own)
    if (use_input_stats and running_mean is not None and not (kind.is_floating_point or kind.is_complex)
            and all(t is None or t.numel() for t in (w, b))):
        raise RuntimeError("mean(): could not infer output dtype. Input dtype must be either a floating point or "
                           f"complex dtype. Got: {dtype_name(kind)}")
    y = _aten_batch_norm(input.reshape(1, n * c, *input.shape[2:]), rm, rv, w, b, use_input_stats, momentum, eps)
    with torch.no_grad():
        for running, repeated in ((running_mean, rm), (running_var, rv)):
            if running is not None and use_input_stats:
                running.copy_(repeated.view(n, c).mean(0))
    return y.view(input.shape)


@autocast_policy(None, InstanceNormFunction)
def instance_norm(input: torch.Tensor, running_mean: torch.Tensor | None = None,
                  running_var: torch.Tensor | None = None, weight: torch.Tensor | None = None,
                  bias: torch.Tensor | None = None, use_input_stats: bool = True, momentum: float = 0.1,
                  eps: float = 1e-5) -> torch.Tensor:
    """Per-sample, per-channel normalisation over the spatial dims, with input (``use_input_stats``)
    or running statistics; torch's checks, which are batch_norm's on N·C channels (aten runs
    instance_norm as that). See :class:`~manualgrad.functions.batch_norm.InstanceNormFunction`."""
    if use_input_stats:
        _verify_spatial_size(input.size())
    if not use_input_stats and (running_mean is None or running_var is None):
        raise RuntimeError("Expected running_mean and running_var to be defined when use_input_stats is false")
    if input.numel() == 0:
        return _empty_instances(input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps)
    n, c = input.size(0), input.size(1)
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        if t is not None and t.numel() != c:  # aten repeats t N times, then batch_norm counts N·C channels
            raise RuntimeError(f"{name} should contain {n * c} elements not {n * t.numel()}")
    _refuse_grad("native_batch_norm", running_mean=running_mean, running_var=running_var)
    # the running stats' dtype is free (torch's instance_norm takes any floating one; its checks see x, w, b),
    # but with them and a bias alone torch's mixed-dtype check refuses a bias not of x's dtype
    if running_mean is not None and weight is None and bias is not None and bias.dtype != input.dtype \
            and input.is_floating_point() and input.device.type == "cpu":
        raise RuntimeError("mixed dtype (CPU): expect parameter to have scalar type of Float")
    check_norm_dtypes("batch_norm", input, weight, bias, input_first=True)
    return InstanceNormFunction.apply(input, running_mean, running_var, weight, bias, bool(use_input_stats),
                                      float(momentum), eps)[0]
