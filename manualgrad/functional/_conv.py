"""``conv1d``, ``conv2d``, ``conv3d``, ``conv_transpose1d/2d/3d``, and the non-zero padding modes
of the Conv modules."""

from __future__ import annotations

import torch

from ..functions._precision import dtype_name
from ..functions.conv import ConvFunction, PadFunction
from ..functions.conv_transpose import ConvTransposeFunction
from ._autocast import LOWER, autocast_policy

# Bad input (ranks, channels vs groups, padding strings, 'same' with a stride, kernel larger
# than the padded input, ...) is rejected by torch's own conv in the Function's forward, with
# torch's exception and message, before anything is saved.


@autocast_policy(LOWER, ConvFunction)
def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> torch.Tensor:
    """1-D cross-correlation over (N, C, L) or unbatched (C, L) input, torch's signature and
    options (padding: int, tuple, 'valid', 'same'). See :class:`~manualgrad.functions.conv.ConvFunction`."""
    return _differentiable(ConvFunction.apply(input, weight, bias, stride, padding, dilation, groups, 1), bias)


@autocast_policy(LOWER, ConvFunction)
def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> torch.Tensor:
    """2-D cross-correlation over (N, C, H, W) or unbatched (C, H, W) input, torch's signature
    and options (padding: int, tuple, 'valid', 'same'). See :class:`~manualgrad.functions.conv.ConvFunction`."""
    return _differentiable(ConvFunction.apply(input, weight, bias, stride, padding, dilation, groups, 2), bias)


@autocast_policy(LOWER, ConvFunction)
def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> torch.Tensor:
    """3-D cross-correlation over (N, C, D, H, W) or unbatched (C, D, H, W) input, torch's
    signature and options (padding: int, tuple, 'valid', 'same'). See :class:`~manualgrad.functions.conv.ConvFunction`."""
    return _differentiable(ConvFunction.apply(input, weight, bias, stride, padding, dilation, groups, 3), bias)


def _differentiable(y: torch.Tensor, bias) -> torch.Tensor:
    """``y``, or torch's error where autograd would record an integer result: an integer conv
    (torch's kernel adds a float bias on some paths, e.g. 1×1 input) whose bias requires grad."""
    if (torch.is_grad_enabled() and bias is not None and bias.requires_grad
            and not (y.is_floating_point() or y.is_complex())):
        raise RuntimeError(f"Autograd not support dtype: {dtype_name(y.dtype)}")
    return y


# Transposed convolutions: torch's checks (ranks, channels vs groups, output_padding against
# stride and dilation, a non-positive output size) run in the Function's forward, as above.

@autocast_policy(LOWER, ConvTransposeFunction)
def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> torch.Tensor:
    """1-D transposed convolution over (N, C, L) or unbatched (C, L) input, torch's signature.
    See :class:`~manualgrad.functions.conv_transpose.ConvTransposeFunction`."""
    return ConvTransposeFunction.apply(input, weight, bias, stride, padding, output_padding, groups, dilation, 1)


@autocast_policy(LOWER, ConvTransposeFunction)
def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> torch.Tensor:
    """2-D transposed convolution over (N, C, H, W) or unbatched (C, H, W) input, torch's
    signature. See :class:`~manualgrad.functions.conv_transpose.ConvTransposeFunction`."""
    return ConvTransposeFunction.apply(input, weight, bias, stride, padding, output_padding, groups, dilation, 2)


@autocast_policy(LOWER, ConvTransposeFunction)
def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> torch.Tensor:
    """3-D transposed convolution over (N, C, D, H, W) or unbatched (C, D, H, W) input, torch's
    signature. See :class:`~manualgrad.functions.conv_transpose.ConvTransposeFunction`."""
    return ConvTransposeFunction.apply(input, weight, bias, stride, padding, output_padding, groups, dilation, 3)


@autocast_policy(None, PadFunction)  # exact: no cast (torch's CPU list has reflection/replication pads in fp32)
def _pad(input: torch.Tensor, pad, mode: str) -> torch.Tensor:
    """``F.pad(input, pad, mode)`` for mode 'reflect', 'replicate', 'circular' and pad ≥ 0 (what
    the Conv modules' ``padding_mode`` needs). See :class:`~manualgrad.functions.conv.PadFunction`."""
    return PadFunction.apply(input, tuple(pad), mode)
