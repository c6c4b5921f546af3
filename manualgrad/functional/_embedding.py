"""``embedding``."""

from __future__ import annotations

import torch

from ..functions._precision import dtype_name
from ..functions.embedding import EmbeddingFunction
from ..functions._transform import transforms_active, values_hidden
from ._autocast import autocast_policy
from ._util import _refuse_complex_grad

# dtypes that keep a legacy tensor-type name ("torch.FloatTensor") in torch's argument checks;
# the others are named "<DEVICE><Dtype>Type" there ("CPUBoolType")
_LEGACY_NAMED = (torch.float32, torch.float64, torch.float16, torch.uint8, torch.int8, torch.int16,
                 torch.int32, torch.int64)


@autocast_policy(None, EmbeddingFunction)
def embedding(
    input: torch.Tensor,
    weight: torch.Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> torch.Tensor:
    """Rows ``weight[input]``. See :class:`~manualgrad.functions.embedding.EmbeddingFunction`.

    As :func:`torch.nn.functional.embedding`: a negative ``padding_idx`` counts from the end;
    ``max_norm`` renormalises the referenced rows of ``weight`` in place (no grad) before the
    lookup; ``sparse=True`` gives ``weight`` a sparse COO gradient. Indices outside
    ``[0, num_embeddings)`` raise ``IndexError`` on every device (torch device-asserts on CUDA;
    one host sync, skipped under ``torch.compile`` and torch.func transforms). Under torch.func
    ``sparse=True`` raises (functorch has no sparse gradients).
    """
    if padding_idx is not None:
        n = weight.size(0)
        if (padding_idx > 0 and padding_idx >= n) or padding_idx < -n:  # as torch (0 always passes)
            raise AssertionError("Padding_idx must be within num_embeddings")
        if padding_idx < 0:
            padding_idx += n
    _check(input, weight, renorm=max_norm is not None)
    _refuse_complex_grad("embedding", weight.dtype, weight)
    if sparse and transforms_active():
        raise NotImplementedError("manualgrad embedding: sparse=True (a sparse COO gradient of weight) is not "
                                  "supported under torch.func transforms; use sparse=False")
    if max_norm is not None:
        input = input.contiguous()  # as torch: embedding_renorm_ makes it contiguous anyway
        with torch.no_grad():
            torch.embedding_renorm_(weight.detach(), input, max_norm, norm_type)
    return EmbeddingFunction.apply(input, weight, padding_idx, scale_grad_by_freq, sparse)


def _check(input: torch.Tensor, weight: torch.Tensor, renorm: bool = False) -> None:
    """torch's checks and messages, in torch's order; then the range of the indices (an
    ``IndexError``; where torch's own kernels check first, their ``RuntimeError``: no rows and
    no ``renorm``, or no columns)."""
    if weight.dim() != 2:
        raise RuntimeError("'weight' must be 2-D")
    if input.dtype not in (torch.int64, torch.int32):
        raise RuntimeError("Expected tensor for argument #1 'indices' to have one of the following scalar "
                           f"types: Long, Int; but got {_type_name(input)} instead (while checking "
                           "arguments for embedding)")
    if input.numel() == 0 or values_hidden():  # torch.compile, torch.func: no data-dependent check
        return
    n = weight.size(0)
    if n == 0 and not renorm:  # torch's index_select refuses an empty dim before it reads indices
        raise RuntimeError("index_select(): self indexing axis dim should be positive")
    lo, hi = torch.stack(torch.aminmax(input)).tolist()  # one host sync for both bounds
    if lo < 0 or hi >= n:
        if weight.size(1) == 0 and not (renorm and hi >= n):  # torch's 0-column gather checks itself
            flat = input.flatten()
            first = flat[(flat < 0) | (flat >= n)][0].item()
            raise RuntimeError(f"INDICES element is out of DATA bounds, id={first} axis_dim={n}")
        bad = lo if lo < 0 else hi
        raise IndexError(f"index out of range in self: embedding index {bad} is outside [0, {n}), "
                         f"the {n} rows of weight")


def _type_name(t: torch.Tensor) -> str:
    """How torch's argument checks name ``t``'s type: 'torch.FloatTensor', 'CPUBoolType', ..."""
    if t.dtype in _LEGACY_NAMED and t.device.type in ("cpu", "cuda"):
        return t.type()
    return f"{t.device.type.upper()}{dtype_name(t.dtype)}Type"
