"""manualgrad.math beyond the op table: torch's parameter names, a model-like composite of the
primitives equal to torch's (values and every gradient), and the same under torch.compile
(aot_eager, one graph)."""

import inspect

import pytest
import torch

import manualgrad as mg

M = mg.math
NAMES = ["matmul", "mm", "bmm", "addmm", "baddbmm", "exp", "expm1", "log", "log1p", "sqrt", "rsqrt",
         "reciprocal", "sin", "cos", "abs", "pow", "clamp", "minimum", "maximum", "where",
         "add", "sub", "mul", "div", "neg", "addcmul", "addcdiv"]


@pytest.mark.parametrize("name", NAMES)
def test_parameter_names_are_torchs(name):
    ours = [p for p in inspect.signature(getattr(M, name)).parameters]
    doc = getattr(torch, name).__doc__.strip()
    first = doc[doc.index("(") + 1:doc.index(")")]  # torch's documented signature
    theirs = [p.split("=")[0].split(":")[0].strip() for p in first.split(",") if p.strip() not in ("*", "")]
    theirs = [p for p in theirs if p != "out"]
    assert ours == theirs


def _model(ns, x, w1, b1, w2, scale):
    h = ns.addmm(b1, x, w1, beta=0.5)
    h = ns.where(h > 0, h, ns.expm1(ns.clamp(h, min=-5.0)))  # ELU by hand
    g = ns.matmul(h.unsqueeze(0).expand(2, -1, -1), w2)  # batched @ 2-d
    n = ns.rsqrt(ns.pow(g, 2).mean(-1, keepdim=True) + 1e-5)
    y = ns.maximum(g * n, ns.minimum(ns.abs(scale), ns.sqrt(ns.exp(scale))))
    return ns.log1p(ns.sin(y) ** 2) + ns.cos(y) * ns.reciprocal(1 + ns.log(1 + y.abs()))


def _inputs():
    gen = torch.Generator().manual_seed(0)
    shapes = [(5, 4), (4, 6), (6,), (6, 3), (3,)]
    return [torch.randn(s, generator=gen, dtype=torch.float64, requires_grad=True) for s in shapes]


def _run(fn):
    args = _inputs()
    y = fn(*args)
    dy = torch.randn(y.shape, generator=torch.Generator().manual_seed(1), dtype=y.dtype)
    return [y, *torch.autograd.grad(y, args, dy)]


def test_composite_equals_torch():
    torch.testing.assert_close(_run(lambda *a: _model(M, *a)), _run(lambda *a: _model(torch, *a)))


def test_composite_under_torch_compile():
    compiled = torch.compile(lambda *a: _model(M, *a), backend="aot_eager", fullgraph=True)
    torch.testing.assert_close(_run(compiled), _run(lambda *a: _model(torch, *a)))


def _reductions(ns, x, w1, b1, w2, scale):
    h = ns.matmul(x, w1) + b1  # (5, 6)
    v, m = ns.var_mean(h, 1, keepdim=True)
    z = (h - m) * ns.rsqrt(v + 1e-5) + ns.std(h, 0, correction=0)
    lse = ns.logsumexp(z, 1, keepdim=True)
    top = ns.max(z, 1, keepdim=True).values + ns.amin(z, 0) + ns.amax(z)
    c = ns.cumsum(z - lse, 1) + ns.sum(z, 0) * ns.mean(z) + top
    extra = ns.mean(ns.matmul(h, w2) * scale)
    return ns.linalg.vector_norm(c, 2, 1) + ns.linalg.vector_norm(c, 1.5, 0).sum() + extra


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_reductions_composite_equals_torch(compiled):
    ours = lambda *a: _reductions(M, *a)  # noqa: E731
    if compiled:
        ours = torch.compile(ours, backend="aot_eager", fullgraph=True)
    torch.testing.assert_close(_run(ours), _run(lambda *a: _reductions(torch, *a)))


def _arithmetic(ns, x, w1, b1, w2, scale):
    h = ns.add(ns.mul(x, 0.5), ns.sub(x.sum(1, keepdim=True), b1[:5].unsqueeze(1), alpha=2))  # (5, 4)
    g = ns.div(ns.matmul(h, w1), ns.add(ns.mul(b1, b1), 1))  # (5, 6) / (6,)
    g = ns.addcmul(ns.neg(g), g, b1, value=0.25)
    return ns.addcdiv(ns.matmul(g, w2), ns.sub(1.0, scale), ns.add(ns.mul(scale, scale), 2), value=-1.5)


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_arithmetic_composite_equals_torch(compiled):
    ours = lambda *a: _arithmetic(M, *a)  # noqa: E731
    if compiled:
        ours = torch.compile(ours, backend="aot_eager", fullgraph=True)
    torch.testing.assert_close(_run(ours), _run(lambda *a: _arithmetic(torch, *a)))
