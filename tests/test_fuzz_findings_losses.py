"""What the differential fuzzer (tests/test_fuzz.py) found in the losses where torch is wrong or raises
and ours is right, pinned against float64 composites differentiated by autograd (docs/ops.md,
"Deliberate differences"; tests/fuzz/deviations_losses.py). The fuzzer's reproducers:
tests/test_fuzz_findings.py."""

import re

import pytest
import torch
import torch.nn.functional as F

import manualgrad.functional as MF
from conftest import grads, leaf
from fuzz import Case, T
from fuzz.compare import disagreements
from fuzz.ops import OPS


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


def test_ctc_loss_reads_strided_concatenated_targets_as_given():
    """torch's CPU kernel starts sample n's labels at memory offset Σ_{m<n} S_m, not times the
    stride: with targets [1, 2, 3] at stride 2 and lengths (2, 1) its sample 1 reads 2, not 3, in
    forward and backward. Ours equals torch's on the contiguous copy, also for the fuzzer's case
    (an infeasible sample with zero_infinity beside a feasible one), which it accepts as documented."""
    torch.manual_seed(0)
    x = torch.randn(6, 2, 5, dtype=torch.float64).log_softmax(-1)
    targets, il, tl = torch.tensor([1, 9, 2, 9, 3, 9])[::2], torch.tensor([6, 6]), torch.tensor([2, 1])
    dy = torch.tensor([0.5, -1.5], dtype=torch.float64)
    want = grads(lambda x: F.ctc_loss(x, targets.contiguous(), il, tl, reduction="none"), (leaf(x),), dy)
    wrong = grads(lambda x: F.ctc_loss(x, targets, il, tl, reduction="none"), (leaf(x),), dy)
    misread = grads(lambda x: F.ctc_loss(x, torch.tensor([1, 2, 2]), il, tl, reduction="none"), (leaf(x),), dy)
    torch.testing.assert_close(wrong, misread)  # torch's misreading, as described
    assert not torch.allclose(wrong[0], want[0])
    y = MF.ctc_loss(x, targets, il, tl, reduction="none")
    torch.testing.assert_close(y, F.ctc_loss(x, targets.contiguous(), il, tl, reduction="none"))
    torch.testing.assert_close(grads(lambda x: MF.ctc_loss(x, targets, il, tl, reduction="none"), (leaf(x),), dy),
                               want)
    case = Case('ctc_loss', (T((17, 2, 5), dtype='float64', layout='expanded', values='tiny', seed=2),
                             T((3,), dtype='int64', layout='strided', values='index', seed=2, grad=False, low=1, high=5),
                             torch.tensor([1, 4]), torch.tensor([2, 1])),
                {'reduction': 'mean', 'zero_infinity': True, 'blank': 0})
    assert disagreements(*OPS[case.op].pair, case) == ("deviation", [])
    for other in (Case(case.op, (T((17, 2, 5), dtype='float32', layout='expanded', seed=2), *case.args[1:]),
                       case.kwargs),  # low precision: against torch's float64 on the contiguous copy
                  Case('ctc_loss', (T((6, 3, 3), dtype='float64', layout='strided', values='special', seed=40043),
                                    T((2,), dtype='int64', layout='strided', values='index', seed=41008, grad=False),
                                    (1, 3, 5), (1, 0, 1)), {'zero_infinity': False, 'blank': 2})):  # NaN, ±inf
        assert disagreements(*OPS[case.op].pair, other) == ("deviation", [])
    contiguous = Case(case.op, (case.args[0], T((3,), dtype='int64', values='index', seed=2, grad=False, low=1, high=5),
                                *case.args[2:]), case.kwargs)
    assert disagreements(*OPS[case.op].pair, contiguous) == ("returned", [])


# findings that were ours to fix: now plain agreements with torch (both return or both raise)
FIXED = [
    # a margin that does not fit an integer input's dtype: torch's fill_ raises
    Case('hinge_embedding_loss', (T((2, 17, 3), dtype='uint8', layout='strided', values='wide', seed=25102,
                                    kinks=(0.0, -0.5)),
                                  T((2, 17, 3), dtype='uint8', layout='strided', values='kinks', grad=False,
                                    kinks=(-1.0, 1.0))), {'reduction': 'none', 'margin': -0.5}),
    # an empty batch's uint8 target indexed the class weight as a mask in backward
    Case('multi_margin_loss', (T((0, 4), dtype='float64', layout='expanded', seed=2403),
                               T((0,), dtype='uint8', layout='strided', values='index', seed=2488, grad=False, high=4)),
         {'reduction': 'sum', 'p': 1, 'margin': 0.5, 'weight': T((4,), dtype='float64', values='unit', seed=171,
                                                                 grad=False)}),
    # dt = −x of an int64 x wrapped at −2⁶³
    Case('poisson_nll_loss', (T((2,), dtype='int64', values='special', seed=2494),
                              T((2,), dtype='float64', values='ints', seed=4, kinks=(0.0, 1.0, 2.0))), {'eps': 1e-08}),
    # full=True, an empty input beside a 0-d target at 0: torch's Stirling slope is NaN there, also for an empty G
    Case('poisson_nll_loss', (T((0,), dtype='float64', values='wide', seed=882),
                              T((), dtype='float64', values='kinks', seed=92, kinks=(0.0, 1.0, 2.0))),
         {'full': True, 'eps': 0.5}),
]


@pytest.mark.parametrize("case", FIXED, ids=lambda c: c.op)
def test_the_fixed_loss_findings_agree_with_torch(case):
    outcome, found = disagreements(*OPS[case.op].pair, case)
    assert found == [] and outcome != "deviation"


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int32, torch.float16, torch.float32], ids=str)
@pytest.mark.parametrize("margin", [-0.5, 127.5, 300.0, 7e4, 1e39, float("nan"), float("inf")])
def test_hinge_embedding_loss_margin_that_does_not_fit_the_input_dtype(dtype, margin):
    """torch fills a tensor like the input with the margin: out of the dtype's range (and NaN or
    inf for an integer dtype) it raises; ours raises the same, else returns torch's values."""
    x, t = torch.tensor([1, 2, 0]).to(dtype), torch.tensor([1, 0, 0]).to(dtype)
    try:
        want = F.hinge_embedding_loss(x, t, margin=margin, reduction="none")
    except RuntimeError as e:
        with pytest.raises(RuntimeError, match=re.escape(str(e))):
            MF.hinge_embedding_loss(x, t, margin=margin, reduction="none")
    else:
        torch.testing.assert_close(MF.hinge_embedding_loss(x, t, margin=margin, reduction="none"), want,
                                   equal_nan=True)


def test_multi_margin_loss_empty_batch_with_a_uint8_target_and_a_weight():
    """torch takes an empty uint8 target (its kernel reads no label); ours' backward gives the
    empty gradient instead of indexing the weight with a byte mask."""
    x, y, w = torch.zeros(0, 4, dtype=torch.float64), torch.zeros(0, dtype=torch.uint8), torch.rand(4, dtype=torch.float64)
    dy = torch.tensor(1.0, dtype=torch.float64)
    (want,) = grads(lambda x: F.multi_margin_loss(x, y, weight=w, reduction="sum"), (leaf(x),), dy)
    (ours,) = grads(lambda x: MF.multi_margin_loss(x, y, weight=w, reduction="sum"), (leaf(x),), dy)
    assert ours.shape == want.shape == x.shape and ours.dtype == x.dtype


def test_poisson_nll_loss_target_gradient_of_an_int64_input_at_its_minimum():
    """dt = −x in the target's dtype: x = −2⁶³ gives 2⁶³, where −x in int64 wraps to −2⁶³."""
    x, t = torch.tensor([1, -2**63]), torch.tensor([-3.0, 0.0], dtype=torch.float64)
    dy = torch.tensor([0.5, 2.0], dtype=torch.float64)
    (want,) = grads(lambda t: F.poisson_nll_loss(x, t, reduction="none"), (leaf(t),), dy)
    (ours,) = grads(lambda t: MF.poisson_nll_loss(x, t, reduction="none"), (leaf(t),), dy)
    torch.testing.assert_close(ours, want)
    torch.testing.assert_close(ours, -dy * x.double())


@pytest.mark.parametrize("t", [-1.0, 0.0, 0.5, 2.0])
def test_poisson_nll_loss_full_target_gradient_beside_an_empty_input(t):
    """torch adds the Stirling term at the target's own shape: its gradient is the slope times G
    summed to t, NaN at t ≤ 0 (0 · log t) even when G is empty; ours' likewise."""
    x, t = torch.zeros(0, dtype=torch.float64), torch.tensor(t, dtype=torch.float64)
    dy = torch.tensor(1.0, dtype=torch.float64)
    (want,) = grads(lambda t: F.poisson_nll_loss(x, t, full=True), (leaf(t),), dy)
    (ours,) = grads(lambda t: MF.poisson_nll_loss(x, t, full=True), (leaf(t),), dy)
    assert want.isnan() == (t <= 0)
    torch.testing.assert_close(ours, want, equal_nan=True)
