"""``ctc_loss``: torch's signature and reduction rules; lengths as tensors or tuples."""

from __future__ import annotations

import torch

from ..functions.ctc import CTCLossFunction
from ._autocast import FP32, autocast_policy
from ._util import _reduction


@autocast_policy(FP32, CTCLossFunction)
def ctc_loss(log_probs: torch.Tensor, targets: torch.Tensor, input_lengths: torch.Tensor,
             target_lengths: torch.Tensor, blank: int = 0, reduction: str = "mean",
             zero_infinity: bool = False) -> torch.Tensor:
    """The connectionist temporal classification loss of ``log_probs`` (T, N, C) or (T, C) against
    padded (N, S) or concatenated targets. See :class:`~manualgrad.functions.ctc.CTCLossFunction`."""
    reduction = _reduction(None, None, reduction)
    if targets.dim() == 1 and not targets.is_contiguous():
        # torch's CPU kernel starts sample n's labels at memory offset Σ_{m<n} S_m, not times the
        # stride, so it misreads strided concatenated targets (and segfaults on stride 0)
        targets = targets.contiguous()
    return CTCLossFunction.apply(log_probs, targets, input_lengths, target_lengths, blank, reduction,
                                 zero_infinity)
