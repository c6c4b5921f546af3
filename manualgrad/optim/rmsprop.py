"""Root-mean-square propagation, plain or centered, with optional momentum: ``RMSprop``."""

from __future__ import annotations

import torch
from torch import Tensor

from ._base import ManualOptimizer, check_lr, new_step, require, scalar


def rmsprop_update_(
    w: Tensor,
    g: Tensor,
    state: dict,
    *,
    lr: float | Tensor,
    alpha: float,
    eps: float,
    weight_decay: float,
    momentum: float,
    centered: bool,
    maximize: bool,
) -> None:
    """One RMSprop step on ``w`` in place (the rule in ``RMSprop``'s docstring)."""
    lr = scalar(lr)
    if not state:
        state["step"] = new_step()
        state["square_avg"] = torch.zeros_like(w, memory_format=torch.preserve_format)
        if momentum > 0:
            state["momentum_buffer"] = torch.zeros_like(w, memory_format=torch.preserve_format)
        if centered:
            state["grad_avg"] = torch.zeros_like(w, memory_format=torch.preserve_format)
    state["step"] += 1
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g.add(w, alpha=weight_decay)
    v = state["square_avg"]
    v.mul_(alpha).addcmul_(g, g, value=1 - alpha)
    if centered:
        m = state["grad_avg"]
        m.lerp_(g, 1 - alpha)
        d = v.addcmul(m, m, value=-1).sqrt_()
    else:
        d = v.sqrt()
    d.add_(eps)
    if momentum > 0:
        b = state["momentum_buffer"]
        b.mul_(momentum).addcdiv_(g, d)
        w.add_(b, alpha=-lr)
    else:
        w.addcdiv_(g, d, value=-lr)


class RMSprop(ManualOptimizer):
    """RMSprop, torch.optim.RMSprop's twin (same args, defaults, state keys).

    g ← −g  if maximize
    g ← g + λ·w                                 weight_decay λ
    v ← α·v + (1 − α)·g²                        square_avg, smoothing α
    ḡ ← α·ḡ + (1 − α)·g,  d ← √(v − ḡ²) + ε    if centered (ḡ: grad_avg; v − ḡ² ≈ variance of g)
    d ← √v + ε                                  otherwise (eps ε)
    b ← μ·b + g/d,  w ← w − η·b                 momentum μ > 0 (b starts at 0)
    w ← w − η·g/d                               otherwise
    state per param: ``step``, ``square_avg``, ``grad_avg`` (centered), ``momentum_buffer`` (μ > 0)
    """

    def __init__(
        self,
        params,
        lr: float | Tensor = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_lr(lr)
        require(0.0 <= lr, f"Invalid learning rate: {lr}")
        require(0.0 <= eps, f"Invalid epsilon value: {eps}")
        require(0.0 <= momentum, f"Invalid momentum value: {momentum}")
        require(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        require(0.0 <= alpha, f"Invalid alpha value: {alpha}")
        defaults = dict(
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
            capturable=capturable,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("momentum", 0)
            group.setdefault("centered", False)
            group.setdefault("maximize", False)

    def _update(self, w, g, group):
        rmsprop_update_(
            w,
            g,
            self.state[w],
            lr=group["lr"],
            alpha=group["alpha"],
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            momentum=group["momentum"],
            centered=group["centered"],
            maximize=group["maximize"],
        )
