"""TensorBoard tag names and the custom-scalars layout.

TensorBoard sorts tag groups (the part before the first '/') alphabetically, so the groups are
named for that order: ``accuracy/`` and ``loss/`` first, then ``parity/``, ``params/`` (gradient
norms and update ratios), ``schedule/`` (lr, epoch), ``units/`` (dead and saturated units) and
``weights/`` (histograms). A layer is named by module path and class (``0.Linear``), a parameter by
its layer and attribute (``0.Linear.weight``), so that the same tag means the same kind of layer
in every run.
"""

from __future__ import annotations

import re

import torch

SPLIT_METRIC = {"loss": "loss", "acc": "accuracy"}


def metric_tag(key: str) -> str:
    """A Trainer metric key (``val/loss``, ``train/acc``, ``test/acc``) as its TensorBoard tag
    (``loss/val``, ``accuracy/train``, ``accuracy/test``): grouped by what is measured."""
    if "/" not in key:
        return key
    split, metric = key.split("/", 1)
    return f"{SPLIT_METRIC.get(metric, metric)}/{split}"


def layer_name(path: str, module: torch.nn.Module) -> str:
    """``0.Linear``, ``4.body.1.BatchNorm2d``; the root module by its class alone."""
    return f"{path}.{type(module).__name__}" if path else type(module).__name__


def param_names(model: torch.nn.Module) -> dict[str, str]:
    """Each parameter's ``named_parameters`` name → its tag name (``0.weight`` → ``0.Linear.weight``)."""
    out = {}
    for path, module in model.named_modules():
        for attr, _ in module.named_parameters(recurse=False):
            out[f"{path}.{attr}" if path else attr] = f"{layer_name(path, module)}.{attr}"
    return out


def flow_params(model: torch.nn.Module) -> list[str]:
    """The parameters of the gradient-flow view, first layer first: every weight of two or more
    dims (Linear, Conv, Embedding; not biases or norm scales), by their tag names."""
    names = param_names(model)
    return [names[n] for n, p in model.named_parameters() if p.dim() >= 2 and n in names]


def _exact(tags: list[str]) -> list[str]:
    return [f"^{re.escape(t)}$" for t in tags]


def layout(model: torch.nn.Module, classification: bool) -> dict:
    """The custom-scalars layout (CUSTOM SCALARS tab): metrics, then the gradient flow, all layers
    in one chart ordered by depth, then the units and parity. For ``SummaryWriter.add_custom_scalars``."""
    flow = flow_params(model)
    metrics = {"loss (train, val, test)": ["Multiline", [r"^loss/"]]}
    if classification:
        metrics["accuracy (train, val, test)"] = ["Multiline", [r"^accuracy/"]]
    return {
        "1 metrics": metrics,
        "2 gradient flow (first layer first)": {
            "log10 gradient norm per layer: vanishing = early layers far below late ones":
                ["Multiline", _exact([f"params/grad_norm_log10/{t}" for t in flow])],
            "log10 update ratio per layer (about -3 is healthy)":
                ["Multiline", _exact([f"params/update_ratio/{t}" for t in flow])],
        },
        "3 units and parity": {
            "dead fraction (ReLU family)": ["Multiline", [r"^units/dead_frac/"]],
            "saturated fraction (sigmoid, tanh)": ["Multiline", [r"^units/saturated_frac/"]],
            "parity: max |manualgrad - autograd|": ["Multiline", [r"^parity/max_abs_diff$"]],
        },
    }
