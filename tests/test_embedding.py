"""Embedding: the module twin, what the gradient of each option is, max_norm's in-place renorm,
sparse gradients, the out-of-range error, double backward and the saved bytes."""

import pytest
import torch
import torch.nn.functional as F

import manualgrad.functional as MF
import manualgrad.nn as mnn
from conftest import DEVICES
from manualgrad import ops, verify
from conftest import saved_bytes

MODULE_KWARGS = [{}, dict(padding_idx=2), dict(padding_idx=-1, max_norm=1.0, norm_type=1.0),
                 dict(scale_grad_by_freq=True), dict(sparse=True)]


@pytest.mark.parametrize("kwargs", MODULE_KWARGS, ids=repr)
def test_same_init_state_dict_and_repr_as_torch(kwargs):
    torch.manual_seed(3)
    ours = mnn.Embedding(7, 3, dtype=torch.float64, **kwargs)
    torch.manual_seed(3)
    theirs = torch.nn.Embedding(7, 3, dtype=torch.float64, **kwargs)
    assert repr(ours) == repr(theirs) and ours.padding_idx == theirs.padding_idx
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    torch.testing.assert_close(ours.weight, theirs.weight, rtol=0, atol=0)  # padding row zeroed too


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kwargs", MODULE_KWARGS[:4], ids=repr)
def test_module_forward_backward_and_renorm_equal_torch(kwargs, device):
    theirs = torch.nn.Embedding(7, 3, device=device, dtype=torch.float64, **kwargs)
    ours = mnn.Embedding(7, 3, device=device, dtype=torch.float64, **kwargs)
    ours.load_state_dict(theirs.state_dict())
    idx = torch.tensor([[1, 6, 1], [2, 1, 0]], device=device)
    a, b = ours(idx), theirs(idx)
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(ours.weight, theirs.weight)  # max_norm rewrote both the same way
    dy = torch.randn_like(a)
    torch.testing.assert_close(*(torch.autograd.grad(y, m.weight, dy)[0] for y, m in ((a, ours), (b, theirs))))


@pytest.mark.parametrize("freeze", [True, False])
def test_from_pretrained_builds_our_class(freeze):
    table = torch.randn(5, 4)
    ours = mnn.Embedding.from_pretrained(table, freeze=freeze, padding_idx=-2, max_norm=2.0)
    theirs = torch.nn.Embedding.from_pretrained(table, freeze=freeze, padding_idx=-2, max_norm=2.0)
    assert type(ours) is mnn.Embedding and repr(ours) == repr(theirs)
    assert ours.weight.requires_grad is not freeze and ours.padding_idx == 3
    idx = torch.tensor([0, 3, 4])
    torch.testing.assert_close(ours(idx), theirs(idx))
    assert ours(idx).grad_fn is None if freeze else type(ours(idx).grad_fn).__name__ == "EmbeddingFunctionBackward"


def _grad(idx, w, dy, **kwargs):
    return torch.autograd.grad(MF.embedding(idx, w, **kwargs), w, dy)[0]


@pytest.mark.parametrize("device", DEVICES)
def test_repeated_indices_accumulate_and_padding_row_gets_zero(device):
    w = torch.randn(5, 2, device=device, dtype=torch.float64, requires_grad=True)
    idx = torch.tensor([[3, 1, 3], [3, 0, 1]], device=device)
    dy = torch.randn(2, 3, 2, device=device, dtype=torch.float64)
    want = torch.zeros(5, 2, device=device, dtype=torch.float64)
    for k, j in enumerate(idx.flatten().tolist()):
        want[j] += dy.reshape(6, 2)[k]
    torch.testing.assert_close(_grad(idx, w, dy), want)
    padded = want.clone()
    padded[3] = 0
    torch.testing.assert_close(_grad(idx, w, dy, padding_idx=3), padded)
    torch.testing.assert_close(_grad(idx, w, dy, padding_idx=-2), padded)
    scaled = want / torch.tensor([1, 2, 1, 3, 1], device=device, dtype=torch.float64).unsqueeze(1)
    torch.testing.assert_close(_grad(idx, w, dy, scale_grad_by_freq=True), scaled)


@pytest.mark.parametrize("device", DEVICES)
def test_low_precision_gradient_is_summed_in_float32_and_rounded_once(device):
    bf16 = dict(device=device, dtype=torch.bfloat16)
    w = torch.zeros(2, 64, **bf16, requires_grad=True)
    idx = torch.zeros(300, dtype=torch.long, device=device)
    g = _grad(idx, w, torch.ones(300, 64, **bf16))
    assert g.dtype == torch.bfloat16 and (g[0] == 300).all()  # bf16 adds would stop at 256 + 1 = 256
    dy = torch.rand(3, 64, **bf16)
    g = _grad(idx[:3], w, dy, scale_grad_by_freq=True)
    once = (dy.float() / 3).sum(0).bfloat16()
    thirds_rounded = (dy / 3).float().sum(0).bfloat16()
    assert torch.equal(g[0], once) and not torch.equal(g[0], thirds_rounded)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("max_norm,norm_type", [(1.0, 2.0), (0.5, 1.0), (0.8, float("inf"))])
def test_max_norm_renormalises_referenced_rows_in_place_like_torch(device, max_norm, norm_type):
    w = torch.randn(7, 3, device=device, dtype=torch.float64) * 2
    ours, theirs = w.clone().requires_grad_(), w.clone().requires_grad_()
    idx = torch.tensor([[1, 4, 1], [6, 1, 0]], device=device)
    version = ours._version
    torch.testing.assert_close(MF.embedding(idx, ours, max_norm=max_norm, norm_type=norm_type),
                               F.embedding(idx, theirs, max_norm=max_norm, norm_type=norm_type))
    assert ours._version > version
    torch.testing.assert_close(ours, theirs, rtol=0, atol=0)
    looked_up = torch.tensor([0, 1, 4, 6], device=device)
    assert (ours.detach()[looked_up].norm(p=norm_type, dim=1) <= max_norm).all()
    untouched = torch.tensor([2, 3, 5], device=device)
    assert torch.equal(ours.detach()[untouched], w[untouched]) and not torch.equal(ours.detach(), w)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kwargs", [{}, dict(padding_idx=1)], ids=repr)
def test_sparse_gradient_equals_torchs(device, kwargs):
    w = torch.randn(7, 3, device=device, dtype=torch.float64, requires_grad=True)
    idx = torch.tensor([[1, 4, 1], [6, 1, 0]], device=device)
    dy = torch.randn(2, 3, 3, device=device, dtype=torch.float64)
    ours = torch.autograd.grad(MF.embedding(idx, w, sparse=True, **kwargs), w, dy)[0]
    theirs = torch.autograd.grad(F.embedding(idx, w, sparse=True, **kwargs), w, dy)[0]
    assert ours.layout == torch.sparse_coo and (ours.dtype, ours.shape) == (w.dtype, w.shape)
    assert torch.equal(ours._indices(), theirs._indices())  # the same uncoalesced entries
    torch.testing.assert_close(ours._values(), theirs._values())
    torch.testing.assert_close(ours.to_dense(), _grad(idx, w, dy, **kwargs))


def test_sparse_gradient_of_empty_input_and_with_scale_grad_by_freq():
    w = torch.randn(7, 3, requires_grad=True)
    empty = torch.autograd.grad(MF.embedding(torch.zeros(0, dtype=torch.long), w, sparse=True).sum(), w)[0]
    assert empty.layout == torch.sparse_coo and empty._nnz() == 0 and empty.shape == w.shape
    idx, dy = torch.tensor([1, 1, 2]), torch.randn(3, 3)
    # torch raises "scale_grad_by_freq not supported with sparse gradients"; ours scales the entries
    g = torch.autograd.grad(MF.embedding(idx, w, scale_grad_by_freq=True, sparse=True), w, dy)[0]
    torch.testing.assert_close(g.to_dense(), _grad(idx, w, dy, scale_grad_by_freq=True))


def test_sgd_step_with_sparse_module():
    ours, theirs = mnn.Embedding(7, 3, sparse=True), torch.nn.Embedding(7, 3, sparse=True)
    ours.load_state_dict(theirs.state_dict())
    idx = torch.tensor([[1, 4, 1]])
    for m in (ours, theirs):
        m(idx).square().sum().backward()
        torch.optim.SGD(m.parameters(), lr=0.1).step()
    torch.testing.assert_close(ours.weight, theirs.weight)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("idx", [torch.tensor([[0, 7]]), torch.tensor(-1), torch.tensor([3, -8], dtype=torch.int32)],
                         ids=["7", "-1", "-8"])
def test_out_of_range_index_names_index_and_range_on_every_device(device, idx):
    w = torch.randn(7, 3, device=device)
    bad = idx.min().item() if idx.min() < 0 else idx.max().item()
    with pytest.raises(IndexError, match=rf"index out of range in self: embedding index {bad} is outside \[0, 7\)"):
        MF.embedding(idx.to(device), w)


def test_range_check_is_skipped_while_compiling(monkeypatch):
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)
    monkeypatch.setattr(torch, "aminmax", None)  # the host-synchronising check would call it
    torch.testing.assert_close(MF.embedding(torch.tensor([1, 2]), torch.eye(3)), torch.eye(3)[1:])


def _no_gradcheck_samples():
    spec = ops.get("embedding")
    return [pytest.param(s, id=s.name) for s in spec.samples("cpu", torch.float64) if not s.gradcheck]


@pytest.mark.parametrize("sample", _no_gradcheck_samples())
def test_gradgradcheck_where_the_gradient_is_not_the_derivative(sample):
    """padding_idx, scale_grad_by_freq and max_norm give a gradient that is not the derivative
    of the forward (so no gradcheck), but the backward is linear in dy and differentiable."""
    f, inputs = verify.as_function_of_grad_inputs(ops.get("embedding").op, sample, None)
    assert torch.autograd.gradgradcheck(f, inputs)


def test_double_backward_divides_by_the_counts_where_torchs_does_not():
    w = torch.randn(7, 3, dtype=torch.float64, requires_grad=True)
    idx = torch.tensor([1, 1, 2, 3])
    dy = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    ddw = torch.randn(7, 3, dtype=torch.float64)

    def ddy(fn, **kwargs):
        g = torch.autograd.grad(fn(idx, w, **kwargs), w, dy, create_graph=True)[0]
        return torch.autograd.grad(g, dy, ddw)[0]

    torch.testing.assert_close(ddy(MF.embedding, padding_idx=2), ddy(F.embedding, padding_idx=2))
    counts = torch.tensor([2.0, 2.0, 1.0, 1.0], dtype=torch.float64).unsqueeze(1)
    torch.testing.assert_close(ddy(MF.embedding, scale_grad_by_freq=True), ddw[idx] / counts)
    torch.testing.assert_close(ddy(F.embedding, scale_grad_by_freq=True), ddw[idx])  # torch: unscaled


def test_saves_only_the_indices_and_no_more_than_torch():
    idx = torch.randint(0, 50, (8, 16))
    w = torch.randn(50, 32, requires_grad=True)
    nbytes, count, _ = saved_bytes(lambda: MF.embedding(idx, w, padding_idx=0, scale_grad_by_freq=True))
    assert count == 1 and nbytes == idx.numel() * 8
    theirs, _, _ = saved_bytes(lambda: F.embedding(idx, w, padding_idx=0, scale_grad_by_freq=True))
    assert nbytes <= theirs
    w.requires_grad_(False)
    assert saved_bytes(lambda: MF.embedding(idx, w))[:2] == (0, 0)
