"""Losses: the modules are torch.nn's twins, and what the op table (tests/test_ops.py) cannot
express: warnings, legacy arguments, mixed dtypes where torch's own backward fails. Second
derivatives against torch's and what the backward saves: tests/test_losses_backward.py."""

import warnings

import pytest
import torch
import torch.nn.functional as F

import manualgrad.functional as MF
import manualgrad.nn as mnn
from conftest import DEVICES

D = torch.float64
REGRESSION = ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"]


def needs(name):
    """Skip until ``manualgrad.functional.<name>`` exists (written in another op family)."""
    return pytest.mark.skipif(not hasattr(MF, name), reason=f"manualgrad.functional.{name} not there yet")


def _weight(*shape):
    return torch.rand(*shape, dtype=D) + 0.5


# (class name, constructor kwargs, input maker, target maker, functional it needs)
MODULES = [
    ("MSELoss", {}, lambda: torch.randn(4, 5, dtype=D), lambda: torch.randn(4, 5, dtype=D), None),
    ("MSELoss", {"reduction": "sum"}, lambda: torch.randn(4, 5, dtype=D), lambda: torch.randn(4, 5, dtype=D), None),
    ("L1Loss", {"reduction": "none"}, lambda: torch.randn(4, 5, dtype=D), lambda: torch.randn(4, 5, dtype=D), None),
    ("L1Loss", {"size_average": False}, lambda: torch.randn(3, 2, dtype=D), lambda: torch.randn(3, 2, dtype=D), None),
    ("SmoothL1Loss", {"beta": 0.5}, lambda: torch.randn(4, 5, dtype=D), lambda: torch.randn(4, 5, dtype=D), None),
    ("SmoothL1Loss", {"beta": 0.0, "reduction": "sum"}, lambda: torch.randn(6, dtype=D),
     lambda: torch.randn(6, dtype=D), None),
    ("HuberLoss", {"delta": 2.0}, lambda: 3 * torch.randn(4, 5, dtype=D), lambda: torch.randn(4, 5, dtype=D), None),
    ("BCELoss", {}, lambda: torch.rand(4, 5, dtype=D), lambda: torch.rand(4, 5, dtype=D), None),
    ("BCELoss", {"weight": _weight(5), "reduction": "sum"}, lambda: torch.rand(4, 5, dtype=D),
     lambda: torch.rand(4, 5, dtype=D), None),
    ("BCEWithLogitsLoss", {}, lambda: torch.randn(4, 5, dtype=D), lambda: torch.rand(4, 5, dtype=D), None),
    ("BCEWithLogitsLoss", {"weight": _weight(4, 1), "pos_weight": _weight(5)}, lambda: torch.randn(4, 5, dtype=D),
     lambda: torch.rand(4, 5, dtype=D), None),
    ("NLLLoss", {}, lambda: torch.randn(4, 5, dtype=D).log_softmax(1),
     lambda: torch.randint(0, 5, (4,)), "nll_loss"),
    ("NLLLoss", {"weight": _weight(5), "ignore_index": 1, "reduction": "sum"},
     lambda: torch.randn(4, 5, dtype=D).log_softmax(1), lambda: torch.tensor([0, 1, 4, 1]), "nll_loss"),
    ("CrossEntropyLoss", {}, lambda: torch.randn(4, 5, dtype=D), lambda: torch.randint(0, 5, (4,)), "cross_entropy"),
    ("CrossEntropyLoss", {"weight": _weight(5), "label_smoothing": 0.1}, lambda: torch.randn(4, 5, dtype=D),
     lambda: torch.randint(0, 5, (4,)), "cross_entropy"),
]


def _module_params(forward=True):
    for name, kw, x, t, fn in MODULES:
        marks = [needs(fn)] if fn and forward else []
        yield pytest.param(name, kw, x, t, marks=marks, id=f"{name}-{'-'.join(map(str, kw)) or 'default'}")


def _pair(name, kw):
    """Our module and torch's, built from the same arguments (legacy ones warn alike)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(mnn, name)(**kw), getattr(torch.nn, name)(**kw)


@pytest.mark.parametrize("name,kw,x,t", list(_module_params(forward=False)))
def test_module_state_dict_buffers_and_repr_are_torchs(name, kw, x, t):
    ours, theirs = _pair(name, kw)
    assert isinstance(ours, getattr(torch.nn, name)) and type(ours) is not getattr(torch.nn, name)
    assert repr(ours) == repr(theirs)
    assert ours.reduction == theirs.reduction
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for k, v in theirs.state_dict().items():
        assert torch.equal(ours.state_dict()[k], v)
    back = getattr(torch.nn, name)(**{k: v for k, v in kw.items() if isinstance(v, torch.Tensor)})
    back.load_state_dict(ours.state_dict())  # loads both ways: the keys are torch's
    ours.load_state_dict(back.state_dict())
    for buf in ("weight", "pos_weight"):
        if getattr(ours, buf, None) is not None:
            assert ours.float().get_buffer(buf).dtype == torch.float32  # a buffer: moves with the module


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name,kw,x,t", list(_module_params()))
def test_module_forward_backward_equal_torch(name, kw, x, t, device):
    ours, theirs = (m.to(device) for m in _pair(name, kw))
    x = x().to(device).requires_grad_()
    t = t().to(device)
    if t.is_floating_point():
        t.requires_grad_()
    a, b = ours(x, t), theirs(x, t)
    assert isinstance(a.grad_fn, torch.autograd.function.BackwardCFunction)  # one of our Functions
    torch.testing.assert_close(a, b)
    dy = torch.randn_like(a)
    leaves = [x, t] if t.requires_grad else [x]
    for g, h in zip(torch.autograd.grad(a, leaves, dy), torch.autograd.grad(b, leaves, dy)):
        torch.testing.assert_close(g, h)


@pytest.mark.parametrize("name", ["MSELoss", "BCEWithLogitsLoss"])
def test_module_rejects_a_bad_reduction_like_torch(name):
    x, t = torch.rand(3), torch.rand(3)
    with pytest.raises(ValueError, match="foo is not a valid value for reduction"):
        getattr(torch.nn, name)(reduction="foo")(x, t)
    with pytest.raises(ValueError, match="foo is not a valid value for reduction"):
        getattr(mnn, name)(reduction="foo")(x, t)


def _caught(fn, *args, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn(*args, **kwargs)
    return [(w.category, str(w.message), w.filename) for w in caught]


@pytest.mark.parametrize("op", REGRESSION)
def test_size_mismatch_warns_like_torch_from_the_callers_line(op):
    x, t = torch.randn(3, 1), torch.randn(1, 4)
    ours, theirs = _caught(getattr(MF, op), x, t), _caught(getattr(F, op), x, t)
    assert len(ours) == len(theirs) == 1
    assert ours[0][:2] == theirs[0][:2] and ours[0][0] is UserWarning
    assert "Using a target size (torch.Size([1, 4])) that is different" in ours[0][1]
    assert ours[0][2] == theirs[0][2] == __file__  # stacklevel points at the caller, as torch's
    assert _caught(getattr(MF, op), x, torch.randn(3, 1)) == []  # same size: silent


@pytest.mark.parametrize("op", ["mse_loss", "l1_loss", "smooth_l1_loss", "binary_cross_entropy",
                                "binary_cross_entropy_with_logits"])
@pytest.mark.parametrize("size_average,reduce", [(False, None), (None, False), (True, True), (None, True)])
def test_legacy_size_average_reduce_warn_and_reduce_like_torch(op, size_average, reduce):
    x, t = torch.rand(3, 4, dtype=D), torch.rand(3, 4, dtype=D)
    kw = {"size_average": size_average, "reduce": reduce}
    ours, theirs = _caught(getattr(MF, op), x, t, **kw), _caught(getattr(F, op), x, t, **kw)
    assert [w[:2] for w in ours] == [w[:2] for w in theirs] and ours
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.testing.assert_close(getattr(MF, op)(x, t, **kw), getattr(F, op)(x, t, **kw))


@pytest.mark.parametrize("target", [lambda s: torch.randn(s, dtype=D), lambda s: torch.randint(-2, 3, s)],
                         ids=["float64", "int64"])
def test_huber_with_a_target_of_another_dtype(target):
    """torch's forward keeps x's dtype, but its backward fails here (torch 2.13: "Found dtype
    Double but expected Float"); ours differentiates, equal to torch run with both in float64."""
    x = (2 * torch.randn(4, 5)).requires_grad_()
    t = target((4, 5))
    t.requires_grad_(t.is_floating_point())
    y = MF.huber_loss(x, t, reduction="sum")
    want = F.huber_loss(x, t, reduction="sum")
    assert y.dtype == want.dtype == torch.float32
    torch.testing.assert_close(y, want)
    x64 = x.detach().double().requires_grad_()
    t64 = t.detach().double().requires_grad_(t.requires_grad)
    ref = F.huber_loss(x64, t64, reduction="sum")
    leaves, ref_leaves = ([x, t], [x64, t64]) if t.requires_grad else ([x], [x64])
    for g, h, leaf in zip(torch.autograd.grad(y, leaves), torch.autograd.grad(ref, ref_leaves), leaves):
        assert (g.dtype, g.shape) == (leaf.dtype, leaf.shape)
        torch.testing.assert_close(g, h.to(g.dtype))


def test_weighted_means_follow_torchs_two_definitions():
    """mse/l1: Σ (w ⊙ ℓ) / Σ w, with Σ w over the weight itself even when x and t broadcast to a
    larger shape; huber: the plain mean of w ⊙ ℓ."""
    x, t, w = torch.randn(3, 1, dtype=D), torch.randn(1, 4, dtype=D), _weight(3, 1)
    d = x - t
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.testing.assert_close(MF.mse_loss(x, t, weight=w), (w * d ** 2).sum() / w.sum())
        torch.testing.assert_close(MF.l1_loss(x, t, weight=w), (w * d.abs()).sum() / w.sum())
        huber = torch.where(d.abs() < 1, 0.5 * d ** 2, d.abs() - 0.5)
        torch.testing.assert_close(MF.huber_loss(x, t, weight=w), (w * huber).mean())


@pytest.mark.parametrize("op,kw", [("binary_cross_entropy", "weight"),
                                   ("binary_cross_entropy_with_logits", "weight"),
                                   ("binary_cross_entropy_with_logits", "pos_weight")])
def test_constant_weights_requiring_grad_pass_without_grad_mode(op, kw):
    """torch refuses a weight that requires grad only when it would build a graph; so do we."""
    x, t = torch.rand(3, 4), torch.rand(3, 4)
    w = torch.rand(4, requires_grad=True)
    with pytest.raises(RuntimeError, match=f"'{op}' is not differentiable with respect to argument '{kw}'"):
        getattr(MF, op)(x, t, **{kw: w})
    with torch.no_grad():
        torch.testing.assert_close(getattr(MF, op)(x, t, **{kw: w}), getattr(F, op)(x, t, **{kw: w}))


def test_bce_floors_logs_and_clamps_the_input_gradient_like_torch():
    """x ∈ {0, 1}: each log floored at −100 (finite loss), dx = (x − t) / max(x(1 − x), 1e-12)."""
    x = torch.tensor([0.0, 1.0, 0.0, 1.0], dtype=D, requires_grad=True)
    t = torch.tensor([0.0, 0.0, 1.0, 0.5], dtype=D)
    y = MF.binary_cross_entropy(x, t, reduction="none")
    torch.testing.assert_close(y, torch.tensor([0.0, 100.0, 100.0, 50.0], dtype=D))
    (dx,) = torch.autograd.grad(y.sum(), x)
    torch.testing.assert_close(dx, torch.tensor([0.0, 1e12, -1e12, 5e11], dtype=D))


def test_bce_with_logits_is_stable_for_large_logits():
    x = torch.tensor([-200.0, 200.0], requires_grad=True)
    t = torch.tensor([1.0, 0.0])
    y = MF.binary_cross_entropy_with_logits(x, t, reduction="none")
    torch.testing.assert_close(y, torch.tensor([200.0, 200.0]))
    (dx,) = torch.autograd.grad(y.sum(), x)
    torch.testing.assert_close(dx, torch.tensor([-1.0, 1.0]))


@pytest.mark.parametrize("loss", ["l1_loss", "smooth_l1_loss"])
@pytest.mark.parametrize("which", ["input", "target"])
def test_l1_of_one_bool_operand_raises_torchs_subtraction_error(loss, which):
    """torch's l1_loss (and smooth_l1_loss at beta 0, which is it) subtracts with the ``-``
    operator, which refuses a bool operand (ours took one bool beside a float). Found by the
    fuzzer's long profile."""
    b, y = torch.tensor([True, False, True]), torch.tensor([1.0, 2.0, -0.5], dtype=torch.float64)
    args = (b, y) if which == "input" else (y, b)
    kw = {"beta": 0.0} if loss == "smooth_l1_loss" else {}
    for fn in (getattr(F, loss), getattr(MF, loss)):
        with pytest.raises(RuntimeError, match="Subtraction, the `-` operator, with a bool tensor is not supported"):
            fn(*args, **kw)


@pytest.mark.parametrize("loss", ["nll_loss", "cross_entropy"])
@pytest.mark.parametrize("shape", [(3, 4, 4, 0), (0, 4, 2, 2), (2, 4, 0)], ids=str)
def test_an_empty_spatial_input_takes_a_byte_target_where_reduced(loss, shape):
    """torch's spatial nll (nll_loss2d) refuses a uint8 target ("expected scalar type Long but
    found Byte"), except for an empty target with 'mean' (NaN) or 'sum' (0): it returns before the
    dtype dispatch. Ours did not. Found by the fuzzer's long profile."""
    x = torch.zeros(shape)
    t = torch.zeros((shape[0], *shape[2:]), dtype=torch.uint8)
    for reduction in ("mean", "sum"):
        want = getattr(F, loss)(x, t, reduction=reduction)
        torch.testing.assert_close(getattr(MF, loss)(x, t, reduction=reduction), want, equal_nan=True)
    for fn in (getattr(F, loss), getattr(MF, loss)):
        with pytest.raises(RuntimeError, match="expected scalar type Long but found Byte"):
            fn(x, t, reduction="none")
        with pytest.raises(RuntimeError, match="expected scalar type Long but found Byte"):
            fn(torch.zeros(2, 4, 1), torch.zeros(2, 1, dtype=torch.uint8))
        with pytest.raises(RuntimeError, match="expected scalar type Long but found Byte"):  # empty x, not target
            fn(torch.zeros(1, 0, 1, 1), torch.zeros(1, 1, 1, dtype=torch.uint8))
