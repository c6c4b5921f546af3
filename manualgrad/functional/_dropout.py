"""``dropout``, the channel-wise ``dropout1d/2d/3d``, ``alpha_dropout`` and ``feature_alpha_dropout``:
torch's ``_dropout_impl`` step for step (checks, the identity cases, p = 1, the mask drawn as torch
draws its noise), then the Function."""

from __future__ import annotations

import torch

from ..functions._precision import dtype_name
import warnings

from ..functions.dropout import AlphaDropoutFunction, DropoutFunction
from ._autocast import autocast_policy
from ._util import _check_inplace, _out_of_place_then_copied


def _check_p(p) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _drop(function, input, p, training, inplace, feature=0, draw_at_one=False):
    """``function`` (DropoutFunction or AlphaDropoutFunction) applied with a keep-mask drawn as
    torch's noise: ``bernoulli_(1 − p)``, one entry per element, or for feature dropout one per
    entry of the first ``feature`` dims (2: sample and channel; 1: the channel of an unbatched
    input, the same draws as torch's unsqueezed one), broadcast over the rest; no draw where torch
    draws none (the identity cases; p = 1, except for plain dropout, whose CPU kernel draws there
    too: ``draw_at_one``)."""
    if not training or p == 0.0 or input.numel() == 0:
        return input  # as torch: nothing to drop, the input itself comes back
    if feature == 2 and p < 1.0 and input.dim() < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    if p < 1.0 and not (input.is_floating_point() or input.is_complex()):  # torch's x·m/(1 − p) in x's dtype
        raise RuntimeError(f"result type Float can't be cast to the desired output type {dtype_name(input.dtype)}")
    if _out_of_place_then_copied(inplace):
        return input.copy_(_drop(function, input, p, training, False, feature, draw_at_one))
    if inplace:
        _check_inplace(input)
    shape = (*input.shape[:feature], *(1,) * (input.dim() - feature)) if feature else input.shape
    if p == 1.0 and not draw_at_one:  # torch's input·0 (also for alpha dropout: no shift)
        return DropoutFunction.apply(input, input.new_zeros(shape), 1.0, inplace)
    # drawn in memory order of torch's noise: x's own layout (empty_like), or a fresh (N, C, 1, …);
    # in x's dtype, the same draws as into bool or torch's float noise, with no conversion pass
    # (complex x: drawn as bool, which bernoulli_ takes, and converted)
    dtype = input.dtype if input.is_floating_point() else torch.bool
    noise = torch.empty(shape, dtype=dtype, device=input.device) if feature else torch.empty_like(input, dtype=dtype)
    keep = noise.bernoulli_(1 - p)
    return function.apply(input, keep.to(input.dtype), float(p), inplace)  # (a no-op but for complex)


@autocast_policy(None, DropoutFunction)
def dropout(input: torch.Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> torch.Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1/(1 − p) while training.
    See :class:`~manualgrad.functions.dropout.DropoutFunction`."""
    _check_p(p)
    return _drop(DropoutFunction, input, p, training, inplace, draw_at_one=True)


@autocast_policy(None, DropoutFunction)
def dropout1d(input: torch.Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> torch.Tensor:
    """Zero whole channels of (N, C, L) or (C, L) input. See :class:`~manualgrad.functions.dropout.DropoutFunction`."""
    _check_p(p)
    if input.dim() not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input.dim()}D input. Note that dropout1d "
                           "exists to provide channel-wise dropout on inputs with 1 spatial dimension, a channel "
                           "dimension, and an optional batch dimension (i.e. 2D or 3D inputs).")
    return _drop(DropoutFunction, input, p, training, inplace, feature=2 if input.dim() == 3 else 1)


@autocast_policy(None, DropoutFunction)
def dropout2d(input: torch.Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> torch.Tensor:
    """Zero whole channels of (N, C, H, W) input (a 3-d input is read as (N, C, L), as torch).
    See :class:`~manualgrad.functions.dropout.DropoutFunction`."""
    _check_p(p)
    if input.dim() not in (3, 4):
        warnings.warn(f"dropout2d: Received a {input.dim()}-D input to dropout2d, which is deprecated and will result in "
                      "an error in a future release. To retain the behavior and silence this warning, please use "
                      "dropout instead. Note that dropout2d exists to provide channel-wise dropout on inputs with 2 "
                      "spatial dimensions, a channel dimension, and an optional batch dimension (i.e. 3D or 4D "
                      "inputs).", stacklevel=4)  # the caller (autocast, one_op)
    if input.dim() == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout behavior "
                      "is desired - input is interpreted as shape (N, C, L), where C is the channel dim. This behavior "
                      "will change in a future release to interpret the input as one without a batch dimension, i.e. "
                      "shape (C, H, W). To maintain the 1D channel-wise dropout behavior, please switch to using "
                      "dropout1d instead.", stacklevel=4)  # the caller (autocast, one_op)
    return _drop(DropoutFunction, input, p, training, inplace, feature=2)


@autocast_policy(None, DropoutFunction)
def dropout3d(input: torch.Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> torch.Tensor:
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) input.
    See :class:`~manualgrad.functions.dropout.DropoutFunction`."""
    _check_p(p)
    if input.dim() not in (4, 5):
        warnings.warn(f"dropout3d: Received a {input.dim()}-D input to dropout3d, which is deprecated and will result in "
                      "an error in a future release. To retain the behavior and silence this warning, please use "
                      "dropout instead. Note that dropout3d exists to provide channel-wise dropout on inputs with 3 "
                      "spatial dimensions, a channel dimension, and an optional batch dimension (i.e. 4D or 5D "
                      "inputs).", stacklevel=4)  # the caller (autocast, one_op)
    return _drop(DropoutFunction, input, p, training, inplace, feature=2 if input.dim() == 5 else 1)


@autocast_policy(None, AlphaDropoutFunction)
def alpha_dropout(input: torch.Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> torch.Tensor:
    """Dropout that keeps SELU's self-normalisation. See :class:`~manualgrad.functions.dropout.AlphaDropoutFunction`."""
    _check_p(p)
    return _drop(AlphaDropoutFunction, input, p, training, inplace)


@autocast_policy(None, AlphaDropoutFunction)
def feature_alpha_dropout(input: torch.Tensor, p: float = 0.5, training: bool = False,
                          inplace: bool = False) -> torch.Tensor:
    """Alpha dropout of whole channels. See :class:`~manualgrad.functions.dropout.AlphaDropoutFunction`."""
    _check_p(p)
    return _drop(AlphaDropoutFunction, input, p, training, inplace, feature=2)
