"""ctc_loss beyond the op table: long sequences (losses of hundreds, where the α/β recursion must
stay in log space) in float32 and float64 equal torch's value and gradient; the gradient through
log_softmax is the exact one (gradcheck) and is differentiable again (gradgradcheck)."""

import pytest
import torch
import torch.nn.functional as F
from torch.autograd import gradcheck, gradgradcheck

import manualgrad.functional as MF


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_long_sequences_equal_torch(dtype, reduction):
    torch.manual_seed(0)
    T, N, C, S = 120, 3, 7, 30
    logits = torch.randn(T, N, C, dtype=dtype) * 3
    targets = torch.randint(1, C, (N, S))
    il, tl = torch.tensor([120, 100, 77]), torch.tensor([30, 12, 25])
    x, y = logits.log_softmax(-1).requires_grad_(), logits.log_softmax(-1).requires_grad_()
    assert F.ctc_loss(x, targets, il, tl, reduction="none").min() > 50  # far past float32's exp range
    ours = MF.ctc_loss(x, targets, il, tl, reduction=reduction)
    theirs = F.ctc_loss(y, targets, il, tl, reduction=reduction)
    torch.testing.assert_close(ours, theirs)
    dy = torch.randn_like(ours)
    g, h = torch.autograd.grad(ours, x, dy)[0], torch.autograd.grad(theirs, y, dy)[0]
    if dtype == torch.float64:
        torch.testing.assert_close(g, h)
    else:  # two 120-step float32 recursions round differently: each against float64 torch
        z = y.detach().double().requires_grad_()
        exact = torch.autograd.grad(F.ctc_loss(z, targets, il, tl, reduction=reduction), z, dy.double())[0]
        assert (g.double() - exact).abs().max() <= 2 * (h.double() - exact).abs().max() + 1e-6

def test_gradient_through_log_softmax_is_exact_and_twice_differentiable():
    torch.manual_seed(1)
    logits = torch.randn(7, 3, 5, dtype=torch.float64, requires_grad=True)
    targets = torch.tensor([1, 2, 2, 4, 3, 1])  # concatenated: lengths 3, 1, 2
    il, tl = (7, 5, 6), (3, 1, 2)

    def f(z):
        return MF.ctc_loss(MF.log_softmax(z, -1), targets, il, tl, blank=0, reduction="mean")

    assert gradcheck(f, (logits,))
    assert gradgradcheck(f, (logits,))


def test_a_log_probability_of_minus_infinity_gives_torchs_gradient():
    """A label masked out (log-probability −∞): the recursion's lse of −∞ only is −∞ without NaN."""
    torch.manual_seed(2)
    logits = torch.randn(6, 2, 4, dtype=torch.float64)
    logits[:, :, 3] = -float("inf")  # class 3 never possible
    x = logits.log_softmax(-1)
    targets, il, tl = torch.tensor([[1, 2], [2, 2]]), torch.tensor([6, 6]), torch.tensor([2, 2])
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    ours, theirs = MF.ctc_loss(a, targets, il, tl), F.ctc_loss(b, targets, il, tl)
    torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(torch.autograd.grad(ours, a)[0], torch.autograd.grad(theirs, b)[0], equal_nan=True)


def test_stride_zero_concatenated_targets_run():
    """torch's CPU kernel segfaults on them (run in a child here would crash): ours copies them."""
    x = torch.randn(5, 2, 4, dtype=torch.float64).log_softmax(-1).requires_grad_()
    targets = torch.tensor([2]).expand(3)
    y = MF.ctc_loss(x, targets, (5, 4), (2, 1))
    torch.testing.assert_close(y, F.ctc_loss(x, targets.contiguous(), (5, 4), (2, 1)))
