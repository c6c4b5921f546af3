"""What keeps a training step from leaving damage behind: the non-finite guard's error and the
snapshot of the model's buffers it restores, and Ctrl-C held until the step is complete."""

from __future__ import annotations

import signal
import threading

import torch


class NonFiniteError(RuntimeError):
    """The data, the loss, a gradient, a buffer or (after the update) a weight became NaN or inf;
    training stopped and nothing non-finite was saved."""


class BufferSnapshot:
    """The model's buffers (BatchNorm's running statistics and batch count, which a training-mode
    forward updates), copied before each forward so that a step the guard refuses leaves them as
    they were. The copies are allocated once."""

    def __init__(self, model: torch.nn.Module):
        self.named = list(model.named_buffers())
        self.copies = [b.detach().clone() for _, b in self.named]

    def save(self) -> None:
        for copy, (_, b) in zip(self.copies, self.named):
            copy.copy_(b)

    def restore(self) -> None:
        with torch.no_grad():
            for copy, (_, b) in zip(self.copies, self.named):
                b.copy_(copy)


class DeferInterrupt:
    """Ctrl-C during a step is held until the step is complete (a half-applied optimizer step
    would be saved otherwise); a second Ctrl-C interrupts at once, with ``message()``."""

    def __init__(self, message=lambda: "interrupted twice: stopped at once, without saving"):
        self.message = message

    def __enter__(self):
        self.requested, self._old = False, None
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handler)
        return self

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt(self.message())
        self.requested = True

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
