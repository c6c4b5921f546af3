"""The fit loop: forward, loss, hand-derived backward, weight update, with TensorBoard, gradient
health, gradient parity against torch, a non-finite guard, early stopping and atomic checkpoints
that resume bit for bit (also from the middle of an epoch after Ctrl-C, or after a kill at any
point: ``last.pt`` is written first, ``best.pt`` is then a hard link to that complete file, and a
resume from a ``last.pt`` whose epoch was the best re-links it)."""

from __future__ import annotations

import math
import sys

import torch
from tqdm import tqdm

from ..regularization import penalty
from . import checkpoint as ckpt
from .distributed import Distributed, Local
from .guard import BufferSnapshot, DeferInterrupt, NonFiniteError
from .health import ActivationMonitor, first_non_finite, full_tensor, grad_norms, update_ratios
from .parity import check_parity
from .resume import Checkpointing
from .runs import EarlyStopping, check_name, new_version_dir


def pick_device(device: str | torch.device = "auto") -> torch.device:
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device cuda: no CUDA device is available (torch.cuda.is_available() is False)")
    return device


class Trainer(Checkpointing):
    """Train ``model`` with ``optimizer`` on ``loss_fn`` (a module, e.g. ``mnn.CrossEntropyLoss()``).

    ``task``: 'classification' logs accuracy; 'regression' does not. ``scheduler``: any
    ``torch.optim.lr_scheduler``, stepped once per epoch (ReduceLROnPlateau with the monitored
    validation value). ``l1``/``l2``: explicit penalties (hand-derived gradient) on the weights.
    ``grad_clip``/``grad_clip_value``: clip by global norm / by value (torch.nn.utils), > 0.
    ``check_grads_every``: K > 0 recomputes the batch's gradients through the torch twin at step 0
    and every K steps (``parity/max_abs_diff``). Runs go to ``log_dir/name/version_N/``.
    ``distributed``: 'ddp' or 'fsdp' (FSDP2) inside an initialized process group (see
    :mod:`manualgrad.train.distributed`); ``model`` stays the unwrapped module.
    """

    def __init__(self, model, optimizer, loss_fn, *, scheduler=None, task="classification", device="auto",
                 log_dir="tb_logs", name="run", hparams=None, l1=0.0, l2=0.0, grad_clip=None,
                 grad_clip_value=None, early_stopping: EarlyStopping | None = None, check_grads_every=0,
                 log_every=10, hist_every=100, quiet=False, distributed: str | None = None):
        for arg, value in (("grad_clip", grad_clip), ("grad_clip_value", grad_clip_value)):
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ValueError(f"{arg} must be a finite number > 0 (or None: no clipping), got {value}")
        self.dist = Distributed(distributed) if distributed else Local()
        if self.dist.kind == "fsdp" and check_grads_every:
            raise ValueError("check_grads_every is not supported with distributed='fsdp' (the parameters are "
                             "sharded over the ranks); check gradient parity with 'ddp' or one process")
        self.device = self.dist.device(pick_device(device))
        self.model, self.loss_fn = model.to(self.device), loss_fn
        self.trained = self.dist.wrap(self.model, optimizer)  # what training steps call
        self.buffers = BufferSnapshot(self.model)
        self.optimizer, self.scheduler, self.task = optimizer, scheduler, task
        self.log_dir, self.name, self.hparams = log_dir, check_name(name), dict(hparams or {})
        self.l1, self.l2, self.grad_clip, self.grad_clip_value = l1, l2, grad_clip, grad_clip_value
        self.early_stopping, self.check_grads_every = early_stopping, check_grads_every
        self.log_every, self.hist_every, self.quiet = log_every, hist_every, quiet
        self.monitor_key = early_stopping.monitor if early_stopping else "val/loss"
        self.epoch = self.batch = self.step = 0
        self.best, self.best_step, self.train_loss = math.inf, None, math.nan
        self.run_dir = self.writer = self._lock = None

    # ------------------------------------------------------------------ one step
    def _loss(self, out, y):
        loss = self.loss_fn(out, y)
        if self.l1 or self.l2:
            return loss, loss + penalty(self.model, self.l1, self.l2)
        return loss, loss

    def train_step(self, x, y) -> float:
        params = list(self.model.named_parameters())
        logging = self.step % self.log_every == 0
        self.monitor.active = logging
        rng_before = ckpt.rng_state() if self._parity_due() else None
        self.optimizer.zero_grad(set_to_none=True)
        self.buffers.save()
        out = self.trained(x)
        loss, total = self._loss(out, y)
        total.backward()
        self.monitor.active = False
        bad = first_non_finite([("the input batch", x), ("the target batch", y), ("the loss", total),
                                *((f"the gradient of parameter {n!r}", p.grad) for n, p in params),
                                *((f"buffer {n!r} (updated by the forward)", b) for n, b in self.buffers.named)])
        flagged, loss_sum = self.dist.sum([float(bad is not None), loss.item()])  # all ranks stop together
        if flagged:
            self.buffers.restore()
            raise NonFiniteError(f"{bad or 'a tensor on another rank'} is not finite (NaN or inf) at step "
                                 f"{self.step}, epoch {self.epoch}; no update was applied; {self._last_good()}")
        scalars = {}
        if rng_before is not None:
            scalars["parity/max_abs_diff"] = check_parity(self.model, self.loss_fn, x, y, rng_before,
                                                          self.l1, self.l2, self.dist.average)
        if logging:
            scalars.update(grad_norms(params))
            before = {n: p.detach().clone() for n, p in params}
        if self.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        if self.grad_clip_value:
            torch.nn.utils.clip_grad_value_(self.model.parameters(), self.grad_clip_value)
        self.optimizer.step()
        self._check_finite(params, f"the update at step {self.step}, epoch {self.epoch}",
                           "; is the learning rate too large?")
        if logging:
            scalars.update(update_ratios(before, params))
            batch_stats = self.monitor.pop()
            if self.task == "classification":
                batch_stats["train/acc"] = (out.argmax(-1) == y).float().mean().item()
            scalars.update(self.dist.mean(batch_stats))
            scalars["train/loss"] = loss_sum / self.dist.world
            scalars["lr"] = self.optimizer.param_groups[0]["lr"]
            scalars["epoch"] = self.epoch
        for tag, value in scalars.items():
            self.writer.add_scalar(tag, value, self.step)
        if self.hist_every and self.step % self.hist_every == 0:
            for tag, t in ((f"{kind}/{n}", t) for n, p in params for kind, t in (("weights", p), ("grads", p.grad))):
                if t is not None:
                    self._histogram(tag, full_tensor(t.detach()).cpu())
        self.step += 1
        self.train_loss = loss_sum / self.dist.world
        return self.train_loss

    def _histogram(self, tag, values) -> None:
        try:
            self.writer.add_histogram(tag, values, self.step)
        except ValueError:  # "The histogram is empty": no element, or none within its buckets (|x| < 1e20)
            pass

    def _check_finite(self, params, cause: str, hint: str = "") -> None:
        """NonFiniteError (on every rank) if a parameter or buffer of the model is not finite."""
        bad = first_non_finite([*((f"parameter {n!r}", p) for n, p in params),
                                *((f"buffer {n!r}", b) for n, b in self.buffers.named)])
        if self.dist.sum([float(bad is not None)])[0]:
            raise NonFiniteError(f"{cause} made {bad or 'a parameter on another rank'} not finite (NaN or inf"
                                 f"{hint}); nothing was saved; {self._last_good()}")

    def _parity_due(self) -> bool:
        return bool(self.check_grads_every) and self.step % self.check_grads_every == 0

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def evaluate(self, loader) -> dict:
        """Mean loss (and accuracy for classification) over ``loader``, in eval mode (distributed:
        over the union of every rank's ``loader``)."""
        was_training = self.model.training
        self.dist.sync_buffers(self.model)
        self.model.eval()
        total = correct = n = bad_batches = 0
        for x, y in loader:
            x, y = x.to(self.device), y.to(self.device)
            if first_non_finite([("x", x), ("y", y)]):
                bad_batches += 1
                continue
            out = self.model(x)
            total += self.loss_fn(out, y).item() * len(y)
            if self.task == "classification":
                correct += (out.argmax(-1) == y).sum().item()
            n += len(y)
        self.model.train(was_training)
        total, correct, n, bad_batches = self.dist.sum([total, correct, n, bad_batches])
        if bad_batches or not math.isfinite(total):
            cause = f"{int(bad_batches)} batch(es) of its data hold NaN or inf" if bad_batches else \
                "its data is finite: the model's output overflows"
            raise NonFiniteError(f"the evaluation loss is not finite after step {self.step}: {cause}")
        metrics = {"loss": total / max(n, 1)}
        if self.task == "classification":
            metrics["acc"] = correct / max(n, 1)
        return metrics

    # ------------------------------------------------------------------ the loop
    def fit(self, train_loader, val_loader=None, epochs: int = 10, resume=None) -> dict:
        """Train until ``epochs`` epochs are done in total (a resumed run counts the epochs before
        it) or early stopping fires. Returns the last epoch's metrics."""
        generator = getattr(train_loader, "generator", None)
        state = self._restore(resume, generator) if resume else None
        if self.run_dir is None:  # rank 0's, on every rank
            self.run_dir = self.dist.shared(lambda: new_version_dir(self.log_dir, self.name))
        try:
            self._open_run(resume, state)
            self.writer = self.dist.writer(self.run_dir, self.step if resume else None)
            metrics = self._loop(train_loader, val_loader, epochs, generator, state)
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None
        if self.early_stopping and self.early_stopping.restore(self.dist.state_view(self.model)):
            metrics["restored_best_epoch"] = self.early_stopping.best_epoch
        self._log_hparams(metrics)
        self.writer.close()
        return metrics

    def _loop(self, train_loader, val_loader, epochs, generator, state) -> dict:
        self.monitor = ActivationMonitor(self.model)
        metrics = {}
        stopped = bool(self.early_stopping and self.early_stopping.should_stop)  # fired, then killed
        try:
            with DeferInterrupt(self._interrupted_twice) as interrupt:
                while self.epoch < epochs and not stopped:
                    if state is not None:  # resuming: the sampler as at this epoch's start
                        ckpt.set_rng_state(state["epoch_rng"], generator)
                    epoch_rng = ckpt.rng_state(generator)
                    metrics, stopped = self._epoch(train_loader, val_loader, generator, epoch_rng,
                                                   interrupt, state)
                    state = None
        finally:
            self.monitor.remove()
            self.writer.flush()
        return metrics

    def _interrupted_twice(self) -> str:
        return f"interrupted twice: stopped at once at step {self.step} without saving; {self._last_good()}"

    def _epoch(self, train_loader, val_loader, generator, epoch_rng, interrupt, state):
        self.model.train()
        if hasattr(getattr(train_loader, "sampler", None), "set_epoch"):  # DistributedSampler: reshuffle
            train_loader.sampler.set_epoch(self.epoch)
        bar = tqdm(total=len(train_loader), initial=self.batch, desc=f"epoch {self.epoch}", leave=False,
                   disable=self.quiet or not self.dist.is_main or not sys.stderr.isatty())
        batches = enumerate(train_loader)
        for _ in range(self.batch):  # done before an interrupted run stopped: replays the sampler
            next(batches)
        if state is not None:  # resuming: torch/Python RNGs as they were then (also after the last batch)
            ckpt.set_rng_state(state["rng"])
        for i, (x, y) in batches:
            loss = self.train_step(x.to(self.device), y.to(self.device))
            self.batch = i + 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4f}")
            if self.dist.sum([float(interrupt.requested)])[0]:  # any rank's Ctrl-C stops all
                self._save_last(generator, epoch_rng)
                bar.close()
                raise KeyboardInterrupt(f"interrupted at step {self.step}; resume with --resume {self._last_path()}")
        bar.close()
        metrics = {f"val/{k}": v for k, v in self.evaluate(val_loader).items()} if val_loader else {}
        for tag, value in metrics.items():
            self.writer.add_scalar(tag, value, self.step)
        value = metrics.get(self.monitor_key, self.train_loss)
        if self.scheduler is not None:
            plateau = isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
            self.scheduler.step(value) if plateau else self.scheduler.step()
        view = self.dist.state_view(self.model)
        stop = self.early_stopping.step(value, self.epoch, view) if self.early_stopping else False
        improved = self.early_stopping.best_epoch == self.epoch if self.early_stopping else value < self.best
        self.epoch, self.batch = self.epoch + 1, 0
        if improved:
            self.best, self.best_step = value, self.step
        self._save_last(generator, ckpt.rng_state(generator))  # first: best.pt is then a link to it
        if improved:
            self._link_best(self._last_path())
        if not self.quiet and self.dist.is_main:
            shown = "  ".join(f"{k} {v:.4f}" for k, v in metrics.items())
            print(f"epoch {self.epoch - 1}: train/loss {self.train_loss:.4f}  {shown}", file=sys.stderr)
        return dict(metrics, **{"train/loss": self.train_loss}), stop

    def _log_hparams(self, metrics):
        clean = {k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in self.hparams.items()}
        final = {f"hparam/{k}": v for k, v in metrics.items() if isinstance(v, float)}
        if clean and final:
            self.writer.add_hparams(clean, final, run_name=".", global_step=self.step)
