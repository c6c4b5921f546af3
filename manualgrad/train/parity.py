"""Gradient parity during training: the same batch's gradients recomputed through the model's
``torch.nn`` twin with torch autograd, compared with manualgrad's."""

from __future__ import annotations

import copy

import torch

from ..regularization import penalty
from ..swap import revert


class ParityError(RuntimeError):
    """manualgrad's gradients disagree with torch autograd's on the same batch."""


# max |ours − torch| allowed, relative to max |torch| of that parameter's gradient
TOLERANCE = {torch.float64: 1e-9, torch.float32: 2e-4, torch.bfloat16: 5e-2, torch.float16: 5e-3}


def torch_twin(module: torch.nn.Module) -> torch.nn.Module:
    """A deep copy of ``module`` with every manualgrad class put back to its torch.nn twin."""
    twin = copy.deepcopy(module)
    revert(twin)
    return twin


def check_parity(model, loss_fn, x, y, rng_before, l1=0.0, l2=0.0,
                 average=None) -> dict[str, float]:
    """Recompute the gradients of ``loss_fn(model(x), y)`` (+ the L1/L2 penalty) through the torch
    twins, drawing the same random numbers (dropout) from ``rng_before``, and compare them with the
    ``.grad`` manualgrad just left on ``model``'s parameters. Returns the max abs difference of
    each parameter (by ``named_parameters`` name); raises :class:`ParityError` naming the parameter when one is beyond :data:`TOLERANCE`.
    ``average``: under DDP, the mean over ranks of the twin's local-batch gradients (what DDP left
    on ``model``), so that every rank compares the same numbers and raises together."""
    twin, twin_loss = torch_twin(model), torch_twin(loss_fn)
    with torch.random.fork_rng(devices=[x.device] if x.is_cuda else []):
        torch.set_rng_state(rng_before["torch"])
        if "cuda" in rng_before:
            torch.cuda.set_rng_state_all(rng_before["cuda"])
        loss = twin_loss(twin(x), y)
        if l1 or l2:
            loss = loss + penalty(twin, l1, l2, reference=True)
        names = [n for n, p in twin.named_parameters() if p.requires_grad]
        grads = torch.autograd.grad(loss, [p for n, p in twin.named_parameters() if p.requires_grad],
                                    allow_unused=True)
    if average is not None:
        grads = average(grads)
    ours = dict(model.named_parameters())
    # a gradient that is zero in exact arithmetic (a bias before BatchNorm) is rounding noise of
    # the size of the model's other gradients: allow that much absolute slack too
    floor = 1e-2 * max((g.abs().max().item() for g in grads if g is not None and g.numel()), default=0.0)
    diffs = {}
    for name, want in zip(names, grads):
        got = ours[name].grad
        if want is None or got is None:
            if (want is None) != (got is None) and (want if got is None else got).abs().max() > 0:
                raise ParityError(f"parameter {name}: gradient missing on the "
                                  f"{'manualgrad' if got is None else 'torch'} side")
            continue
        diff = (got - want).abs().max().item()
        diffs[name] = diff
        scale = max(want.abs().max().item() if want.numel() else 0.0, floor, 1e-12)
        if not diff <= TOLERANCE.get(got.dtype, 1e-4) * scale:
            raise ParityError(f"parameter {name}: manualgrad's gradient differs from torch autograd's by "
                              f"{diff:.3e} (max |grad| {scale:.3e}); see `manualgrad verify`")
    return diffs
