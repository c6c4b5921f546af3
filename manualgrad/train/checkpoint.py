"""Checkpoints that survive a crash, and every RNG state needed to resume bit for bit.

A checkpoint is written to a temporary file in the same folder, flushed and fsynced, then moved
over the old one with ``os.replace`` (atomic on POSIX and Windows) and the folder fsynced: a crash
at any point leaves either the old file or the new one, never half of one. Loading uses
``torch.load(weights_only=True)``: a checkpoint is data, never code.
"""

from __future__ import annotations

import os
import pathlib
import random
import tempfile

import torch


def save_atomic(obj, path) -> None:
    """``torch.save(obj, path)`` so that ``path`` is never seen half-written."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: pathlib.Path) -> None:
    """Make the rename itself durable (not possible on Windows, where it is not needed)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load(path, map_location=None) -> dict:
    """A checkpoint written by :func:`save_atomic`, loaded with ``weights_only=True``."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    return torch.load(path, map_location=map_location, weights_only=True)


def rng_state(generator: torch.Generator | None = None) -> dict:
    """torch CPU and CUDA, Python and the data sampler's generator states (tensors and plain
    data only, so ``weights_only`` loading accepts them)."""
    version, internal, gauss = random.getstate()
    state = {"torch": torch.get_rng_state(), "python": [version, list(internal), gauss]}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if generator is not None:
        state["sampler"] = generator.get_state()
    return state


def set_rng_state(state: dict, generator: torch.Generator | None = None) -> None:
    """Put back what :func:`rng_state` captured."""
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if generator is not None and "sampler" in state:
        generator.set_state(state["sampler"])
