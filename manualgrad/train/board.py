"""What the Trainer writes to TensorBoard besides per-step scalars: the custom-scalars layout, the
per-epoch images (gradient flow; confusion matrix and misclassified validation inputs) and the
HParams session."""

from __future__ import annotations

import math

import torch

from . import images
from .tags import layout, metric_tag

MAX_WRONG = 32  # misclassified validation inputs shown per epoch


class Predictions:
    """Collects a classifier's predictions over an evaluation: the confusion counts and the first
    :data:`MAX_WRONG` misclassified inputs."""

    def __init__(self):
        self.counts, self.wrong = None, []

    def add(self, x: torch.Tensor, out: torch.Tensor, y: torch.Tensor) -> None:
        if out.dim() != 2 or y.dim() != 1:
            return
        k = out.shape[1]
        if self.counts is None:
            self.counts = torch.zeros(k, k, dtype=torch.long)
        pred = out.argmax(-1)
        self.counts += torch.bincount((y * k + pred).cpu(), minlength=k * k).view(k, k)
        if images.is_image_batch(x):
            bad = (pred != y).nonzero().flatten()[:MAX_WRONG - sum(len(w[0]) for w in self.wrong)]
            if len(bad):
                self.wrong.append((x[bad].cpu(), pred[bad].cpu(), y[bad].cpu()))

    def log(self, writer, step: int) -> None:
        if self.counts is None:
            return
        writer.add_image("val/confusion_matrix", images.confusion_matrix(self.counts), step, dataformats="HWC")
        if self.wrong:
            x, pred, true = (torch.cat(parts) for parts in zip(*self.wrong))
            writer.add_image("val/misclassified", images.misclassified_grid(x, pred, true), step, dataformats="HWC")


def log_layout(writer, classification: bool) -> None:
    writer.add_custom_scalars(layout(classification))


def log_gradient_flow(writer, stats, step: int) -> None:
    if stats:
        writer.add_image("params/gradient_flow", images.gradient_flow(stats), step, dataformats="HWC")


def hparam_value(v):
    """An HParams table value: numbers, strings and booleans as they are, anything else as text."""
    return v if isinstance(v, (int, float, str, bool)) else str(v)


def log_hparams(run_dir, hparams: dict, metrics: dict, step: int) -> None:
    """The run's HParams session in ``run_dir/hparams`` (a run of its own, holding only the final
    metrics as ``result/<tag>``, so that they alone are the table's metric columns; ``result/`` sorts
    after ``loss/`` in the TIME SERIES tab). No experiment summary is written:
    TensorBoard then builds the table's columns from every run's session, so runs with different
    hyper-parameter names (the CLI's and the examples') show side by side."""
    from torch.utils.tensorboard import SummaryWriter
    from torch.utils.tensorboard.summary import hparams as hparams_summary

    clean = {k: hparam_value(v) for k, v in hparams.items() if v is not None}
    final = {f"result/{metric_tag(k)}": v for k, v in metrics.items() if isinstance(v, float) and math.isfinite(v)}
    if not clean or not final:
        return
    _, start, end = hparams_summary(clean, final)
    with SummaryWriter(str(run_dir / "hparams")) as w:
        w.file_writer.add_summary(start, step)
        for tag, value in final.items():
            w.add_scalar(tag, value, step)
        w.file_writer.add_summary(end, step)
