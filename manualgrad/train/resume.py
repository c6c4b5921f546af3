"""What a :class:`~manualgrad.train.Trainer` writes and how it resumes: ``last.pt`` (the whole
training state, never with a non-finite weight or buffer), ``best.pt`` (a hard link to the
``last.pt`` of the best epoch: written after it, never ahead of it or half of it), the checks that
a checkpoint belongs to this run, and the run folder claimed for one process."""

from __future__ import annotations

import datetime
import math
import os
import pathlib

from . import checkpoint as ckpt
from .board import hparam_value
from .runs import RunInUseError, claim_run


class Checkpointing:
    """The Trainer's checkpoint methods (a mixin: they use its model, optimizer, scheduler,
    early stopping, counters and ``dist`` engine)."""

    def _resume_message(self, epochs: int) -> str:
        done = self.early_stopping is not None and self.early_stopping.should_stop
        if done or self.epoch >= epochs:
            why = f"early stopping fired after epoch {self.epoch}" if done else f"{self.epoch} of {epochs} epochs done"
            return (f"run {self.run_dir} is complete ({why}): nothing to train"
                    + ("" if done else "; give a larger --epochs to train it further"))
        where = f", batch {self.batch}" if self.batch else ""
        return f"resuming run {self.run_dir} from epoch {self.epoch + 1}{where} of {epochs} (step {self.step})"

    def _resolved_hparams(self, loader) -> dict:
        """The given hparams, completed with what this Trainer really uses: the optimizer, its lr
        (the base lr under a scheduler), weight decay, the global batch size, L1/L2, clipping."""
        group = self.optimizer.param_groups[0]
        batch = getattr(loader, "batch_size", None)
        found = {"optimizer": type(self.optimizer).__name__.lower(), "lr": float(group.get("initial_lr", group["lr"])),
                 "weight_decay": group.get("weight_decay"), "batch_size": batch * self.dist.world if batch else None,
                 "l1": self.l1, "l2": self.l2, "grad_clip": self.grad_clip}
        return {**self.hparams, **{k: v for k, v in found.items() if k not in self.hparams}}

    def _last_path(self):
        return None if self.run_dir is None else self.run_dir / "checkpoints" / "last.pt"

    def _last_good(self) -> str:
        path = self._last_path()
        return f"the last good checkpoint is {path}" if path is not None and path.is_file() else \
            "no checkpoint was written yet"

    def _kinds(self) -> dict:
        return {"optimizer": type(self.optimizer).__name__,
                "scheduler": type(self.scheduler).__name__ if self.scheduler else None}

    def _state(self, generator, epoch_rng) -> dict:
        return {"model": self.dist.state_view(self.model).state_dict(),
                "optimizer": self.dist.optim_state(self.model, self.optimizer),
                "scheduler": self.scheduler.state_dict() if self.scheduler else None,
                "early_stopping": self.early_stopping.state_dict() if self.early_stopping else None,
                "epoch": self.epoch, "batch": self.batch, "step": self.step, "best": self.best,
                "best_step": self.best_step, "monitor": self.monitor_key, "train_loss": self.train_loss,
                "kinds": self._kinds(), "rng": ckpt.rng_state(generator), "epoch_rng": epoch_rng,
                "run_dir": str(self.run_dir), "epoch_loss": self.epoch_loss, "epochs": self.epochs,
                "hparams": {k: hparam_value(v) for k, v in self.hparams.items()}, "model_config": self.model_config}

    def _save_last(self, generator, epoch_rng) -> None:
        """``last.pt``, never with a non-finite weight or buffer (checked on every rank first)."""
        self._check_finite(list(self.model.named_parameters()), f"training up to step {self.step}")
        self.dist.save(lambda: self._state(generator, epoch_rng), self._last_path())

    def _link_best(self, source) -> None:
        """``best.pt`` = the complete checkpoint ``source`` (a hard link, so it is never ahead of or
        half of a ``last.pt``)."""
        best = self.run_dir / "checkpoints" / "best.pt"
        if self.dist.is_main and not (best.exists() and os.path.samefile(source, best)):
            ckpt.copy_atomic(source, best)

    def _restore(self, path, generator):
        state = ckpt.load(path, map_location=self.device)
        ckpt.check_resumable(path, state, self._kinds(), self.optimizer.param_groups)
        try:
            self.dist.state_view(self.model).load_state_dict(state["model"])
            self.dist.load_optim_state(self.model, self.optimizer, state["optimizer"])
            if self.scheduler:
                self.scheduler.load_state_dict(state["scheduler"])
            if self.early_stopping and state.get("early_stopping"):  # added on resume: starts afresh
                self.early_stopping.load_state_dict(state["early_stopping"])
        except (RuntimeError, ValueError, KeyError, TypeError) as e:
            raise ckpt.CheckpointError(f"{path} does not fit this model or optimizer: {ckpt.one_line(e)}") from e
        self.epoch, self.batch, self.step, self.best = state["epoch"], state["batch"], state["step"], state["best"]
        self.best_step, self.train_loss = state.get("best_step"), state.get("train_loss", math.nan)
        self.epoch_loss = list(state.get("epoch_loss", [0.0, 0]))
        path = pathlib.Path(path).resolve()  # a last.pt outside a run folder starts a new version
        self.run_dir = path.parent.parent if path.parent.name == "checkpoints" else None
        return state

    def _open_run(self, resume, state) -> None:
        """:func:`~manualgrad.train.runs.claim_run` on rank 0 (an error raised on every rank), then ``best.pt`` re-linked
        to the resumed ``last.pt`` if its epoch was the best (a kill came between the two writes)."""
        history = None
        if state is not None:  # hparams.yaml stays the first command's: what changed goes to the history
            before = state.get("hparams") or {}
            changed = {f"changed.{k}": v for k, v in self.hparams.items() if before.get(k) != hparam_value(v)}
            history = {"time": datetime.datetime.now().isoformat(timespec="seconds"), "epoch": self.epoch,
                       "step": self.step, **changed}

        def claim():
            try:
                self._lock = claim_run(self.run_dir, self.hparams, history)
            except (RunInUseError, OSError) as e:
                return e
            return None

        problem = self.dist.shared(claim)
        if problem is not None:
            raise problem
        if state is not None and self.best_step == self.step:
            self._link_best(resume)
