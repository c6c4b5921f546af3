"""Run folders (``<log_dir>/<name>/version_N/``, Lightning's layout), the lock that keeps one
process per run folder, ``hparams.yaml`` and early stopping."""

from __future__ import annotations

import copy
import math
import os
import pathlib
import re

import torch

from .checkpoint import remove_stale_temps

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, runs are not guarded against a second writer
    fcntl = None

LOCK_FILE = ".lock"


class RunInUseError(RuntimeError):
    """Another process is training into the same run folder."""


def check_name(name: str) -> str:
    """``name`` if it stays inside the log dir: folder names separated by '/' (a group of runs,
    ``vanishing/sigmoid``), none of them empty, '.' or '..', no backslash (a separator on Windows)."""
    if "\\" in name or any(part in ("", ".", "..") for part in name.split("/")):
        raise ValueError(f"the run name must be folder names joined by '/', none of them empty, '.' or '..' "
                         f"(it goes inside the log dir), got {name!r}")
    return name


def new_version_dir(log_dir, name: str) -> pathlib.Path:
    """The next free ``version_N`` under ``log_dir/name``, created (safe against a concurrent run
    taking the same number: ``mkdir`` without ``exist_ok`` is the lock)."""
    root = pathlib.Path(log_dir) / check_name(name)
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
    """``--resume auto``: ``checkpoints/last.pt`` of the newest ``version_N`` of the run ``name``.
    Never an older version's: that would silently continue another run."""
    root = pathlib.Path(log_dir) / check_name(name)
    found = versions(root)
    if not found:
        raise FileNotFoundError(f"--resume auto: no checkpoints/last.pt under {root}/version_*")
    path = root / f"version_{found[-1]}" / "checkpoints" / "last.pt"
    if not path.is_file():
        raise FileNotFoundError(f"--resume auto: the newest run {path.parent.parent} has no checkpoints/last.pt "
                                "(it stopped before its first epoch ended): start it again without --resume")
    return path


class RunLock:
    """An exclusive ``flock`` on ``run_dir/.lock`` while a process trains into ``run_dir``; the
    kernel drops it when the process ends, however it ends. :meth:`release` it when done."""

    def __init__(self, run_dir: pathlib.Path):
        self.path, self.fd = pathlib.Path(run_dir) / LOCK_FILE, None
        if fcntl is None:
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunInUseError(f"{run_dir} is in use by another training process (it holds {self.path}); "
                                "wait for it to end, or start a new run without --resume") from None
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor releases the flock
            self.fd = None


def claim_run(run_dir: pathlib.Path, hparams: dict, resumed: dict | None = None) -> RunLock:
    """Take the run folder for this process (a :class:`RunLock`, returned), make ``checkpoints/``,
    remove the temporary files a killed writer left there and write ``hparams.yaml``; a resume
    (``resumed``: when, where, what changed) leaves an existing ``hparams.yaml`` as the run's
    first command wrote it and appends ``resumed`` to ``resume_history.yaml`` instead."""
    lock = RunLock(run_dir)
    try:
        (run_dir / "checkpoints").mkdir(exist_ok=True)
        remove_stale_temps(run_dir / "checkpoints")
        if resumed is None or not (run_dir / "hparams.yaml").is_file():
            write_hparams(run_dir / "hparams.yaml", hparams)
        if resumed is not None:
            with open(run_dir / "resume_history.yaml", "a") as f:
                f.write(yaml_lines(resumed, item=True))
    except BaseException:
        lock.release()
        raise
    return lock


def _scalar(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def yaml_lines(values: dict, item: bool = False) -> str:
    """``key: value`` lines (values as YAML scalars: numbers, booleans, null, strings); ``item``:
    as one entry of a YAML list (``- `` before the first key)."""
    lines = [f"{k}: {_scalar(v)}" for k, v in values.items()]
    if item:
        lines = [("- " if i == 0 else "  ") + line for i, line in enumerate(lines)]
    return "".join(line + "\n" for line in lines)


def write_hparams(path: pathlib.Path, hparams: dict) -> None:
    """A flat ``key: value`` YAML file."""
    path.write_text(yaml_lines(hparams))


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
        return self.should_stop

    @property
    def should_stop(self) -> bool:
        """True once ``patience`` epochs have passed without improvement (also right after a
        resume from the checkpoint of the epoch that fired)."""
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
