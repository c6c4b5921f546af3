"""Recomputable activations (functions/_recompute.py): a Linear after GELU saves GELU's input, not
its output, and recomputes the output in backward; gradients, double backward and in-place
semantics stay exact, and the GELU MLP saves ≤ 0.75× torch's bytes."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import manualgrad.functional as MF
from manualgrad.functions.batch_norm import BatchNormFunction
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


def test_batchnorm_relu_conv_chain_gradients_and_double_backward():
    x = torch.randn(4, 3, 5, 5, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, requires_grad=True)
    k = torch.randn(2, 3, 3, 3, dtype=torch.float64, requires_grad=True)

    def ours(x, w, b, k):
        return MF.conv2d(MF.relu(MF.batch_norm(x, None, None, w, b, training=True)), k, padding=1)

    def theirs(x, w, b, k):
        return F.conv2d(F.relu(F.batch_norm(x, None, None, w, b, training=True)), k, padding=1)

    dy = torch.randn(4, 2, 5, 5, dtype=torch.float64)
    got = torch.autograd.grad(ours(x, w, b, k), (x, w, b, k), dy)
    want = torch.autograd.grad(theirs(x, w, b, k), (x, w, b, k), dy)
    for g, h in zip(got, want):
        torch.testing.assert_close(g, h)
    small = [t[:2, :2, :3, :3].detach().clone().requires_grad_() if t.dim() == 4 else t[:2].detach().clone().requires_grad_()
             for t in (x, w, b)] + [k[:, :2].detach().clone().requires_grad_()]
    assert torch.autograd.gradcheck(ours, small)
    assert torch.autograd.gradgradcheck(ours, small)


def test_relu_after_batchnorm_saves_no_activation_of_its_own():
    x = torch.randn(8, 4, 6, 6, requires_grad=True)
    z = MF.batch_norm(x, None, None, torch.ones(4, requires_grad=True), torch.zeros(4), training=True)
    nbytes, y = saved_bytes(MF.relu, z)
    assert nbytes == x.nbytes + 2 * 4 * 4  # BatchNorm's x and its μ, rstd: kept anyway
    torch.testing.assert_close(y, F.relu(z))


def test_batchnorm_affine_recompute_function():
    from manualgrad.functions.batch_norm import BatchNormAffineFunction
    x = torch.randn(3, 2, 4, dtype=torch.float64, requires_grad=True)
    mean = torch.randn(1, 2, 1, dtype=torch.float64, requires_grad=True)
    rstd = torch.rand(1, 2, 1, dtype=torch.float64).add(0.5).requires_grad_()
    w = torch.randn(2, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, dtype=torch.float64, requires_grad=True)
    ref = (x - mean) * rstd * w.view(1, 2, 1) + b.view(1, 2, 1)
    torch.testing.assert_close(BatchNormAffineFunction.apply(x, mean, rstd, w, b), ref)
    assert torch.autograd.gradcheck(BatchNormAffineFunction.apply, (x, mean, rstd, w, b))
    assert torch.autograd.gradgradcheck(BatchNormAffineFunction.apply, (x, mean, rstd, w, b))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16], ids=str)
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm_recomputation_reproduces_the_forward_bit_for_bit(dtype, layout, affine):
    """The layers after a BatchNorm read its output recomputed from (x, μ, rstd): a ReLU's mask
    from the recomputed z, so any bit that differs from the forward's z can flip it where z is
    near 0 (a gradient of dy where torch's is 0). Both run torch's kernel (float32/64 on CPU) or
    our own ops (elsewhere) alike."""
    from manualgrad.functions.batch_norm import batch_norm_again
    x = torch.randn(8, 6, 5, 5, dtype=dtype).mul_(3).add_(2)
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    w, b = (torch.randn(6, dtype=dtype), torch.randn(6, dtype=dtype)) if affine else (None, None)
    y, mean, rstd = BatchNormFunction.apply(x, None, None, w, b, True, 0.1, 1e-5)
    assert torch.equal(batch_norm_again(w, b)(x, mean, rstd), y)


def test_conv_bn_relu_net_saves_at_most_three_quarters_of_torch():
    from manualgrad import bench
    report = memory_report(bench._resnet(), torch.randn(8, 3, 16, 16))
    assert report.manual <= 0.75 * report.torch, str(report)
