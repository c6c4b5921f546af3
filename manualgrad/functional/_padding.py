"""Padding wrapper: pad.

Arguments go to ``F.pad`` untouched, so every rule (pad lengths, negative pads, the ranks each
mode takes, ``value`` only for constant) and every error (type and message) is torch's.
"""

from __future__ import annotations

import torch

from ..functions.padding import PadFunction
from ._autocast import FP32, autocast_policy


def _pad(input, pad, mode, value):
    return PadFunction.apply(input, pad, mode, value)


# CPU autocast runs reflection_pad1d/2d and replication_pad1d/2d/3d in float32 (the others, and
# every pad on CUDA, in the input's dtype)
_pad_float32_on_cpu = autocast_policy(None, PadFunction, cpu=FP32)(_pad)
_pad_as_given = autocast_policy(None, PadFunction)(_pad)


def pad(input: torch.Tensor, pad, mode: str = "constant", value=None) -> torch.Tensor:
    """Pad the last len(pad) // 2 dims of ``input``: pad[0], pad[1] before and after the last dim,
    pad[2], pad[3] the one before, ...; ``mode`` constant (with ``value``, negative pads crop),
    reflect, replicate or circular. See :class:`~manualgrad.functions.padding.PadFunction`.
    """
    cpu_float32 = mode == "replicate" or (mode == "reflect" and hasattr(pad, "__len__") and len(pad) in (2, 4))
    return (_pad_float32_on_cpu if cpu_float32 else _pad_as_given)(input, pad, mode, value)
