"""``dropout``."""

from __future__ import annotations

import torch

from ..functions._precision import dtype_name
from ..functions.dropout import DropoutFunction
from ._autocast import autocast_policy
from ._util import _check_inplace, _out_of_place_then_copied


@autocast_policy(None, DropoutFunction)
def dropout(input: torch.Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> torch.Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1/(1 − p) while training.
    See :class:`~manualgrad.functions.dropout.DropoutFunction`."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0 or input.numel() == 0:
        return input  # as torch: nothing to drop, the input itself comes back
    if p < 1.0 and not (input.is_floating_point() or input.is_complex()):  # torch's x·m/(1 − p) in x's dtype
        raise RuntimeError(f"result type Float can't be cast to the desired output type {dtype_name(input.dtype)}")
    if _out_of_place_then_copied(inplace):
        return input.copy_(dropout(input, p, training))
    if inplace:
        _check_inplace(input)
    keep = torch.empty_like(input, dtype=torch.bool).bernoulli_(1 - p).to(input.dtype)
    return DropoutFunction.apply(input, keep, float(p), inplace)
