"""What a person watching a run sees on stderr: on a terminal, a progress bar per epoch
("epoch k/N", the batch loss and the time left for the whole run); on a terminal or not, one line
per epoch with the epoch's mean train loss, the validation metrics and the time left."""

from __future__ import annotations

import sys
import time

from tqdm import tqdm


def duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``1h02m``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Progress:
    """One per :meth:`Trainer.fit`. ``enabled``: False prints nothing (``quiet``, or not rank 0)."""

    def __init__(self, epochs: int, enabled: bool, stream=None):
        self.epochs, self.enabled, self.stream = epochs, enabled, stream or sys.stderr
        self.started, self.bar, self.start_position = time.monotonic(), None, None

    def time_left(self, epoch: int, batch_fraction: float) -> str:
        """The remaining time at ``epoch`` (0-based) + ``batch_fraction`` of it, from the mean
        speed of this process so far ("?" before any epoch was timed)."""
        elapsed, position = time.monotonic() - self.started, epoch + batch_fraction
        if self.start_position is None or position <= self.start_position:
            return "?"
        per_epoch = elapsed / (position - self.start_position)
        return duration(per_epoch * (self.epochs - position))

    def begin(self, epoch: int, batch: int, batches: int) -> None:
        if self.start_position is None:  # where this process started: resumed runs count from there
            self.start_position = epoch + batch / max(batches, 1)
        if self.enabled:
            self.bar = tqdm(total=batches, initial=batch, desc=f"epoch {epoch + 1}/{self.epochs}", leave=False,
                            file=self.stream, disable=not self.stream.isatty())

    def update(self, epoch: int, batch: int, batches: int, loss: float) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(f"loss {loss:.4f}, {self.time_left(epoch, batch / max(batches, 1))} left")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def end_epoch(self, epoch: int, metrics: dict) -> None:
        """The line for epoch ``epoch`` (0-based, just finished)."""
        self.close()
        if self.enabled:
            shown = "  ".join(f"{k} {v:.4f}" for k, v in metrics.items())
            left = self.time_left(epoch + 1, 0.0) if epoch + 1 < self.epochs else "no time"
            print(f"epoch {epoch + 1}/{self.epochs}: {shown}  ({duration(time.monotonic() - self.started)} "
                  f"elapsed, {left} left)", file=self.stream, flush=True)

    def say(self, message: str) -> None:
        if self.enabled:
            print(message, file=self.stream, flush=True)
