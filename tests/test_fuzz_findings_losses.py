"""What the differential fuzzer (tests/test_fuzz.py) found in the losses where torch is wrong or raises
and ours is right, pinned against float64 composites differentiated by autograd (docs/ops.md,
"Deliberate differences"; tests/fuzz/deviations_losses.py). The fuzzer's reproducers:
tests/test_fuzz_findings.py."""

import pytest
import torch
import torch.nn.functional as F

import manualgrad.functional as MF
from conftest import grads, leaf


def test_nll_loss_on_a_transposed_4d_input():
    """torch's backward raises ("grad_input must be contiguous"); ours equals −mean(x[target])."""
    torch.manual_seed(2)
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64).transpose(2, 3)  # (2, 3, 5, 4), not contiguous
    t, dy = torch.randint(0, 3, (2, 5, 4)), torch.tensor(1.5, dtype=torch.float64)
    assert not leaf(x).is_contiguous()  # the leaf keeps x's strides
    with pytest.raises(RuntimeError, match="grad_input must be contiguous"):
        grads(lambda x: F.nll_loss(x, t), (leaf(x),), dy)
    (ours,) = grads(lambda x: MF.nll_loss(x, t), (leaf(x),), dy)
    (want,) = grads(lambda x: -x.gather(1, t.unsqueeze(1)).mean(), (leaf(x),), dy)
    torch.testing.assert_close(ours, want)


@pytest.mark.parametrize("target_dtype", [torch.float64, torch.int64], ids=str)
def test_huber_loss_with_a_target_of_another_dtype(target_dtype):
    """torch's forward promotes, its backward raises ("Found dtype ... but expected Float"); ours
    equals the float64 composite, in the input's dtype."""
    x = torch.tensor([0.25, -3.0, 1.5, 0.0])
    t = torch.tensor([1.0, 0.0, -2.0, 0.5]).to(target_dtype)
    dy = torch.tensor(0.75, dtype=torch.promote_types(x.dtype, target_dtype))
    with pytest.raises(RuntimeError, match="Found dtype"):
        grads(lambda x: F.huber_loss(x, t), (leaf(x),), dy)
    (ours,) = grads(lambda x: MF.huber_loss(x, t), (leaf(x),), dy)

    def huber64(x, delta=1.0):
        d = x - t.double()
        return torch.where(d.abs() < delta, 0.5 * d * d, delta * (d.abs() - 0.5 * delta)).mean()
    (want,) = grads(huber64, (leaf(x.double()),), dy.double())
    assert ours.dtype == x.dtype
    torch.testing.assert_close(ours, want.float())


@pytest.mark.parametrize("loss", ["nll_loss", "cross_entropy"])
def test_an_empty_spatial_input_with_a_byte_target_has_an_empty_gradient(loss):
    """torch's forward takes it ('mean': NaN), its backward raises ("expected scalar type Long
    but found Byte"); ours' gradient is that of a sum over nothing: empty, x's shape."""
    x, t = torch.zeros(3, 4, 4, 0, dtype=torch.float64), torch.zeros(3, 4, 0, dtype=torch.uint8)
    with pytest.raises(RuntimeError, match="expected scalar type Long but found Byte"):
        grads(lambda x: getattr(F, loss)(x, t), (leaf(x),), torch.tensor(1.0, dtype=torch.float64))
    (ours,) = grads(lambda x: getattr(MF, loss)(x, t), (leaf(x),), torch.tensor(1.0, dtype=torch.float64))
    assert ours.shape == x.shape and ours.dtype == x.dtype


@pytest.mark.parametrize("dtype", [torch.int64, torch.float64], ids=str)
def test_linear_cross_entropy_refuses_a_bias_of_another_dtype_for_a_1d_input_too(dtype):
    """torch's F.linear (which its linear_cross_entropy calls) refuses a bias of another dtype,
    except for a 1-d input where the input or the bias is not contiguous (a layout-dependent
    accident of its matmul-and-add path, ours' linear follows it); ours' fused
    linear_cross_entropy refuses it always."""
    x, w, t = torch.randn(2), torch.randn(2, 2), torch.tensor(1)
    bias = torch.tensor([1, 5, 2, 7], dtype=dtype)[::2]
    for xi, b in ((x, bias), (torch.randn(1).expand(2), bias.contiguous())):
        F.linear_cross_entropy(xi, w, t, linear_bias=b)  # torch returns
        assert F.linear(xi, w, b).dtype == MF.linear(xi, w, b).dtype == torch.float32
    with pytest.raises(RuntimeError, match="same dtype"):
        F.linear_cross_entropy(x, w, t, linear_bias=bias.contiguous())
    for xi in (x, torch.randn(1).expand(2)):
        for b in (bias, bias.contiguous()):
            with pytest.raises(RuntimeError, match="same dtype"):
                MF.linear_cross_entropy(xi, w, t, linear_bias=b)
