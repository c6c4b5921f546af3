"""The fit loop: forward, loss, hand-derived backward, weight update, with TensorBoard, gradient
health, gradient parity against torch, a non-finite guard, early stopping and atomic checkpoints
that resume bit for bit (also from the middle of an epoch after Ctrl-C, or after a kill at any
point: ``last.pt`` is written first, ``best.pt`` is then a hard link to that complete file, and a
resume from a ``last.pt`` whose epoch was the best re-links it)."""

from __future__ import annotations

import math

import torch

from ..regularization import penalty
from . import board
from . import checkpoint as ckpt
from .distributed import Distributed, Local
from .guard import BufferSnapshot, DeferInterrupt, NonFiniteError
from .health import ActivationMonitor, first_non_finite, full_tensor, grad_abs_stats, grad_norms, update_ratios
from .parity import check_parity
from .progress import Progress
from .resume import Checkpointing
from .runs import EarlyStopping, check_name, new_version_dir
from .tags import flow_params, metric_tag, param_names

PARITY_EVERY = 200  # the default of check_grads_every: step 0 and every 200 steps


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
    and every K steps (``parity/max_abs_diff``, and per layer); None: every :data:`PARITY_EVERY` steps (never
    under FSDP2), 0: never. Runs go to ``log_dir/name/version_N/``. ``hparams``: what the HParams
    tab and ``hparams.yaml`` show, completed with the resolved optimizer, lr, batch size and
    regularisation. ``model_config``: what rebuilds the model (:func:`manualgrad.train.models.build`),
    saved in the checkpoints for :func:`manualgrad.train.load_model`.
    ``distributed``: 'ddp' or 'fsdp' (FSDP2) inside an initialized process group (see
    :mod:`manualgrad.train.distributed`); ``model`` stays the unwrapped module.
    """

    def __init__(self, model, optimizer, loss_fn, *, scheduler=None, task="classification", device="auto",
                 log_dir="tb_logs", name="run", hparams=None, l1=0.0, l2=0.0, grad_clip=None,
                 grad_clip_value=None, early_stopping: EarlyStopping | None = None, check_grads_every=None,
                 log_every=10, hist_every=100, quiet=False, distributed: str | None = None, model_config=None):
        for arg, value in (("grad_clip", grad_clip), ("grad_clip_value", grad_clip_value)):
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ValueError(f"{arg} must be a finite number > 0 (or None: no clipping), got {value}")
        self.dist = Distributed(distributed) if distributed else Local()
        if check_grads_every is None:
            check_grads_every = 0 if self.dist.kind == "fsdp" else PARITY_EVERY
        if self.dist.kind == "fsdp" and check_grads_every:
            raise ValueError("check_grads_every is not supported with distributed='fsdp' (the parameters are "
                             "sharded over the ranks); check gradient parity with 'ddp' or one process")
        self.device = self.dist.device(pick_device(device))
        self.model, self.loss_fn = model.to(self.device), loss_fn
        self.trained = self.dist.wrap(self.model, optimizer)  # what training steps call
        self.buffers = BufferSnapshot(self.model)
        self.optimizer, self.scheduler, self.task = optimizer, scheduler, task
        self.log_dir, self.name, self.hparams = log_dir, check_name(name), dict(hparams or {})
        self.model_config, self.tags, self.flow = model_config, param_names(model), flow_params(model)
        self.l1, self.l2, self.grad_clip, self.grad_clip_value = l1, l2, grad_clip, grad_clip_value
        self.early_stopping, self.check_grads_every = early_stopping, check_grads_every
        self.log_every, self.hist_every, self.quiet = log_every, hist_every, quiet
        self.monitor_key = early_stopping.monitor if early_stopping else "val/loss"
        self.epoch = self.batch = self.step = 0
        self.best, self.best_step, self.train_loss = math.inf, None, math.nan
        self.epoch_loss, self.epochs, self.flow_stats = [0.0, 0], None, []  # epoch_loss: [Σ loss, batches]
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
            diffs = check_parity(self.model, self.loss_fn, x, y, rng_before, self.l1, self.l2, self.dist.average)
            scalars["parity/max_abs_diff"] = max(diffs.values(), default=0.0)
            for n, d in diffs.items():  # per layer: the max over its parameters
                tag = f"parity/max_abs_diff/{self.tags.get(n, n).rsplit('.', 1)[0]}"
                scalars[tag] = max(d, scalars.get(tag, 0.0))
        if logging:
            scalars.update(grad_norms(params, self.tags, self.flow))
            self.flow_stats = grad_abs_stats(params, self.tags, self.flow)
            before = {n: p.detach().clone() for n, p in params}
        if self.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        if self.grad_clip_value:
            torch.nn.utils.clip_grad_value_(self.model.parameters(), self.grad_clip_value)
        self.optimizer.step()
        self._check_finite(params, f"the update at step {self.step}, epoch {self.epoch}",
                           "; is the learning rate too large?")
        if logging:
            scalars.update(update_ratios(before, params, self.tags, self.flow))
            batch_stats = self.monitor.pop()
            if self.task == "classification":
                batch_stats[metric_tag("train/acc")] = (out.argmax(-1) == y).float().mean().item()
            scalars.update(self.dist.mean(batch_stats))
            scalars[metric_tag("train/loss")] = loss_sum / self.dist.world
            scalars["schedule/lr"] = self.optimizer.param_groups[0]["lr"]
            scalars["schedule/epoch"] = self.epoch
        for tag, value in scalars.items():
            self.writer.add_scalar(tag, value, self.step)
        if self.hist_every and self.step % self.hist_every == 0:
            for n, p in params:
                for tag, t in ((f"weights/{self.tags.get(n, n)}", p), (f"weights/{self.tags.get(n, n)}/grad", p.grad)):
                    if t is not None:
                        self._histogram(tag, full_tensor(t.detach()).cpu())
        self.step += 1
        self.train_loss = loss_sum / self.dist.world
        self.epoch_loss = [self.epoch_loss[0] + self.train_loss, self.epoch_loss[1] + 1]
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
    def evaluate(self, loader, predictions: board.Predictions | None = None) -> dict:
        """Mean loss (and accuracy for classification) over ``loader``, in eval mode (distributed:
        over the union of every rank's ``loader``). ``predictions``: also collects this rank's
        confusion counts and misclassified inputs."""
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
                if predictions is not None:
                    predictions.add(x, out, y)
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
    def fit(self, train_loader, val_loader=None, epochs: int = 10, resume=None, test_loader=None) -> dict:
        """Train until ``epochs`` epochs are done in total (a resumed run counts the epochs before
        it) or early stopping fires; then evaluate ``test_loader`` if given (``test/loss``,
        ``test/acc``). Returns the last epoch's metrics (``train/loss`` is the epoch's mean)."""
        generator = getattr(train_loader, "generator", None)
        self.epochs = epochs
        progress = Progress(epochs, not self.quiet and self.dist.is_main)
        state = self._restore(resume, generator) if resume else None
        if self.run_dir is None:  # rank 0's, on every rank
            self.run_dir = self.dist.shared(lambda: new_version_dir(self.log_dir, self.name))
        if state is not None:
            progress.say(self._resume_message(epochs))
        self.hparams = self._resolved_hparams(train_loader)
        try:
            self._open_run(resume, state)
            self.writer = self.dist.writer(self.run_dir, self.step if resume else None)
            board.log_layout(self.writer, self.task == "classification")
            metrics = self._loop(train_loader, val_loader, epochs, generator, state, progress)
            if self.early_stopping and self.early_stopping.restore(self.dist.state_view(self.model)):
                metrics["restored_best_epoch"] = self.early_stopping.best_epoch
            if test_loader is not None:
                metrics.update({f"test/{k}": v for k, v in self.evaluate(test_loader).items()})
                for key in ("test/loss", "test/acc"):
                    if key in metrics:
                        self.writer.add_scalar(metric_tag(key), metrics[key], self.step)
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None
        if self.dist.is_main:
            board.log_hparams(self.run_dir, self.hparams, metrics, self.step)
        self.writer.close()
        return metrics

    def _loop(self, train_loader, val_loader, epochs, generator, state, progress) -> dict:
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
                                                   interrupt, state, progress)
                    state = None
        finally:
            progress.close()
            self.monitor.remove()
            self.writer.flush()
        return metrics

    def _interrupted_twice(self) -> str:
        return f"interrupted twice: stopped at once at step {self.step} without saving; {self._last_good()}"

    def _epoch(self, train_loader, val_loader, generator, epoch_rng, interrupt, state, progress):
        self.model.train()
        if hasattr(getattr(train_loader, "sampler", None), "set_epoch"):  # DistributedSampler: reshuffle
            train_loader.sampler.set_epoch(self.epoch)
        total = len(train_loader)
        progress.begin(self.epoch, self.batch, total)
        if self.batch == 0:  # a fresh epoch (a resumed one keeps its partial sum)
            self.epoch_loss = [0.0, 0]
        batches = enumerate(train_loader)
        for _ in range(self.batch):  # done before an interrupted run stopped: replays the sampler
            next(batches)
        if state is not None:  # resuming: torch/Python RNGs as they were then (also after the last batch)
            ckpt.set_rng_state(state["rng"])
        for i, (x, y) in batches:
            loss = self.train_step(x.to(self.device), y.to(self.device))
            self.batch = i + 1
            progress.update(self.epoch, self.batch, total, loss)
            if self.dist.sum([float(interrupt.requested)])[0]:  # any rank's Ctrl-C stops all
                self._save_last(generator, epoch_rng)
                progress.close()
                raise KeyboardInterrupt(f"interrupted at step {self.step}; resume with --resume {self._last_path()}")
        progress.close()
        predictions = board.Predictions() if self.task == "classification" and self.dist.is_main else None
        metrics = {f"val/{k}": v for k, v in self.evaluate(val_loader, predictions).items()} if val_loader else {}
        for key, value in metrics.items():
            self.writer.add_scalar(metric_tag(key), value, self.step)
        if predictions is not None:
            predictions.log(self.writer, self.step)
        board.log_gradient_flow(self.writer, self.flow_stats, self.step)
        metrics = {"train/loss": self.epoch_loss[0] / self.epoch_loss[1] if self.epoch_loss[1] else math.nan,
                   **metrics}
        value = metrics.get(self.monitor_key, metrics["train/loss"])
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
        progress.end_epoch(self.epoch - 1, metrics)
        return metrics, stop
