"""What the differential fuzzer's long profile (tests/test_fuzz.py) found in instance_norm and
local_response_norm: the reproducers (each now agrees with torch, or is the documented deviation of
local_response_norm on a non-contiguous 5-d+ input: docs/ops.md, tests/fuzz/deviations_norms.py),
and ours pinned against torch's own results and errors."""

import pytest
import torch
import torch.nn.functional as F

import manualgrad.functional as MF
from conftest import grads, leaf
from fuzz import Case, T, check


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
    Case('instance_norm', (T((1, 1, 5, 5), dtype='float64', layout='transposed', values='wide', seed=13606),),
         {'weight': T((1,), dtype='float64', layout='expanded', values='special', seed=68), 'momentum': 0.1}),
    Case('instance_norm', (T((2, 3, 3, 3), dtype='bfloat16', layout='channels_last', values='ints', seed=40604),),
         {'weight': T((3,), dtype='bfloat16', values='special', seed=3308), 'use_input_stats': True, 'momentum': 1.0,
          'eps': 0.001}),
    Case('instance_norm', (T((3, 1, 0, 0), dtype='float16', values='ints', seed=679),),
         {'running_mean': T((1,), dtype='float16', seed=489, grad=False),
          'running_var': T((1,), dtype='float16', layout='strided', values='unit', seed=2230, grad=False),
          'bias': T((1,), dtype='int64', values='tiny', seed=238), 'momentum': 0.0}),
    Case('local_response_norm', (T((2, 4, 5), dtype='float32', values='special', seed=1327), 3),
         {'alpha': 1.0, 'beta': 2.0}),
    Case('local_response_norm', (T((17, 1, 5, 5, 5), dtype='bfloat16', layout='transposed', values='special', seed=53,
                                   grad=False), 1), {'alpha': 0.0}),
    Case('instance_norm', (T((2, 1, 4), dtype='float16', layout='expanded', seed=21178),),
         {'running_mean': T((1,), dtype='float32', layout='strided', seed=3074, grad=False),
          'running_var': T((1,), dtype='float32', values='unit', seed=65535, grad=False),
          'bias': T((1,), dtype='float32', layout='expanded', seed=44089), 'momentum': 0.0, 'eps': 0.001}),
    Case('local_response_norm', (T((3, 5, 2, 2, 2), dtype='bool', layout='transposed', seed=1593, grad=False), 1),
         {'alpha': 0.0001, 'beta': 0.5, 'k': 1.0}),
    # an empty integer input, integer running stats, a float32 bias that requires grad: torch's mean error
    Case('instance_norm', (T((1, 2, 0), dtype='int32', values='ints', seed=2),),
         {'running_mean': T((2,), dtype='int32', seed=702, grad=False),
          'running_var': T((2,), dtype='int32', values='unit', seed=820, grad=False),
          'bias': T((2,), dtype='float32', layout='expanded', values='wide', seed=2)}),
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


@pytest.mark.parametrize("x", [torch.float16, torch.float64], ids=str)
def test_instance_norm_with_running_stats_and_a_bias_alone_of_another_dtype_raises(x):
    """torch's mixed-dtype check refuses a float32 bias without a weight once running stats are
    given (of any dtype); without running stats, or with a float32 weight, it returns."""
    inp, stats, b = torch.randn(3, 4, 5).to(x), (torch.zeros(4), torch.ones(4)), torch.ones(4)
    for fn in (F.instance_norm, MF.instance_norm):
        with pytest.raises(RuntimeError, match="expect parameter to have scalar type of Float"):
            fn(inp, *stats, bias=b)
    if x == torch.float16:
        assert MF.instance_norm(inp, bias=b).dtype == MF.instance_norm(inp, *stats, torch.ones(4), b).dtype == x


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


def test_instance_norm_at_an_infinite_weight_is_the_limit():
    """y = x̂·w + b with w = −inf: −inf·sign(x̂) where x̂ ≠ 0, the limit (w = −1e200 in float64);
    torch's fused x·(rstd·w) + (b − μ·rstd·w) meets inf − inf as NaN where x and μ share a sign."""
    x = torch.tensor([[[-3.0, -1.0, 2.0, 6.0]]], dtype=torch.float64)
    w = torch.tensor([float("-inf")], dtype=torch.float64)
    ours = MF.instance_norm(x, weight=w)
    limit = F.instance_norm(x, weight=torch.tensor([-1e200], dtype=torch.float64))
    assert bool(ours.isinf().all()) and torch.equal(ours.sign(), limit.sign())
    assert bool(F.instance_norm(x, weight=w).isnan().any())


def test_local_response_norm_gradient_at_an_infinite_window_is_the_limit():
    """x = (0.5, 0.25, 1e30) in float32: x² of the last overflows, so d = inf for channels 1, 2;
    channel 0's dx gets d₁^(−β−1)·(…) = 0 from channel 1's window, the limit (1e30 in float64);
    torch's composite meets inf·0 there: NaN."""
    x = torch.tensor([[0.5], [0.25], [1e30]]).unsqueeze(0)
    dy = torch.ones_like(x)
    (ours,) = grads(lambda x: MF.local_response_norm(x, 3, alpha=1.0, beta=2.0), (leaf(x),), dy)
    (limit,) = grads(lambda x: F.local_response_norm(x, 3, alpha=1.0, beta=2.0), (leaf(x.double()),), dy.double())
    (theirs,) = grads(lambda x: F.local_response_norm(x, 3, alpha=1.0, beta=2.0), (leaf(x),), dy)
    assert bool(theirs[0, 0].isnan().all()) and bool(ours[0, 0].isfinite().all())
    torch.testing.assert_close(ours[0, 0].double(), limit[0, 0])
