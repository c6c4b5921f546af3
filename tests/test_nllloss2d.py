"""NLLLoss2d, torch's deprecated alias of NLLLoss: the same warning on construction, NLLLoss's
hand-derived forward and backward, torch's values and gradients."""

import pytest
import torch

import manualgrad as mg
import manualgrad.nn as mnn


def test_nllloss2d_warns_and_equals_torchs():
    with pytest.warns(FutureWarning, match="NLLLoss2d` has been deprecated"):
        ours = mnn.NLLLoss2d(torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64), ignore_index=1)
    with pytest.warns(FutureWarning):
        theirs = torch.nn.NLLLoss2d(torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64), ignore_index=1)
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64, requires_grad=True)
    t = torch.randint(3, (2, 4, 5))
    y, y_ref = ours(x, t), theirs(x, t)
    assert type(y.grad_fn).__name__ == "NLLLossFunctionBackward"
    torch.testing.assert_close(y, y_ref)
    torch.testing.assert_close(torch.autograd.grad(y, x)[0], torch.autograd.grad(y_ref, x)[0])
    assert ours.state_dict().keys() == theirs.state_dict().keys()


def test_swap_turns_nllloss2d_into_ours():
    with pytest.warns(FutureWarning):
        model = torch.nn.Sequential(torch.nn.NLLLoss2d())
    mg.swap(model)  # changes the class in place: no construction, no second warning
    assert type(model[0]) is mnn.NLLLoss2d
