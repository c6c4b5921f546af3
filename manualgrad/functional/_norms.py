"""Per-sample normalisation wrappers: layer_norm, group_norm, rms_norm (torch's checks, in
torch's order, with its exception types and messages)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..functions._normalize import acc_dtype
from ..functions._precision import dtype_name
from ..functions.local_response_norm import LocalResponseNormFunction, window_sum
from ..functions.norms import GroupNormFunction, LayerNormFunction, RMSNormFunction
from ._autocast import FP32, RMS_NORM_CUDA, autocast_policy


def _verify_batch_size(size) -> None:
    """torch.nn.functional's check that training statistics see more than one value."""
    size_prods = size[0]
    for s in size[2:]:
        size_prods *= s
    if size_prods == 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size {size}")


def check_norm_dtypes(kernel: str, input, *params, input_first: bool = False) -> None:
    """torch's CPU dtype rules for a norm's input and parameters (weight, bias, running stats;
    aten's ``mixed_type.h``), in its order. Mixed (the first parameter given is not of the
    input's dtype): every parameter must be float32 and the input half or bfloat16. Otherwise the
    kernel must exist for the input's dtype and every parameter must share it. ``input_first``:
    the kernel's dtype is checked before the mixed rule (batch_norm). Other devices are left to
    torch's own kernels' rules (not checked here)."""
    if input.device.type != "cpu":
        return
    given = [p for p in params if p is not None]
    if input_first or not (given and given[0].dtype != input.dtype):
        if not input.is_floating_point():
            raise NotImplementedError(f'"{kernel}" not implemented for \'{dtype_name(input.dtype)}\'')
    if given and given[0].dtype != input.dtype:
        if any(p.dtype != torch.float32 for p in given):
            raise RuntimeError("mixed dtype (CPU): expect parameter to have scalar type of Float")
        if input.dtype not in (torch.float16, torch.bfloat16):
            raise RuntimeError("mixed dtype (CPU): all inputs must share same datatype.")
        return
    for p in given:
        if p.dtype != input.dtype:
            raise RuntimeError(f"expected scalar type {dtype_name(input.dtype)} but found {dtype_name(p.dtype)}")


def _check_normalized_shape(op: str, input, normalized_shape, star: str, **affine) -> tuple:
    """torch's checks of layer_norm/rms_norm arguments; returns normalized_shape as a tuple."""
    if not isinstance(normalized_shape, (tuple, list, torch.Size)):
        raise TypeError(f"{op}(): argument 'normalized_shape' (position 2) must be tuple of ints, "
                        f"not {type(normalized_shape).__name__}")
    shape = list(normalized_shape)
    if not shape:
        raise RuntimeError("Expected normalized_shape to be at least 1-dimensional, i.e., containing at "
                           f"least one element, but got normalized_shape = {shape}")
    for name, t in affine.items():
        if t is not None and list(t.shape) != shape:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but got {name} of "
                               f"shape {list(t.shape)} and normalized_shape = {shape}")
    if op == "rms_norm" and input.dim() < len(shape):  # rms_norm checks the rank first
        raise ValueError(f"Input tensor must have at least {len(shape)} dimensions, but got {input.dim()}")
    if input.dim() < len(shape) or list(input.shape[input.dim() - len(shape):]) != shape:
        raise RuntimeError(f"Given normalized_shape={shape}, expected input with shape [{star}"
                           f"{str(shape)[1:]}, but got input of size{list(input.shape)}")
    return tuple(shape)


@autocast_policy(FP32, LayerNormFunction, cpu=None)
def layer_norm(input: torch.Tensor, normalized_shape: list[int], weight: torch.Tensor | None = None,
               bias: torch.Tensor | None = None, eps: float = 1e-5) -> torch.Tensor:
    """Normalise over the last ``len(normalized_shape)`` dims, then scale and shift.
    See :class:`~manualgrad.functions.norms.LayerNormFunction`."""
    shape = _check_normalized_shape("layer_norm", input, normalized_shape, "*, ", weight=weight, bias=bias)
    check_norm_dtypes("LayerNormKernelImpl", input, weight, bias)
    return LayerNormFunction.apply(input, shape, weight, bias, eps)[0]


@autocast_policy(RMS_NORM_CUDA, RMSNormFunction, cpu=None)
def rms_norm(input: torch.Tensor, normalized_shape: list[int], weight: torch.Tensor | None = None,
             eps: float | None = None) -> torch.Tensor:
    """Divide by the root mean square over the last dims, then scale; ``eps=None`` is the machine
    epsilon of the compute dtype (float32 for half/bfloat16), as torch.
    See :class:`~manualgrad.functions.norms.RMSNormFunction`."""
    shape = _check_normalized_shape("rms_norm", input, normalized_shape, "*", weight=weight)
    if not (input.is_floating_point() or input.is_complex()):  # torch's composite takes any weight dtype
        raise NotImplementedError(f'"rms_norm" not implemented for \'{dtype_name(input.dtype)}\'')
    if eps is None:
        eps = torch.finfo(acc_dtype(input.dtype)).eps
    return RMSNormFunction.apply(input, shape, weight, eps)[0]


@autocast_policy(FP32, GroupNormFunction, cpu=None)
def group_norm(input: torch.Tensor, num_groups: int, weight: torch.Tensor | None = None,
               bias: torch.Tensor | None = None, eps: float = 1e-5) -> torch.Tensor:
    """Normalise each (sample, group of C/num_groups channels), then a per-channel scale and shift.
    See :class:`~manualgrad.functions.norms.GroupNormFunction`."""
    if input.dim() < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {input.dim()}")
    _verify_batch_size([input.size(0) * input.size(1) // num_groups, num_groups] + list(input.size()[2:]))
    if num_groups <= 0:
        raise RuntimeError(f"Expected num groups to be greater than 0, got {num_groups}")
    channels = input.shape[1]
    if channels % num_groups:
        raise RuntimeError("Expected number of channels in input to be divisible by num_groups, but got input "
                           f"of shape {list(input.shape)} and num_groups={num_groups}")
    # torch's bias message shows the weight's shape ([0] without weight): replicated
    shown = [0] if weight is None else list(weight.shape)
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t.dim() != 1 or t.numel() != channels):
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number of channels in "
                               f"input, but got {name} of shape {shown} and input of shape {list(input.shape)}")
    check_norm_dtypes("GroupNormKernelImpl", input, weight, bias)
    return GroupNormFunction.apply(input, num_groups, weight, bias, eps)[0]


def local_response_norm(input: torch.Tensor, size: int, alpha: float = 0.0001, beta: float = 0.75,
                        k: float = 1.0) -> torch.Tensor:
    """Each channel divided by (k + α/size · Σ x² over ``size`` neighbouring channels)^β.
    See :class:`~manualgrad.functions.local_response_norm.LocalResponseNormFunction`."""
    if (input.dim() >= 4 and input.device.type == "cpu" and input.dtype in (torch.float16, torch.bfloat16)
            and torch.is_autocast_enabled("cpu")):
        input = input.float()  # torch's composite runs avg_pool3d, which CPU autocast runs in float32
    return _local_response_norm(input, size, alpha, beta, k)


@autocast_policy(None, LocalResponseNormFunction)
def _local_response_norm(input: torch.Tensor, size: int, alpha: float, beta: float, k: float) -> torch.Tensor:
    dim = input.dim()
    if dim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality                          input (got {dim} dimensions)")
    if input.numel() == 0:
        return input  # torch returns its input itself
    if size < 1:  # torch's avg_pool raises, worded by the input's rank: its message is the message
        F.local_response_norm(input.detach(), size, alpha, beta, k)
        raise ValueError(f"local_response_norm: size must be positive, got {size}")
    if not (input.is_floating_point() or input.is_complex()):
        if input.dtype != torch.int64 and input.device.type == "cpu":  # torch's avg_pool: int64 only
            if dim > 3:  # after its .view of x² (a non-contiguous 5-d+ input raises there first)
                (input * input).view(input.size(0), 1, input.size(1), input.size(2), -1)
            pool = "avg_pool2d" if dim == 3 else "avg_pool3d_out_frame"
            raise NotImplementedError(f'"{pool}" not implemented for \'{dtype_name(input.dtype)}\'')
        return _integer_local_response_norm(input, size, alpha, beta, k)
    return LocalResponseNormFunction.apply(input, size, alpha, beta, k)


def _integer_local_response_norm(input, size, alpha, beta, k) -> torch.Tensor:
    """An integer input (nothing to differentiate) in torch's composite's order: S(x²) in the
    input's dtype, its average truncated to an integer (avg_pool's integer kernel, zero padding
    counted), then ``·α + k`` in the default float dtype, ``^β``, and x divided by it."""
    pooled = torch.div(window_sum(input * input, size // 2, (size - 1) // 2), size, rounding_mode="trunc")
    return input / pooled.mul(alpha).add(k).pow(beta)
