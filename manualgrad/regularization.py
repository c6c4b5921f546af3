"""L1 and L2 weight penalties as explicit loss terms, with the hand-derived gradient of
:class:`~manualgrad.functions.regularization.PenaltyFunction`.

>>> loss = criterion(model(x), y) + manualgrad.regularization.penalty(model, l1=1e-5, l2=1e-4)
"""

from __future__ import annotations

import torch

from .functional._autocast import autocast_policy
from .functions.regularization import PenaltyFunction


@autocast_policy(None, PenaltyFunction)  # in the weight's own dtype; backward kept off autocast
def l1_l2_penalty(weight: torch.Tensor, l1: float = 0.0, l2: float = 0.0) -> torch.Tensor:
    """l1 · Σ|weight| + ½ · l2 · Σ weight² (a 0-d tensor)."""
    if l1 < 0 or l2 < 0:
        raise ValueError(f"penalty strengths must be >= 0, got l1={l1}, l2={l2}")
    return PenaltyFunction.apply(weight, float(l1), float(l2))


def reference_penalty(weight: torch.Tensor, l1: float = 0.0, l2: float = 0.0) -> torch.Tensor:
    """The same penalty written with torch autograd ops (the op table's and trainer's reference)."""
    return l1 * weight.abs().sum() + 0.5 * l2 * weight.square().sum()


def penalty(model: torch.nn.Module, l1: float = 0.0, l2: float = 0.0, *, reference: bool = False,
            biases: bool = False) -> torch.Tensor:
    """The penalty summed over ``model``'s weights that require grad (biases and other 1-d
    parameters such as norm scales are left out unless ``biases``). ``reference``: use torch's
    autograd version instead of manualgrad's."""
    fn = reference_penalty if reference else l1_l2_penalty
    terms = [fn(p, l1, l2) for p in model.parameters() if p.requires_grad and (biases or p.dim() > 1)]
    if not terms:
        return torch.zeros(())
    return sum(terms[1:], terms[0])
