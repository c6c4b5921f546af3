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
from fuzz import Case, T, check


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


# The long profile's instance_norm and local_response_norm findings: ours fixed to torch's
# behaviour, and one deliberate difference (local_response_norm of a non-contiguous 5-d+ input).
INSTANCE_LRN_REPRODUCERS = [
    Case('instance_norm', (T((0, 1, 2), dtype='bfloat16', seed=5),), {'momentum': 0.1, 'eps': 0.0}),
    Case('instance_norm', (T((0, 4, 4, 0), dtype='float32', layout='transposed', values='ints', seed=3),),
         {'bias': T((4,), dtype='float32', values='special'), 'eps': 0.0}),
    Case('instance_norm', (T((3, 1, 2, 2), dtype='float32', layout='strided', values='kinks', seed=744),),
         {'weight': T((1,), dtype='float32', layout='strided', values='kinks', seed=744), 'use_input_stats': True,
          'momentum': 0.0, 'eps': 0.0}),
    Case('local_response_norm', (T((3, 1, 3, 3, 3), dtype='float16', layout='transposed'), 1), {}),
    Case('local_response_norm', (T((1, 4, 4, 4, 4), dtype='int64'), 1), {}),
    Case('instance_norm', (T((17, 4, 5, 5), dtype='float64', layout='expanded', seed=1),),
         {'running_mean': T((4,), dtype='float32', seed=2, grad=False),
          'running_var': T((4,), dtype='float32', values='unit', grad=False)}),
    Case('instance_norm', (T((2, 0, 3, 3), dtype='int64', layout='channels_last', values='kinks', seed=1808),),
         {'running_mean': T((0,), dtype='float32', seed=1, grad=False),
          'running_var': T((0,), dtype='float32', values='unit', seed=1, grad=False), 'eps': 1e-12}),
    Case('local_response_norm', (T((2, 17, 3), dtype='uint8', seed=362), 5), {}),
]


@pytest.mark.parametrize("case", INSTANCE_LRN_REPRODUCERS, ids=repr)
def test_instance_and_local_response_norm_reproducers(case):
    check(case)


def test_instance_norm_of_an_empty_input_takes_eps_zero():
    """aten's instance_norm runs torch.batch_norm, not F.batch_norm's eps > 0 check: eps = 0 is
    torch's result (an empty y), and an empty batch's bias[0] is torch's IndexError."""
    x = torch.randn(0, 3, 4)
    assert MF.instance_norm(x, eps=0.0).shape == F.instance_norm(x, eps=0.0).shape == (0, 3, 4)
    for fn in (F.instance_norm, MF.instance_norm):
        with pytest.raises(IndexError, match="index 0 out of range"):
            fn(torch.randn(0, 3, 4), bias=torch.randn(3), eps=0.0)
    with pytest.raises(ValueError, match="eps must be positive"):  # F.batch_norm's own check stays
        MF.batch_norm(torch.randn(0, 3, 4), None, None, training=True, eps=0.0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16], ids=str)
def test_instance_norm_eps_zero_constant_instance_gives_the_bias(dtype):
    """eps = 0 and σ² = 0 (a constant instance): aten's rstd is 0, not inf, so y = b there and
    dx = dw = 0 from it, torch's; the other instances are normalised as usual."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 5, dtype=torch.float64)
    x[0, 1], x[1, 2] = 0.1, -2.0
    x, w, b, dy = x.to(dtype), torch.randn(3).to(dtype), torch.randn(3).to(dtype), torch.randn(2, 3, 5).to(dtype)
    ours = grads(lambda x, w, b: MF.instance_norm(x, weight=w, bias=b, eps=0.0), (leaf(x), leaf(w), leaf(b)), dy)
    y = MF.instance_norm(x, weight=w, bias=b, eps=0.0)
    assert torch.equal(y[0, 1], b[1].expand(5)) and torch.equal(y[1, 2], b[2].expand(5))
    assert bool((ours[0][0, 1] == 0).all()) and bool((ours[0][1, 2] == 0).all())
    theirs = grads(lambda x, w, b: F.instance_norm(x, weight=w, bias=b, eps=0.0), (leaf(x), leaf(w), leaf(b)), dy)
    tol = {} if dtype != torch.bfloat16 else {"rtol": 2e-2, "atol": 2e-2}
    torch.testing.assert_close(y, F.instance_norm(x, weight=w, bias=b, eps=0.0), **tol)
    for g, h in zip(ours, theirs):
        torch.testing.assert_close(g, h, **tol)


@pytest.mark.parametrize("shape", [(2, 5, 3), (2, 5, 3, 2), (2, 5, 2, 2, 2)])
@pytest.mark.parametrize("size", [1, 2, 3])
def test_local_response_norm_of_an_integer_input_in_torchs_order(shape, size):
    """torch's composite: x² and its window average in int64 (truncated), then ·α + k, ^β in
    float32, x divided by it: ours the same steps (ours had rounded d = k + α·avg to int64)."""
    torch.manual_seed(0)
    x = torch.randint(-300, 300, shape)
    ours, theirs = MF.local_response_norm(x, size), F.local_response_norm(x, size)
    assert ours.dtype == theirs.dtype == torch.float32
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=0)
    if size > 1:  # the average of a float x² is not truncated: a visibly different result
        assert (F.local_response_norm(x.float(), size) - theirs).abs().max() > 1e-3


def test_local_response_norm_of_a_non_contiguous_5d_input():
    """torch's composite raises in its .view of x²; ours returns torch's result on a contiguous
    copy (output and gradient); the fuzzer's predicate accepts only that view error, a 5-d+
    non-contiguous input and these values."""
    from fuzz import deviations_norms
    torch.manual_seed(0)
    x = torch.randn(3, 4, 3, 2, 5, dtype=torch.float64).transpose(2, 4)
    dy = torch.randn(3, 4, 5, 2, 3, dtype=torch.float64)
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        F.local_response_norm(x, 3)
    torch.testing.assert_close(MF.local_response_norm(x, 3), F.local_response_norm(x.contiguous(), 3))
    ours = grads(lambda x: MF.local_response_norm(x, 3), (leaf(x),), dy)
    want = grads(lambda x: F.local_response_norm(x.contiguous(), 3), (leaf(x),), dy)
    torch.testing.assert_close(ours[0], want[0])
    view_error = ("forward", RuntimeError, "view size is not compatible with input tensor's size and stride")
    case = INSTANCE_LRN_REPRODUCERS[3]
    assert deviations_norms.local_response_norm_view(case, view_error)
    assert not deviations_norms.local_response_norm_view(case, ("forward", RuntimeError, "other"))
    contiguous = Case('local_response_norm', (T((3, 1, 3, 3, 3), dtype='float16'), 1), {})
    assert not deviations_norms.local_response_norm_view(contiguous, view_error)


@pytest.mark.parametrize("stats", [torch.float32, torch.float16], ids=str)
def test_instance_norm_running_stats_of_another_dtype(stats):
    """torch's instance_norm takes running stats of any floating dtype (its dtype checks see x,
    w, b only): the same output and updated stats as torch's."""
    torch.manual_seed(0)
    x = torch.randn(3, 4, 5, dtype=torch.float64)
    mine, theirs = [(torch.zeros(4, dtype=stats), torch.ones(4, dtype=stats)) for _ in range(2)]
    torch.testing.assert_close(MF.instance_norm(x, *mine), F.instance_norm(x, *theirs))
    for a, b in zip(mine, theirs):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("dtype,weight,got", [(torch.int64, None, "Long"), (torch.uint8, None, "Byte"),
                                              (torch.float32, torch.int64, "Long")])
def test_instance_norm_of_an_empty_input_with_running_stats_raises_torchs_mean_error(dtype, weight, got):
    """With input statistics torch's update of the running stats takes a mean of x (of w where
    given), which an integer dtype refuses; a float32 weight, or no running stats, returns."""
    x, stats = torch.zeros(2, 2, 0, 3, dtype=dtype), (torch.zeros(2), torch.ones(2))
    w = None if weight is None else torch.ones(2, dtype=weight)
    for fn in (F.instance_norm, MF.instance_norm):
        with pytest.raises(RuntimeError, match=f"could not infer output dtype.*Got: {got}$"):
            fn(x, *stats, weight=w)
        assert fn(x, weight=w).shape == x.shape
    if weight is None:
        assert MF.instance_norm(x, *stats, weight=torch.ones(2)).dtype == torch.float32


@pytest.mark.parametrize("dtype", [torch.int32, torch.uint8, torch.bool], ids=str)
@pytest.mark.parametrize("shape", [(2, 4, 3), (2, 4, 3, 2)])
def test_local_response_norm_of_a_non_int64_integer_input_raises_as_torch(dtype, shape):
    """torch's avg_pool has no CPU kernel for these dtypes: the same NotImplementedError."""
    x = torch.ones(shape, dtype=dtype)
    with pytest.raises(NotImplementedError) as theirs:
        F.local_response_norm(x, 3)
    with pytest.raises(NotImplementedError, match=str(theirs.value).replace('"', '.')):
        MF.local_response_norm(x, 3)
