"""Inputs at the edge of what torch accepts, beyond the op table's samples: the deprecated
reduction='elementwise_mean' (functional and nn modules), dtype combinations torch refuses or
accepts, and shapes whose backward once crashed. Each case is run through torch and manualgrad:
same exception type and message, or same value and gradients."""

import warnings

import pytest
import torch
import torch.nn.functional as F

import manualgrad.functional as MF
import manualgrad.nn as mnn


def _run(fn, *args, **kwargs):
    """fn on fresh leaves: (output, gradients of the leaves that require grad, warnings)."""
    args = [a.detach().clone().requires_grad_(a.requires_grad) if isinstance(a, torch.Tensor) else a for a in args]
    leaves = [a for a in args if isinstance(a, torch.Tensor) and a.requires_grad]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn(*args, **kwargs)
    dy = torch.randn(out.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64).to(out.dtype)
    grads = torch.autograd.grad(out, leaves, dy, allow_unused=True) if leaves and out.requires_grad else ()
    return out, grads, [str(w.message) for w in caught]


def same_as_torch(ours, theirs, *args, **kwargs):
    """ours(*args) and theirs(*args) raise alike, or agree on value, gradients and warnings."""
    try:
        expected = _run(theirs, *args, **kwargs)
    except Exception as e:  # noqa: BLE001 - any exception type torch raises is the reference
        with pytest.raises(type(e)) as got:
            _run(ours, *args, **kwargs)
        assert str(got.value) == str(e)
        return
    out, grads, caught = _run(ours, *args, **kwargs)
    torch.testing.assert_close(out, expected[0], equal_nan=True)
    assert len(grads) == len(expected[1])
    for g, h in zip(grads, expected[1]):
        torch.testing.assert_close(g, h, equal_nan=True)
    assert sorted(caught) == sorted(expected[2])


def _leaf(*shape, low=-2.0, high=2.0, dtype=torch.float64, grad=True):
    return torch.empty(shape, dtype=dtype).uniform_(low, high).requires_grad_(grad)


# ---------------------------------------------------------------- reduction='elementwise_mean'

x, t, p = _leaf(4, 5), _leaf(4, 5), _leaf(4, 5, low=0.05, high=0.95)
y, w, cw = torch.tensor([0, 2, 4, 1]), _leaf(4, 5, low=0.5, grad=False), _leaf(5, low=0.5, grad=False)
CASES = {
    "mse_loss": (x, t), "l1_loss": (x, t), "smooth_l1_loss": (x, t), "huber_loss": (x, t),
    "binary_cross_entropy": (p, p.detach()), "binary_cross_entropy_with_logits": (x, p.detach()),
    "cross_entropy": (x, y), "nll_loss": (x, y),
}
WEIGHTS = {"mse_loss": w, "l1_loss": w, "huber_loss": w, "binary_cross_entropy": w,
           "binary_cross_entropy_with_logits": w, "cross_entropy": cw, "nll_loss": cw}


@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weighted"])
@pytest.mark.parametrize("op", CASES)
def test_elementwise_mean_is_mean_with_torch_warning(op, weighted):
    """torch warns and reduces as 'mean' (value and gradient); the weighted regression losses,
    whose Python path knows only three names, raise its ValueError instead."""
    if weighted and op not in WEIGHTS:
        pytest.skip("no weight argument")
    kwargs = {"reduction": "elementwise_mean", **({"weight": WEIGHTS[op]} if weighted else {})}
    same_as_torch(getattr(MF, op), getattr(F, op), *CASES[op], **kwargs)


MODULES = {"MSELoss": (x, t), "L1Loss": (x, t), "SmoothL1Loss": (x, t), "HuberLoss": (x, t),
           "BCELoss": (p, p.detach()), "BCEWithLogitsLoss": (x, p.detach()), "CrossEntropyLoss": (x, y),
           "NLLLoss": (x, y)}


@pytest.mark.parametrize("name", MODULES)
def test_loss_modules_take_elementwise_mean(name):
    same_as_torch(getattr(mnn, name)(reduction="elementwise_mean"),
                  getattr(torch.nn, name)(reduction="elementwise_mean"), *MODULES[name])


def test_linear_cross_entropy_elementwise_mean_with_class_weight():
    h, lw = _leaf(4, 3), _leaf(5, 3)
    same_as_torch(MF.linear_cross_entropy, F.linear_cross_entropy, h, lw, y, weight=cw, reduction="elementwise_mean")


# ---------------------------------------------------------------- shapes whose backward crashed


@pytest.mark.parametrize("x_shape,b_shape", [((3,), (1, 5)), ((3,), (1,)), ((4, 3), (4, 1)), ((2, 4, 3), (4, 5))])
def test_linear_bias_that_broadcasts(x_shape, b_shape):
    """A 1-d input's output is (out,) even with a (1, out) bias (torch squeezes the row it adds)."""
    same_as_torch(MF.linear, F.linear, _leaf(*x_shape), _leaf(5, 3), _leaf(*b_shape))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=str)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_linear_cross_entropy_low_precision_class_weight(dtype, smoothing):
    h, lw, b = _leaf(6, 4, dtype=dtype), _leaf(7, 4, dtype=dtype), _leaf(7, dtype=dtype)
    t_ = torch.tensor([0, 6, 2, 2, 5, 1])
    kwargs = dict(linear_bias=b, weight=_leaf(7, low=0.1, dtype=dtype, grad=False), label_smoothing=smoothing)
    ours = _run(MF.linear_cross_entropy, h, lw, t_, **kwargs)
    theirs = _run(F.linear_cross_entropy, h, lw, t_, **kwargs)
    for a, b_ in zip((ours[0], *ours[1]), (theirs[0], *theirs[1])):  # torch rounds its logits: bf16 tolerance
        torch.testing.assert_close(a, b_, rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("mask", ["bool", "float"])
@pytest.mark.parametrize("lse", [(3, 0, 4), (0, 4, 4), (3, 4, 0)], ids=["S=0", "L=0", "Ev=0"])
def test_sdpa_without_keys_or_output(lse, mask):
    """torch returns zeros that do not depend on the mask: the mask gets no gradient (None)."""
    n_l, n_s, ev = lse
    m = torch.rand(n_l, n_s) > 0.5 if mask == "bool" else _leaf(n_l, n_s)
    q, k, v = _leaf(2, n_l, 3), _leaf(2, n_s, 3), _leaf(2, n_s, ev)
    same_as_torch(lambda *a: MF.scaled_dot_product_attention(*a[:3], attn_mask=a[3]),
                  lambda *a: F.scaled_dot_product_attention(*a[:3], attn_mask=a[3]), q, k, v, m)


# ---------------------------------------------------------------- dtypes


def _complex(*shape):
    return torch.randn(shape, dtype=torch.complex128).requires_grad_()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("kinds", ["cc", "cr", "rc"])
def test_l1_loss_of_complex_numbers(kinds, reduction):
    """torch's l1_loss is |input − target| in plain arithmetic: complex works, with abs's
    derivative sgn(d) and the real part for a real operand."""
    x_, t_ = (_complex(3, 4) if k == "c" else _leaf(3, 4) for k in kinds)
    same_as_torch(MF.l1_loss, F.l1_loss, x_, t_, reduction=reduction)
    same_as_torch(MF.smooth_l1_loss, F.smooth_l1_loss, x_, t_, reduction=reduction, beta=0.0)
    assert torch.autograd.gradcheck(lambda a, b: MF.l1_loss(a, b, reduction=reduction), (x_, t_))


@pytest.mark.parametrize("op", ["mse_loss", "l1_loss", "huber_loss"])
def test_complex_weighted_regression_loss_is_refused(op):
    """Documented deviation: torch computes these; our backward has no conjugates."""
    with pytest.raises(NotImplementedError, match="complex numbers in a weighted regression loss"):
        getattr(MF, op)(_leaf(3, 4), _leaf(3, 4), weight=_complex(3, 4))


@pytest.mark.parametrize("op", ["mse_loss", "smooth_l1_loss", "huber_loss"])
@pytest.mark.parametrize("dtypes", [(torch.float32, torch.bool), (torch.float64, torch.float32),
                                    (torch.int64, torch.float32), (torch.float32, torch.int32)], ids=str)
def test_regression_kernels_promote_like_torch(op, dtypes):
    """The loss value (huber's backward fails in torch itself for mixed dtypes)."""
    a, b = (torch.rand(3, 4).mul(3).to(d) for d in dtypes)
    try:
        expected = getattr(F, op)(a, b)
    except RuntimeError as e:
        with pytest.raises(RuntimeError, match=str(e)):
            getattr(MF, op)(a, b)
        return
    torch.testing.assert_close(getattr(MF, op)(a, b), expected)


NORMS = {
    "layer_norm": lambda m, x, w, b: m.layer_norm(x, (4,), w, b),
    "group_norm": lambda m, x, w, b: m.group_norm(x, 2, w, b),
    "batch_norm train": lambda m, x, w, b: m.batch_norm(x, None, None, w, b, True),
    "batch_norm eval": lambda m, x, w, b: m.batch_norm(x, torch.zeros(4), torch.ones(4), w, b, False),
}


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=str)
@pytest.mark.parametrize("norm", NORMS)
def test_norms_take_half_input_with_float32_parameters(norm, dtype):
    """The one mixed combination torch's CPU norms accept (value and input gradient; torch's own
    backward of a float32 bias alone fails, so weight and bias are given together)."""
    x_ = torch.randn(3, 4, 4, dtype=dtype).requires_grad_()  # (N, C, normalized) with C = normalized = 4
    w_, b_ = _leaf(4, dtype=torch.float32), _leaf(4, dtype=torch.float32)
    ours = _run(lambda *a: NORMS[norm](MF, *a), x_, w_, b_)
    theirs = _run(lambda *a: NORMS[norm](F, *a), x_, w_, b_)
    assert ours[0].dtype == theirs[0].dtype
    for a, b in zip((ours[0], *ours[1]), (theirs[0], *theirs[1])):
        torch.testing.assert_close(a, b, rtol=2e-2, atol=2e-2)


_T, _NP = torch.tensor, __import__("numpy")
INT_LIKE = {  # torch's argument parser reads anything with __index__ as an int: 0-d integer tensors, numpy ints
    "conv2d stride": lambda f, x, w, wt: f.conv2d(x, w, stride=_T(2)),
    "conv2d padding": lambda f, x, w, wt: f.conv2d(x, w, padding=_NP.int64(1)),
    "conv2d dilation": lambda f, x, w, wt: f.conv2d(x, w, dilation=_T(2)),
    "conv2d in lists": lambda f, x, w, wt: f.conv2d(x, w, stride=[_T(2), _NP.int32(1)], padding=(_T(1), 0)),
    "conv1d stride": lambda f, x, w, wt: f.conv1d(x[:, :, 0], w[:, :, 0], stride=_NP.int64(2)),
    "conv_transpose2d": lambda f, x, w, wt: f.conv_transpose2d(x, wt, stride=_T(2), padding=_T(1), dilation=_NP.int64(1)),
    "avg_pool2d kernel": lambda f, x, w, wt: f.avg_pool2d(x, _T(2)),
    "avg_pool2d stride, padding": lambda f, x, w, wt: f.avg_pool2d(x, 3, stride=_NP.int64(2), padding=_T(1)),
    "avg_pool1d": lambda f, x, w, wt: f.avg_pool1d(x[:, :, 0], _T(2)),
    "avg_pool3d": lambda f, x, w, wt: f.avg_pool3d(x.unsqueeze(2).expand(1, 2, 2, 6, 6), _T(2)),
    "max_pool2d": lambda f, x, w, wt: f.max_pool2d(x, _T(3), stride=_T(2), padding=_NP.int64(1), dilation=_T(1)),
}


@pytest.mark.parametrize("case", list(INT_LIKE))
def test_int_arguments_given_as_tensors_or_numpy_ints_are_taken_as_torch_takes_them(case):
    """A stride or padding of torch.tensor(2) or numpy.int64(1) raised TypeError ('iteration over a
    0-d tensor') in conv, conv_transpose and avg_pool, where torch computes: outputs and every
    gradient must equal torch's."""
    results = []
    for f in (F, MF):
        torch.manual_seed(0)
        leaves = [torch.randn(*s, dtype=torch.float64, requires_grad=True) for s in ((1, 2, 6, 6), (3, 2, 3, 3), (2, 3, 3, 3))]
        out = INT_LIKE[case](f, *leaves)
        out.backward(torch.ones_like(out))
        results.append([out.detach(), *(t.grad for t in leaves)])
    for a, b in zip(*results):
        assert (a is None) == (b is None)
        if a is not None:
            torch.testing.assert_close(b, a)
