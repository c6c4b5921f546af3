"""Strict routing's extra routes (``manual(strict=True)``, ``swap(model, strict=True)``): torch's
arithmetic -> :mod:`manualgrad.math`'s hand-derived ``add``/``sub``/``mul``/``div``/``neg``/
``addcmul``/``addcdiv``, so that every node of the graph is hand-derived.

Routed, as ``torch.<name>`` and as the ``Tensor`` method: ``add``, ``sub``/``subtract``, ``rsub``,
``mul``/``multiply``, ``div``/``divide``/``true_divide`` (``rounding_mode=None`` only: the
rounding modes are piecewise constant), ``neg``/``negative``, ``addcmul``, ``addcdiv``; and the
operators, which reach the mode as those methods (``x + y``, ``1 + x``: ``Tensor.add``; ``x * y``:
``Tensor.mul``; ``x / y``: ``Tensor.div``; ``x - y``: ``Tensor.sub``; ``-x``: ``Tensor.neg``) or as
torch's Python-written ``Tensor.__rsub__`` (``1 - x``) and ``Tensor.__rdiv__`` (``2 / x``, which
torch computes as ``x.reciprocal() * 2``: routed as ``math.reciprocal`` then ``math.mul``, the same
values). A call is routed when it is in torch's current form (torch's deprecated ``add(input,
alpha, other)``, ``addcmul(input, value, tensor1, tensor2)`` run torch's own) and some tensor operand requires grad and none is complex, numbers are
``int``/``float``/``bool``; integer and bool tensors may take part (``x * mask``: no gradient for
them). Under ``torch.compile`` one tensor given twice (``x * x``) is routed too: ``manualgrad.math``
passes the second through a view (Dynamo refuses an autograd.Function given one tensor twice).

Not routed, torch's: the in-place forms (``add_``, ``mul_``, ``x += y``, ``addcmul_``, ...: an
in-place Function would need ``mark_dirty`` and torch's in-place rules, casting the result into
``self``'s dtype and rebasing the history of a view it writes through; a parameter never goes
through them, as a leaf refuses in-place arithmetic), ``floor_divide``/``//``, ``remainder``, and
the math on tensors none of which requires grad.
"""

from __future__ import annotations

import torch

from . import math as M
from .routing_math import TORCH

def _number(v) -> bool:
    return isinstance(v, (int, float))  # bool is an int


def _routable(*operands) -> bool:
    tensors = [t for t in operands if isinstance(t, torch.Tensor)]
    if not all(isinstance(t, torch.Tensor) or _number(t) for t in operands):
        return False  # a complex number, a list, ...: torch's own (and its error)
    return any(t.requires_grad for t in tensors) and not any(t.is_complex() for t in tensors)


def _add(ours):
    def route(input, other, *rest, alpha=1, **extra):  # rest: torch's deprecated add(input, alpha, other)
        return ours(input, other, alpha=alpha) if not (rest or extra) and _routable(input, other, alpha) else TORCH
    return route


def _rsub(input, other, *rest, alpha=1, **extra):  # torch.rsub(input, other) = other − alpha·input
    return M.sub(other, input, alpha=alpha) if not (rest or extra) and _routable(input, other, alpha) else TORCH


def _rsub_operator(input, other):  # Tensor.__rsub__(self, other) = other − self
    return _rsub(input, other)


def _mul(input, other, *rest, **extra):
    return M.mul(input, other) if not (rest or extra) and _routable(input, other) else TORCH


def _div(input, other, *rest, rounding_mode=None, **extra):
    if rest or extra or rounding_mode is not None or not _routable(input, other):
        return TORCH
    return M.div(input, other)


def _rdiv(input, other):  # Tensor.__rdiv__(self, other): torch's self.reciprocal() * other
    if not (isinstance(input, torch.Tensor) and input.is_floating_point() and _routable(input, other)):
        return TORCH
    return M.mul(M.reciprocal(input), other)


def _neg(input, *rest, **extra):
    return M.neg(input) if not (rest or extra) and isinstance(input, torch.Tensor) and _routable(input) else TORCH


def _addc(ours):
    def route(input, tensor1, tensor2=None, *rest, value=1, **extra):  # rest: addcmul(input, value, t1, t2)
        if rest or extra or not (all(isinstance(t, torch.Tensor) for t in (input, tensor1, tensor2))
                and _routable(input, tensor1, tensor2, value)):
            return TORCH
        return ours(input, tensor1, tensor2, value=value)
    return route


def _table() -> dict:
    routes = {"add": _add(M.add), "sub": _add(M.sub), "subtract": _add(M.sub), "rsub": _rsub,
              "mul": _mul, "multiply": _mul, "div": _div, "divide": _div, "true_divide": _div,
              "neg": _neg, "negative": _neg, "addcmul": _addc(M.addcmul), "addcdiv": _addc(M.addcdiv)}
    table = {}
    for name, route in routes.items():
        table[getattr(torch, name)] = (route, f"torch.{name}")
        method = getattr(torch.Tensor, name, None)
        if method is not None:
            table[method] = (route, f"Tensor.{name}")
    return table


_TABLE = _table()
ROUTES = {fn: route for fn, (route, _) in _TABLE.items()}
# written in Python (torch/_tensor.py): found by identity, as routing_math.OPERATORS
OPERATORS = ((torch.Tensor.__rsub__, _rsub_operator), (torch.Tensor.__rdiv__, _rdiv))
NAMES = sorted({name for _, name in _TABLE.values()} | {"Tensor.__rsub__", "Tensor.__rdiv__"})


def operator(func):
    """The adapter of ``func`` when it is one of :data:`OPERATORS`, else None."""
    for op, route in OPERATORS:
        if func is op:
            return route
    return None
