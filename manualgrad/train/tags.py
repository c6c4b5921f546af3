"""TensorBoard tag names and the custom-scalars layout.

TensorBoard sorts tag groups (the part before the first '/') alphabetically, so the groups are
named for that order: ``accuracy/`` and ``loss/`` first, then ``parity/``, ``params/`` (gradient
norms, update ratios and the gradient-flow series), ``schedule/`` (lr, epoch), ``units/`` (dead and saturated units) and
``weights/`` (histograms). A layer is named by module path and class (``0.Linear``), a parameter by
its layer and attribute (``0.Linear.weight``), so that the same tag means the same kind of layer
in every run.
"""

from __future__ import annotations

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


def flow_params(model: torch.nn.Module) -> dict[str, str]:
    """The parameters of the gradient-flow view, first layer first: every weight of two or more
    dims (Linear, Conv, Embedding; not biases or norm scales), tag name → its series name in the
    flow charts, led by its depth so that they sort first layer first (``L0_1.Linear.weight``,
    ``L09_17.Linear.weight``: zero-padded to the deepest)."""
    names = param_names(model)
    weights = [names[n] for n, p in model.named_parameters() if p.dim() >= 2 and n in names]
    width = len(str(max(len(weights) - 1, 0)))
    return {tag: f"L{i:0{width}d}_{tag}" for i, tag in enumerate(weights)}


def layout(classification: bool) -> dict:
    """The custom-scalars layout (CUSTOM SCALARS tab): metrics, then the gradient flow (all layers
    in one chart, by depth), then the units and parity. The same for every model (TensorBoard
    merges the layouts of all runs), for ``SummaryWriter.add_custom_scalars``."""
    metrics = {"loss (train, val, test)": ["Multiline", [r"^loss/"]]}
    if classification:
        metrics["accuracy (train, val, test)"] = ["Multiline", [r"^accuracy/"]]
    return {
        "1 metrics": metrics,
        "2 gradient flow (first layer first)": {
            "log10 gradient norm per layer: vanishing = early layers far below late ones":
                ["Multiline", [r"^params/flow_grad_norm_log10/"]],
            "log10 update ratio per layer (about -3 is healthy)": ["Multiline", [r"^params/flow_update_ratio/"]],
        },
        "3 units and parity": {
            "dead fraction (ReLU family)": ["Multiline", [r"^units/dead_frac/"]],
            "saturated fraction (sigmoid, tanh)": ["Multiline", [r"^units/saturated_frac/"]],
            "parity: max |manualgrad - autograd|": ["Multiline", [r"^parity/max_abs_diff$"]],
        },
    }
