"""Run folders (``<log_dir>/<name>/version_N/``, Lightning's layout), ``hparams.yaml`` and early
stopping."""

from __future__ import annotations

import copy
import math
import pathlib
import re

import torch


def new_version_dir(log_dir, name: str) -> pathlib.Path:
    """The next free ``version_N`` under ``log_dir/name``, created (safe against a concurrent run
    taking the same number: ``mkdir`` without ``exist_ok`` is the lock)."""
    root = pathlib.Path(log_dir) / name
    root.mkdir(parents=True, exist_ok=True)
    n = max(versions(root), default=-1) + 1
    while True:
        try:
            path = root / f"version_{n}"
            path.mkdir()
            return path
        except FileExistsError:
            n += 1


def versions(root: pathlib.Path) -> list[int]:
    return sorted(int(m.group(1)) for p in root.glob("version_*") if (m := re.fullmatch(r"version_(\d+)", p.name)))


def latest_checkpoint(log_dir, name: str) -> pathlib.Path:
    """``--resume auto``: the newest ``version_N/checkpoints/last.pt`` of the run ``name``."""
    root = pathlib.Path(log_dir) / name
    for n in reversed(versions(root)):
        path = root / f"version_{n}" / "checkpoints" / "last.pt"
        if path.is_file():
            return path
    raise FileNotFoundError(f"--resume auto: no checkpoints/last.pt under {root}/version_*")


def write_hparams(path: pathlib.Path, hparams: dict) -> None:
    """A flat ``key: value`` YAML file (values as YAML scalars: numbers, booleans, null, strings)."""
    def scalar(v):
        if v is None:
            return "null"
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

    path.write_text("".join(f"{k}: {scalar(v)}\n" for k, v in hparams.items()))


class EarlyStopping:
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs;
    with ``restore_best`` the model gets its best weights back at the end.

    ``mode``: 'min' (a loss) or 'max' (an accuracy). Its state (best value, epochs waited, best
    weights) is in ``state_dict()`` so that a resumed run stops where the straight one would.
    """

    def __init__(self, patience: int = 5, monitor: str = "val/loss", mode: str = "min",
                 min_delta: float = 0.0, restore_best: bool = True):
        if patience < 1:
            raise ValueError(f"early stopping patience must be >= 1, got {patience}")
        if mode not in ("min", "max"):
            raise ValueError(f"early stopping mode must be 'min' or 'max', got {mode!r}")
        self.patience, self.monitor, self.mode = patience, monitor, mode
        self.min_delta, self.restore_best = abs(min_delta), restore_best
        self.best = math.inf if mode == "min" else -math.inf
        self.best_epoch, self.wait, self.best_state = -1, 0, None

    def improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def step(self, value: float, epoch: int, model: torch.nn.Module) -> bool:
        """Record this epoch's ``value``; True when training should stop."""
        if self.improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best:
                self.best_state = copy.deepcopy(model.state_dict())
        else:
            self.wait += 1
        return self.wait >= self.patience

    def restore(self, model: torch.nn.Module) -> bool:
        if self.restore_best and self.best_state is not None:
            model.load_state_dict(self.best_state)
            return True
        return False

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                "best_state": self.best_state}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.best_epoch, self.wait = state["best"], state["best_epoch"], state["wait"]
        self.best_state = state["best_state"]
