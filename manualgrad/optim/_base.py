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


# torch.optim's choice-of-implementation arguments this loop cannot honour, with the reason; ``foreach``
# (None, False or True) is accepted: every value means the same per-parameter loop here.
UNSUPPORTED = {
    "fused": "there is no fused kernel, the update is a per-parameter loop of plain tensor ops",
    "capturable": "the update reads the step count on the host, so it cannot be captured in a CUDA graph",
    "differentiable": "the update runs in place under no_grad, so autograd cannot go through it",
}


def check_supported(name: str, options: dict) -> None:
    """``NotImplementedError`` naming the argument and value for an option of :data:`UNSUPPORTED`
    that is set (torch's defaults ``None``/``False`` pass), in ``defaults`` or a param group."""
    for key, why in UNSUPPORTED.items():
        if options.get(key):
            raise NotImplementedError(f"{name}({key}={options[key]!r}) is not supported: {why}; "
                                      f"leave {key} at its default")


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
    whose ``.grad`` is not None (in order), checks them all (dense gradients, real params, supported
    options) before touching any, and hands each ``(w, g)`` to ``_update``, which runs the family's
    update function on ``self.state[w]`` (filled lazily). Param groups, hooks, ``zero_grad``, ``state_dict`` and LR
    schedulers come from the base class.
    """

    def __init__(self, params, defaults: dict) -> None:
        check_supported(type(self).__name__, defaults)
        super().__init__(params, defaults)

    def _update(self, w: Tensor, g: Tensor, group: dict) -> None:
        raise NotImplementedError

    def _with_grads(self, group: dict) -> list[tuple[Tensor, Tensor]]:
        name = type(self).__name__
        check_supported(name, group)  # also a group added or loaded after construction
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
        work = [(group, self._with_grads(group)) for group in self.param_groups]  # every check first
        for group, pairs in work:
            for w, g in pairs:
                self._update(w, g, group)
        return loss
