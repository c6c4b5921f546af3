"""Checkpoints that survive a crash, and every RNG state needed to resume bit for bit.

A checkpoint is written to a temporary file in the same folder, flushed and fsynced, then moved
over the old one with ``os.replace`` (atomic on POSIX and Windows) and the folder fsynced: a crash
at any point leaves either the old file or the new one, never half of one. Loading uses
``torch.load(weights_only=True)``: a checkpoint is data, never code. A process killed mid-write
leaves its temporary file behind (``.<name>.<random>.tmp``); :func:`remove_stale_temps` deletes
them when a run starts or resumes (under the run's lock, so never another live writer's).
"""

from __future__ import annotations

import os
import pathlib
import random
import shutil
import tempfile

import torch


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: missing, not a file, unreadable, or not of this run."""


def one_line(e: BaseException) -> str:
    """An exception's message with its line breaks and runs of blanks collapsed (torch's
    ``load_state_dict`` errors span lines)."""
    return " ".join(str(e).split()) or type(e).__name__


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temp(path: pathlib.Path) -> tuple[int, str]:
    """A new temporary file beside ``path``, with the mode a plain ``open(path, 'w')`` would give
    (0666 less the umask; ``mkstemp`` makes it 0600, which would hide the checkpoints from the
    user's group)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    if hasattr(os, "fchmod"):
        os.fchmod(fd, 0o666 & ~_umask())
    return fd, tmp


def _replace(tmp: str, path: pathlib.Path, write) -> None:
    """``write(tmp)``, then ``tmp`` moved over ``path`` and the folder fsynced; ``tmp`` removed on
    any failure."""
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def save_atomic(obj, path) -> None:
    """``torch.save(obj, path)`` so that ``path`` is never seen half-written."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _temp(path)

    def write(_):
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())

    _replace(tmp, path, write)


def copy_atomic(src, path) -> None:
    """``path`` becomes the complete file ``src`` is now, atomically: a hard link where the file
    system has them (no second copy of the bytes; ``src`` replaced later keeps ``path`` as it
    was), a fsynced copy otherwise."""
    path = pathlib.Path(path)
    fd, tmp = _temp(path)
    os.close(fd)

    def write(tmp):
        os.unlink(tmp)
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())

    _replace(tmp, path, write)


def remove_stale_temps(folder, names=("last.pt", "best.pt")) -> list[pathlib.Path]:
    """Delete the temporary files a killed :func:`save_atomic` left for ``names`` in ``folder``."""
    stale = [p for name in names for p in pathlib.Path(folder).glob(f".{name}.*.tmp") if p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


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
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}")
    if not path.is_file():
        raise CheckpointError(f"{path} is not a checkpoint file (a directory?): give the path of a last.pt")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch.load raises many types for a damaged file
        raise CheckpointError(f"{path} is not a readable checkpoint (empty, truncated or corrupted?): "
                              f"{one_line(e)}") from e
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} is not a manualgrad checkpoint (it holds a {type(state).__name__})")
    return state


RESUMABLE = ("model", "optimizer", "epoch", "batch", "step", "rng", "epoch_rng")
IMPLEMENTATION = {"params", "initial_lr", "foreach", "fused", "capturable", "differentiable"}


def check_resumable(path, state: dict, kinds: dict, groups: list[dict]) -> None:
    """CheckpointError unless ``state`` holds all a resume needs and was written by a run with the
    same optimizer and scheduler classes (``kinds``) and optimizer hyper-parameters (``groups``,
    the lr only without a scheduler, which changes it), which ``load_state_dict`` would otherwise
    silently take from the checkpoint."""
    missing = [k for k in RESUMABLE if k not in state]
    if missing:
        raise CheckpointError(f"{path} cannot be resumed from: it has no {', '.join(missing)} (give a last.pt)")
    other = [f"{k} {state['kinds'][k]} (this run: {v})" for k, v in kinds.items()
             if state.get("kinds", kinds).get(k, v) != v]
    saved = state["optimizer"].get("param_groups", []) if isinstance(state["optimizer"], dict) else []
    skip = IMPLEMENTATION | ({"lr"} if kinds.get("scheduler") else set())
    other += [f"param group {i} {k}={old.get(k, 'unset')} (this run: {v})" for i, (old, new) in
              enumerate(zip(saved, groups)) for k, v in new.items() if k not in skip and not _same(old.get(k), v)]
    if other:
        raise CheckpointError(f"{path} is another run's: it was written with {', '.join(other)}; "
                              "resume with the options it was trained with")


def _same(a, b) -> bool:
    """Hyper-parameter values equal (tensor betas/lr compare by value, tuples element by element)."""
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return a is not None and b is not None and float(a) == float(b)
    return a == b


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
