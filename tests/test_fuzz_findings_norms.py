"""What the differential fuzzer (tests/test_fuzz.py) found in batch_norm, group_norm and layer_norm where
torch is wrong or raises and ours is right: ours' gradient pinned against a float64 composite of plain
torch ops differentiated by autograd, or the formula by hand; each is a documented deviation
(docs/ops.md, "Deliberate differences"; tests/fuzz/deviations_norms.py). The fuzzer's reproducers:
tests/test_fuzz_findings.py."""

import pytest
import torch
import torch.nn.functional as F

import manualgrad.functional as MF
from conftest import grads, leaf


def _group_norm64(x, g, w, b, eps=1e-5):
    """group_norm as plain float64 ops: statistics over (C/g, *spatial) per sample and group."""
    xg = x.reshape(x.shape[0], g, -1)
    m = xg.mean(-1, keepdim=True)
    v = ((xg - m) ** 2).mean(-1, keepdim=True)
    y = ((xg - m) / torch.sqrt(v + eps)).reshape(x.shape)
    shape = (1, -1) + (1,) * (x.dim() - 2)
    return y * (1 if w is None else w.reshape(shape)) + (0 if b is None else b.reshape(shape))


def test_group_norm_with_a_bias_and_no_weight():
    """torch's backward raises ("tensor does not have a device"); ours equals the composite."""
    torch.manual_seed(1)
    x, b = torch.randn(2, 4, 3, dtype=torch.float64), torch.randn(4, dtype=torch.float64)
    dy = torch.randn(2, 4, 3, dtype=torch.float64)
    with pytest.raises(RuntimeError, match="does not have a device"):
        grads(lambda x, b: F.group_norm(x, 2, bias=b), (leaf(x), leaf(b)), dy)
    ours = grads(lambda x, b: MF.group_norm(x, 2, bias=b), (leaf(x), leaf(b)), dy)
    want = grads(lambda x, b: _group_norm64(x, 2, None, b), (leaf(x), leaf(b)), dy)
    for g, h in zip(ours, want):
        torch.testing.assert_close(g, h)


def test_group_norm_with_an_empty_spatial_dim_has_zero_affine_gradients():
    """dw = Σ dy ⊙ x̂, db = Σ dy over no elements: 0, as the composite's; torch's dw is NaN."""
    x, dy = torch.randn(2, 4, 0, dtype=torch.float64), torch.randn(2, 4, 0, dtype=torch.float64)
    w, b = torch.randn(4, dtype=torch.float64), torch.randn(4, dtype=torch.float64)
    assert grads(lambda x, w, b: F.group_norm(x, 2, w, b), (leaf(x), leaf(w), leaf(b)), dy)[1].isnan().all()
    ours = grads(lambda x, w, b: MF.group_norm(x, 2, w, b), (leaf(x), leaf(w), leaf(b)), dy)
    want = grads(lambda x, w, b: _group_norm64(x, 2, w, b), (leaf(x), leaf(w), leaf(b)), dy)
    assert bool((want[1] == 0).all()) and bool((want[2] == 0).all())
    for g, h in zip(ours, want):
        torch.testing.assert_close(g, h)


def test_group_norm_at_eps_zero_over_one_element_has_a_nan_weight_gradient():
    """One element per group with eps = 0: x̂ = 0/0 is NaN, so y is NaN (torch's too) and
    dw = Σ dy ⊙ x̂ is NaN in every channel, as the composite's; torch's kernel sums it to ±inf in one."""
    torch.manual_seed(0)
    x, w, dy = (torch.randn(*s, dtype=torch.float64) for s in ((2, 2), (2,), (2, 2)))
    theirs = grads(lambda x, w: F.group_norm(x, 2, w, eps=0.0), (leaf(x), leaf(w)), dy)[1]
    ours = grads(lambda x, w: MF.group_norm(x, 2, w, eps=0.0), (leaf(x), leaf(w)), dy)[1]
    want = grads(lambda x, w: _group_norm64(x, 2, w, None, eps=0.0), (leaf(x), leaf(w)), dy)[1]
    assert bool(theirs.isinf().any()) and bool(want.isnan().all())
    torch.testing.assert_close(ours, want, equal_nan=True)
    assert MF.group_norm(x, 2, w, eps=0.0).isnan().all()


@pytest.mark.parametrize("w", [1e30, -1e30])
def test_group_norm_of_one_element_groups_has_a_zero_input_gradient(w):
    """Each group one element: x̂ = x − μ = 0 exactly, so dx = 0 whatever w (the composite's);
    torch's uncentred formula leaves a rounding residue of rstd·|w·dy|·ε (~1e16 at |w| = 1e30)."""
    torch.manual_seed(0)
    x, dy = torch.randn(3, 4, dtype=torch.float64), torch.randn(3, 4, dtype=torch.float64)
    wt = torch.full((4,), w, dtype=torch.float64)
    (theirs,) = grads(lambda x: F.group_norm(x, 4, wt), (leaf(x),), dy)
    (ours,) = grads(lambda x: MF.group_norm(x, 4, wt), (leaf(x),), dy)
    (want,) = grads(lambda x: _group_norm64(x, 4, wt, None), (leaf(x),), dy)
    assert bool((want == 0).all()) and bool((ours == 0).all())
    assert theirs.abs().max() > 1e15  # torch's residue; drop this test's point if it is gone


def test_group_norm_of_a_channels_last_input_without_grad_has_affine_gradients():
    """torch 2.13's CPU backward segfaults when a channels-last 4-d input does not require grad
    but the weight or bias does (the fuzzer skips torch's backward there); ours' dw, db equal the
    float64 composite's."""
    torch.manual_seed(7)
    x = torch.randn(2, 4, 3, 3, dtype=torch.float64).to(memory_format=torch.channels_last)
    w, b, dy = torch.randn(4, dtype=torch.float64), torch.randn(4, dtype=torch.float64), torch.randn(2, 4, 3, 3, dtype=torch.float64)
    ours = grads(lambda w, b: MF.group_norm(x, 2, w, b), (leaf(w), leaf(b)), dy)
    want = grads(lambda w, b: _group_norm64(x.contiguous(), 2, w, b), (leaf(w), leaf(b)), dy)
    for g, h in zip(ours, want):
        torch.testing.assert_close(g, h)


_STATS = {"expanded": lambda v: v[:1].expand(3), "strided": lambda v: torch.stack([v, v]).t().reshape(6)[::2]}


@pytest.mark.parametrize("layout", list(_STATS))
def test_batch_norm_eval_with_a_non_contiguous_running_var(layout):
    """Eval: dx = dy · w / √(var + eps), dw = Σ dy ⊙ (x − mean) / √(var + eps); torch's are
    garbage when running_var is not contiguous (stride 0 or 2; 2-d input)."""
    torch.manual_seed(3)
    x, dy = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    w, b = torch.randn(3, dtype=torch.float64), torch.randn(3, dtype=torch.float64)
    mean, var = torch.randn(3, dtype=torch.float64), _STATS[layout](torch.full((3,), 0.7, dtype=torch.float64))
    assert not var.is_contiguous()
    inputs = (leaf(x), leaf(w), leaf(b))
    ours = grads(lambda x, w, b: MF.batch_norm(x, mean, var, w, b, training=False), inputs, dy)
    want = grads(lambda x, w, b: (x - mean) / torch.sqrt(var.contiguous() + 1e-5) * w + b, inputs, dy)
    theirs = grads(lambda x, w, b: F.batch_norm(x, mean, var, w, b, training=False), inputs, dy)
    for g, h in zip(ours, want):
        torch.testing.assert_close(g, h)
    torch.testing.assert_close(ours[0], dy * w / (0.7 + 1e-5) ** 0.5)
    assert not torch.allclose(theirs[0], want[0])  # the phenomenon is torch's (else drop the deviation)


def test_batch_norm_eval_with_a_strided_running_mean():
    """dw = Σ dy ⊙ (x − mean) / √(var + eps) reads the running mean: torch's is garbage when it is
    strided (2-d input); dx does not read it and agrees."""
    torch.manual_seed(4)
    x, dy = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    w = torch.randn(3, dtype=torch.float64)
    mean, var = torch.randn(6, dtype=torch.float64)[::2], torch.rand(3, dtype=torch.float64) + 0.5
    inputs = (leaf(x), leaf(w))
    ours = grads(lambda x, w: MF.batch_norm(x, mean, var, w, training=False), inputs, dy)
    want = grads(lambda x, w: (x - mean.contiguous()) / torch.sqrt(var + 1e-5) * w, inputs, dy)
    theirs = grads(lambda x, w: F.batch_norm(x, mean, var, w, training=False), inputs, dy)
    for g, h in zip(ours, want):
        torch.testing.assert_close(g, h)
    torch.testing.assert_close(theirs[0], want[0])
    assert not torch.allclose(theirs[1], want[1])


def test_batch_norm_of_an_empty_input_with_a_bias_that_does_not_fit_runs_the_checks():
    """Stricter: torch returns input·w[0] + b[0] for an empty input before any check; with
    something to differentiate and a bias of another dtype, ours runs the usual checks (here: eval
    needs running stats) and raises."""
    x, b = torch.zeros(1, 1, 0, 1, dtype=torch.float64), torch.zeros(1, requires_grad=True)
    assert F.batch_norm(x, None, None, bias=b, training=False).shape == x.shape
    with pytest.raises(RuntimeError, match="running_mean must be defined in evaluation mode"):
        MF.batch_norm(x, None, None, bias=b, training=False)
    assert MF.batch_norm(x, None, None, bias=b.detach(), training=False).shape == x.shape  # nothing to differentiate


@pytest.mark.parametrize("which", ["running_mean", "running_var"])
def test_batch_norm_training_refuses_a_running_stat_that_overlaps_itself(which):
    """Stricter: training updates the running stats in place, and an expanded (stride-0) stat has
    one memory location for several channels; torch's kernel writes it in an unspecified order,
    ours raises a RuntimeError that names the stat (the usual in-place memory-overlap error)."""
    x = torch.randn(4, 3, dtype=torch.float64)
    stats = {"running_mean": torch.zeros(3, dtype=torch.float64), "running_var": torch.ones(3, dtype=torch.float64)}
    stats[which] = stats[which][:1].expand(3)
    F.batch_norm(x, stats["running_mean"], stats["running_var"], training=True)  # torch returns
    with pytest.raises(RuntimeError, match=f"batch_norm: {which} .*share.* memory"):
        MF.batch_norm(x, stats["running_mean"], stats["running_var"], training=True)
    y = MF.batch_norm(x, stats["running_mean"], stats["running_var"], training=False)  # eval reads it: fine
    assert y.shape == x.shape


@pytest.mark.parametrize("n", [2, 3])
def test_layer_norm_on_a_constant_row_of_minus_1e30(n):
    """A constant row: x − μ = 0 exactly, σ² = 0, rstd = eps^−½, x̂ = 0, so
    dx = rstd · (ĝ − mean(ĝ)), ĝ = dy ⊙ w (thousands here). torch's is 0: its mean of the row
    rounds off -1e30 and the residue's σ² (≫ eps) shrinks rstd to ~1e-14."""
    x = torch.full((2, n), -1e30, dtype=torch.float64)
    w = torch.tensor([10.0, 20.0, -5.0][:n], dtype=torch.float64)
    dy = torch.tensor([[1.0, -2.0, 0.5], [3.0, 1.0, -1.0]], dtype=torch.float64)[:, :n]
    (ours,) = grads(lambda x: MF.layer_norm(x, (n,), w), (leaf(x),), dy)
    g = dy * w
    torch.testing.assert_close(ours, (g - g.mean(-1, keepdim=True)) / 1e-5 ** 0.5)
    assert ours.abs().max() > 1000
    assert bool((grads(lambda x: F.layer_norm(x, (n,), w), (leaf(x),), dy)[0].abs() < 1e-6).all())


def test_layer_norm_weight_gradient_gets_nothing_from_a_constant_row_of_1e30():
    """x̂ = 0 on a constant row, so dw = Σ dy ⊙ x̂ gets nothing from it: ours' dw is that of the
    other rows alone; torch's x̂ there is its mean's rounding residue times rstd, and its dw ~1e15."""
    x = torch.tensor([[-1e30, -1e30], [1.0, 3.0]], dtype=torch.float64)
    w, dy = torch.tensor([2.0, -1.0], dtype=torch.float64), torch.tensor([[1.0, -2.0], [0.5, 1.5]], dtype=torch.float64)
    (ours,) = grads(lambda w: MF.layer_norm(x, (2,), w), (leaf(w),), dy)
    xhat = torch.tensor([-1.0, 1.0], dtype=torch.float64) / (1 + 1e-5) ** 0.5  # row 2: (x − 2)/√(1 + eps)
    torch.testing.assert_close(ours, dy[1] * xhat)
    assert grads(lambda w: F.layer_norm(x, (2,), w), (leaf(w),), dy)[0].abs().max() > 1e10


@pytest.mark.parametrize("dtype", [torch.float16, torch.float64], ids=str)
def test_layer_norm_at_an_infinite_weight_is_the_limit_where_not_nan(dtype):
    """ĝ = dy ⊙ w has an infinite entry, so mean(ĝ) and x̂ · mean(ĝ ⊙ x̂) are both infinite; in
    dx = rstd · (ĝ − x̂ · mean(ĝ ⊙ x̂) − mean(ĝ)) they cancel to NaN where their signs differ and add
    to ±inf where they agree: the sign of the limit w → ∞ (float64 with w = 1e200 there). torch's
    uncentred formula (and autograd through a float64 composite) give NaN throughout."""
    x = torch.tensor([[-1.874, -0.9937, 0.7183, -0.6982]], dtype=dtype)
    w = torch.tensor([-0.1469, 0.7861, float("inf"), -1.1143], dtype=dtype)
    dy = torch.tensor([[0.3513, 0.5039, 0.1461, 0.8975]], dtype=dtype)
    (ours,) = grads(lambda x: MF.layer_norm(x, (4,), w), (leaf(x),), dy)
    (limit,) = grads(lambda x: F.layer_norm(x, (4,), torch.where(w.isinf(), 1e200, w.double())),
                      (leaf(x.double()),), dy.double())
    inf = ours.isinf()
    assert inf.tolist() == [[False, False, False, True]] and bool(ours[~inf].isnan().all())
    assert torch.equal(ours[inf].double().sign(), limit[inf].sign()) and bool((limit.abs() > 1e190).all())
    assert grads(lambda x: F.layer_norm(x, (4,), w), (leaf(x),), dy)[0].isnan().all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_layer_norm_of_a_half_input_with_only_a_float32_bias(dtype):
    """torch's forward gives y in x's dtype, its backward raises ("expected scalar type ... but
    found Float"); ours' db = Σ dy over the rows (float32), and dx = rstd·(dy − mean dy −
    x̂·mean(dy ⊙ x̂)) as the float64 composite's, in x's dtype."""
    torch.manual_seed(6)
    x, b = torch.randn(4, 3).to(dtype), torch.randn(3)
    dy = torch.randn(4, 3).to(dtype)
    assert MF.layer_norm(x, (3,), None, b).dtype == F.layer_norm(x, (3,), None, b).dtype == dtype
    with pytest.raises(RuntimeError, match="but found Float"):
        grads(lambda x, b: F.layer_norm(x, (3,), None, b), (leaf(x), leaf(b)), dy)
    dx, db = grads(lambda x, b: MF.layer_norm(x, (3,), None, b), (leaf(x), leaf(b)), dy)

    def ln64(x, b):
        m = x.mean(-1, keepdim=True)
        return (x - m) / torch.sqrt(((x - m) ** 2).mean(-1, keepdim=True) + 1e-5) + b
    want = grads(ln64, (leaf(x.double()), leaf(b.double())), dy.double())
    assert (dx.dtype, db.dtype) == (dtype, torch.float32)
    torch.testing.assert_close(db.double(), want[1])
    torch.testing.assert_close(dx.double(), want[0], rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("op", ["layer_norm", "group_norm"])
def test_a_half_variance_that_overflows_float32_gives_nan_not_zero(op):
    """bf16 statistics accumulate in float32 (as torch's kernels): a row of [2, −1e30, 3, 4] has
    σ² ≈ 1.9e59, inf there, so rstd = 0 gave a silent x̂ = 0 (y = 0 where float64's is ±0.58,
    −1.73); NaN now, as torch's own layer_norm and group_norm give; other rows are untouched."""
    x = torch.tensor([[2.0, -1e30, 3.0, 4.0], [1.0, 2.0, 3.0, 5.0]], dtype=torch.bfloat16)
    call = {"layer_norm": lambda m: m.layer_norm(x, [4]), "group_norm": lambda m: m.group_norm(x, 1)}[op]
    ours, theirs = call(MF), call(F)
    assert bool(ours[0].isnan().all()) and bool(theirs[0].isnan().all())
    torch.testing.assert_close(ours[1], theirs[1])
