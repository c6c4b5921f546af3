"""``unfold`` (im2col) and ``fold`` (col2im)."""

from __future__ import annotations

import torch

from ..functions.fold import FoldFunction, UnfoldFunction
from ._autocast import autocast_policy

# Bad input (ranks, a column count that is not C·kh·kw, a block count that does not match
# output_size, non-positive sizes) is rejected by torch's own im2col/col2im in the Function's
# forward, with torch's exception and message.


@autocast_policy(None, UnfoldFunction)  # in neither of autocast's lists: runs in its input's dtype
def unfold(input, kernel_size, dilation=1, padding=0, stride=1) -> torch.Tensor:
    """Sliding blocks of (N, C, H, W) or unbatched (C, H, W) input as columns (im2col), torch's
    signature. See :class:`~manualgrad.functions.fold.UnfoldFunction`."""
    return UnfoldFunction.apply(input, kernel_size, dilation, padding, stride)


@autocast_policy(None, FoldFunction)
def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1) -> torch.Tensor:
    """Columns (N, C·∏kernel_size, L) or unbatched (C·∏kernel_size, L) summed into an image
    (col2im), torch's signature. See :class:`~manualgrad.functions.fold.FoldFunction`."""
    return FoldFunction.apply(input, output_size, kernel_size, dilation, padding, stride)
