"""The fuzzed ops: every op of ``manualgrad.functional`` that torch also has, paired with torch's,
with its case strategy. ``isolated``: run in a subprocess (a crash must not kill the suite).
``weight``: its share of the profile's examples (slow ops get fewer)."""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F

import manualgrad.functional as MF
from . import st_activations, st_layers, st_losses, st_norms
from . import st_resample


@dataclass
class OpFuzz:
    name: str
    pair: tuple  # (ours, torch's)
    cases: object  # hypothesis strategy of Case
    isolated: bool = False
    weight: float = 1.0


def _spec(name, cases, **kw):
    op = name.split("[")[0]
    return OpFuzz(name, (getattr(MF, op), getattr(F, op)), cases, **kw)


_ALL = {**st_activations.CASES, **st_losses.CASES, **st_layers.CASES, **st_norms.CASES,
        **st_resample.CASES}
_WEIGHTS = {"conv1d": 0.6, "conv2d": 0.6, "scaled_dot_product_attention": 0.8, "linear_cross_entropy": 0.8}
OPS = {name: _spec(name, cases, isolated="[half]" in name, weight=_WEIGHTS.get(name.split("[")[0], 1.0))
       for name, cases in _ALL.items()}

missing = set(MF.__all__) - {n.split("[")[0] for n in OPS}
assert not missing, f"ops of manualgrad.functional the fuzzer does not draw: {sorted(missing)}"
