"""Checks shared by the functional wrappers, with torch's rules and messages."""

from __future__ import annotations

import math

import torch
from torch.nn import _reduction as _torch_reduction

from ..functions._transform import transforms_active


def _reduction(size_average, reduce, reduction: str) -> str:
    """Resolve the deprecated ``size_average``/``reduce`` pair and validate ``reduction`` with
    torch's own rules (same warning, same ``ValueError``). The deprecated alias
    'elementwise_mean' warns as torch does and comes back as 'mean', the reduction torch's
    kernels then run (the Functions know only 'none', 'mean' and 'sum')."""
    if size_average is not None or reduce is not None:
        reduction = _torch_reduction.legacy_get_string(size_average, reduce)
    enum = _torch_reduction.get_enum(reduction)  # raises "<x> is not a valid value for reduction"
    return "mean" if enum == 1 else reduction


def _check_inplace(input: torch.Tensor) -> None:
    """Refuse to overwrite a leaf that requires grad before touching it (torch's message)."""
    if input.is_leaf and input.requires_grad and torch.is_grad_enabled():
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")


def _refuse_internal_overlap(input: torch.Tensor) -> None:
    """torch's check of a tensor an in-place kernel writes: several of its elements at one memory
    location (a stride-0 dim of size > 1 in a non-empty tensor) raise, before the kernel looks at
    the dtype."""
    if input.numel() and any(st == 0 and n > 1 for st, n in zip(input.stride(), input.shape)):
        raise RuntimeError("unsupported operation: more than one element of the written-to tensor refers to a "
                           "single memory location. Please clone() the tensor before performing the operation.")


def _written_back(input: torch.Tensor, apply, saves_input: bool) -> torch.Tensor:
    """``inplace=True`` of an op whose Function cannot overwrite x itself (it saves x, or a mask
    that y does not give back): torch's checks of an in-place call (a leaf, then overlapping
    memory, before the kernel looks at the dtype), then y = ``apply(x)`` out of place, on a copy
    of x where the Function saves x (it must outlive the write), copied into x. torch's in-place
    variants of these ops keep a copy of x too."""
    _check_inplace(input)
    _refuse_internal_overlap(input)
    return input.copy_(apply(input.clone() if saves_input else input))


def _out_of_place_then_copied(inplace: bool) -> bool:
    """Under torch.func or torch.compile an ``inplace=True`` op runs out of place and is copied
    into the input: torch.func cannot run a Function that marks its input dirty and saves its
    output, and torch.compile (2.13) traces a dirty input only where forward returns that very
    object, and AOT autograd then fails on a dirty view with a second tensor input (dropout's
    mask). Compiled code is functionalized anyway: the in-place op becomes such a copy."""
    return inplace and (transforms_active() or torch.compiler.is_compiling())


def _refuse_grad(op: str, **constants) -> None:
    """torch's error for a non-differentiable tensor argument that requires grad."""
    if not torch.is_grad_enabled():
        return
    for name, t in constants.items():
        if t is not None and t.requires_grad:
            raise RuntimeError(f"The function '{op}' is not differentiable with respect to argument "
                               f"'{name}'. This input cannot have requires_grad True.")


def _refuse_complex_grad(op: str, out_dtype: torch.dtype, *inputs) -> None:
    """autograd's error for an op without complex derivatives whose output would be complex and
    part of a graph (torch raises it at the call; without grad the op just runs)."""
    if out_dtype.is_complex and torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in inputs):
        raise RuntimeError(f"{op} does not support automatic differentiation for outputs with complex dtype.")


_C_TYPE = {torch.uint8: "uint8_t", torch.int8: "int8_t", torch.int16: "int16_t", torch.int32: "int",
           torch.int64: "int64_t", torch.float16: "c10::Half", torch.bfloat16: "c10::BFloat16",
           torch.float32: "float", torch.float64: "double"}


def _check_fill(value: float, dtype: torch.dtype) -> None:
    """torch's check when it fills a tensor of ``dtype`` with the double ``value`` (c10::overflows):
    outside the type's range raises, and so does NaN or ±inf for an integer type."""
    if dtype not in _C_TYPE:
        return
    if dtype.is_floating_point:
        info, special = torch.finfo(dtype), math.isnan(value) or math.isinf(value)
    else:
        info, special = torch.iinfo(dtype), False
    if not special and not float(info.min) <= value <= float(info.max):
        raise RuntimeError(f"value cannot be converted to type {_C_TYPE[dtype]} without overflow")
