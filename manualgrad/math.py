"""``torch``-compatible math primitives with hand-derived backwards: what a model's ``forward``
computes directly, beside the layers of ``manualgrad.functional``.

>>> import manualgrad as mg
>>> y = mg.math.exp(mg.math.matmul(a, b)).clamp(...)      # same names and signatures as torch

Matrix products (``functions/matmul.py``; autocast: lower precision, as torch's):
    matmul(input, other)                  every rank case of torch.matmul: 1-d·1-d dot, 1-d·n-d,
                                          n-d·1-d, batched with broadcast batch dims
    mm(input, mat2), bmm(input, mat2)
    addmm(input, mat1, mat2, *, beta=1, alpha=1), baddbmm(input, batch1, batch2, *, beta=1, alpha=1)
Elementwise, one tensor (``functions/elementwise.py``):
    exp, expm1, log, log1p, sqrt, rsqrt, reciprocal, sin, cos, abs  (each ``f(input)``);
    sigmoid, tanh: the activations' Functions
Elementwise, broadcast operands (``functions/elementwise_binary.py``):
    pow(input, exponent)                  tensor^number, number^tensor, tensor^tensor
    clamp(input, min=None, max=None)      bounds: numbers or tensors
    minimum(input, other), maximum(input, other)     a tie splits the gradient half/half
    where(condition, input, other)        input/other: tensors or numbers
Arithmetic (``functions/arithmetic.py``; what strict routing sends here):
    add, sub (alpha), mul, div (rounding_mode=None), neg, addcmul, addcdiv (value)

Results, dtypes and errors are torch's (the forward is torch's kernel: an integer input to exp
gives a float result); gradients and their subgradients at kinks are torch's, derived by hand.
Inside ``manualgrad.manual()`` and swapped models, ``torch.*`` calls and ``Tensor`` methods of these
names are routed here (``manualgrad/routing_math.py``).
"""

from __future__ import annotations

import torch

from .functional._autocast import FP32, LOWER, autocast_policy
from .functional._activations import sigmoid, tanh
from .functions import elementwise as _e
from .functions import elementwise_binary as _b
from .functions.matmul import AddmmFunction, MatmulFunction

__all__ = ["matmul", "mm", "bmm", "addmm", "baddbmm",
           "exp", "expm1", "log", "log1p", "sqrt", "rsqrt", "reciprocal", "sin", "cos", "abs",
           "sigmoid", "tanh", "pow", "clamp", "minimum", "maximum", "where"]


@autocast_policy(LOWER, MatmulFunction)
def matmul(input: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """input @ other. See :class:`~manualgrad.functions.matmul.MatmulFunction`."""
    return MatmulFunction.apply(input, other, "matmul")


@autocast_policy(LOWER, MatmulFunction)
def mm(input: torch.Tensor, mat2: torch.Tensor) -> torch.Tensor:
    """(n, m) @ (m, p). See :class:`~manualgrad.functions.matmul.MatmulFunction`."""
    return MatmulFunction.apply(input, mat2, "mm")


@autocast_policy(LOWER, MatmulFunction)
def bmm(input: torch.Tensor, mat2: torch.Tensor) -> torch.Tensor:
    """(b, n, m) @ (b, m, p). See :class:`~manualgrad.functions.matmul.MatmulFunction`."""
    return MatmulFunction.apply(input, mat2, "bmm")


@autocast_policy(LOWER, AddmmFunction)
def addmm(input: torch.Tensor, mat1: torch.Tensor, mat2: torch.Tensor, *, beta=1, alpha=1) -> torch.Tensor:
    """β·input + α·(mat1 @ mat2). See :class:`~manualgrad.functions.matmul.AddmmFunction`."""
    return AddmmFunction.apply(input, mat1, mat2, beta, alpha, False)


@autocast_policy(LOWER, AddmmFunction)
def baddbmm(input: torch.Tensor, batch1: torch.Tensor, batch2: torch.Tensor, *, beta=1, alpha=1) -> torch.Tensor:
    """β·input + α·(batch1 @ batch2), batched. See :class:`~manualgrad.functions.matmul.AddmmFunction`."""
    return AddmmFunction.apply(input, batch1, batch2, beta, alpha, True)


def _unary(function, policy=None):
    """``f(input)`` applying ``function``; autocast ``policy`` on CUDA (CPU autocast leaves these
    ops alone)."""
    name = function.__name__[:-len("Function")].lower()

    @autocast_policy(policy, function, cpu=None)
    def f(input: torch.Tensor) -> torch.Tensor:
        return function.apply(input)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"torch.{name}(input). See :class:`~manualgrad.functions.elementwise.{function.__name__}`."
    return f


exp = _unary(_e.ExpFunction, FP32)
expm1 = _unary(_e.Expm1Function, FP32)
log = _unary(_e.LogFunction, FP32)
log1p = _unary(_e.Log1pFunction, FP32)
sqrt = _unary(_e.SqrtFunction)
rsqrt = _unary(_e.RsqrtFunction, FP32)
reciprocal = _unary(_e.ReciprocalFunction, FP32)
sin = _unary(_e.SinFunction)
cos = _unary(_e.CosFunction)
abs = _unary(_e.AbsFunction)  # noqa: A001 - torch's name


@autocast_policy(FP32, _b.PowFunction, cpu=None)
def pow(input, exponent) -> torch.Tensor:  # noqa: A001 - torch's name
    """input ** exponent (either may be a number). See :class:`~manualgrad.functions.elementwise_binary.PowFunction`."""
    return _b.PowFunction.apply(input, exponent)


@autocast_policy(None, _b.ClampFunction)
def clamp(input: torch.Tensor, min=None, max=None) -> torch.Tensor:  # noqa: A002 - torch's names
    """min(max(input, min), max). See :class:`~manualgrad.functions.elementwise_binary.ClampFunction`."""
    return _b.ClampFunction.apply(input, min, max)


@autocast_policy(None, _b.MinMaxFunction)
def minimum(input: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """Elementwise min. See :class:`~manualgrad.functions.elementwise_binary.MinMaxFunction`."""
    return _b.MinMaxFunction.apply(input, other, True)


@autocast_policy(None, _b.MinMaxFunction)
def maximum(input: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """Elementwise max. See :class:`~manualgrad.functions.elementwise_binary.MinMaxFunction`."""
    return _b.MinMaxFunction.apply(input, other, False)


@autocast_policy(None, _b.WhereFunction)
def where(condition: torch.Tensor, input, other) -> torch.Tensor:
    """input where condition else other. See :class:`~manualgrad.functions.elementwise_binary.WhereFunction`."""
    return _b.WhereFunction.apply(condition, input, other)


# Reductions (``functions/reductions.py``; autocast on CUDA: float32 for sum, cumsum, logsumexp and
# vector_norm, as torch's list; CPU autocast leaves them alone):
#     sum, mean(input, dim=None, keepdim=False, *, dtype=None); var, std, var_mean, std_mean(input,
#     dim=None, *, correction=1, keepdim=False); amax, amin(input, dim=(), keepdim=False);
#     max, min(input) | (input, dim, keepdim=False) -> (values, indices) | (input, other: Tensor);
#     logsumexp(input, dim, keepdim=False); cumsum(input, dim, *, dtype=None);
#     linalg.vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None)
import types as _types  # noqa: E402

from .functions import reductions as _r  # noqa: E402

__all__ += ["sum", "mean", "var", "std", "var_mean", "std_mean", "amax", "amin", "max", "min", "logsumexp",
            "cumsum", "linalg"]


@autocast_policy(FP32, _r.SumFunction, cpu=None)
def sum(input: torch.Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> torch.Tensor:  # noqa: A001
    """Σ over ``dim`` (all dims for None). See :class:`~manualgrad.functions.reductions.SumFunction`."""
    return _r.SumFunction.apply(input, dim, keepdim, dtype, False)


def mean(input: torch.Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> torch.Tensor:
    """Mean over ``dim``. See :class:`~manualgrad.functions.reductions.SumFunction`."""
    return _r.SumFunction.apply(input, dim, keepdim, dtype, True)


def var_mean(input: torch.Tensor, dim=None, *, correction=1, keepdim: bool = False):
    """(variance, mean) over ``dim``. See :class:`~manualgrad.functions.reductions.VarMeanFunction`."""
    return _r.VarMeanFunction.apply(input, dim, correction, keepdim, False)


def std_mean(input: torch.Tensor, dim=None, *, correction=1, keepdim: bool = False):
    """(standard deviation, mean) over ``dim``. See :class:`~manualgrad.functions.reductions.VarMeanFunction`."""
    return _r.VarMeanFunction.apply(input, dim, correction, keepdim, True)


def _check_var_dtype(input):
    if not (input.is_floating_point() or input.is_complex()):  # torch's message for var/std (var_mean's names itself)
        raise RuntimeError("std and var only support floating point and complex dtypes")


def var(input: torch.Tensor, dim=None, *, correction=1, keepdim: bool = False) -> torch.Tensor:
    """Variance over ``dim`` (the first output of :func:`var_mean`)."""
    _check_var_dtype(input)
    return var_mean(input, dim, correction=correction, keepdim=keepdim)[0]


def std(input: torch.Tensor, dim=None, *, correction=1, keepdim: bool = False) -> torch.Tensor:
    """Standard deviation over ``dim`` (the first output of :func:`std_mean`)."""
    _check_var_dtype(input)
    return std_mean(input, dim, correction=correction, keepdim=keepdim)[0]


def amax(input: torch.Tensor, dim=(), keepdim: bool = False) -> torch.Tensor:
    """Max over ``dim`` (all for ()); ties share the gradient. See :class:`~manualgrad.functions.reductions.AmaxFunction`."""
    return _r.AmaxFunction.apply(input, dim, keepdim, False)


def amin(input: torch.Tensor, dim=(), keepdim: bool = False) -> torch.Tensor:
    """Min over ``dim`` (all for ()); ties share the gradient. See :class:`~manualgrad.functions.reductions.AmaxFunction`."""
    return _r.AmaxFunction.apply(input, dim, keepdim, True)


def _extreme(input, dim, keepdim, smallest, name):
    if isinstance(dim, torch.Tensor):  # max(input, other): elementwise
        return (minimum if smallest else maximum)(input, dim)
    if dim is None:  # max(input): every element, ties share the gradient (torch's evenly_distribute)
        return _r.AmaxFunction.apply(input, None, False, smallest)
    values, indices = _r.MaxDimFunction.apply(input, dim, keepdim, smallest)
    return getattr(torch.return_types, name)((values, indices))


def max(input: torch.Tensor, dim=None, keepdim: bool = False):  # noqa: A001
    """max(input), max(input, dim, keepdim) -> (values, indices) (dy to the returned index), or
    max(input, other) = :func:`maximum`. See :class:`~manualgrad.functions.reductions.MaxDimFunction`."""
    return _extreme(input, dim, keepdim, False, "max")


def min(input: torch.Tensor, dim=None, keepdim: bool = False):  # noqa: A001
    """min(input), min(input, dim, keepdim) -> (values, indices), or min(input, other) = :func:`minimum`."""
    return _extreme(input, dim, keepdim, True, "min")


@autocast_policy(FP32, _r.LogsumexpFunction, cpu=None)
def logsumexp(input: torch.Tensor, dim, keepdim: bool = False) -> torch.Tensor:
    """log Σ exp over ``dim``. See :class:`~manualgrad.functions.reductions.LogsumexpFunction`."""
    return _r.LogsumexpFunction.apply(input, dim, keepdim)


@autocast_policy(FP32, _r.CumsumFunction, cpu=None)
def cumsum(input: torch.Tensor, dim: int, *, dtype=None) -> torch.Tensor:
    """Running sum along ``dim``. See :class:`~manualgrad.functions.reductions.CumsumFunction`."""
    return _r.CumsumFunction.apply(input, dim, dtype)


@autocast_policy(FP32, _r.VectorNormFunction, cpu=None)
def vector_norm(x: torch.Tensor, ord=2, dim=None, keepdim: bool = False, *, dtype=None) -> torch.Tensor:
    """torch.linalg.vector_norm. See :class:`~manualgrad.functions.reductions.VectorNormFunction`."""
    return _r.VectorNormFunction.apply(x, ord, dim, keepdim, dtype)


linalg = _types.SimpleNamespace(vector_norm=vector_norm)  # mg.math.linalg.vector_norm, as torch.linalg


# Arithmetic (``functions/arithmetic.py``; what strict routing sends here; autocast: in the inputs'
# dtypes, addcmul/addcdiv promoted to the widest on CUDA, as torch's lists):
#     add(input, other, *, alpha=1), sub(input, other, *, alpha=1), mul(input, other),
#     div(input, other, *, rounding_mode=None), neg(input), addcmul/addcdiv(input, tensor1, tensor2, *, value=1)
from .functional._autocast import PROMOTE  # noqa: E402
from .functions import arithmetic as _a  # noqa: E402

__all__ += ["add", "sub", "mul", "div", "neg", "addcmul", "addcdiv"]


def _distinct(*operands):
    """The operands, a tensor given twice (``x * x``) seen the second time through a view while
    torch.compile traces (Dynamo refuses an autograd.Function given one tensor twice)."""
    if not torch.compiler.is_compiling():
        return operands
    out = []
    for t in operands:
        repeated = isinstance(t, torch.Tensor) and any(t is u for u in out)
        out.append(t.view_as(t) if repeated else t)
    return tuple(out)


@autocast_policy(None, _a.AddFunction)
def add(input, other, *, alpha=1) -> torch.Tensor:
    """input + alpha·other. See :class:`~manualgrad.functions.arithmetic.AddFunction`."""
    return _a.AddFunction.apply(*_distinct(input, other), alpha, False)


@autocast_policy(None, _a.AddFunction)
def sub(input, other, *, alpha=1) -> torch.Tensor:
    """input − alpha·other. See :class:`~manualgrad.functions.arithmetic.AddFunction`."""
    return _a.AddFunction.apply(*_distinct(input, other), alpha, True)


@autocast_policy(None, _a.MulFunction)
def mul(input, other) -> torch.Tensor:
    """input · other. See :class:`~manualgrad.functions.arithmetic.MulFunction`."""
    return _a.MulFunction.apply(*_distinct(input, other))


@autocast_policy(None, _a.DivFunction)
def div(input, other, *, rounding_mode=None) -> torch.Tensor:
    """input / other. See :class:`~manualgrad.functions.arithmetic.DivFunction`. A
    ``rounding_mode`` (``"trunc"``, ``"floor"``: piecewise constant, nothing to derive) runs torch's."""
    if rounding_mode is not None:
        return torch.div(input, other, rounding_mode=rounding_mode)
    return _a.DivFunction.apply(*_distinct(input, other))


@autocast_policy(None, _a.NegFunction)
def neg(input: torch.Tensor) -> torch.Tensor:
    """−input. See :class:`~manualgrad.functions.arithmetic.NegFunction`."""
    return _a.NegFunction.apply(input)


@autocast_policy(PROMOTE, _a.AddcFunction, cpu=None)
def addcmul(input: torch.Tensor, tensor1: torch.Tensor, tensor2: torch.Tensor, *, value=1) -> torch.Tensor:
    """input + value·tensor1·tensor2. See :class:`~manualgrad.functions.arithmetic.AddcFunction`."""
    return _a.AddcFunction.apply(*_distinct(input, tensor1, tensor2), value, False)


@autocast_policy(PROMOTE, _a.AddcFunction, cpu=None)
def addcdiv(input: torch.Tensor, tensor1: torch.Tensor, tensor2: torch.Tensor, *, value=1) -> torch.Tensor:
    """input + value·tensor1/tensor2. See :class:`~manualgrad.functions.arithmetic.AddcFunction`."""
    return _a.AddcFunction.apply(*_distinct(input, tensor1, tensor2), value, True)
