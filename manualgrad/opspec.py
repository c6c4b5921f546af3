"""``OpSpec``, one entry of the op table (``manualgrad.ops``). Each family's entries are built
beside its samples (``manualgrad/samples/<family>.py``, list ``OPS``); this module imports
nothing of theirs, so both can import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

import torch

from .samples import ErrorSample, Sample


@dataclass
class OpSpec:
    """One op: ``op`` (ours) must equal ``ref`` (torch) on every sample.

    ``function``: the autograd.Function whose backward node must be the output's ``grad_fn``.
    ``tol``: ``{dtype: (rtol, atol)}`` overrides of ``torch.testing.assert_close`` defaults.
    ``skips``: ``{check: reason}`` for checks that do not apply (documented, shown by verify).
    ``seeded``: the op draws random numbers; both sides run from the same seed.
    """

    name: str
    op: Callable
    ref: Callable
    function: type
    samples: Callable[[torch.device, torch.dtype], Iterable[Sample]]
    errors: Callable[[torch.device], Iterable[ErrorSample]] = lambda device: ()
    tol: dict = field(default_factory=dict)
    skips: dict = field(default_factory=dict)
    seeded: bool = False

    def tolerance(self, dtype: torch.dtype) -> dict:
        """Keyword arguments for ``torch.testing.assert_close`` at ``dtype``."""
        if dtype in self.tol:
            rtol, atol = self.tol[dtype]
            return {"rtol": rtol, "atol": atol}
        return {}
