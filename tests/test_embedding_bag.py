"""embedding_bag beyond the op table: the module twin, scale_grad_by_freq against the documented
semantics (torch 2.13's CPU backward divides by the wrong counts: pytorch#190063), sparse
gradients, double backward, what the backward saves."""

import pytest
import torch
import torch.nn.functional as F

import manualgrad.functional as MF
import manualgrad.nn as mnn
from conftest import saved_bytes

IDX = torch.tensor([1, 4, 1, 6, 0, 2, 2, 5])
OFFSETS = torch.tensor([0, 3, 3, 6])


def _reference(idx, w, offsets, mode, scale_grad_by_freq):
    """embedding_bag as torch ops autograd differentiates: F.embedding's rows (its
    scale_grad_by_freq is right), summed per bag (and divided by the bag size for the mean)."""
    rows = F.embedding(idx, w, scale_grad_by_freq=scale_grad_by_freq)
    bag = torch.searchsorted(offsets, torch.arange(idx.numel()), right=True) - 1
    out = rows.new_zeros(offsets.numel(), w.shape[1]).index_add(0, bag, rows)
    if mode == "mean":
        size = torch.zeros(offsets.numel(), dtype=w.dtype).index_add(0, bag, torch.ones(idx.numel(), dtype=w.dtype))
        out = out / size.clamp(min=1).unsqueeze(1)
    return out


@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_scale_grad_by_freq_divides_by_each_index_count(mode):
    w = torch.randn(7, 3, dtype=torch.float64, requires_grad=True)
    a = MF.embedding_bag(IDX, w, OFFSETS, mode=mode, scale_grad_by_freq=True)
    b = _reference(IDX, w, OFFSETS, mode, True)
    torch.testing.assert_close(a, b)
    dy = torch.randn_like(a)
    expected = torch.autograd.grad(b, w, dy)[0]
    torch.testing.assert_close(torch.autograd.grad(a, w, dy)[0], expected)
    theirs = torch.autograd.grad(F.embedding_bag(IDX, w, OFFSETS, mode=mode, scale_grad_by_freq=True), w, dy)[0]
    assert not torch.allclose(theirs, expected)  # torch 2.13's CPU bug: when this fails, torch is fixed


@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_sparse_gradient_equals_torchs(mode):
    w = torch.randn(7, 3, dtype=torch.float64, requires_grad=True)
    a, b = (fn(IDX, w, OFFSETS, mode=mode, sparse=True) for fn in (MF.embedding_bag, F.embedding_bag))
    dy = torch.randn_like(a)
    ga, gb = torch.autograd.grad(a, w, dy)[0], torch.autograd.grad(b, w, dy)[0]
    assert ga.is_sparse and gb.is_sparse
    torch.testing.assert_close(ga.to_dense(), gb.to_dense())


@pytest.mark.parametrize("kwargs", [{"mode": "sum", "scale_grad_by_freq": True}, {"mode": "max"},
                                    {"mode": "sum", "padding_idx": 2}])
def test_double_backward(kwargs):
    w = torch.randn(7, 3, dtype=torch.float64, requires_grad=True)
    psw = torch.randn(8, dtype=torch.float64, requires_grad=True) if kwargs["mode"] == "sum" else None
    inputs = (w,) if psw is None else (w, psw)
    torch.autograd.gradgradcheck(lambda *t: MF.embedding_bag(IDX, t[0], OFFSETS, per_sample_weights=t[1] if len(t) > 1
                                                             else None, **kwargs), inputs)


def test_module_is_torchs_twin():
    torch.manual_seed(0)
    ours = mnn.EmbeddingBag(7, 3, mode="max", padding_idx=1)
    torch.manual_seed(0)
    theirs = torch.nn.EmbeddingBag(7, 3, mode="max", padding_idx=1)
    assert repr(ours) == repr(theirs) and torch.equal(ours.weight, theirs.weight)
    a, b = ours(IDX, OFFSETS), theirs(IDX, OFFSETS)
    torch.testing.assert_close(a, b)
    assert type(a.grad_fn).__name__ == "EmbeddingBagFunctionBackward"
    dy = torch.randn_like(a)
    torch.testing.assert_close(torch.autograd.grad(a, ours.weight, dy)[0], torch.autograd.grad(b, theirs.weight, dy)[0])
    pretrained = mnn.EmbeddingBag.from_pretrained(theirs.weight.detach())
    assert type(pretrained) is mnn.EmbeddingBag


def test_sum_saves_no_more_than_torch():
    w = torch.randn(1000, 64, requires_grad=True)
    idx, offsets = torch.randint(0, 1000, (4096,)), torch.arange(0, 4096, 16)
    ours, _, _ = saved_bytes(lambda: MF.embedding_bag(idx, w, offsets, mode="sum"))
    theirs, _, _ = saved_bytes(lambda: F.embedding_bag(idx, w, offsets, mode="sum"))
    assert ours <= theirs
