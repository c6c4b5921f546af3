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
