"""Linear: the module is torch.nn.Linear's twin; the backward saves only what it reads."""

import pytest
import torch

import manualgrad.functional as MF
import manualgrad.nn as mnn
from conftest import DEVICES, assert_module_matches, saved_bytes


@pytest.mark.parametrize("bias", [True, False])
def test_same_init_state_dict_and_repr_as_torch(bias):
    torch.manual_seed(3)
    ours = mnn.Linear(7, 5, bias=bias, dtype=torch.float64)
    torch.manual_seed(3)
    theirs = torch.nn.Linear(7, 5, bias=bias, dtype=torch.float64)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for (n, a), (m, b) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert n == m
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_state_dict_round_trips_with_torch():
    theirs = torch.nn.Linear(4, 3)
    ours = mnn.Linear(4, 3)
    ours.load_state_dict(theirs.state_dict())
    back = torch.nn.Linear(4, 3)
    back.load_state_dict(ours.state_dict())
    for k, v in theirs.state_dict().items():
        assert torch.equal(back.state_dict()[k], v)


@pytest.mark.parametrize("device", DEVICES)
def test_module_forward_backward_equal_torch(device):
    theirs = torch.nn.Linear(6, 4, device=device, dtype=torch.float64)
    ours = mnn.Linear(6, 4, device=device, dtype=torch.float64)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(2, 3, 6, device=device, dtype=torch.float64, requires_grad=True)
    dy = torch.randn(2, 3, 4, device=device, dtype=torch.float64)
    assert_module_matches(ours, theirs, x, dy)


def test_saves_only_what_each_gradient_reads():
    x = torch.randn(8, 6)
    w = torch.randn(4, 6, requires_grad=True)
    b = torch.randn(4, requires_grad=True)
    nbytes, count, _ = saved_bytes(lambda: MF.linear(x, w, b))
    assert count == 1 and nbytes == x.numel() * 4  # x (for dw); w is not needed: x needs no grad
    x.requires_grad_()
    w.requires_grad_(False)
    b.requires_grad_(False)
    nbytes, count, _ = saved_bytes(lambda: MF.linear(x, w, b))
    assert count == 1 and nbytes == w.numel() * 4  # w (for dx) only


def test_first_layer_saves_no_more_than_torch():
    x = torch.randn(16, 10)
    w = torch.randn(5, 10, requires_grad=True)
    ours, _, _ = saved_bytes(lambda: MF.linear(x, w))
    theirs, _, _ = saved_bytes(lambda: torch.nn.functional.linear(x, w))
    assert ours <= theirs


def test_bilinear_module_is_torchs_twin():
    torch.manual_seed(0)
    ours = mnn.Bilinear(3, 2, 4)
    torch.manual_seed(0)
    theirs = torch.nn.Bilinear(3, 2, 4)
    assert repr(ours) == repr(theirs) and all(torch.equal(a, b) for a, b in zip(ours.parameters(), theirs.parameters()))
    x1, x2 = torch.randn(5, 3, requires_grad=True), torch.randn(5, 2, requires_grad=True)
    a, b = ours(x1, x2), theirs(x1, x2)
    torch.testing.assert_close(a, b)
    assert type(a.grad_fn).__name__ == "BilinearFunctionBackward"
    dy = torch.randn_like(a)
    for g, h in zip(torch.autograd.grad(a, [x1, x2, *ours.parameters()], dy),
                    torch.autograd.grad(b, [x1, x2, *theirs.parameters()], dy)):
        torch.testing.assert_close(g, h)
