"""What every hand-written optimizer shares: the step driver, scalar handling, argument checks."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.optim import Optimizer


def require(ok: bool, message: str) -> None:
    """torch.optim's argument check: ``ValueError(message)`` unless ``ok``.

    Callers spell each condition the way torch does (``not lr < 0`` for SGD, ``0 <= lr`` for
    Adam), so a NaN is accepted or refused exactly as torch does it.
    """
    if not ok:
        raise ValueError(message)


def check_lr(lr: float | Tensor) -> None:
    """A tensor lr must hold one element (torch's message); the sign is checked by the caller."""
    require(not (isinstance(lr, Tensor) and lr.numel() != 1), "Tensor lr must be 1-element")


def scalar(x: float | Tensor) -> float | Tensor:
    """A 1-element tensor hyperparameter as a 0-d tensor (usable as ``alpha=``/``value=``)."""
    return x.squeeze() if isinstance(x, Tensor) and x.dim() != 0 else x


def new_step() -> Tensor:
    """``state["step"]`` as torch keeps it: a 0-d CPU tensor, float64 iff that is the default."""
    double = torch.get_default_dtype() == torch.float64
    return torch.tensor(0.0, dtype=torch.float64 if double else torch.float32)


class ManualOptimizer(Optimizer):
    """A ``torch.optim.Optimizer`` whose update rule is ``self._update(w, g, group)``.

    ``step`` evaluates the closure with grad enabled, then, without grad, takes each group's params
    whose ``.grad`` is not None (in order), checks them all (dense gradients, real params) before
    touching any, and hands each ``(w, g)`` to ``_update``, which runs the family's update function
    on ``self.state[w]`` (filled lazily). Param groups, hooks, ``zero_grad``, ``state_dict`` and LR
    schedulers come from the base class.
    """

    def _update(self, w: Tensor, g: Tensor, group: dict) -> None:
        raise NotImplementedError

    def _with_grads(self, group: dict) -> list[tuple[Tensor, Tensor]]:
        name = type(self).__name__
        pairs = [(w, w.grad) for w in group["params"] if w.grad is not None]
        for w, g in pairs:
            if g.layout != torch.strided:
                raise RuntimeError(f"{name} does not support sparse gradients")
            if torch.is_complex(w):
                raise RuntimeError(f"{name} does not support complex parameters")
        return pairs

    @torch.no_grad()
    def step(self, closure=None):
        """Perform a single optimization step; ``closure`` re-evaluates and returns the loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for w, g in self._with_grads(group):
                self._update(w, g, group)
        return loss
