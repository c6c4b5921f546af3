"""linear_cross_entropy beyond the op table: it never keeps the N×V logits, the chunk size does not
change the result, and the module is torch 2.13's twin."""

import pytest
import torch
import torch.nn.functional as F

import manualgrad as mg
import manualgrad.functional as MF
import manualgrad.nn as mnn
from manualgrad.memory import saved_bytes
from manualgrad.samples.linear_cross_entropy import chunks

HAS_TWIN = hasattr(torch.nn, "LinearCrossEntropyLoss")


def test_saves_no_logits_while_the_composite_does():
    n, h, v = 256, 32, 1000
    x = torch.randn(n, h, requires_grad=True)
    w = torch.randn(v, h, requires_grad=True)
    t = torch.randint(0, v, (n,))
    ours, _ = saved_bytes(lambda: MF.linear_cross_entropy(x, w, t, options=chunks(64)))
    theirs, _ = saved_bytes(lambda: F.cross_entropy(F.linear(x, w), t))
    assert ours == x.nbytes + w.nbytes + t.nbytes  # the inputs, nothing of size N×V
    assert theirs >= 4 * n * v  # torch keeps the logits (or the log-probabilities)


@pytest.mark.parametrize("chunk", [1, 3, 7, 100])
def test_chunk_size_does_not_change_the_result(chunk):
    torch.manual_seed(0)
    x = torch.randn(7, 5, dtype=torch.float64, requires_grad=True)
    w = torch.randn(9, 5, dtype=torch.float64, requires_grad=True)
    b = torch.randn(9, dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0, 8, 3, -100, 3, 1, 2])
    kw = dict(linear_bias=b, label_smoothing=0.05, reduction="mean")
    loss = MF.linear_cross_entropy(x, w, t, options=chunks(chunk), **kw)
    ref = F.cross_entropy(F.linear(x, w, b), t, label_smoothing=0.05)
    torch.testing.assert_close(loss, ref)
    for g, h in zip(torch.autograd.grad(loss, (x, w, b)), torch.autograd.grad(ref, (x, w, b))):
        torch.testing.assert_close(g, h)


def test_bfloat16_weight_gradient_accumulates_in_float32():
    torch.manual_seed(0)
    x = torch.randn(64, 16, dtype=torch.bfloat16, requires_grad=True)
    w = torch.randn(50, 16, dtype=torch.bfloat16, requires_grad=True)
    t = torch.randint(0, 50, (64,))
    ours = torch.autograd.grad(MF.linear_cross_entropy(x, w, t, options=chunks(4)), w)[0]
    xd, wd = x.detach().double().requires_grad_(), w.detach().double().requires_grad_()
    exact = torch.autograd.grad(F.cross_entropy(F.linear(xd, wd), t), wd)[0]
    theirs = torch.autograd.grad(F.cross_entropy(F.linear(x, w), t), w)[0]
    assert ours.dtype == torch.bfloat16
    assert (ours.double() - exact).abs().max() <= 2 * (theirs.double() - exact).abs().max() + 1e-6


@pytest.mark.skipif(not HAS_TWIN, reason="torch.nn.LinearCrossEntropyLoss exists from torch 2.13")
def test_module_is_torchs_twin_and_swaps():
    torch.manual_seed(0)
    theirs = torch.nn.LinearCrossEntropyLoss(8, 11, bias=True, label_smoothing=0.1)
    torch.manual_seed(0)
    ours = mnn.LinearCrossEntropyLoss(8, 11, bias=True, label_smoothing=0.1)
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(ours.state_dict().values(), theirs.state_dict().values()))
    x, t = torch.randn(6, 8, requires_grad=True), torch.randint(0, 11, (6,))
    a, b = ours(x, t), theirs(x, t)
    torch.testing.assert_close(a, b)
    assert type(a.grad_fn).__name__ == "LinearCrossEntropyFunctionBackward"
    for g, h in zip(torch.autograd.grad(a, [x, *ours.parameters()]), torch.autograd.grad(b, [x, *theirs.parameters()])):
        torch.testing.assert_close(g, h)
    swapped = torch.nn.LinearCrossEntropyLoss(8, 11)
    assert [e.after for e in mg.swap(swapped).swapped][0] is mnn.LinearCrossEntropyLoss
