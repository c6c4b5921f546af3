"""``embedding_bag``: torch's argument handling (2-d input as fixed-length bags, offsets,
per_sample_weights, mode, max_norm), in torch's order and with its messages, then the Function."""

from __future__ import annotations

import warnings

import torch

from ..functions.embedding_bag import MODES, EmbeddingBagFunction
from ..functions._transform import values_hidden
from ._autocast import autocast_policy


def _flatten(input, offsets, per_sample_weights, include_last_offset):
    """A 2-d input is a batch of equal-length bags: flattened, with offsets every row."""
    if input.dim() == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated is a mini-batch of "
                             f"fixed length sequences. However, found offsets of type {type(offsets)}")
        offsets = torch.arange(0, input.numel(), input.size(1), dtype=input.dtype, device=input.device)
        psw = None if per_sample_weights is None else per_sample_weights.reshape(-1)
        return input.reshape(-1), offsets, psw, False
    if input.dim() == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets.dim() != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        return input, offsets, per_sample_weights, include_last_offset
    raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.dim()}")


def _check_increasing(offsets: torch.Tensor, size: int) -> None:
    """Stricter than torch: decreasing offsets raise (torch 2.13 rejects some such cases and
    returns an inconsistent forward and backward for others; docs/ops.md, deliberate differences).
    After torch's own checks: offsets[0] ≠ 0, or an offset past the ``size`` indices, is left
    to torch's kernel, which raises first there (its message and type: an IndexError 'index out
    of range in self' in mean and max). Two host syncs."""
    if offsets.numel() > 1:
        down = (offsets[1:] < offsets[:-1]).nonzero()
        if down.numel() and int(offsets[0]) == 0 and int(offsets.max()) <= size:
            k = int(down[0, 0])
            raise RuntimeError(f"embedding_bag: offsets must be non-decreasing, but offsets[{k}] = {int(offsets[k])} "
                               f"> offsets[{k + 1}] = {int(offsets[k + 1])}")


@autocast_policy(None, EmbeddingBagFunction)
def embedding_bag(input: torch.Tensor, weight: torch.Tensor, offsets: torch.Tensor | None = None,
                  max_norm: float | None = None, norm_type: float = 2, scale_grad_by_freq: bool = False,
                  mode: str = "mean", sparse: bool = False, per_sample_weights: torch.Tensor | None = None,
                  include_last_offset: bool = False, padding_idx: int | None = None) -> torch.Tensor:
    """Each bag of rows ``weight[input[offsets[b]:offsets[b+1]]]`` reduced by ``mode``.
    See :class:`~manualgrad.functions.embedding_bag.EmbeddingBagFunction`."""
    if weight.dtype == torch.long and input.is_floating_point():
        warnings.warn("Argument order of nn.functional.embedding_bag was changed. Usage `embedding_bag(weight, "
                      "input, ...)` is deprecated, and should now be `embedding_bag(input, weight, ...)`.",
                      stacklevel=4)  # the caller (autocast, one_op)
        weight, input = input, weight
    if per_sample_weights is not None and input.size() != per_sample_weights.size():
        raise ValueError(f"embedding_bag: If per_sample_weights ({per_sample_weights.shape}) is not None, then it "
                         f"must have the same shape as the input ({input.shape})")
    if weight.dim() != 2:
        raise ValueError(f"weight has to be a 2D Tensor, but got Tensor of dimension {weight.dim()}")
    input, offsets, per_sample_weights, include_last_offset = _flatten(input, offsets, per_sample_weights,
                                                                       include_last_offset)
    if mode not in MODES:
        raise ValueError("mode has to be one of sum, mean or max")
    if mode == "max" and scale_grad_by_freq:
        raise ValueError("max mode does not support scaling the gradient by the frequency")
    if mode == "max" and sparse:
        raise ValueError("max mode does not support sparse weights")
    if max_norm is not None:
        with torch.no_grad():
            torch.embedding_renorm_(weight.detach(), input, max_norm, norm_type)
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError("embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                                  f"supported for mode='sum' (got mode='{mode}'). Please open a feature request on "
                                  "GitHub.")
    if not values_hidden():  # a host sync: not under torch.compile or torch.func
        _check_increasing(offsets, input.numel())
    return EmbeddingBagFunction.apply(weight, input, offsets, per_sample_weights, mode, scale_grad_by_freq, sparse,
                                      include_last_offset, padding_idx)[0]
