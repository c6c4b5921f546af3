"""The math routes of :mod:`manualgrad.routing`: ``torch`` functions and ``Tensor`` methods/operators
that :mod:`manualgrad.math` implements -> its hand-derived Functions, for the argument forms it
implements with torch's semantics; any other form runs torch's own.

Each adapter takes torch's parameters (the function's layout; a method's ``self`` first) and returns
manualgrad's result, or :data:`TORCH` to say "run torch's own". Routed only where

- some tensor operand requires grad and every tensor operand (a ``where`` condition aside) is a
  real floating-point tensor: integer, bool and complex tensors stay torch's, and so does math on
  constants (nothing to differentiate);
- the form is one ``manualgrad.math`` has: numbers are ``int``/``float`` (not ``bool``), a ``dim``
  an int or a tuple/list of ints (a named dim stays torch's), a ``dtype=`` a floating dtype;
  ``out=`` never (routing.py checks it).

Routed: ``matmul`` (``@`` is ``Tensor.matmul``; ``__rmatmul__``), ``mm``, ``bmm``, ``addmm``,
``baddbmm``; ``exp``, ``expm1``, ``log``, ``log1p``, ``sqrt``, ``rsqrt``, ``reciprocal``, ``sin``,
``cos``, ``abs``; ``pow`` (``**``: ``__pow__``, ``__rpow__``), ``clamp``/``clip``, ``minimum``,
``maximum``, ``where(condition, input, other)``; ``sum``, ``mean``, ``var``, ``std`` (``unbiased=``
as ``correction``), ``var_mean``, ``std_mean``, ``amax``, ``amin``, ``max``/``min`` (all three
forms), ``logsumexp``, ``cumsum``, ``linalg.vector_norm`` (and ``torch.norm``/``Tensor.norm`` in their
vector-norm forms) — each as ``torch.<name>`` and, where torch
has one, as the ``Tensor`` method. Additions, products, divisions, negation, views and copies are
torch's (their backward has nothing to derive).
"""

from __future__ import annotations

import torch

from . import math as M

TORCH = object()  # an adapter's answer: this call's form runs torch's own


_compiling = getattr(torch.compiler, "is_compiling", lambda: False)


def _routable(*operands) -> bool:
    tensors = [t for t in operands if isinstance(t, torch.Tensor)]
    if _compiling() and any(t is u for i, t in enumerate(tensors) for u in tensors[i + 1:]):
        return False  # x @ x: Dynamo refuses an autograd.Function given one tensor twice
    return (any(t.requires_grad for t in tensors)
            and all(t.is_floating_point() for t in tensors))


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _operand(v) -> bool:
    return isinstance(v, torch.Tensor) or _number(v)


def _int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _dims(dim, none=True) -> bool:
    """dim is None (when allowed), an int, or a tuple/list of ints (not a named dim)."""
    if dim is None:
        return none
    return _int(dim) or (isinstance(dim, (tuple, list)) and all(_int(d) for d in dim))


def _dtype(dtype) -> bool:
    return dtype is None or (isinstance(dtype, torch.dtype) and dtype.is_floating_point)


def _dim_arg(dim):
    return tuple(dim) if isinstance(dim, list) else dim


# ---- matrix products


def _tensors(ours):
    """``ours(input, other)`` of two tensors: the products, minimum, maximum."""
    def route(input, other):
        if not (isinstance(input, torch.Tensor) and isinstance(other, torch.Tensor) and _routable(input, other)):
            return TORCH
        return ours(input, other)

    return route


def _rmatmul(input, other):  # Tensor.__rmatmul__(self, other) = other @ self
    return _tensors(M.matmul)(other, input)


def _add_product(ours):
    def route(input, mat1, mat2, *, beta=1, alpha=1):
        if not (all(isinstance(t, torch.Tensor) for t in (input, mat1, mat2)) and _number(beta)
                and _number(alpha) and _routable(input, mat1, mat2)):
            return TORCH
        return ours(input, mat1, mat2, beta=beta, alpha=alpha)

    return route


# ---- elementwise


def _unary(ours):
    def route(input):
        return ours(input) if isinstance(input, torch.Tensor) and _routable(input) else TORCH

    return route


def _pow(input, exponent):
    if not (_operand(input) and _operand(exponent) and _routable(input, exponent)):
        return TORCH
    return M.pow(input, exponent)


def _rpow(input, other):  # Tensor.__rpow__(self, other) = other ** self
    return _pow(other, input)


def _clamp(input, min=None, max=None):  # noqa: A002 - torch's names
    bounds = [b for b in (min, max) if b is not None]
    if not (isinstance(input, torch.Tensor) and bounds and _routable(input, *bounds)
            and (all(_number(b) for b in bounds) or all(isinstance(b, torch.Tensor) for b in bounds))):
        return TORCH  # no bound, or a number and a tensor mixed: torch's own (and its error)
    return M.clamp(input, min, max)


def _where(condition, input=TORCH, other=TORCH):
    if not (isinstance(condition, torch.Tensor) and condition.dtype == torch.bool
            and _operand(input) and _operand(other) and _routable(input, other)):
        return TORCH  # torch.where(condition) (the indices) among others
    return M.where(condition, input, other)


def _where_method(input, condition, other):  # x.where(condition, other) = where(condition, x, other)
    return _where(condition, input, other)


# ---- reductions


def _sum(ours):
    def route(input, dim=None, keepdim=False, *, dtype=None):
        if not (_routable(input) and _dims(dim) and _dtype(dtype)):
            return TORCH
        return ours(input, _dim_arg(dim), keepdim, dtype=dtype)

    return route


def _variance(ours):
    def route(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
        if isinstance(dim, bool):  # var(input, unbiased)
            dim, unbiased = None, dim
        if unbiased is not None:
            if correction is not None or not isinstance(unbiased, bool):
                return TORCH
            correction = int(unbiased)
        correction = 1 if correction is None else correction
        if not (_routable(input) and _dims(dim) and _number(correction)):
            return TORCH
        return ours(input, _dim_arg(dim), correction=correction, keepdim=keepdim)

    return route


def _extremum(ours):  # amax, amin
    def route(input, dim=(), keepdim=False):
        if not (_routable(input) and _dims(dim)):
            return TORCH
        return ours(input, () if dim is None else _dim_arg(dim), keepdim)  # None: every dim, as ()

    return route


def _max_min(ours, elementwise):
    def route(input, dim=None, keepdim=False, *, other=None):
        if isinstance(dim, torch.Tensor) and other is None:  # max(input, other)
            dim, other = None, dim
        if other is not None:
            return elementwise(input, other) if not keepdim else TORCH
        if not (isinstance(input, torch.Tensor) and _routable(input) and (_int(dim) or (dim is None and not keepdim))):
            return TORCH
        return ours(input, dim, keepdim)

    return route


def _logsumexp(input, dim, keepdim=False):
    if not (_routable(input) and _dims(dim, none=False)):
        return TORCH
    return M.logsumexp(input, _dim_arg(dim), keepdim)


def _cumsum(input, dim, dtype=None):
    if not (_routable(input) and _int(dim) and _dtype(dtype)):
        return TORCH
    return M.cumsum(input, dim, dtype=dtype)


def _vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    if not (_routable(x) and _number(ord) and _dims(dim) and _dtype(dtype)):
        return TORCH
    return M.linalg.vector_norm(x, ord, _dim_arg(dim), keepdim, dtype=dtype)


def _norm(input, p="fro", dim=None, keepdim=False, out=None, dtype=None):  # noqa: A002 - torch's names
    """``torch.norm``: its vector-norm forms (a number ``p``; ``"fro"`` over at most two dims) are
    ``linalg.vector_norm``, as in torch's own code; the matrix norms run torch's."""
    if out is not None or not isinstance(input, torch.Tensor) or input.layout != torch.strided:
        return TORCH
    if p == "fro" and (dim is None or _int(dim) or (isinstance(dim, (tuple, list)) and len(dim) <= 2)):
        p = 2
    elif p is None:
        p = 2.0
    elif not _number(p):
        return TORCH
    return _vector_norm(input, p, [dim] if _int(dim) else dim, keepdim, dtype=dtype)


def _norm_method(input, p="fro", dim=None, keepdim=False, dtype=None):  # Tensor.norm: no out, dtype 4th
    return _norm(input, p, dim, keepdim, dtype=dtype)


def _table() -> dict:
    """torch callable -> adapter, and the public name of each (``routing.routed_names``)."""
    T = torch.Tensor
    routes = {
        "matmul": _tensors(M.matmul), "mm": _tensors(M.mm), "bmm": _tensors(M.bmm),
        "addmm": _add_product(M.addmm), "baddbmm": _add_product(M.baddbmm),
        **{n: _unary(getattr(M, n)) for n in ("exp", "expm1", "log", "log1p", "sqrt", "rsqrt", "reciprocal",
                                               "sin", "cos", "abs")},
        "pow": _pow, "clamp": _clamp, "clip": _clamp,
        "minimum": _tensors(M.minimum), "maximum": _tensors(M.maximum), "where": _where,
        "sum": _sum(M.sum), "mean": _sum(M.mean), "var": _variance(M.var), "std": _variance(M.std),
        "var_mean": _variance(M.var_mean), "std_mean": _variance(M.std_mean),
        "amax": _extremum(M.amax), "amin": _extremum(M.amin),
        "max": _max_min(M.max, _tensors(M.maximum)), "min": _max_min(M.min, _tensors(M.minimum)),
        "logsumexp": _logsumexp, "cumsum": _cumsum,
    }
    table = {}
    for name, route in routes.items():
        table[getattr(torch, name)] = (route, f"torch.{name}")
        method = getattr(T, name, None)
        if method is not None:  # the method's self is the function's first tensor (where's: input)
            table[method] = (_where_method if name == "where" else route, f"Tensor.{name}")
    table.update({torch.linalg.vector_norm: (_vector_norm, "torch.linalg.vector_norm"),
                  T.__matmul__: (routes["matmul"], "Tensor.__matmul__")})
    return table


_TABLE = _table()
ROUTES = {fn: route for fn, (route, _) in _TABLE.items()}
# Tensor's operators written in Python (torch/_tensor.py), found by identity: Dynamo mistraces a
# dict lookup keyed by these wrapped functions (a guard that fails on the frame that made it), and
# their __name__ reads as the wrapped method's there
# (torch.norm and Tensor.norm are Python functions too: torch/functional.py, torch/_tensor.py)
OPERATORS = ((torch.Tensor.__rmatmul__, _rmatmul), (torch.Tensor.__pow__, _pow), (torch.Tensor.__rpow__, _rpow),
             (torch.norm, _norm), (torch.Tensor.norm, _norm_method))
NAMES = sorted({name for _, name in _TABLE.values()} | {"Tensor.__rmatmul__", "Tensor.__pow__", "Tensor.__rpow__",
                                                         "torch.norm", "Tensor.norm"})


def operator(func):
    """The adapter of ``func`` when it is one of :data:`OPERATORS`, else None."""
    for op, route in OPERATORS:
        if func is op:
            return route
    return None
