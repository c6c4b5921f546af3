"""Dropout: torch's CPU mask under the same seed, a 1-bit mask, the module twin."""

import pytest
import torch
import torch.nn.functional as F

import manualgrad.functional as MF
import manualgrad.nn as mnn
from manualgrad.functions.dropout import pack_bits, unpack_bits
from conftest import saved_bytes


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 64, 1001])
def test_bit_packing_round_trips(n):
    mask = torch.rand(n) < 0.5
    packed = pack_bits(mask)
    assert packed.dtype == torch.uint8 and packed.numel() == (n + 7) // 8
    assert torch.equal(unpack_bits(packed, mask.shape), mask)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16], ids=str)
@pytest.mark.parametrize("p", [0.1, 0.2, 0.3, 0.5, 0.75])  # 1/(1 − p) inexact for 0.1 and 0.3: its rounding shows
def test_cpu_equals_torch_dropout_under_the_same_seed(p, dtype):
    x = torch.randn(10, 33, dtype=dtype, requires_grad=True)
    dy = torch.randn(10, 33, dtype=dtype)
    torch.manual_seed(5)
    ours = MF.dropout(x, p)
    torch.manual_seed(5)
    theirs = F.dropout(x, p)
    assert torch.equal(ours, theirs)
    assert torch.equal(*(torch.autograd.grad(y, x, dy)[0] for y in (ours, theirs)))


def test_mask_is_saved_as_one_bit_per_element():
    x = torch.randn(100, 64, requires_grad=True)
    nbytes, count, _ = saved_bytes(lambda: MF.dropout(x, 0.3))
    assert count == 1 and nbytes == x.numel() // 8
    torch_bytes, _, _ = saved_bytes(lambda: F.dropout(x, 0.3))
    assert nbytes * 4 <= torch_bytes


def test_drop_rate_is_p():
    x = torch.ones(200_000)
    y = MF.dropout(x, 0.3)
    assert abs((y == 0).float().mean().item() - 0.3) < 0.01
    assert torch.allclose(y[y != 0], torch.tensor(1 / 0.7))


def test_inplace_overwrites_input_and_differentiates():
    leaf = torch.randn(5, 6, requires_grad=True)
    x = leaf.clone()
    version = x._version
    y = MF.dropout(x, 0.5, inplace=True)
    assert y is x and x._version > version
    (g,) = torch.autograd.grad(y, leaf, torch.ones_like(y))
    assert torch.equal(g, (y != 0).to(g.dtype) * 2)


@pytest.mark.parametrize("view", ["flatten", "slice"])
def test_inplace_on_a_view_differentiates_through_its_base_like_torch(view):
    """EfficientNet's classifier: ``Dropout(0.2, inplace=True)`` right after ``flatten``; same
    mask as torch under the same seed, the base and the gradient reaching the leaf equal torch's."""
    leaf = torch.randn(4, 3, 2, requires_grad=True)
    w = torch.randn(4, 3, 2)
    results = []
    for f in (MF, F):
        base = leaf * 1.5
        x = base.flatten(1) if view == "flatten" else base[:, 1:]
        torch.manual_seed(3)
        y = f.dropout(x, 0.2, True, inplace=True)
        loss = (base * w).sum() + y.square().sum()
        results.append((base, y, torch.autograd.grad(loss, leaf)[0]))
    for a, b in zip(*results):
        torch.testing.assert_close(a, b)


def test_module_twin():
    ours, theirs = mnn.Dropout(0.25), torch.nn.Dropout(0.25)
    assert repr(ours) == repr(theirs) and ours.state_dict() == theirs.state_dict() == {}
    x = torch.randn(4, 5)
    assert ours.eval()(x) is x
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        mnn.Dropout(1.5)


@pytest.mark.parametrize("dtype", [torch.int64, torch.uint8, torch.bool], ids=str)
@pytest.mark.parametrize("inplace", [False, True])
def test_an_integer_input_raises_as_torch_where_kept_entries_would_scale(dtype, inplace):
    """torch scales the kept entries by 1/(1 − p) in the input's dtype: a float result it cannot
    cast back raises for 0 < p < 1 (ours returned a float tensor); p = 1 gives zeros of the dtype.
    Found by the fuzzer's long profile."""
    x = torch.ones(5, dtype=dtype)
    for fn in (F.dropout, MF.dropout):
        with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type"):
            fn(x.clone(), 0.5, True, inplace)
    assert torch.equal(MF.dropout(x.clone(), 1.0, True, inplace), F.dropout(x.clone(), 1.0, True, inplace))


FEATURE_AND_ALPHA = [("dropout1d", (2, 3, 5)), ("dropout1d", (3, 5)), ("dropout2d", (2, 3, 4, 2)),
                     ("dropout3d", (2, 3, 2, 2, 2)), ("dropout3d", (3, 2, 2, 2)), ("alpha_dropout", (4, 5)),
                     ("alpha_dropout", (2, 3, 4, 2)), ("feature_alpha_dropout", (2, 3, 4))]


@pytest.mark.parametrize("inplace", [False, True])
@pytest.mark.parametrize("name,shape", FEATURE_AND_ALPHA, ids=[f"{n}-{len(s)}d" for n, s in FEATURE_AND_ALPHA])
def test_feature_and_alpha_dropout_draw_what_torch_draws(name, shape, inplace):
    """On CPU the same seed gives torch's mask, output, gradient and generator state afterwards."""
    base = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    results = []
    for fn in (getattr(F, name), getattr(MF, name)):
        x = base.clone()
        torch.manual_seed(5)
        y = fn(x, 0.4, True, inplace)
        results.append((y, torch.get_rng_state(), torch.autograd.grad(y, base, torch.ones_like(y))[0]))
    (a, sa, ga), (b, sb, gb) = results
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(ga, gb)
    assert torch.equal(sa, sb)


@pytest.mark.parametrize("name", ["Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"])
def test_feature_and_alpha_modules_are_torchs_twins(name):
    ours, theirs = getattr(mnn, name)(0.3), getattr(torch.nn, name)(0.3)
    assert repr(ours) == repr(theirs)
    x = torch.randn(2, 3, 4, 2, 2 if "3d" in name else 1).squeeze(-1).requires_grad_() if "1d" not in name else \
        torch.randn(2, 3, 4, requires_grad=True)
    for train in (True, False):
        ours.train(train), theirs.train(train)
        torch.manual_seed(1)
        a = ours(x)
        torch.manual_seed(1)
        torch.testing.assert_close(a, theirs(x))
