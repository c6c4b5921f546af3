"""Cross-entropy beyond the op table: stability, composition, the classic softmax − onehot."""

import pytest
import torch
import torch.nn.functional as F

import manualgrad.functional as MF
from conftest import DEVICES
from test_linear import saved_bytes


@pytest.mark.parametrize("device", DEVICES)
def test_huge_logits_stay_finite_and_equal_torch(device):
    x = (torch.randn(8, 10, device=device) * 1e4).requires_grad_()
    t = torch.randint(0, 10, (8,), device=device)
    y = MF.cross_entropy(x, t, label_smoothing=0.1)
    (g,) = torch.autograd.grad(y, x)
    assert torch.isfinite(y) and torch.isfinite(g).all()
    ref = F.cross_entropy(x, t, label_smoothing=0.1)
    torch.testing.assert_close(y, ref)
    torch.testing.assert_close(g, torch.autograd.grad(ref, x)[0])


def test_gradient_is_softmax_minus_onehot_over_n():
    x = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
    t = torch.randint(0, 5, (6,))
    (g,) = torch.autograd.grad(MF.cross_entropy(x, t), x)
    torch.testing.assert_close(g, (x.softmax(1) - F.one_hot(t, 5)) / 6)


def test_one_fused_node_equals_nll_of_log_softmax():
    x = torch.randn(4, 7, 3, dtype=torch.float64, requires_grad=True)
    t = torch.randint(0, 7, (4, 3))
    fused = MF.cross_entropy(x, t, reduction="none")
    composed = MF.nll_loss(MF.log_softmax(x, 1), t, reduction="none")
    assert type(fused.grad_fn).__name__ == "CrossEntropyFunctionBackward"
    assert fused.grad_fn.next_functions[0][0].variable is x  # nothing between x and the loss
    torch.testing.assert_close(fused, composed)
    dy = torch.randn_like(fused)
    torch.testing.assert_close(torch.autograd.grad(fused, x, dy)[0], torch.autograd.grad(composed, x, dy)[0])


def test_all_ignored_mean_is_nan_with_zero_gradient_like_torch():
    x = torch.randn(3, 4, requires_grad=True)
    t = torch.full((3,), -100)
    y = MF.cross_entropy(x, t)
    assert torch.isnan(y) and torch.isnan(F.cross_entropy(x, t))
    torch.testing.assert_close(torch.autograd.grad(y, x)[0], torch.zeros(3, 4))


def test_saves_no_more_than_torch():
    x = torch.randn(64, 100, requires_grad=True)
    t = torch.randint(0, 100, (64,))
    ours, _, _ = saved_bytes(lambda: MF.cross_entropy(x, t))
    theirs, _, _ = saved_bytes(lambda: F.cross_entropy(x, t))
    assert ours <= theirs


def test_nll_backward_does_not_keep_the_input():
    x = torch.randn(64, 100, requires_grad=True)
    t = torch.randint(0, 100, (64,))
    nbytes, _, _ = saved_bytes(lambda: MF.nll_loss(x, t))
    assert nbytes == t.numel() * 8  # the targets only
