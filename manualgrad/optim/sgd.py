"""Stochastic gradient descent with (Nesterov) momentum: ``SGD``."""

from __future__ import annotations

from torch import Tensor

from ._base import ManualOptimizer, check_lr, require, scalar


def sgd_update_(
    w: Tensor,
    g: Tensor,
    state: dict,
    *,
    lr: float | Tensor,
    momentum: float,
    dampening: float,
    weight_decay: float,
    nesterov: bool,
    maximize: bool,
) -> None:
    """One SGD step on ``w`` in place (the rule in ``SGD``'s docstring); ``g`` is left untouched."""
    lr = scalar(lr)
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g.add(w, alpha=weight_decay)
    if momentum != 0:
        b = state.get("momentum_buffer")
        if b is None:  # first step: b = g, undamped (as torch)
            b = state["momentum_buffer"] = g.clone()
        else:
            b.mul_(momentum).add_(g, alpha=1 - dampening)
        g = g.add(b, alpha=momentum) if nesterov else b
    w.add_(g, alpha=-lr)


class SGD(ManualOptimizer):
    """Stochastic gradient descent, torch.optim.SGD's twin (same args, defaults, state keys).

    g ← −g  if maximize
    g ← g + λ·w                                 weight_decay λ (L2 added to the gradient)
    b ← g  on the first step,  then  b ← μ·b + (1 − τ)·g        momentum μ ≠ 0, dampening τ
    g ← g + μ·b  if nesterov  else  b
    w ← w − η·g                                 lr η
    state per param: ``momentum_buffer`` = b (only when μ ≠ 0)
    """

    def __init__(
        self,
        params,
        lr: float | Tensor = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        check_lr(lr)
        require(not lr < 0.0, f"Invalid learning rate: {lr}")
        require(not momentum < 0.0, f"Invalid momentum value: {momentum}")
        require(not weight_decay < 0.0, f"Invalid weight_decay value: {weight_decay}")
        require(
            not (nesterov and (momentum <= 0 or dampening != 0)),
            "Nesterov momentum requires a momentum and zero dampening",
        )
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
            foreach=foreach,
            differentiable=differentiable,
            fused=fused,
        )
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("nesterov", False)
            group.setdefault("maximize", False)

    def _update(self, w, g, group):
        sgd_update_(
            w,
            g,
            self.state[w] if group["momentum"] != 0 else {},  # no empty state entries, as torch
            lr=group["lr"],
            momentum=group["momentum"],
            dampening=group["dampening"],
            weight_decay=group["weight_decay"],
            nesterov=group["nesterov"],
            maximize=group["maximize"],
        )
