"""Adaptive moment estimation: ``Adam`` (L2 weight decay) and ``AdamW`` (decoupled), one update."""

from __future__ import annotations

import torch
from torch import Tensor

from ._base import ManualOptimizer, check_lr, new_step, require, scalar


def adam_update_(
    w: Tensor,
    g: Tensor,
    state: dict,
    *,
    lr: float | Tensor,
    beta1: float | Tensor,
    beta2: float | Tensor,
    eps: float,
    weight_decay: float,
    amsgrad: bool,
    maximize: bool,
    decoupled_weight_decay: bool,
) -> None:
    """One Adam (or, decoupled, AdamW) step on ``w`` in place (the rule in ``Adam``'s docstring)."""
    lr, beta1, beta2 = scalar(lr), scalar(beta1), scalar(beta2)
    if not state:
        state["step"] = new_step()
        state["exp_avg"] = torch.zeros_like(w, memory_format=torch.preserve_format)
        state["exp_avg_sq"] = torch.zeros_like(w, memory_format=torch.preserve_format)
        if amsgrad:
            state["max_exp_avg_sq"] = torch.zeros_like(w, memory_format=torch.preserve_format)
    state["step"] += 1
    t = state["step"].item()
    if maximize:
        g = -g
    if weight_decay != 0:
        if decoupled_weight_decay:
            w.mul_(1 - lr * weight_decay)
        else:
            g = g.add(w, alpha=weight_decay)
    m, v = state["exp_avg"], state["exp_avg_sq"]
    m.lerp_(g, 1 - (beta1.to(w) if isinstance(beta1, Tensor) else beta1))  # m + (1 − β₁)(g − m)
    v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
    if amsgrad:
        v = torch.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
    d = (v.sqrt() / (1 - beta2**t) ** 0.5).add_(eps)
    w.addcdiv_(m, d, value=-(lr / (1 - beta1**t)))


class Adam(ManualOptimizer):
    """Adam, torch.optim.Adam's twin (same args, defaults, state keys).

    t ← t + 1;  g ← −g  if maximize
    g ← g + λ·w                     weight_decay λ as L2 (AdamW instead: w ← w·(1 − η·λ))
    m ← β₁·m + (1 − β₁)·g           exp_avg
    v ← β₂·v + (1 − β₂)·g²          exp_avg_sq
    v_max ← max(v_max, v)           if amsgrad (max_exp_avg_sq), and v_max stands for v below
    w ← w − η/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)      bias-corrected m̂ / (√v̂ + ε), lr η
    state per param: ``step`` (t, a 0-d tensor), ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq``
    """

    def __init__(
        self,
        params,
        lr: float | Tensor = 1e-3,
        betas: tuple[float | Tensor, float | Tensor] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        check_lr(lr)
        require(0.0 <= lr, f"Invalid learning rate: {lr}")
        require(0.0 <= eps, f"Invalid epsilon value: {eps}")
        for i in (0, 1):
            require(0.0 <= betas[i] < 1.0, f"Invalid beta parameter at index {i}: {betas[i]}")
        require(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        require(
            all(isinstance(b, float) for b in betas) or all(isinstance(b, Tensor) for b in betas),
            "betas must be either both floats or both Tensors",
        )
        for i in (0, 1):
            tensor_ok = not isinstance(betas[i], Tensor) or betas[i].numel() == 1
            require(tensor_ok, f"Tensor betas[{i}] must be 1-element")
        defaults = dict(
            lr=lr,
            betas=tuple(map(scalar, betas)),
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("amsgrad", False)
            group.setdefault("maximize", False)
            group.setdefault("decoupled_weight_decay", False)

    def _update(self, w, g, group):
        beta1, beta2 = group["betas"]
        adam_update_(
            w,
            g,
            self.state[w],
            lr=group["lr"],
            beta1=beta1,
            beta2=beta2,
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            amsgrad=group["amsgrad"],
            maximize=group["maximize"],
            decoupled_weight_decay=group["decoupled_weight_decay"],
        )


class AdamW(Adam):
    """AdamW, torch.optim.AdamW's twin: Adam's rule with the weight decay decoupled.

    w ← w·(1 − η·λ) before the moments, instead of g ← g + λ·w, so the decay never passes
    through m or v (default λ = 1e-2); every other line is ``Adam``'s.
    """

    def __init__(
        self,
        params,
        lr: float | Tensor = 1e-3,
        betas: tuple[float | Tensor, float | Tensor] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            foreach=foreach,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=True,
        )

    def __setstate__(self, state):  # an AdamW always decouples, whatever a loaded state says
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
