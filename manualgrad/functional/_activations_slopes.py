"""Wrappers of the rectifiers with a learned or random slope: prelu, rrelu."""

from __future__ import annotations

import torch

from ..functions._transform import values_hidden
from ..functions.activations_slopes import PReLUFunction, RReLUFunction
from ._activations import leaky_relu
from ._autocast import LOWER, autocast_policy
from ._util import _check_inplace, _out_of_place_then_copied


@autocast_policy(LOWER, PReLUFunction)
def prelu(input: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """input where > 0, else weight·input (weight per channel of dim 1, or one). See
    :class:`~manualgrad.functions.activations_slopes.PReLUFunction`."""
    return PReLUFunction.apply(input, weight)


@autocast_policy(None, RReLUFunction)
def rrelu(input: torch.Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False) -> torch.Tensor:
    """Training: input where > 0, else a·input with a ~ U(lower, upper) drawn per element; eval:
    leaky_relu with the slope (lower + upper)/2. See :class:`~manualgrad.functions.activations_slopes.RReLUFunction`."""
    if inplace:
        _check_inplace(input)
    if lower > upper:
        raise RuntimeError("Lower bound should be less than or equal to the upper bound")
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)
    if input.dtype not in (torch.float32, torch.float64, torch.bfloat16):
        torch.rrelu(input.new_empty(0), lower, upper, True)  # torch's error where its kernel lacks the dtype (CPU half, ints)
    if _out_of_place_then_copied(inplace):
        return input.copy_(rrelu(input, lower, upper, training))
    return RReLUFunction.apply(input, rrelu_slopes(input, lower, upper), inplace)


def rrelu_slopes(x: torch.Tensor, lower: float, upper: float) -> torch.Tensor:
    """a of RReLUFunction: 1 where x > 0 or NaN; r = u·(upper − lower) + lower elsewhere, u
    uniform in [0, 1) as a float64, bounds and a in torch's opmath dtype (float32; float64 for a
    float64 x).

    On CPU, eagerly, u is drawn as torch's rrelu kernel draws it: one float64 per element x ≤ 0,
    in x's row-major order, from the default generator (``uniform_`` consumes it alike), so a
    seeded call equals ``F.rrelu``'s, and so does the generator after it. Elsewhere (CUDA,
    torch.compile, torch.func) without a data-dependent count: one u per element, the i-th
    element x ≤ 0 taking the i-th u, so that on CPU under vmap (randomness='same') the slopes
    are those of the eager call (the generator then stands one draw per element further)."""
    opmath = torch.float64 if x.dtype == torch.float64 else torch.float32
    lo, up = (torch.tensor(b, dtype=opmath).item() for b in (lower, upper))  # torch's opmath_t bounds
    neg = x <= 0
    if x.device.type == "cpu" and not values_hidden():
        r = torch.empty(int(neg.sum()), dtype=torch.float64).uniform_().mul_(up - lo).add_(lo)
        a = torch.ones(x.shape, dtype=opmath)
        a[neg] = r.to(opmath)
        return a
    flat = neg.reshape(-1)
    u = torch.rand(flat.shape, dtype=torch.float64, device=x.device)
    r = u.gather(0, (flat.cumsum(0) - 1).clamp_min(0)) * (up - lo) + lo
    return torch.where(flat, r, 1).to(opmath).reshape(x.shape)
