"""Recomputable activations (functions/_recompute.py): a Linear after GELU saves GELU's input, not
its output, and recomputes the output in backward; gradients, double backward and in-place
semantics stay exact, and the GELU MLP saves ≤ 0.75× torch's bytes."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import manualgrad.functional as MF
from manualgrad.memory import memory_report, saved_bytes


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_then_linear_gradients_and_double_backward(approximate):
    z = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, requires_grad=True)
    ours = lambda z, w, b: MF.linear(MF.gelu(z, approximate), w, b)  # noqa: E731
    theirs = lambda z, w, b: F.linear(F.gelu(z, approximate=approximate), w, b)  # noqa: E731
    dy = torch.randn(5, 3, dtype=torch.float64)
    got = torch.autograd.grad(ours(z, w, b), (z, w, b), dy)
    want = torch.autograd.grad(theirs(z, w, b), (z, w, b), dy)
    for g, h in zip(got, want):
        torch.testing.assert_close(g, h)
    assert torch.autograd.gradcheck(ours, (z, w, b))
    assert torch.autograd.gradgradcheck(ours, (z, w, b))


def test_the_linear_saves_the_gelu_input_not_its_output():
    z = torch.randn(64, 32, requires_grad=True)
    w = torch.randn(16, 32, requires_grad=True)
    a = MF.gelu(z)
    nbytes, _ = saved_bytes(MF.linear, a, w)
    assert nbytes == w.nbytes + z.nbytes  # z's storage, not a fresh one for a
    a2 = MF.gelu(z)
    with torch.no_grad():
        a2.mul_(1.0)  # an in-place change voids the tag: a2 itself must be saved
    nbytes, _ = saved_bytes(MF.linear, a2, w)
    assert nbytes == w.nbytes + a2.nbytes


def test_inplace_change_before_the_linear_is_seen():
    z = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    dy = torch.randn(6, 3, dtype=torch.float64)
    a = MF.gelu(z * 1)
    a.mul_(3)
    got = torch.autograd.grad(MF.linear(a, w), (z, w), dy)
    ref = F.gelu(z * 1)
    ref.mul_(3)
    want = torch.autograd.grad(F.linear(ref, w), (z, w), dy)
    for g, h in zip(got, want):
        torch.testing.assert_close(g, h)


def test_no_tag_without_grad():
    with torch.no_grad():
        a = MF.gelu(torch.randn(3, requires_grad=True))
    assert "_mg_recompute" not in a.__dict__


def test_gelu_mlp_saves_at_most_three_quarters_of_torch():
    model = nn.Sequential(nn.Linear(64, 128), nn.GELU(), nn.Linear(128, 128), nn.GELU(approximate="tanh"),
                          nn.Linear(128, 10))
    report = memory_report(model, torch.randn(512, 64))  # activations dominate, as in training
    assert report.manual <= 0.75 * report.torch, str(report)
