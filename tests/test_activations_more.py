"""The activations beyond relu/elu/gelu (functions/activations_piecewise.py, _slopes.py,
_sigmoidal.py, selu/celu, softmin): module twins, in-place semantics, rrelu's draws against torch's,
prelu's weight, Softmax2d, the celu deviation, double backward at the breakpoints, what is saved,
swap and routing."""

import pytest
import torch
import torch.nn.functional as F

import manualgrad as mg
import manualgrad.functional as MF
import manualgrad.nn as mnn
from conftest import assert_module_matches, saved_bytes

MODULES = [("Hardswish", {}), ("Hardsigmoid", {}), ("ReLU6", {}), ("Hardtanh", {"min_val": -0.5, "max_val": 2.0}),
           ("Threshold", {"threshold": 0.1, "value": 20.0}), ("Softshrink", {"lambd": 0.3}),
           ("Hardshrink", {"lambd": 0.3}), ("SELU", {}), ("CELU", {"alpha": 0.5}), ("Mish", {}), ("GLU", {"dim": 0}),
           ("LogSigmoid", {}), ("Softsign", {}), ("Tanhshrink", {}), ("Softmin", {"dim": 1}), ("Softmax2d", {}),
           ("RReLU", {"lower": 0.1, "upper": 0.2}), ("PReLU", {"num_parameters": 6, "init": 0.1})]


@pytest.mark.parametrize("name,kwargs", MODULES, ids=[m[0] for m in MODULES])
def test_module_twin_forward_backward_repr_state(name, kwargs):
    """Eval mode (RReLU's fixed slope), a (4, 6, 3) input: Softmax2d's 3-d case, PReLU's channels."""
    ours, theirs = getattr(mnn, name)(**kwargs).eval(), getattr(torch.nn, name)(**kwargs).eval()
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for a, b in zip(ours.state_dict().values(), theirs.state_dict().values()):
        assert torch.equal(a, b)  # PReLU's init
    ours.double(), theirs.double()
    x = torch.randn(4, 6, 2, dtype=torch.float64, requires_grad=True)
    assert_module_matches(ours, theirs, x, torch.randn(theirs(x).shape, dtype=torch.float64))
    assert type(ours(x).grad_fn).__name__.endswith("FunctionBackward")


def test_swap_replaces_every_new_activation_and_routing_reaches_the_functions():
    model = torch.nn.Sequential(*[getattr(torch.nn, n)(**kw) for n, kw in MODULES]).eval()
    report = mg.swap(model)
    assert not report.skipped and len(report.swapped) == len(MODULES)
    assert all(type(m).__name__ == n and isinstance(m, getattr(mnn, n)) for m, (n, _) in zip(model, MODULES))
    x = torch.randn(2, 6, 3, dtype=torch.float64, requires_grad=True)
    calls = {"hardswish": (), "hardsigmoid": (), "relu6": (), "hardtanh": (-0.5, 2.0), "threshold": (0.1, 2.0),
             "softshrink": (), "hardshrink": (), "selu": (), "celu": (), "mish": (), "glu": (1,), "logsigmoid": (),
             "softsign": (), "tanhshrink": (), "softmin": (1,), "rrelu": (), "prelu": (torch.full((6,), 0.2).double(),)}
    with mg.manual():
        for name, args in calls.items():
            y = getattr(F, name)(x, *args)
            assert "FunctionBackward" in type(y.grad_fn).__name__, name


def test_rrelu_training_equals_torchs_draws_on_cpu():
    """The same slopes as torch's CPU kernel under one seed: forward, gradient and the stream after."""
    for dtype in (torch.float64, torch.float32, torch.bfloat16):
        for x in (torch.randn(40, 33, dtype=dtype), torch.randn(33, 40, dtype=dtype).t(), torch.randn((), dtype=dtype)):
            x = x.detach().requires_grad_()
            dy = torch.randn(x.shape, dtype=dtype)
            results = []
            for f in (MF, F):
                torch.manual_seed(7)
                y = f.rrelu(x, 0.1, 0.6, training=True)
                results.append((y, torch.autograd.grad(y, x, dy)[0], torch.rand(3)))
            for a, b in zip(*results):
                assert torch.equal(a, b), dtype


def test_rrelu_inplace_training_and_eval_like_torch():
    leaf = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    dy = torch.randn(5, 4, dtype=torch.float64)
    for training in (True, False):
        out = []
        for f in (MF, F):
            torch.manual_seed(3)
            x = leaf.clone()
            y = f.rrelu(x, 0.2, 0.5, training, inplace=True)
            assert y is x
            out.append((y, torch.autograd.grad(y, leaf, dy)[0]))
        for a, b in zip(*out):
            assert torch.equal(a, b)
    y = MF.rrelu(leaf, training=False)  # eval: leaky_relu with the mean slope
    torch.testing.assert_close(y, F.leaky_relu(leaf, (1 / 8 + 1 / 3) / 2), rtol=0, atol=0)


def test_prelu_weight_gradient_is_reduced_over_every_other_dim():
    x = torch.randn(3, 4, 5, 2, dtype=torch.float64, requires_grad=True)
    for w in (torch.rand(4, dtype=torch.float64), torch.rand(1, dtype=torch.float64), torch.rand((), dtype=torch.float64)):
        w.requires_grad_()
        dy = torch.randn(3, 4, 5, 2, dtype=torch.float64)
        ours = torch.autograd.grad(MF.prelu(x, w), (x, w), dy)
        theirs = torch.autograd.grad(F.prelu(x, w), (x, w), dy)
        assert ours[1].shape == w.shape
        for a, b in zip(ours, theirs):
            torch.testing.assert_close(a, b)


def test_softmax2d_checks_the_rank_like_torch():
    for shape in ((2, 3), (1, 2, 3, 4, 5)):
        with pytest.raises(ValueError, match=f"Softmax2d: expected input to be 3D or 4D, got {len(shape)}D instead"):
            mnn.Softmax2d()(torch.randn(shape))
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    torch.testing.assert_close(mnn.Softmax2d()(x), torch.nn.Softmax2d()(x))


def test_celu_float64_gradient_uses_the_forwards_one_over_alpha():
    """Deviation (docs/ops.md): torch's celu backward rounds 1/α to float32; ours is the exact
    derivative e^{x/α} of the forward torch and we compute with the float64 1/α."""
    x = torch.linspace(-8, -0.1, 50, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(MF.celu(x, 0.3).sum(), x)
    exact = torch.exp(x.detach() / 0.3)
    torch.testing.assert_close(g, exact, rtol=1e-14, atol=0)
    (h,) = torch.autograd.grad(F.celu(x, 0.3).sum(), x)
    assert (h - exact).abs().max() > 1e-9 * exact.abs().max()  # torch's float32 1/α
    torch.testing.assert_close(MF.celu(x, 0.3), F.celu(x, 0.3), rtol=0, atol=0)


INPLACE = [("hardswish", {}), ("hardsigmoid", {}), ("relu6", {}), ("hardtanh", {"min_val": -0.5, "max_val": 0.5}),
           ("threshold", {"threshold": 0.1, "value": 0.5}), ("selu", {}), ("celu", {"alpha": 0.5}), ("mish", {})]
VIEWS = {"flatten": lambda t: t.flatten(1), "slice": lambda t: t[:, :2], "transpose": lambda t: t.transpose(0, 1)}


@pytest.mark.parametrize("view", [None, *VIEWS])
@pytest.mark.parametrize("op,kwargs", INPLACE, ids=[o for o, _ in INPLACE])
def test_inplace_overwrites_and_differentiates_through_its_base_like_torch(op, kwargs, view):
    """threshold's value 0.5 > threshold 0.1: the gradient must come from x, not from y."""
    leaf = (4 * torch.randn(3, 4, 2, dtype=torch.float64)).requires_grad_()
    w = torch.randn(3, 4, 2, dtype=torch.float64)
    results = []
    for f in (MF, F):
        base = leaf * 1.5
        x = base if view is None else VIEWS[view](base)
        y = getattr(f, op)(x, **kwargs, inplace=True)
        assert y is x
        loss = (base * w).sum() + y.square().sum()
        results.append((base, y, torch.autograd.grad(loss, leaf)[0]))
    for a, b in zip(*results):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("op,kwargs", INPLACE, ids=[o for o, _ in INPLACE])
def test_inplace_on_a_leaf_is_refused_before_it_is_overwritten(op, kwargs):
    x = torch.randn(3, requires_grad=True)
    before = x.detach().clone()
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad is being used in an in-place"):
        getattr(MF, op)(x, **kwargs, inplace=True)
    assert torch.equal(x.detach(), before)


@pytest.mark.parametrize("op,kwargs", [("hardtanh", {}), ("relu6", {}), ("hardsigmoid", {}),
                                       ("threshold", {"threshold": 0.0, "value": 1.0}), ("softshrink", {}),
                                       ("hardshrink", {})])
def test_piecewise_ops_save_a_byte_mask_not_x(op, kwargs):
    x = torch.randn(64, 32, requires_grad=True)
    ours, n, _ = saved_bytes(lambda: getattr(MF, op)(x, **kwargs))
    theirs, _, _ = saved_bytes(lambda: getattr(F, op)(x, **kwargs))
    assert n == 1 and ours * 4 <= theirs


DOUBLE = [("hardswish", {}), ("relu6", {}), ("hardtanh", {}), ("softshrink", {}),
          ("hardshrink", {}), ("threshold", {"threshold": 1.0, "value": 3.0}), ("selu", {}), ("celu", {"alpha": 0.5}),
          ("mish", {}), ("logsigmoid", {}), ("softsign", {}), ("tanhshrink", {}),
          ("selu", {"inplace": True}), ("celu", {"alpha": 2.0, "inplace": True}), ("hardtanh", {"inplace": True})]
# the breakpoints of every op above, ±inf and NaN
SPECIAL = [-float("inf"), -3.0, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 3.0, 6.0, float("inf"), float("nan")]


@pytest.mark.parametrize("op,kwargs", DOUBLE, ids=[f"{op}-{kw}" for op, kw in DOUBLE])
def test_double_backward_equals_torch(op, kwargs):
    """d/dx and d/d(dy) of <v, J(x)ᵀ dy> on a random point and on the breakpoints."""
    torch.manual_seed(0)
    for x in (3 * torch.randn(3, 9, dtype=torch.float64), torch.tensor(SPECIAL, dtype=torch.float64)):
        x.requires_grad_()
        dy, v = torch.randn_like(x, requires_grad=True), torch.randn_like(x)
        results = []
        for f in (MF, F):
            (g,) = torch.autograd.grad(getattr(f, op)(x.clone(), **kwargs), x, dy, create_graph=True)
            more = torch.autograd.grad(g, (x, dy), v, allow_unused=True)
            results.append([g] + [torch.zeros_like(t) if d is None else d for d, t in zip(more, (x, dy))])
        for name, a, b in zip(("dx", "d(dx)/dx", "d(dx)/d(dy)"), *results):
            torch.testing.assert_close(a, b, equal_nan=True, msg=lambda m: f"{name} at {x.shape}: {m}")


def test_hardsigmoid_double_backward_is_the_mask_over_6():
    """torch has no double backward for hardsigmoid; ours: dx = dy/6 on −3 < x < 3 is linear in dy
    (d(dx)/d(dy) = that mask/6) and flat in x (d(dx)/dx = 0)."""
    x = torch.tensor(SPECIAL, dtype=torch.float64, requires_grad=True)
    dy, v = torch.randn_like(x, requires_grad=True), torch.randn_like(x)
    (g,) = torch.autograd.grad(MF.hardsigmoid(x), x, dy, create_graph=True)
    ddx, ddy = torch.autograd.grad(g, (x, dy), v, allow_unused=True)
    mask = (x > -3) & (x < 3)
    assert ddx is None or not ddx.any()
    torch.testing.assert_close(ddy, torch.where(mask, v / 6, 0))


@pytest.mark.parametrize("op,kwargs", [("glu", {"dim": 1}), ("softmin", {"dim": 1}), ("prelu", {})])
def test_double_backward_equals_torch_for_the_others(op, kwargs):
    """The gradient of ‖first-order gradients‖² with respect to every input, ours vs torch's."""
    torch.manual_seed(0)
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    inputs = (x, torch.rand(4, dtype=torch.float64, requires_grad=True)) if op == "prelu" else (x,)
    dy = torch.randn(getattr(F, op)(*inputs, **kwargs).shape, dtype=torch.float64)
    second = []
    for f in (MF, F):
        first = torch.autograd.grad(getattr(f, op)(*inputs, **kwargs), inputs, dy, create_graph=True)
        second.append(torch.autograd.grad(sum(g.square().sum() for g in first), inputs))
    for a, b in zip(*second):
        torch.testing.assert_close(a, b)


ALIASES = [(lambda t: F.hardtanh_(t, -0.5, 0.5), True), (lambda t: F.threshold_(t, 0.1, 2.0), True),
           (torch.selu_, True), (lambda t: torch.celu_(t, 0.5), True), (lambda t: torch.rrelu_(t, 0.1, 0.3), True),
           (torch.selu, False), (lambda t: torch.celu(t, 0.5), False), (lambda t: torch.threshold(t, 0.1, 2.0), False),
           (lambda t: torch.rrelu(t, 0.1, 0.3, True), False), (lambda t: torch.prelu(t, torch.full((4,), 0.2)), False),
           (lambda t: t.prelu(torch.full((4,), 0.2)), False), (lambda t: torch.hardshrink(t, 0.3), False),
           (lambda t: t.hardshrink(0.3), False)]


@pytest.mark.parametrize("i", range(len(ALIASES)))
def test_torch_level_names_and_inplace_functions_are_routed(i):
    fn, inplace = ALIASES[i]
    leaf = torch.randn(3, 4, requires_grad=True)
    dy = torch.randn(3, 4)
    results = []
    for routed in (True, False):
        x = leaf * 1
        torch.manual_seed(0)
        if routed:
            with mg.manual():
                y = fn(x)
            assert "FunctionBackward" in type(y.grad_fn).__name__
        else:
            y = fn(x)
        assert (y is x) == inplace
        results.append((y, torch.autograd.grad(y, leaf, dy)[0]))
    for a, b in zip(*results):
        torch.testing.assert_close(a, b)


def test_rrelu_with_a_generator_of_its_own_runs_torchs():
    x = torch.randn(3, 4, requires_grad=True) * 1
    with mg.manual():
        y = torch.rrelu(x, 0.1, 0.3, True, torch.Generator().manual_seed(0))
    assert type(y.grad_fn).__name__ == "RreluWithNoiseBackward0"
