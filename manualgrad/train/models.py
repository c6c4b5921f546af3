"""The models ``manualgrad train`` builds, from manualgrad modules only (so every backward is
hand-derived); ``parity.torch_twin`` gives their torch.nn twins."""

from __future__ import annotations

import math

import torch

from .. import nn as mnn

ACTIVATIONS = {"relu": mnn.ReLU, "leaky_relu": mnn.LeakyReLU, "elu": mnn.ELU, "gelu": mnn.GELU, "silu": mnn.SiLU,
               "sigmoid": mnn.Sigmoid, "tanh": mnn.Tanh, "softplus": mnn.Softplus}


def mlp(in_shape, out_features: int, hidden=(128, 64), activation: str = "relu", dropout: float = 0.0,
        batch_norm: bool = False) -> torch.nn.Sequential:
    """Flatten → [Linear → (BatchNorm1d) → activation → (Dropout)] per hidden size → Linear."""
    layers: list[torch.nn.Module] = [torch.nn.Flatten()]
    width = math.prod(in_shape)
    for h in hidden:
        layers.append(mnn.Linear(width, h))
        if batch_norm:
            layers.append(mnn.BatchNorm1d(h))
        layers.append(ACTIVATIONS[activation]())
        if dropout:
            layers.append(mnn.Dropout(dropout))
        width = h
    layers.append(mnn.Linear(width, out_features))
    return torch.nn.Sequential(*layers)


def cnn(in_shape, out_features: int, channels=(16, 32), activation: str = "relu", dropout: float = 0.0,
        batch_norm: bool = True) -> torch.nn.Sequential:
    """[Conv2d 3×3 → (BatchNorm2d) → activation → MaxPool2d 2] per channel count (the pool only
    while the image is at least 2×2) → AdaptiveAvgPool2d 1 → Flatten → (Dropout) → Linear."""
    c, h, w = in_shape
    layers: list[torch.nn.Module] = []
    for out in channels:
        layers.append(mnn.Conv2d(c, out, 3, padding=1, bias=not batch_norm))
        if batch_norm:
            layers.append(mnn.BatchNorm2d(out))
        layers.append(ACTIVATIONS[activation]())
        if min(h, w) >= 4:
            layers.append(mnn.MaxPool2d(2))
            h, w = h // 2, w // 2
        c = out
    layers += [mnn.AdaptiveAvgPool2d(1), torch.nn.Flatten()]
    if dropout:
        layers.append(mnn.Dropout(dropout))
    layers.append(mnn.Linear(c, out_features))
    return torch.nn.Sequential(*layers)


BUILDERS = {"mlp": mlp, "cnn": cnn}


def config(builder: str, in_shape, out_features: int, **options) -> dict:
    """What rebuilds a model of :data:`BUILDERS` (plain data, saved in checkpoints): e.g.
    ``config("mlp", (1, 8, 8), 10, hidden=[128, 64], activation="relu", batch_norm=True)``."""
    if builder not in BUILDERS:
        raise ValueError(f"unknown model builder {builder!r}; one of {sorted(BUILDERS)}")
    return {"builder": builder, "in_shape": list(in_shape), "out_features": int(out_features),
            **{k: list(v) if isinstance(v, tuple) else v for k, v in options.items()}}


def build(cfg: dict) -> torch.nn.Sequential:
    """The model a :func:`config` describes, freshly initialised."""
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items()
               if k not in ("builder", "in_shape", "out_features")}
    return BUILDERS[cfg["builder"]](tuple(cfg["in_shape"]), cfg["out_features"], **options)


def load_model(path, map_location="cpu") -> torch.nn.Module:
    """The model of a checkpoint written by ``manualgrad train`` (or a Trainer given
    ``model_config``), e.g. ``tb_logs/digits_mlp/version_0/checkpoints/best.pt``: rebuilt from
    its config, its weights loaded, in eval mode, ready to call."""
    from .checkpoint import CheckpointError, load

    state = load(path, map_location=map_location)
    cfg = state.get("model_config")
    if not cfg or "model" not in state:
        raise CheckpointError(f"{path} holds no model config (its model was not built by manualgrad train or "
                              "a Trainer given model_config): build the model yourself and load_state_dict "
                              "its 'model' entry")
    model = build(cfg)
    model.load_state_dict(state["model"])
    if isinstance(map_location, (str, torch.device)):
        model = model.to(map_location)
    return model.eval()
