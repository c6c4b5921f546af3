"""What a module's own ``forward`` does, read as source (for :func:`manualgrad.swap`'s report):
whether it only rearranges data (a ``Permute``, a stochastic-depth mask multiply: nothing to
report), and which of its calls functional routing runs as manualgrad's and which stay torch's.

The source of ``forward`` is parsed with :mod:`ast`, with the plain Python functions and methods it
calls (``self._scale(x)``, a global ``drop_path(...)``), two levels deep. Calls inside ``raise``
statements, ``assert`` statements and ``if`` tests are checks, not computation; a call of a
submodule (``self.fc1(x)``) is that module's business (it has its own line in the report).
Anything unreadable counts as math."""

from __future__ import annotations

import ast
import inspect
import textwrap

import torch

# What a forward may call and still only rearrange data, or build and multiply by a mask.
REARRANGING = {"permute", "reshape", "view", "view_as", "transpose", "t", "flatten", "unflatten", "squeeze",
               "unsqueeze", "contiguous", "movedim", "moveaxis", "expand", "expand_as", "chunk", "split", "unbind",
               "cat", "concat", "stack", "narrow", "flip", "roll", "size", "dim", "clone", "to", "type_as",
               "empty", "new_empty", "empty_like", "bernoulli", "bernoulli_", "rand", "rand_like", "div_", "mul_",
               "len", "tuple", "list", "range", "int", "float", "bool", "isinstance", "super", "getattr"}
# Calls that are torch arithmetic in the backward graph (coverage's kind), as + − × ÷ are.
ARITHMETIC_CALLS = {"add", "add_", "sub", "sub_", "mul", "multiply", "div", "divide", "true_divide", "neg",
                    "addcmul", "addcmul_", "addcdiv", "addcdiv_"}
_ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod)
_OPERATORS = {ast.MatMult: "@", ast.Pow: "**"}  # routed as matmul / pow
UNREADABLE = "<forward not readable as source>"


def rearranges_only(module: torch.nn.Module) -> bool:
    """The module holds no parameter or buffer and its ``forward`` calls nothing but reshapes,
    permutes, concatenation, mask building and ``+ − × ÷``."""
    if module._parameters or module._buffers:
        return False
    return not _calls(type(module).forward, module, depth=2, keep=lambda name: name not in REARRANGING)


def math_calls(module: torch.nn.Module) -> list[str]:
    """The calls of ``module``'s own forward that may do math: not rearranging, not arithmetic, not
    a submodule's call, not a plain function read further (``@`` and ``**`` as operators), in
    order of first appearance; :data:`UNREADABLE` when the source cannot be read."""
    return _calls(type(module).forward, module, depth=2,
                  keep=lambda name: name not in REARRANGING and name not in ARITHMETIC_CALLS)


def _calls(fn, module, depth: int, keep) -> list[str]:
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return [UNREADABLE]
    ignored, found = _argument_checks(tree), []
    for node in ast.walk(tree):
        if isinstance(node, (ast.BinOp, ast.AugAssign)) and not isinstance(node.op, _ARITHMETIC):
            found.append(_OPERATORS.get(type(node.op), type(node.op).__name__))
        if not isinstance(node, ast.Call) or id(node) in ignored:
            continue
        f = node.func
        name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
        if name is None or not keep(name) or _submodule(f, module):
            continue
        callee = _callee(f, fn, type(module))
        found += _calls(callee, module, depth - 1, keep) if depth and inspect.isfunction(callee) else [name]
    return list(dict.fromkeys(found))


def _submodule(f, module) -> bool:
    """``self.<child>(...)`` for a child module of ``module``."""
    return (isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "self"
            and f.attr in module._modules)


def _callee(f, fn, owner: type):
    """The Python function a call names: ``self.method(...)`` or a global ``function(...)``."""
    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "self":
        return getattr(owner, f.attr, None)
    return fn.__globals__.get(f.id) if isinstance(f, ast.Name) else None


def _argument_checks(tree) -> set:
    """Ids of the nodes inside ``raise`` and ``assert`` statements and ``if`` tests: checks."""
    parts = [n.exc for n in ast.walk(tree) if isinstance(n, ast.Raise) and n.exc is not None]
    parts += [n for n in ast.walk(tree) if isinstance(n, ast.Assert)]
    parts += [n.test for n in ast.walk(tree) if isinstance(n, (ast.If, ast.IfExp))]
    return {id(n) for part in parts for n in ast.walk(part)}
