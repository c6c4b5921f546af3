"""The regression and binary cross-entropy losses' backward: second derivatives (Hessian-vector
products, the kinks' pieces) equal torch's, and it saves only its inputs, no more bytes than torch."""

import pytest
import torch
import torch.nn.functional as F

import manualgrad.functional as MF
from conftest import saved_bytes
from test_losses import D, _weight


def _probs(*s):
    return (torch.rand(*s, dtype=D) * 0.9 + 0.05).requires_grad_()


def _normal(*s):
    return torch.randn(*s, dtype=D).requires_grad_()


# op, input, target, extra kwargs (tensors that require grad are differentiated twice too)
SECOND_ORDER = [
    ("mse_loss", _normal, _normal, lambda: {"weight": _weight(3, 4).requires_grad_()}),
    ("l1_loss", _normal, _normal, lambda: {"weight": _weight(3, 4).requires_grad_()}),
    ("smooth_l1_loss", _normal, _normal, lambda: {"beta": 0.7}),
    ("huber_loss", _normal, _normal, lambda: {"delta": 0.7, "weight": _weight(3, 4).requires_grad_()}),
    ("binary_cross_entropy", _probs, _probs, lambda: {"weight": _weight(4)}),
    ("binary_cross_entropy_with_logits", _normal, _probs, lambda: {"weight": _weight(4), "pos_weight": _weight(4)}),
]


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("op,x,t,extra", SECOND_ORDER, ids=[s[0] for s in SECOND_ORDER])
def test_second_derivatives_equal_torchs(op, x, t, extra, reduction):
    """Hessian-vector products through our backward (for x, t, differentiable weights and dy)
    equal torch's double backward."""
    x, t, kw = x(3, 4), t(3, 4), extra()
    leaves = [x, t] + [v for v in kw.values() if isinstance(v, torch.Tensor) and v.requires_grad]
    results = []
    for fn in (getattr(MF, op), getattr(F, op)):
        y = fn(x, t, reduction=reduction, **kw)
        dy = torch.linspace(-1, 2, y.numel(), dtype=D).reshape(y.shape).requires_grad_()
        grads = torch.autograd.grad(y, leaves, dy, create_graph=True)
        vs = [torch.cos(torch.arange(g.numel(), dtype=D)).reshape(g.shape) for g in grads]
        inner = sum((g * v).sum() for g, v in zip(grads, vs))
        results.append(torch.autograd.grad(inner, leaves + [dy], allow_unused=True, materialize_grads=True))
    for g, h in zip(*results):
        torch.testing.assert_close(g, h)


@pytest.mark.parametrize("op,kw", [("smooth_l1_loss", {"beta": 0.5}), ("huber_loss", {"delta": 0.5}),
                                   ("l1_loss", {})])
def test_second_derivative_at_the_kinks_is_torchs(op, kw):
    """At |x − t| = β (δ) the quadratic piece ends: torch's second derivative there is 0 (the
    linear piece's), and at d = 0 l1's is 0; ours picks the same pieces."""
    t = torch.tensor([0.25, -0.5, 1.0, 0.0, 0.75], dtype=D)
    x = (t + torch.tensor([0.5, -0.5, 0.0, 0.25, -0.0], dtype=D)).requires_grad_()
    hessians = []
    for fn in (getattr(MF, op), getattr(F, op)):
        (g,) = torch.autograd.grad(fn(x, t, reduction="sum", **kw), x, create_graph=True)
        hessians.append(torch.autograd.grad(g.sum(), x, allow_unused=True, materialize_grads=True)[0])
    torch.testing.assert_close(*hessians)


@pytest.mark.parametrize("op,x,t,extra", SECOND_ORDER, ids=[s[0] for s in SECOND_ORDER])
def test_backward_saves_only_its_inputs(op, x, t, extra):
    """Nothing new is stored for the backward: every saved tensor is an input (or a view of
    one, as BCE's expanded weight), and the bytes held are at most torch's."""
    x, t, kw = x(3, 4), t(3, 4), extra()
    inputs = [x, t] + [v for v in kw.values() if isinstance(v, torch.Tensor)]
    saved = []

    def pack(s):
        saved.append(s)
        return s

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda s: s):
        getattr(MF, op)(x, t, **kw)
    storages = {i.untyped_storage().data_ptr() for i in inputs}
    assert saved and all(s.untyped_storage().data_ptr() in storages for s in saved)  # (views allowed)
    ours, _, _ = saved_bytes(lambda: getattr(MF, op)(x, t, **kw))
    theirs, _, _ = saved_bytes(lambda: getattr(F, op)(x, t, **kw))
    assert ours <= theirs
