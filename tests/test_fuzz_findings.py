"""What the differential fuzzer (tests/test_fuzz.py) found where torch is wrong or raises and ours
is right: ours' gradient pinned against a float64 composite of plain torch ops differentiated by
autograd, or the formula by hand; each is a documented deviation (docs/ops.md, "Deliberate
differences"; tests/fuzz/deviations.py), and the fuzzer accepts exactly these reproducers."""

import pytest
import torch
import torch.nn.functional as F

import manualgrad.functional as MF
from conftest import in_subprocess
from fuzz import Case, T
from fuzz.compare import disagreements
from fuzz.ops import OPS


def _grads(fn, inputs, dy):
    leaves = [t for t in inputs if isinstance(t, torch.Tensor) and t.requires_grad]
    return torch.autograd.grad(fn(*inputs), leaves, dy)


def _leaf(t):
    return t.detach().clone().requires_grad_()


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
        _grads(lambda x, b: F.group_norm(x, 2, bias=b), (_leaf(x), _leaf(b)), dy)
    ours = _grads(lambda x, b: MF.group_norm(x, 2, bias=b), (_leaf(x), _leaf(b)), dy)
    want = _grads(lambda x, b: _group_norm64(x, 2, None, b), (_leaf(x), _leaf(b)), dy)
    for g, h in zip(ours, want):
        torch.testing.assert_close(g, h)


def test_group_norm_with_an_empty_spatial_dim_has_zero_affine_gradients():
    """dw = Σ dy ⊙ x̂, db = Σ dy over no elements: 0, as the composite's; torch's dw is NaN."""
    x, dy = torch.randn(2, 4, 0, dtype=torch.float64), torch.randn(2, 4, 0, dtype=torch.float64)
    w, b = torch.randn(4, dtype=torch.float64), torch.randn(4, dtype=torch.float64)
    assert _grads(lambda x, w, b: F.group_norm(x, 2, w, b), (_leaf(x), _leaf(w), _leaf(b)), dy)[1].isnan().all()
    ours = _grads(lambda x, w, b: MF.group_norm(x, 2, w, b), (_leaf(x), _leaf(w), _leaf(b)), dy)
    want = _grads(lambda x, w, b: _group_norm64(x, 2, w, b), (_leaf(x), _leaf(w), _leaf(b)), dy)
    assert bool((want[1] == 0).all()) and bool((want[2] == 0).all())
    for g, h in zip(ours, want):
        torch.testing.assert_close(g, h)


def test_nll_loss_on_a_transposed_4d_input():
    """torch's backward raises ("grad_input must be contiguous"); ours equals −mean(x[target])."""
    torch.manual_seed(2)
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64).transpose(2, 3)  # (2, 3, 5, 4), not contiguous
    t, dy = torch.randint(0, 3, (2, 5, 4)), torch.tensor(1.5, dtype=torch.float64)
    assert not _leaf(x).is_contiguous()  # the leaf keeps x's strides
    with pytest.raises(RuntimeError, match="grad_input must be contiguous"):
        _grads(lambda x: F.nll_loss(x, t), (_leaf(x),), dy)
    (ours,) = _grads(lambda x: MF.nll_loss(x, t), (_leaf(x),), dy)
    (want,) = _grads(lambda x: -x.gather(1, t.unsqueeze(1)).mean(), (_leaf(x),), dy)
    torch.testing.assert_close(ours, want)


@pytest.mark.parametrize("target_dtype", [torch.float64, torch.int64], ids=str)
def test_huber_loss_with_a_target_of_another_dtype(target_dtype):
    """torch's forward promotes, its backward raises ("Found dtype ... but expected Float"); ours
    equals the float64 composite, in the input's dtype."""
    x = torch.tensor([0.25, -3.0, 1.5, 0.0])
    t = torch.tensor([1.0, 0.0, -2.0, 0.5]).to(target_dtype)
    dy = torch.tensor(0.75, dtype=torch.promote_types(x.dtype, target_dtype))
    with pytest.raises(RuntimeError, match="Found dtype"):
        _grads(lambda x: F.huber_loss(x, t), (_leaf(x),), dy)
    (ours,) = _grads(lambda x: MF.huber_loss(x, t), (_leaf(x),), dy)

    def huber64(x, delta=1.0):
        d = x - t.double()
        return torch.where(d.abs() < delta, 0.5 * d * d, delta * (d.abs() - 0.5 * delta)).mean()
    (want,) = _grads(huber64, (_leaf(x.double()),), dy.double())
    assert ours.dtype == x.dtype
    torch.testing.assert_close(ours, want.float())


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
    inputs = (_leaf(x), _leaf(w), _leaf(b))
    ours = _grads(lambda x, w, b: MF.batch_norm(x, mean, var, w, b, training=False), inputs, dy)
    want = _grads(lambda x, w, b: (x - mean) / torch.sqrt(var.contiguous() + 1e-5) * w + b, inputs, dy)
    theirs = _grads(lambda x, w, b: F.batch_norm(x, mean, var, w, b, training=False), inputs, dy)
    for g, h in zip(ours, want):
        torch.testing.assert_close(g, h)
    torch.testing.assert_close(ours[0], dy * w / (0.7 + 1e-5) ** 0.5)
    assert not torch.allclose(theirs[0], want[0])  # the phenomenon is torch's (else drop the deviation)


@pytest.mark.parametrize("n", [2, 3])
def test_layer_norm_on_a_constant_row_of_minus_1e30(n):
    """A constant row: x − μ = 0 exactly, σ² = 0, rstd = eps^−½, x̂ = 0, so
    dx = rstd · (ĝ − mean(ĝ)), ĝ = dy ⊙ w (thousands here). torch's is 0: its mean of the row
    rounds off -1e30 and the residue's σ² (≫ eps) shrinks rstd to ~1e-14."""
    x = torch.full((2, n), -1e30, dtype=torch.float64)
    w = torch.tensor([10.0, 20.0, -5.0][:n], dtype=torch.float64)
    dy = torch.tensor([[1.0, -2.0, 0.5], [3.0, 1.0, -1.0]], dtype=torch.float64)[:, :n]
    (ours,) = _grads(lambda x: MF.layer_norm(x, (n,), w), (_leaf(x),), dy)
    g = dy * w
    torch.testing.assert_close(ours, (g - g.mean(-1, keepdim=True)) / 1e-5 ** 0.5)
    assert ours.abs().max() > 1000
    assert bool((_grads(lambda x: F.layer_norm(x, (n,), w), (_leaf(x),), dy)[0].abs() < 1e-6).all())


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64], ids=str)
def test_elu_gradient_at_nan_is_dy_at_every_size(dtype):
    """At a NaN input ours' gradient is dy (x ≤ 0 is false: the x > 0 branch), as torch's scalar
    loop gives it (a 2-element call); torch's vectorized loop gives NaN in a larger tensor."""
    for n in (2, 85):
        x, dy = torch.full((n,), float("nan"), dtype=dtype), torch.linspace(-2, 2, n, dtype=dtype)
        (ours,) = _grads(MF.elu, (_leaf(x),), dy)
        assert torch.equal(ours, dy)
    assert torch.equal(_grads(F.elu, (_leaf(x[:2]),), dy[:2])[0], dy[:2])
    assert _grads(F.elu, (_leaf(x),), dy)[0].isnan().any()


NAN_PASSES = [("selu", {}, 1.0507009873554805), ("celu", {"alpha": 0.5}, 1.0), ("hardtanh", {}, 1.0),
              ("relu6", {}, 1.0), ("hardswish", {}, 1.0), ("softshrink", {}, 1.0), ("hardshrink", {}, 1.0)]


@pytest.mark.parametrize("op,kwargs,slope", NAN_PASSES, ids=[n for n, _, _ in NAN_PASSES])
def test_gradient_at_nan_is_the_x_above_bound_branch_at_every_size(op, kwargs, slope):
    """As elu: at a NaN input ours' gradient is that of the x > bound branch (s·dy for selu, dy for
    the rest; every bound test is false for NaN), as torch's scalar loop gives it (2 elements);
    torch's vectorized loop gives NaN (hardswish, selu, celu) or 0 (hardtanh, relu6, the shrinks)."""
    x, dy = torch.full((85,), float("nan"), dtype=torch.float64), torch.linspace(-2, 2, 85, dtype=torch.float64)
    for n in (2, 85):
        (ours,) = _grads(lambda t: getattr(MF, op)(t, **kwargs), (_leaf(x[:n]),), dy[:n])
        torch.testing.assert_close(ours, dy[:n] * slope, rtol=1e-15, atol=0)
    (theirs,) = _grads(lambda t: getattr(F, op)(t, **kwargs), (_leaf(x[:2]),), dy[:2])
    torch.testing.assert_close(theirs, dy[:2] * slope, rtol=1e-15, atol=0)
    (theirs,) = _grads(lambda t: getattr(F, op)(t, **kwargs), (_leaf(x),), dy)
    assert not torch.allclose(theirs, dy * slope, equal_nan=True)


def test_layer_norm_weight_gradient_gets_nothing_from_a_constant_row_of_1e30():
    """x̂ = 0 on a constant row, so dw = Σ dy ⊙ x̂ gets nothing from it: ours' dw is that of the
    other rows alone; torch's x̂ there is its mean's rounding residue times rstd, and its dw ~1e15."""
    x = torch.tensor([[-1e30, -1e30], [1.0, 3.0]], dtype=torch.float64)
    w, dy = torch.tensor([2.0, -1.0], dtype=torch.float64), torch.tensor([[1.0, -2.0], [0.5, 1.5]], dtype=torch.float64)
    (ours,) = _grads(lambda w: MF.layer_norm(x, (2,), w), (_leaf(w),), dy)
    xhat = torch.tensor([-1.0, 1.0], dtype=torch.float64) / (1 + 1e-5) ** 0.5  # row 2: (x − 2)/√(1 + eps)
    torch.testing.assert_close(ours, dy[1] * xhat)
    assert _grads(lambda w: F.layer_norm(x, (2,), w), (_leaf(w),), dy)[0].abs().max() > 1e10


def test_batch_norm_eval_with_a_strided_running_mean():
    """dw = Σ dy ⊙ (x − mean) / √(var + eps) reads the running mean: torch's is garbage when it is
    strided (2-d input); dx does not read it and agrees."""
    torch.manual_seed(4)
    x, dy = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    w = torch.randn(3, dtype=torch.float64)
    mean, var = torch.randn(6, dtype=torch.float64)[::2], torch.rand(3, dtype=torch.float64) + 0.5
    inputs = (_leaf(x), _leaf(w))
    ours = _grads(lambda x, w: MF.batch_norm(x, mean, var, w, training=False), inputs, dy)
    want = _grads(lambda x, w: (x - mean.contiguous()) / torch.sqrt(var + 1e-5) * w, inputs, dy)
    theirs = _grads(lambda x, w: F.batch_norm(x, mean, var, w, training=False), inputs, dy)
    for g, h in zip(ours, want):
        torch.testing.assert_close(g, h)
    torch.testing.assert_close(theirs[0], want[0])
    assert not torch.allclose(theirs[1], want[1])


@pytest.mark.parametrize("dtype", [torch.float16, torch.float64], ids=str)
def test_layer_norm_at_an_infinite_weight_is_the_limit_where_not_nan(dtype):
    """ĝ = dy ⊙ w has an infinite entry, so mean(ĝ) and x̂ · mean(ĝ ⊙ x̂) are both infinite; in
    dx = rstd · (ĝ − x̂ · mean(ĝ ⊙ x̂) − mean(ĝ)) they cancel to NaN where their signs differ and add
    to ±inf where they agree: the sign of the limit w → ∞ (float64 with w = 1e200 there). torch's
    uncentred formula (and autograd through a float64 composite) give NaN throughout."""
    x = torch.tensor([[-1.874, -0.9937, 0.7183, -0.6982]], dtype=dtype)
    w = torch.tensor([-0.1469, 0.7861, float("inf"), -1.1143], dtype=dtype)
    dy = torch.tensor([[0.3513, 0.5039, 0.1461, 0.8975]], dtype=dtype)
    (ours,) = _grads(lambda x: MF.layer_norm(x, (4,), w), (_leaf(x),), dy)
    (limit,) = _grads(lambda x: F.layer_norm(x, (4,), torch.where(w.isinf(), 1e200, w.double())),
                      (_leaf(x.double()),), dy.double())
    inf = ours.isinf()
    assert inf.tolist() == [[False, False, False, True]] and bool(ours[~inf].isnan().all())
    assert torch.equal(ours[inf].double().sign(), limit[inf].sign()) and bool((limit.abs() > 1e190).all())
    assert _grads(lambda x: F.layer_norm(x, (4,), w), (_leaf(x),), dy)[0].isnan().all()


def test_4d_attention_with_a_nan_query_row_is_torchs_math_backends():
    """A NaN in a query row makes all its scores NaN, so its output row is NaN: as torch's math
    backend (which its 2-d/3-d calls take) gives it. torch's CPU flash kernel (4-d) gives 0 where
    the value column is finite: torch disagrees with itself; ours is the math backend's."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    torch.manual_seed(5)
    q, k, v = torch.randn(1, 2, 4, 4), torch.randn(1, 2, 3, 4), torch.randn(1, 2, 3, 4)
    q[0, 0, 1, 1] = float("nan")
    ours = MF.scaled_dot_product_attention(q, k, v)
    with sdpa_kernel(SDPBackend.MATH):
        math = F.scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(ours, math, equal_nan=True)
    assert bool(ours[0, 0, 1].isnan().all())
    assert torch.equal(F.scaled_dot_product_attention(q[0], k[0], v[0])[0, 1].isnan(), ours[0, 0, 1].isnan())
    assert not bool(F.scaled_dot_product_attention(q, k, v)[0, 0, 1].isnan().all())  # else drop the deviation


def test_4d_causal_attention_at_scale_0_is_the_average_of_the_visible_values():
    """scale = 0: every score is 0, so each query row averages the values it may see (causal:
    keys 0..i). torch's math backend (and its 3-d call) give that; its 4-d flash kernel gives NaN."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    torch.manual_seed(8)
    q, k, v = (torch.randn(1, 2, 2, 4, dtype=torch.float64), torch.randn(1, 2, 3, 4, dtype=torch.float64),
               torch.randn(1, 2, 3, 4, dtype=torch.float64))
    ours = MF.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.0)
    want = torch.stack([v[..., :1, :].mean(-2), v[..., :2, :].mean(-2)], -2)
    torch.testing.assert_close(ours, want)
    with sdpa_kernel(SDPBackend.MATH):
        torch.testing.assert_close(F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.0), want)
    assert F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.0).isnan().all()  # else drop it


def test_empty_attention_keeps_its_graph():
    """An empty output that depends on a mask requiring grad: ours' requires grad, and the mask's
    gradient is empty (None: nothing flows); torch's output does not require grad."""
    q, m = torch.zeros(0, 2), torch.zeros(0, 0, requires_grad=True)
    assert not F.scaled_dot_product_attention(q, q, q, attn_mask=m).requires_grad
    y = MF.scaled_dot_product_attention(q, q, q, attn_mask=m)
    assert y.requires_grad
    (g,) = torch.autograd.grad(y, m, torch.zeros(0, 2), allow_unused=True)
    assert g is None or g.shape == (0, 0)


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


@pytest.mark.parametrize("loss", ["nll_loss", "cross_entropy"])
def test_an_empty_spatial_input_with_a_byte_target_has_an_empty_gradient(loss):
    """torch's forward takes it ('mean': NaN), its backward raises ("expected scalar type Long
    but found Byte"); ours' gradient is that of a sum over nothing: empty, x's shape."""
    x, t = torch.zeros(3, 4, 4, 0, dtype=torch.float64), torch.zeros(3, 4, 0, dtype=torch.uint8)
    with pytest.raises(RuntimeError, match="expected scalar type Long but found Byte"):
        _grads(lambda x: getattr(F, loss)(x, t), (_leaf(x),), torch.tensor(1.0, dtype=torch.float64))
    (ours,) = _grads(lambda x: getattr(MF, loss)(x, t), (_leaf(x),), torch.tensor(1.0, dtype=torch.float64))
    assert ours.shape == x.shape and ours.dtype == x.dtype


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
        _grads(lambda x, b: F.layer_norm(x, (3,), None, b), (_leaf(x), _leaf(b)), dy)
    dx, db = _grads(lambda x, b: MF.layer_norm(x, (3,), None, b), (_leaf(x), _leaf(b)), dy)

    def ln64(x, b):
        m = x.mean(-1, keepdim=True)
        return (x - m) / torch.sqrt(((x - m) ** 2).mean(-1, keepdim=True) + 1e-5) + b
    want = _grads(ln64, (_leaf(x.double()), _leaf(b.double())), dy.double())
    assert (dx.dtype, db.dtype) == (dtype, torch.float32)
    torch.testing.assert_close(db.double(), want[1])
    torch.testing.assert_close(dx.double(), want[0], rtol=2e-2, atol=2e-2)


def test_group_norm_of_a_channels_last_input_without_grad_has_affine_gradients():
    """torch 2.13's CPU backward segfaults when a channels-last 4-d input does not require grad
    but the weight or bias does (the fuzzer skips torch's backward there); ours' dw, db equal the
    float64 composite's."""
    torch.manual_seed(7)
    x = torch.randn(2, 4, 3, 3, dtype=torch.float64).to(memory_format=torch.channels_last)
    w, b, dy = torch.randn(4, dtype=torch.float64), torch.randn(4, dtype=torch.float64), torch.randn(2, 4, 3, 3, dtype=torch.float64)
    ours = _grads(lambda w, b: MF.group_norm(x, 2, w, b), (_leaf(w), _leaf(b)), dy)
    want = _grads(lambda w, b: _group_norm64(x.contiguous(), 2, w, b), (_leaf(w), _leaf(b)), dy)
    for g, h in zip(ours, want):
        torch.testing.assert_close(g, h)


REPRODUCERS = [
    Case('group_norm', (T((2, 4, 3), dtype='float64'), 2), {'bias': T((4,), dtype='float64')}),
    Case('nll_loss', (T((1, 1, 2, 2), dtype='float64', layout='transposed'),
                      T((1, 2, 2), dtype='int64', values='index', grad=False, high=1)), {}),
    Case('huber_loss', (T((3,), dtype='float32'), T((3,), dtype='float64')), {}),
    Case('huber_loss', (T((3,), dtype='float32'), T((3,), dtype='int64', grad=False)), {}),
    Case('batch_norm', (T((1, 3), dtype='float64', seed=3), T((3,), dtype='float64', seed=3, grad=False),
                        T((3,), dtype='float64', layout='expanded', values='unit', seed=1, grad=False)),
         {'training': False}),
    Case('layer_norm', (T((1, 2), dtype='float64', values='special', seed=244), [2]), {}),  # [-1e30, -1e30]
    Case('layer_norm', (T((2, 1, 1), dtype='float64', values='special', seed=440), [1, 1]),
         {'weight': T((1, 1), dtype='float64', layout='strided', values='tiny', seed=1505),
          'bias': T((1, 1), dtype='float64', layout='transposed', values='kinks', seed=2000, grad=False)}),
    Case('group_norm', (T((2, 4, 0), dtype='float64'), 2), {'weight': T((4,), dtype='float64')}),
    Case('group_norm', (T((2, 4, 0), dtype='float64', grad=False), 2), {'weight': T((4,), dtype='float64')}),
    Case('elu', (T((17, 5), dtype='float16', values='special'),), {}),
    Case('elu', (T((2, 5, 4, 2), dtype='float64', layout='expanded', values='special', seed=18634, kinks=(0.0, -0.0)),), {}),
    Case('batch_norm', (T((4, 3), dtype='float64', seed=3), T((3,), dtype='float64', seed=3, grad=False),
                        T((3,), dtype='float64', layout='expanded', values='unit', seed=1, grad=False)),
         {'training': False, 'weight': T((3,), dtype='float64'), 'bias': T((3,), dtype='float64')}),
    Case('batch_norm', (T((1, 2), dtype='float64'), T((2,), dtype='float64', grad=False),
                        T((2,), dtype='float64', layout='strided', values='unit', grad=False)), {'training': False}),
    Case('batch_norm', (T((4, 3), dtype='float64', seed=3, grad=False),
                        T((3,), dtype='float64', layout='strided', seed=3, grad=False),
                        T((3,), dtype='float64', values='unit', seed=1, grad=False)),
         {'training': False, 'weight': T((3,), dtype='float64'), 'bias': T((3,), dtype='float64')}),
    Case('batch_norm', (T((2, 2), dtype='float64'), T((2,), dtype='float64', grad=False),
                        T((2,), dtype='float64', layout='expanded', values='unit', grad=False)), {'training': True}),
    Case('group_norm', (T((3, 2, 0, 2), dtype='float64', layout='expanded', values='ints'), 1),
         {'weight': T((2,), dtype='float64', layout='expanded', values='ints', seed=1234)}),
    Case('layer_norm', (T((1, 4), dtype='float16', seed=6), [4], T((4,), dtype='float16', values='special', seed=7),
                        T((4,), dtype='float16', values='special', seed=8)), {}),
    Case('scaled_dot_product_attention', (T((1, 2, 4, 4), dtype='bfloat16', values='special', seed=97),
                                          T((1, 2, 3, 4), dtype='bfloat16', values='ints', seed=3),
                                          T((1, 2, 3, 4), dtype='bfloat16', layout='expanded', values='special',
                                            seed=4760, grad=False)), {'scale': 2.0}, seed=365),
    Case('linear_cross_entropy', (T((2,), dtype='float32', layout='expanded', values='kinks', seed=362),
                                  T((2, 2), dtype='float32', layout='strided', seed=3994),
                                  T((), dtype='int64', values='index', seed=5236, grad=False)),
         {'weight': T((2,), dtype='float32', values='unit', seed=32229, grad=False),
          'linear_bias': T((2,), dtype='int64', layout='strided', values='ints', seed=1490)}),
    Case('linear_cross_entropy', (T((6,), dtype='float32', layout='expanded', values='kinks', seed=1234),
                                  T((2, 6), dtype='float32', layout='strided', values='tiny', seed=113),
                                  T((), dtype='int64', values='index', seed=5005, grad=False)),
         {'ignore_index': 1, 'label_smoothing': 0.1, 'linear_bias': T((2,), dtype='float64', values='wide', seed=1910)}),
    Case('nll_loss', (T((3, 4, 4, 0), dtype='float16', seed=65535), T((3, 4, 0), dtype='uint8', values='index', grad=False, high=4)), {}),
    Case('batch_norm', (T((1, 1, 0, 1), dtype='float64', layout='strided', values='ints', seed=51), None, None),
         {'bias': T((1,), dtype='float32', values='tiny', seed=13616), 'training': False, 'eps': 1e-05}),
    Case('scaled_dot_product_attention', (T((2, 3, 2, 4), dtype='float64', values='wide', seed=15698),
                                          T((2, 3, 3, 4), dtype='float64', values='wide', seed=936),
                                          T((2, 3, 3, 4), dtype='float64', values='wide', seed=936)),
         {'dropout_p': 0.0, 'is_causal': True, 'scale': 0.0}, seed=20107),
    Case('layer_norm', (T((3,), dtype='bfloat16', layout='expanded', values='tiny', seed=28284, grad=False), [3]),
         {'bias': T((3,), dtype='float32', layout='strided', values='tiny', seed=1382), 'eps': 1e-05}),
    Case('cross_entropy', (T((2, 4, 0), dtype='float32'), T((2, 0), dtype='uint8', values='index', grad=False, high=4)),
         {'reduction': 'sum'}),
]
# the same calls a step away from the phenomenon: the predicates must not accept a disagreement there
NEIGHBOURS = [
    Case('group_norm', (T((2, 4, 3), dtype='float64'), 2),
         {'weight': T((4,), dtype='float64'), 'bias': T((4,), dtype='float64')}),
    Case('nll_loss', (T((1, 1, 2, 2), dtype='float64'),
                      T((1, 2, 2), dtype='int64', values='index', grad=False, high=1)), {}),
    Case('huber_loss', (T((3,), dtype='float32'), T((3,), dtype='float32')), {}),
    Case('batch_norm', (T((1, 3), dtype='float64', seed=3), T((3,), dtype='float64', seed=3, grad=False),
                        T((3,), dtype='float64', values='unit', seed=1, grad=False)), {'training': False}),
    Case('layer_norm', (T((1, 2), dtype='float64', values='special', seed=245), [2]), {}),
    Case('group_norm', (T((2, 4, 1), dtype='float64'), 2), {'weight': T((4,), dtype='float64')}),
    Case('elu', (T((17, 5), dtype='float16', values='kinks'),), {}),
    Case('batch_norm', (T((1, 2, 3), dtype='float64'), T((2,), dtype='float64', grad=False),
                        T((2,), dtype='float64', layout='strided', values='unit', grad=False)), {'training': False}),
    Case('batch_norm', (T((2, 2), dtype='float64'), T((2,), dtype='float64', grad=False),
                        T((2,), dtype='float64', values='unit', grad=False)), {'training': True}),
    Case('layer_norm', (T((1, 4), dtype='float16', seed=6), [4], T((4,), dtype='float16', seed=7),
                        T((4,), dtype='float16', seed=8)), {}),
    Case('scaled_dot_product_attention', (T((1, 2, 4, 4), dtype='bfloat16', seed=97),
                                          T((1, 2, 3, 4), dtype='bfloat16', values='ints', seed=3),
                                          T((1, 2, 3, 4), dtype='bfloat16', layout='expanded', seed=4760,
                                            grad=False)), {'scale': 2.0}, seed=365),
    Case('linear_cross_entropy', (T((2,), dtype='float32', layout='expanded', values='kinks', seed=362),
                                  T((2, 2), dtype='float32', layout='strided', seed=3994),
                                  T((), dtype='int64', values='index', seed=5236, grad=False)),
         {'weight': T((2,), dtype='float32', values='unit', seed=32229, grad=False),
          'linear_bias': T((2,), dtype='float32', layout='strided', seed=1490)}),
]


@pytest.mark.parametrize("case", REPRODUCERS, ids=lambda c: c.op)
def test_the_fuzzer_accepts_each_reproducer_as_a_documented_deviation(case):
    assert disagreements(*OPS[case.op].pair, case) == ("deviation", [])


@pytest.mark.parametrize("case", NEIGHBOURS, ids=lambda c: c.op)
def test_the_neighbours_are_plain_agreements(case):
    outcome, found = disagreements(*OPS[case.op].pair, case)
    assert found == [] and outcome != "deviation"


def run_nonfinite_conv(configs) -> int:
    """Child process: half-precision conv1d weight gradients on ±inf/±1e30/NaN inputs against
    float64 rounded to the dtype once (same non-finite entries, finite ones within a few ulps of the scale)."""
    bad = 0
    for dtype, groups in configs:
        print("run", dtype, groups, flush=True)
        if groups == 0:  # the fuzzer's reproducer (bf16 only: NaN where float64 gives -inf)
            case = Case('conv1d', (T((2, 4), dtype=dtype, layout='strided', values='special'),
                                   T((2, 2, 3), dtype=dtype, layout='strided', values='special')), {})
            found = disagreements(*OPS["conv1d[half]"].pair, case)[1]
            if found:
                bad += 1
                print("FAIL", dtype, found, flush=True)
            continue
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(2, 2 * groups, 12, generator=gen, dtype=torch.float64)
        # at the ends: each reaches one tap k of dw (0 or 2), the other taps stay finite
        x[0, 0, 0], x[0, 1, 11], x[1, 0, 11] = float("inf"), float("-inf"), 1e30 if dtype == "bfloat16" else 6e4
        x[1, 1, 0] = -1e30 if dtype == "bfloat16" else float("nan")  # 1e30: bf16's range, not fp16's
        w = torch.randn(2 * groups, 2, 3, generator=gen, dtype=torch.float64)
        dy = torch.randn(2, 2 * groups, 10, generator=gen, dtype=torch.float64)
        x, w, dy = (t.to(getattr(torch, dtype)) for t in (x, w, dy))
        (ours,) = _grads(lambda w: MF.conv1d(x, w, groups=groups), (_leaf(w),), dy)
        (exact,) = _grads(lambda w: F.conv1d(x.double(), w, groups=groups), (_leaf(w.double()),), dy.double())
        exact = exact.to(ours.dtype).double()  # rounded once: fp16 overflows to inf above 65504
        fin = exact.isfinite()
        same = (ours.double() == exact) | (ours.isnan() & exact.isnan()) | fin
        err = ((ours.double()[fin] - exact[fin]).abs().max() / max(exact[fin].abs().max(), 1.0)).nan_to_num(nan=1.0)
        if not same.all() or not ours[fin].isfinite().all() or err > 8 * 2.0 ** -8:
            bad += 1
            print("FAIL", dtype, groups, "ours", ours.tolist(), "float64", exact.tolist(), flush=True)
    return bad


def test_half_conv_weight_gradient_on_non_finite_inputs_is_float64s():
    """bf16 conv1d on inf/1e30 inputs gave NaN weight gradients where float64 gives ±inf: the
    regrouped weight-gradient convolution (x as the input, dy as the kernel) ran in bf16 through
    oneDNN, whose bf16 convolution makes NaN of an inf input (torch 2.13: bf16
    conv1d([1, inf, 1, 1], [1, 1]) is [nan, inf, 2]; with mkldnn disabled, and in float32,
    [inf, inf, 2]); weight_grad now sums in float32. groups 0 stands for the fuzzer's reproducer, groups 1 takes the
    im2col path, groups 2 the regrouped one."""
    in_subprocess("test_fuzz_findings", "run_nonfinite_conv",
                  [(d, g) for d in ("bfloat16", "float16") for g in (0, 1, 2)])


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
