"""nll_loss and cross_entropy beyond the op table: stability at huge logits, the all-ignored
NaN, probability-target gradients, the fused node vs nll_loss(log_softmax), uint8 targets,
double backward against torch's, what is saved, torch.compile and CUDA."""

import pytest
import torch
import torch.nn.functional as F

import manualgrad.functional as MF
from conftest import DEVICES
from conftest import saved_bytes


def _grads(fn, inputs, *args, dy=None, **kwargs):
    """fn(*inputs, *args, **kwargs) and the gradients of every input for the upstream dy."""
    y = fn(*inputs, *args, **kwargs)
    dy = torch.randn_like(y) if dy is None else dy
    return y, torch.autograd.grad(y, inputs, dy)


def _same_as_torch(op, ref, inputs, *args, **kwargs):
    y, g = _grads(op, inputs, *args, **kwargs)
    torch.manual_seed(7)
    dy = torch.randn_like(y)
    y, g = _grads(op, inputs, *args, dy=dy, **kwargs)
    r, h = _grads(ref, inputs, *args, dy=dy, **kwargs)
    torch.testing.assert_close(y, r, equal_nan=True)
    for a, b in zip(g, h):
        torch.testing.assert_close(a, b, equal_nan=True)
    return y, g


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("kw", [{}, {"label_smoothing": 0.1}, {"reduction": "none", "weight": True}], ids=str)
def test_huge_logits_stay_finite_and_equal_torch(device, dtype, kw):
    x = (torch.randn(8, 10, device=device, dtype=dtype) * 1e4).requires_grad_()
    t = torch.randint(0, 10, (8,), device=device)
    if kw.get("weight"):
        kw = {**kw, "weight": torch.rand(10, device=device, dtype=dtype) + 0.5}
    y, (g,) = _same_as_torch(MF.cross_entropy, F.cross_entropy, (x,), t, **kw)
    assert torch.isfinite(y).all() and torch.isfinite(g).all()
    assert y.abs().max() > 1e3  # the wrong class really is 1e4 away


@pytest.mark.parametrize("device", DEVICES)
def test_huge_logits_with_probability_targets(device):
    x = (torch.randn(6, 5, device=device) * 1e4).requires_grad_()
    p = torch.rand(6, 5, device=device).softmax(1).requires_grad_()
    y, grads = _same_as_torch(MF.cross_entropy, F.cross_entropy, (x, p), label_smoothing=0.2)
    assert torch.isfinite(y) and all(torch.isfinite(g).all() for g in grads)


def test_gradient_is_softmax_minus_onehot_over_n():
    x = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
    t = torch.randint(0, 5, (6,))
    (g,) = torch.autograd.grad(MF.cross_entropy(x, t), x)
    torch.testing.assert_close(g, (x.softmax(1) - F.one_hot(t, 5)) / 6)


@pytest.mark.parametrize("kw", [{}, {"weight": True}, {"ignore_index": 2}, {"reduction": "sum"}], ids=str)
def test_one_fused_node_equals_nll_of_log_softmax(kw):
    x = torch.randn(4, 7, 3, dtype=torch.float64, requires_grad=True)
    t = torch.randint(0, 7, (4, 3))
    if kw.get("weight"):
        kw = {"weight": torch.rand(7, dtype=torch.float64) + 0.1}
    fused = MF.cross_entropy(x, t, **kw)
    composed = MF.nll_loss(MF.log_softmax(x, 1), t, **kw)
    assert type(fused.grad_fn).__name__ == "CrossEntropyFunctionBackward"
    assert fused.grad_fn.next_functions[0][0].variable is x  # nothing between x and the loss
    torch.testing.assert_close(fused, composed)
    dy = torch.randn_like(fused)
    torch.testing.assert_close(torch.autograd.grad(fused, x, dy)[0], torch.autograd.grad(composed, x, dy)[0])


def test_smoothed_class_indices_equal_smoothed_one_hot_probabilities():
    """Both target kinds of the one Function agree where torch's semantics coincide."""
    x = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    t = torch.randint(0, 4, (5,))
    a, (ga,) = _grads(MF.cross_entropy, (x,), t, label_smoothing=0.3, dy=torch.tensor(1.0, dtype=torch.float64))
    b, (gb,) = _grads(MF.cross_entropy, (x,), F.one_hot(t, 4).double(), label_smoothing=0.3,
                      dy=torch.tensor(1.0, dtype=torch.float64))
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(ga, gb)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kw", [{}, {"label_smoothing": 0.2}, {"weight": True}], ids=str)
def test_all_ignored_mean_is_nan_with_zero_gradient_like_torch(device, kw):
    if kw.get("weight"):
        kw = {"weight": torch.rand(4, device=device) + 0.1}
    x = torch.randn(3, 4, device=device, requires_grad=True)
    t = torch.full((3,), -100, device=device)
    for op, ref in ((MF.cross_entropy, F.cross_entropy), (MF.nll_loss, F.nll_loss)):
        if op is MF.nll_loss and "label_smoothing" in kw:
            continue
        y, (g,) = _same_as_torch(op, ref, (x,), t, **kw)
        assert torch.isnan(y)
        assert (g == 0).all()
        assert MF.cross_entropy(x, t, reduction="sum", **kw) == 0


@pytest.mark.parametrize("kw", [{}, {"label_smoothing": 0.3}, {"weight": True, "reduction": "none"}], ids=str)
def test_probability_target_gets_torchs_gradient(kw):
    x = torch.randn(4, 5, 2, requires_grad=True)
    p = torch.rand(4, 5, 2).softmax(1).requires_grad_()
    if kw.get("weight"):
        kw = {**kw, "weight": torch.rand(5) + 0.1}
    _, (gx, gp) = _same_as_torch(MF.cross_entropy, F.cross_entropy, (x, p), **kw)
    assert gp.abs().sum() > 0


def test_probability_target_weight_gradient_like_torch():
    """torch differentiates the class weight of a probability target (not of an index one)."""
    x = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    p = torch.rand(4, 5, dtype=torch.float64).softmax(1)
    w = (torch.rand(5, dtype=torch.float64) + 0.1).requires_grad_()
    _same_as_torch(lambda x, w: MF.cross_entropy(x, p, w, label_smoothing=0.1),
                   lambda x, w: F.cross_entropy(x, p, w, label_smoothing=0.1), (x, w))
    assert torch.autograd.gradcheck(lambda x, w: MF.cross_entropy(x, p, w), (x, w))
    assert torch.autograd.gradgradcheck(lambda x, w: MF.cross_entropy(x, p, w), (x, w))


@pytest.mark.parametrize("op", ["nll_loss", "cross_entropy"])
def test_uint8_targets_equal_long_targets(op):
    x = torch.randn(6, 5, requires_grad=True)
    t = torch.randint(0, 5, (6,))
    ours, ref = getattr(MF, op), getattr(F, op)
    dy = torch.randn(6)
    y8, (g8,) = _grads(ours, (x,), t.to(torch.uint8), reduction="none", dy=dy)
    y, (g,) = _grads(ours, (x,), t, reduction="none", dy=dy)
    torch.testing.assert_close(y8, y, rtol=0, atol=0)
    torch.testing.assert_close(g8, g, rtol=0, atol=0)
    torch.testing.assert_close(y8, ref(x, t.to(torch.uint8), reduction="none"))


@pytest.mark.parametrize("op", ["nll_loss", "cross_entropy"])
def test_uint8_target_is_never_the_negative_ignore_index(op):
    """156 as uint8 is 156, not −100 (a tensor comparison in uint8 would wrap −100 to 156)."""
    x = torch.randn(2, 5)
    t = torch.tensor([1, 156], dtype=torch.uint8)
    with pytest.raises(IndexError, match="^Target 156 is out of bounds.$"):
        getattr(F, op)(x, t)
    with pytest.raises(IndexError, match="^Target 156 is out of bounds.$"):
        getattr(MF, op)(x, t)


@pytest.mark.parametrize("op", ["nll_loss", "cross_entropy"])
def test_unbatched_input_with_one_element_target(op):
    """torch reads a (1) target of a (C) input as the 0-d one (but its backward then fails)."""
    x = torch.randn(5, dtype=torch.float64, requires_grad=True)
    y1, (g1,) = _grads(getattr(MF, op), (x,), torch.tensor([3]), reduction="none", dy=torch.tensor(0.7).double())
    y0, (g0,) = _grads(getattr(MF, op), (x,), torch.tensor(3), reduction="none", dy=torch.tensor(0.7).double())
    assert y1.shape == () and torch.equal(y1, y0) and torch.equal(g1, g0)
    torch.testing.assert_close(y1, getattr(F, op)(x, torch.tensor([3]), reduction="none"))


@pytest.mark.parametrize("kw", [{}, {"label_smoothing": 0.2, "weight": True, "ignore_index": 1}, {"probs": True}],
                         ids=str)
def test_double_backward_equals_torchs(kw):
    """Hessian-vector products through the gradient, against torch's own double backward."""
    x = torch.randn(4, 5, 3, dtype=torch.float64, requires_grad=True)
    kw = dict(kw)
    if kw.pop("weight", False):
        kw["weight"] = torch.rand(5, dtype=torch.float64) + 0.1
    t = torch.rand(4, 5, 3, dtype=torch.float64, requires_grad=True) if kw.pop("probs", False) else \
        torch.randint(0, 5, (4, 3))
    inputs = (x, t) if t.requires_grad else (x,)
    v = [torch.randn_like(i) for i in inputs]
    hv = []
    for fn in (MF.cross_entropy, F.cross_entropy):
        grads = torch.autograd.grad(fn(x, t, **kw), inputs, create_graph=True)
        hv.append(torch.autograd.grad(grads, inputs, v))
    for a, b in zip(*hv):
        torch.testing.assert_close(a, b)


def test_backward_leaves_dy_untouched():
    x = torch.randn(4, 5, requires_grad=True)
    p = torch.rand(4, 5, requires_grad=True)
    t = torch.randint(0, 5, (4,))
    cases = [(MF.cross_entropy(x, t, reduction="none", label_smoothing=0.1), (x,)),
             (MF.nll_loss(x, t, reduction="none"), (x,)),
             (MF.cross_entropy(x, p, reduction="none", label_smoothing=0.1), (x, p))]
    for y, inputs in cases:
        dy = torch.randn(4)
        before = dy.clone()
        torch.autograd.grad(y, inputs, dy)
        assert torch.equal(dy, before)


def test_saves_the_log_probabilities_not_the_logits():
    x = torch.randn(64, 100, requires_grad=True)
    t = torch.randint(0, 100, (64,))
    y = MF.cross_entropy(x, t)
    saved = [s for s in y.grad_fn.saved_tensors if s is not None]
    assert [s.shape for s in saved] == [x.shape, t.shape]
    torch.testing.assert_close(saved[0], torch.log_softmax(x, 1))
    ours, _, _ = saved_bytes(lambda: MF.cross_entropy(x, t))
    theirs, _, _ = saved_bytes(lambda: F.cross_entropy(x, t))
    assert ours <= theirs


def test_nll_backward_does_not_keep_the_input():
    x = torch.randn(64, 100, requires_grad=True)
    t = torch.randint(0, 100, (64,))
    nbytes, _, _ = saved_bytes(lambda: MF.nll_loss(x, t))
    assert nbytes == t.numel() * 8  # the targets only


@pytest.mark.parametrize("op", ["nll_loss", "cross_entropy"])
def test_compiles_without_graph_breaks(op):
    """The data-dependent bounds check is skipped while tracing, so fullgraph compiles."""
    torch._dynamo.reset()
    x = torch.randn(6, 5, requires_grad=True)
    t = torch.randint(0, 5, (6,))
    compiled = torch.compile(getattr(MF, op), backend="aot_eager", fullgraph=True)
    y, (g,) = _grads(compiled, (x,), t, dy=torch.tensor(1.0))
    r, (h,) = _grads(getattr(F, op), (x,), t, dy=torch.tensor(1.0))
    torch.testing.assert_close(y, r)
    torch.testing.assert_close(g, h)


@pytest.mark.cuda
@pytest.mark.parametrize("op", ["nll_loss", "cross_entropy"])
@pytest.mark.parametrize("shape", [(3, 5), (2, 5, 3)], ids=str)
def test_out_of_range_target_raises_on_cuda_instead_of_a_device_assert(op, shape):
    x = torch.randn(shape, device="cuda")
    t = torch.zeros((shape[0],) + shape[2:], dtype=torch.long, device="cuda")
    t.view(-1)[-1] = 7
    with pytest.raises(IndexError, match="^Target 7 is out of bounds.$"):
        getattr(MF, op)(x, t)
    torch.cuda.synchronize()  # the device is still healthy
    assert torch.isfinite(getattr(MF, op)(x, t.clamp(max=4)))


CLASS_TARGETS = [  # (x shape, target, ignore_index): the backward's short path applies to the first four
    ((6, 5), [0, 4, 1, 1, 3, 2], -100), ((5,), [3], -100), ((3, 4, 2, 2), [[[0, 3], [1, 2]]] * 3, -100),
    ((6, 5), [0, 4, 1, 1, 3, 2], 7),
    ((6, 5), [0, 4, 1, 1, 3, 2], 1), ((6, 5), [0, 4, 1, -100, 3, 2], -100), ((6, 5), [0, 4, 1, 1, 3, 2], 2)]


@pytest.mark.parametrize("x_shape,target,ignore_index", CLASS_TARGETS, ids=str)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_first_order_short_path_equals_the_recorded_path_and_torch(x_shape, target, ignore_index, reduction):
    """The first-order backward reads g as a number when every target is a class and none is
    ignored; it must agree with the general path (taken when the backward is recorded) and with
    torch, also when the ignore_index is a class (present or not) or some target is ignored."""
    x = torch.randn(x_shape, dtype=torch.float64, requires_grad=True)
    t = torch.tensor(target).reshape(() if len(x_shape) == 1 else (x_shape[0], *x_shape[2:]))
    kw = {"ignore_index": ignore_index, "reduction": reduction}
    dy = torch.tensor(1.7, dtype=torch.float64)
    short = torch.autograd.grad(MF.cross_entropy(x, t, **kw), x, dy)[0]
    recorded = torch.autograd.grad(MF.cross_entropy(x, t, **kw), x, dy, create_graph=True)[0]
    theirs = torch.autograd.grad(F.cross_entropy(x, t, **kw), x, dy)[0]
    torch.testing.assert_close(short, recorded, rtol=1e-14, atol=1e-15)
    torch.testing.assert_close(short, theirs, rtol=1e-14, atol=1e-15)
