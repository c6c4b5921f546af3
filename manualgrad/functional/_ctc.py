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
    if targets.dim() == 1 and targets.numel() > 1 and 0 in targets.stride():
        targets = targets.contiguous()  # torch's CPU kernel segfaults on stride-0 concatenated targets
    return CTCLossFunction.apply(log_probs, targets, input_lengths, target_lengths, blank, reduction,
                                 zero_infinity)
