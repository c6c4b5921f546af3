"""Activations beyond the op table: module twins, in-place semantics, softmax's dim and dtype."""

import warnings

import pytest
import torch
import torch.nn.functional as F

import manualgrad.functional as MF
import manualgrad.nn as mnn
from conftest import saved_bytes

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


VIEWS = {"flatten": lambda t: t.flatten(1), "slice": lambda t: t[:, :2], "transpose": lambda t: t.transpose(0, 1)}


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("op", ["relu", "leaky_relu", "elu", "silu"])
def test_inplace_on_a_view_differentiates_through_its_base_like_torch(op, view):
    """A user's in-place activation on a view of a non-leaf (EfficientNet's head after flatten):
    the base and the view hold torch's values, and the gradient reaching the leaf through both
    equals torch's."""
    leaf = torch.randn(3, 4, 2, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 4, 2, dtype=torch.float64)
    results = []
    for f in (MF, F):
        base = leaf * 1.5
        y = getattr(f, op)(VIEWS[view](base), inplace=True)
        loss = (base * w).sum() + y.square().sum()
        results.append((base, y, torch.autograd.grad(loss, leaf)[0]))
    for a, b in zip(*results):
        torch.testing.assert_close(a, b)


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


DOUBLE = [("relu", {}), ("leaky_relu", {"negative_slope": 0.2}), ("leaky_relu", {"negative_slope": -0.2}),
          ("elu", {"alpha": 0.5}), ("elu", {"alpha": -0.5}), ("gelu", {"approximate": "none"}),
          ("gelu", {"approximate": "tanh"}), ("silu", {}), ("softplus", {"beta": 2.0, "threshold": 3.0}),
          ("sigmoid", {}), ("tanh", {}), ("softmax", {"dim": 1}), ("log_softmax", {"dim": 1}),
          ("relu", {"inplace": True}), ("leaky_relu", {"negative_slope": 0.2, "inplace": True}),
          ("elu", {"alpha": 0.5, "inplace": True}), ("silu", {"inplace": True})]


def _double_backward(fn, x, dy, v):
    """d/dx and d/d(dy) of <v, J(x)ᵀ dy>, both zero where the first derivative does not depend on them."""
    (g,) = torch.autograd.grad(fn(x.clone()), x, dy, create_graph=True)
    grads = torch.autograd.grad(g, (x, dy), v, allow_unused=True)
    return [g] + [torch.zeros_like(t) if d is None else d for d, t in zip(grads, (x, dy))]


# Kinks, 1.5 (= softplus's threshold/β below), ±inf, NaN. Kept short: torch's CPU elu backward
# gives NaN at a NaN input in the vectorised body of a long tensor but dy in the scalar tail; we
# follow the scalar formula (x ≤ 0 ? … : dy), which is what a short tensor gets.
SPECIAL = [-float("inf"), -1.0, -0.0, 0.0, 1.0, 1.5, 2.0, float("inf"), float("nan")]


@pytest.mark.parametrize("op,kwargs", DOUBLE, ids=[f"{op}-{kw}" for op, kw in DOUBLE])
def test_double_backward_equals_torch(op, kwargs):
    """On a random point and (elementwise ops) on the special values."""
    torch.manual_seed(0)
    points = [torch.randn(3, 9, dtype=torch.float64)]
    if "dim" not in kwargs:
        points.append(torch.tensor(SPECIAL, dtype=torch.float64))
    for x in points:
        x.requires_grad_()
        dy, v = torch.randn_like(x, requires_grad=True), torch.randn_like(x)
        ours = _double_backward(lambda t: getattr(MF, op)(t, **kwargs), x, dy, v)
        theirs = _double_backward(lambda t: getattr(F, op)(t, **kwargs), x, dy, v)
        for name, a, b in zip(("dx", "d(dx)/dx", "d(dx)/d(dy)"), ours, theirs):
            torch.testing.assert_close(a, b, equal_nan=True, msg=lambda m: f"{name} at {x.shape}: {m}")


@pytest.mark.parametrize("after_batchnorm", [False, True], ids=["plain", "after-batchnorm"])
def test_relu_nonfinite_dy_and_nan_input_select_like_torch(after_batchnorm):
    """A NaN or ±inf in dy at a dead unit gives 0 and a NaN input passes dy, as torch's
    threshold_backward (the CPU multiply-first path must fall back to the exact select)."""
    torch.manual_seed(0)
    x = torch.randn(4, 3, 5, 5, dtype=torch.float64)
    x[0, 0, 0, :3] = torch.tensor([float("nan"), -1.0, 0.0])
    x.requires_grad_()
    bn = lambda f, t: f.batch_norm(t, None, None, training=True) if after_batchnorm else t  # noqa: E731
    for bad in (float("nan"), float("inf"), -float("inf")):
        dy = torch.randn_like(x)
        dy[x.detach() <= 0] = bad  # only at dead units (and never at the NaN one)
        dy[0, 0, 0, 0] = 2.0
        ours = torch.autograd.grad(MF.relu(bn(MF, x)), x, dy)[0]
        theirs = torch.autograd.grad(F.relu(bn(F, x)), x, dy)[0]
        torch.testing.assert_close(ours, theirs, equal_nan=True)
        if not after_batchnorm:
            assert torch.isfinite(ours[1:]).all() and ours[x.detach() <= 0].eq(0).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "channels_last"])
def test_gelu_gradient_over_several_cache_chunks_equals_torch(dtype, layout):
    """The first-order GELU backward runs over cache-sized chunks: a tensor of 2.6 chunks (and a
    partial last one), strided inputs and non-finite entries give torch's gradient."""
    from manualgrad.functions import activations_smooth as act
    n = int(2.6 * act._CHUNK_BYTES // torch.empty((), dtype=dtype).element_size())
    shape = {"contiguous": (n // 64, 64), "transposed": (64, n // 64), "channels_last": (n // 256, 4, 8, 8)}[layout]
    x = torch.randn(shape, dtype=dtype) * 3
    x.view(-1)[:4] = torch.tensor([0.0, float("nan"), float("inf"), -float("inf")], dtype=dtype)
    if layout == "transposed":
        x = x.t()
    elif layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_()
    dy = torch.randn(x.shape, dtype=dtype)
    ours = torch.autograd.grad(MF.gelu(x), x, dy)[0]
    theirs = torch.autograd.grad(F.gelu(x), x, dy)[0]
    torch.testing.assert_close(ours, theirs, equal_nan=True)
    assert ours.stride() == theirs.stride()


SWEEP = [("relu", {}), ("relu", {"inplace": True}), ("leaky_relu", {}), ("leaky_relu", {"inplace": True}),
         ("elu", {}), ("elu", {"inplace": True}), ("gelu", {}), ("gelu", {"approximate": "tanh"}), ("silu", {}),
         ("silu", {"inplace": True}), ("softplus", {}), ("sigmoid", {}), ("tanh", {}), ("softmax", {"dim": 1}),
         ("log_softmax", {"dim": 1}), ("softmax", {"dim": 1, "dtype": torch.float64})]


def _outcome(fn, x, kwargs):
    try:
        return fn(x.clone(), **kwargs)
    except Exception as e:  # noqa: BLE001 -- the exception itself is the outcome compared
        return type(e), str(e)


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8, torch.bool, torch.float16, torch.bfloat16,
                                   torch.complex64], ids=str)
def test_every_dtype_is_accepted_or_refused_like_torch(dtype):
    """Integer, bool, half and complex inputs: where torch raises we raise the same exception type
    and message; where torch returns, the same dtype and values."""
    x = torch.randn(3, 4, dtype=torch.complex64) if dtype.is_complex else (torch.randn(3, 4) * 3).to(dtype)
    for op, kwargs in SWEEP:
        ours = _outcome(getattr(MF, op), x, kwargs)
        theirs = _outcome(getattr(torch, op) if op in ("sigmoid", "tanh") else getattr(F, op), x, kwargs)
        if isinstance(theirs, tuple):
            assert ours == theirs, f"{op} {kwargs}"
        else:
            assert isinstance(ours, torch.Tensor), f"{op} {kwargs}: {ours}"
            torch.testing.assert_close(ours, theirs, equal_nan=True, msg=lambda m: f"{op} {kwargs}: {m}")


def test_inplace_silu_on_an_expanded_integer_tensor_raises_torchs_overlap_error_first():
    """torch checks the written-to tensor's internal overlap before the dtype (RuntimeError, not
    the "silu_cpu not implemented for 'Long'" NotImplementedError ours raised computing y of a
    copy first). Found by the fuzzer's long profile."""
    x = torch.ones(1, 4, dtype=torch.int64).expand(5, 4)
    for fn in (F.silu, MF.silu):
        with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
            fn(x, inplace=True)
    for fn in (F.silu, MF.silu):
        with pytest.raises(NotImplementedError, match="silu"):
            fn(x.contiguous(), inplace=True)
    e = torch.zeros(2, 0, 1, dtype=torch.float64)  # contiguous strides (0, 1, 1): empty, no overlap
    assert torch.equal(MF.silu(e.clone(), inplace=True), F.silu(e.clone(), inplace=True))
