"""``linear_cross_entropy`` (torch ≥ 2.13's signature; on older torch a manualgrad extension)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..functions.cross_entropy import _opmath, check_cross_entropy
from ..functions.linear_cross_entropy import LinearCrossEntropyFunction, chunk_rows
from ._autocast import LOWER, _autocast_on, autocast_policy
from ._cross_entropy import cross_entropy, refuse_byte_smoothing
from ._linear import linear
from ._util import _reduction


def _check(input, linear_weight, linear_bias):
    """torch's checks of the shapes, in torch's order and words."""
    if input.dim() < 1 or input.dim() > 2:
        raise RuntimeError(f"expected input with dimensionality 1 or 2, got {input.dim()}")
    if linear_weight.dim() < 2:
        raise RuntimeError(f"expected linear_weight with dimensionality at least 2, got {linear_weight.dim()}")
    if input.shape[-1] != linear_weight.shape[-1]:
        raise RuntimeError("expected equal input and linear_weight last dimensions (in_features), "
                           f"got {input.shape[-1]} and {linear_weight.shape[-1]}, respectively")
    out_features = tuple(linear_weight.shape[1:-1])
    if linear_bias is not None and tuple(linear_bias.shape) != (linear_weight.shape[0], *out_features):
        raise RuntimeError(f"expected linear_bias shape {(linear_weight.shape[0], *out_features)}, "
                           f"got {tuple(linear_bias.shape)}")
    if out_features and input.dim() == 1:
        raise RuntimeError(f"K-dimensional loss defined by linear_weight shape {tuple(linear_weight.shape)} "
                           f"requires batched input, (N, {input.shape[-1]}), got unbatched input with shape "
                           f"{tuple(input.shape)}")
    return out_features


def _dtype_errors(input, linear_weight, linear_bias) -> None:
    """The dtype errors of torch's composite (linear, then cross_entropy's log_softmax), raised
    by those ops themselves on a row of each operand: the chunked path checks the target on an
    empty stand-in of the logits, which reaches no dtype kernel."""
    b = linear_bias
    if input.is_floating_point() and input.dtype == linear_weight.dtype and (b is None or b.dtype == input.dtype):
        return
    logits = F.linear(input.detach()[..., :1, :] if input.dim() == 2 else input.detach(), linear_weight.detach()[:1],
                      None if b is None else b.detach()[:1])
    torch.log_softmax(logits, -1)


def linear_cross_entropy(input: torch.Tensor, linear_weight: torch.Tensor, target: torch.Tensor, *,
                         linear_bias: torch.Tensor | None = None, weight: torch.Tensor | None = None,
                         reduction: str = "mean", ignore_index: int | None = None, label_smoothing: float = 0.0,
                         options=None) -> torch.Tensor:
    """cross_entropy(linear(input, linear_weight, linear_bias), target, ...) with class-index
    targets computed chunk by chunk of rows (the N×V logits never exist in full; ``options``'
    ``batch_chunk_size`` sets the chunk). Probability targets and K-dimensional weights run the
    plain composite of manualgrad's ``linear`` and ``cross_entropy``, as torch does without
    ``options``. See :class:`~manualgrad.functions.linear_cross_entropy.LinearCrossEntropyFunction`."""
    out_features = _check(input, linear_weight, linear_bias)
    n_classes = linear_weight.shape[0]
    logits_shape = (*input.shape[:-1], n_classes, *out_features)
    probabilities = tuple(target.shape) == logits_shape
    if probabilities and ignore_index is not None:
        raise RuntimeError("ignore_index cannot be specified when target contains probabilities")
    ignore_index = -100 if ignore_index is None else ignore_index
    if probabilities or out_features:
        weight2d = linear_weight.reshape(math.prod(out_features, start=n_classes), input.shape[-1])
        bias = None if linear_bias is None else linear_bias.reshape(-1)
        logits = linear(input, weight2d, bias).reshape(logits_shape)
        return cross_entropy(logits, target, weight=weight, reduction=reduction, ignore_index=ignore_index,
                             label_smoothing=label_smoothing)
    _dtype_errors(input, linear_weight, linear_bias)
    reduction = _reduction(None, None, reduction)
    label_smoothing = float(label_smoothing)
    like = torch.empty(logits_shape, dtype=input.dtype, device="meta")  # for the checks: no data
    t, w, _ = check_cross_entropy(like, target, weight, ignore_index, label_smoothing)
    if target.dtype == torch.uint8 and label_smoothing > 0 and w is not None and reduction == "mean":
        refuse_byte_smoothing(t, ignore_index)  # as torch's composite cross_entropy
    w = _opmath(w)  # a half/bfloat16 class weight meets the chunks' float32 logits
    x, t = (input, t) if input.dim() == 2 else (input.unsqueeze(0), t.reshape(1))
    chunk = chunk_rows(n_classes, getattr(options, "batch_chunk_size", None))
    # under autocast torch's composite runs linear in the low dtype and the loss in float32
    out_dtype = torch.float32 if _autocast_on(input.device.type) else None
    loss = _chunked(x, linear_weight, linear_bias, t, w, ignore_index, reduction, label_smoothing, chunk, out_dtype)
    return loss if input.dim() == 2 or reduction != "none" else loss.reshape(())


@autocast_policy(LOWER, LinearCrossEntropyFunction)
def _chunked(*args):
    return LinearCrossEntropyFunction.apply(*args)
