"""Activations beyond the op table: module twins, in-place semantics, softmax's dim and dtype."""

import warnings

import pytest
import torch
import torch.nn.functional as F

import manualgrad.functional as MF
import manualgrad.nn as mnn
from test_linear import saved_bytes

MODULES = [("ReLU", {}), ("LeakyReLU", {"negative_slope": 0.2}), ("ELU", {"alpha": 0.5}),
           ("GELU", {"approximate": "tanh"}), ("SiLU", {}), ("Softplus", {"beta": 2.0, "threshold": 5.0}),
           ("Sigmoid", {}), ("Tanh", {}), ("Softmax", {"dim": 1}), ("LogSoftmax", {"dim": -1})]


@pytest.mark.parametrize("name,kwargs", MODULES, ids=[m[0] for m in MODULES])
def test_module_twin_forward_backward_repr(name, kwargs):
    ours, theirs = getattr(mnn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    assert repr(ours) == repr(theirs) and ours.state_dict() == theirs.state_dict() == {}
    x = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    dy = torch.randn(4, 6, dtype=torch.float64)
    a, b = ours(x), theirs(x)
    torch.testing.assert_close(a, b)
    assert type(a.grad_fn).__name__.endswith("FunctionBackward")
    torch.testing.assert_close(torch.autograd.grad(a, x, dy)[0], torch.autograd.grad(b, x, dy)[0])


@pytest.mark.parametrize("op", ["relu", "leaky_relu", "elu", "silu"])
def test_inplace_overwrites_and_differentiates_like_torch(op):
    leaf = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    dy = torch.randn(5, 4, dtype=torch.float64)
    x = leaf.clone()
    version = x._version
    y = getattr(MF, op)(x, inplace=True)
    assert y is x and x._version > version
    ref = getattr(F, op)(leaf.clone(), inplace=True)
    torch.testing.assert_close(y, ref)
    torch.testing.assert_close(torch.autograd.grad(y, leaf, dy)[0], torch.autograd.grad(ref, leaf, dy)[0])


def test_inplace_on_a_leaf_is_refused_before_it_is_overwritten():
    x = torch.randn(3, requires_grad=True)
    before = x.detach().clone()
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad is being used in an in-place"):
        MF.relu(x, inplace=True)
    assert torch.equal(x.detach(), before)


def test_softmax_implicit_dim_warns_like_torch():
    x = torch.randn(2, 3, 4)
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        a = MF.softmax(x)
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        b = F.softmax(x)
    torch.testing.assert_close(a, b)
    assert [str(w.message) for w in ours] == [str(w.message) for w in theirs]
    assert ours[0].filename == __file__  # points at the caller, as torch's does


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_dtype_casts_inside_our_node(fn):
    x = torch.randn(3, 5, dtype=torch.float32, requires_grad=True)
    y = getattr(MF, fn)(x, 1, dtype=torch.float64)
    assert y.dtype == torch.float64 and "FunctionBackward" in type(y.grad_fn).__name__
    (g,) = torch.autograd.grad(y, x, torch.randn_like(y))
    assert g.dtype == torch.float32


@pytest.mark.parametrize("op", ["relu", "sigmoid", "tanh", "softmax"])
def test_saves_no_more_than_torch(op):
    """The output is saved, as torch does: an MLP keeps one tensor per activation."""
    x = torch.randn(64, 32, requires_grad=True)
    args = (1,) if op == "softmax" else ()
    ours, _, _ = saved_bytes(lambda: getattr(MF, op)(x, *args))
    theirs, _, _ = saved_bytes(lambda: getattr(F, op, getattr(torch, op))(x, *args))
    assert ours <= theirs


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_second_derivative_equals_torch(approximate):
    x = torch.linspace(-4, 4, 41, dtype=torch.float64, requires_grad=True)
    d1 = [torch.autograd.grad(f(x, approximate=approximate).sum(), x, create_graph=True)[0]
          for f in (MF.gelu, F.gelu)]
    d2 = [torch.autograd.grad(d.sum(), x)[0] for d in d1]
    torch.testing.assert_close(d1[0], d1[1])
    torch.testing.assert_close(d2[0], d2[1])
