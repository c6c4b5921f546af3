"""Gradient health, as the backprop textbooks describe it, measured while training.

Parameters and layers are named by module path and class (:mod:`manualgrad.train.tags`).

- ``params/grad_norm/total`` and ``params/grad_norm/<param>``: vanishing (→ 0 in early layers) or
  exploding; ``params/flow_grad_norm_log10/L<depth>_<weight>``: the weights' in one chart by depth.
- ``params/update_ratio/<param>``: log10(‖Δw‖/‖w‖) of the step the optimizer really took (for
  plain SGD that is ‖lr·g‖/‖w‖); about −3 is healthy, far below means the layer is not learning,
  far above means it is thrashing.
- ``units/dead_frac/<layer>``: after ReLU-family layers, the fraction of units that are ≤ 0 for
  every sample of the batch (a dead ReLU passes no gradient at all).
- ``units/saturated_frac/<layer>``: after sigmoid (y < 0.01 or y > 0.99) and tanh (|y| > 0.99),
  the fraction of outputs in the flat tails, where σ' and tanh' all but vanish.
"""

from __future__ import annotations

import math

import torch

from .tags import layer_name

RELU_FAMILY = (torch.nn.ReLU, torch.nn.LeakyReLU, torch.nn.ELU, torch.nn.GELU, torch.nn.SiLU)


def _dead_fraction(y: torch.Tensor) -> float:
    if y.dim() < 2 or y.shape[0] == 0:
        return float("nan")
    return (y.detach() <= 0).all(dim=0).float().mean().item()


def _saturated_fraction(module: torch.nn.Module, y: torch.Tensor) -> float:
    y = y.detach()
    if isinstance(module, torch.nn.Sigmoid):
        return ((y < 0.01) | (y > 0.99)).float().mean().item()
    return (y.abs() > 0.99).float().mean().item()


class ActivationMonitor:
    """Forward hooks on every activation module of ``model``; they measure only while
    :attr:`active` is set (the trainer sets it on logging steps), so other steps pay nothing."""

    def __init__(self, model: torch.nn.Module):
        self.active = False
        self.values: dict[str, float] = {}
        self._handles = []
        for name, module in model.named_modules():
            if isinstance(module, RELU_FAMILY):
                self._hook(module, f"units/dead_frac/{layer_name(name, module)}", lambda m, y: _dead_fraction(y))
            elif isinstance(module, (torch.nn.Sigmoid, torch.nn.Tanh)):
                self._hook(module, f"units/saturated_frac/{layer_name(name, module)}", _saturated_fraction)

    def _hook(self, module, tag, measure):
        def hook(m, inputs, output):
            if self.active and isinstance(output, torch.Tensor):
                self.values[tag] = measure(m, output)
        self._handles.append(module.register_forward_hook(hook))

    def pop(self) -> dict[str, float]:
        values, self.values = self.values, {}
        return values

    def remove(self) -> None:
        for h in self._handles:
            h.remove()


def full_tensor(t: torch.Tensor) -> torch.Tensor:
    """An FSDP2 (DTensor) parameter or gradient gathered whole (a collective: every rank must ask
    in the same order); any other tensor as it is."""
    return t.full_tensor() if hasattr(t, "full_tensor") else t


def local_tensor(t: torch.Tensor) -> torch.Tensor:
    """This rank's shard of an FSDP2 (DTensor) tensor, without communication; any other as it is."""
    return t.to_local() if hasattr(t, "to_local") else t


def grad_norms(named_params, tags: dict[str, str], flow: dict[str, str]) -> dict[str, float]:
    """``params/grad_norm/<param>`` for every parameter with a gradient (``tags``: its tag name),
    ``params/flow_grad_norm_log10/<series>`` for those in ``flow`` (tag → series name), and
    ``params/grad_norm/total``."""
    out, total = {}, 0.0
    for name, p in named_params:
        if p.grad is not None:
            n = full_tensor(p.grad.detach()).norm().item()
            tag = tags.get(name, name)
            out[f"params/grad_norm/{tag}"] = n
            if tag in flow and n > 0:
                out[f"params/flow_grad_norm_log10/{flow[tag]}"] = math.log10(n)
            total += n * n
    out["params/grad_norm/total"] = math.sqrt(total)
    return out


def grad_abs_stats(named_params, tags: dict[str, str], flow: dict[str, str]) -> list[tuple[str, float, float]]:
    """(tag, mean |g|, max |g|) of each ``flow`` parameter, in ``flow``'s order (first layer first):
    the bars of the gradient-flow image."""
    grads = {tags.get(n, n): p.grad for n, p in named_params if p.grad is not None}
    out = []
    for tag in flow:
        if tag in grads and grads[tag].numel():
            g = full_tensor(grads[tag].detach()).abs()
            out.append((tag, g.mean().item(), g.max().item()))
    return out


def update_ratios(before: dict[str, torch.Tensor], named_params, tags: dict[str, str],
                  flow: dict[str, str]) -> dict[str, float]:
    """``params/update_ratio/<param>`` = log10(‖w_after − w_before‖ / ‖w_before‖), and the same as
    ``params/flow_update_ratio/<series>`` for the parameters in ``flow``."""
    out = {}
    for name, p in named_params:
        if name in before:
            w0 = before[name]
            step, norm = full_tensor(p.detach() - w0).norm().item(), full_tensor(w0).norm().item()
            if step > 0 and norm > 0:
                tag = tags.get(name, name)
                out[f"params/update_ratio/{tag}"] = math.log10(step / norm)
                if tag in flow:
                    out[f"params/flow_update_ratio/{flow[tag]}"] = out[f"params/update_ratio/{tag}"]
    return out


def first_non_finite(named_tensors) -> str | None:
    """The name of the first tensor of ``(name, tensor)`` pairs that holds a NaN or inf, or None;
    one device sync for all of them (FSDP2: this rank's shards only, no collective; the trainer
    agrees on the outcome across ranks). ``None`` tensors are skipped."""
    named = [(n, local_tensor(t.detach())) for n, t in named_tensors if t is not None]
    if not named:
        return None
    flags = torch.stack([torch.isfinite(t).all().to(named[0][1].device) for _, t in named])
    if flags.all():
        return None
    return named[int((~flags).nonzero()[0])][0]

