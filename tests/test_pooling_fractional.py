"""FractionalMaxPool2d/3d: a seeded module (or functional call without ``_random_samples``)
places its windows where torch's does; indices, values and gradients equal torch's; only the
indices are saved; swap turns torch's module into ours."""

import copy

import pytest
import torch
import torch.nn.functional as F

import manualgrad as mg
import manualgrad.functional as MF
import manualgrad.nn as mnn

SHAPES = {2: (2, 3, 9, 8), 3: (2, 3, 7, 8, 6)}


@pytest.mark.parametrize("nd", [2, 3])
@pytest.mark.parametrize("kwargs", [{"output_size": 3}, {"output_ratio": 0.5}])
def test_seeded_module_equals_torchs(nd, kwargs):
    theirs = getattr(torch.nn, f"FractionalMaxPool{nd}d")(2, return_indices=True, **kwargs)
    ours = getattr(mnn, f"FractionalMaxPool{nd}d")(2, return_indices=True, **kwargs)
    assert repr(ours) == repr(theirs) and ours.state_dict() == {}
    x = torch.randn(*SHAPES[nd], requires_grad=True)
    torch.manual_seed(3)
    y, idx = ours(x)
    torch.manual_seed(3)
    y_ref, idx_ref = theirs(x)
    assert torch.equal(y, y_ref) and torch.equal(idx, idx_ref)
    assert type(y.grad_fn).__name__ == "FractionalMaxPoolFunctionBackward"
    dy = torch.randn_like(y)
    assert torch.equal(torch.autograd.grad(y, x, dy)[0], torch.autograd.grad(y_ref, x, dy)[0])


@pytest.mark.parametrize("nd", [2, 3])
def test_saves_only_the_indices(nd):
    x = torch.randn(*SHAPES[nd], requires_grad=True)
    y = getattr(MF, f"fractional_max_pool{nd}d")(x, 2, output_size=3)
    saved = y.grad_fn.saved_tensors
    assert len(saved) == 1 and saved[0].dtype == torch.int64


def test_swap_turns_torchs_module_into_ours():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 3, 1), torch.nn.FractionalMaxPool2d(2, output_ratio=(0.5, 0.5)))
    ref = copy.deepcopy(model)
    mg.swap(model)
    assert type(model[1]) is mnn.FractionalMaxPool2d
    x = torch.randn(2, 3, 8, 8)
    torch.manual_seed(0)
    y = model(x)
    torch.manual_seed(0)
    torch.testing.assert_close(y, ref(x))  # the same samples; ours' 1×1 conv sums in another order (a matmul)


def test_fixed_samples_in_the_module_are_used():
    u = torch.rand(1, 2, 2)
    x = torch.randn(1, 2, 9, 9)
    ours = mnn.FractionalMaxPool2d(3, output_size=4, _random_samples=u)
    assert torch.equal(ours(x), F.fractional_max_pool2d(x, 3, output_size=4, _random_samples=u))
