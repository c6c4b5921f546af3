"""Pooling beyond the op table: module twins, max_pool2d's indices, what the backwards save,
gradient layout, and the cases where torch itself has no usable gradient."""

import pytest
import torch
import torch.nn.functional as F

import manualgrad.functional as MF
import manualgrad.nn as mnn
from conftest import DEVICES
from conftest import saved_bytes

MODULES = [
    ("MaxPool2d", {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}),
    ("MaxPool2d", {"kernel_size": (2, 3), "stride": 1, "dilation": (2, 1)}),
    ("AvgPool2d", {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False}),
    ("AvgPool2d", {"kernel_size": 2, "divisor_override": 3}),
    ("AdaptiveAvgPool2d", {"output_size": (3, None)}),
    ("AdaptiveAvgPool2d", {"output_size": 1}),
    ("MaxPool1d", {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}),
    ("MaxPool3d", {"kernel_size": (2, 3, 2), "stride": 1, "dilation": (1, 1, 2)}),
    ("AvgPool1d", {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False}),
    ("AvgPool3d", {"kernel_size": 2, "divisor_override": 3}),
    ("AdaptiveAvgPool1d", {"output_size": 4}),
    ("AdaptiveAvgPool3d", {"output_size": (2, None, 3)}),
    ("AdaptiveMaxPool1d", {"output_size": 4}),
    ("AdaptiveMaxPool2d", {"output_size": (3, 4)}),
    ("AdaptiveMaxPool3d", {"output_size": 2}),
    ("LPPool1d", {"norm_type": 2, "kernel_size": 3}),
    ("LPPool2d", {"norm_type": 3, "kernel_size": 2, "stride": 1}),
    ("LPPool3d", {"norm_type": 1.5, "kernel_size": 2}),
]
SHAPES = {"1d": (2, 3, 9), "2d": (2, 3, 7, 6), "3d": (2, 3, 5, 4, 6)}


def _x(*shape, device="cpu", dtype=torch.float64):
    return torch.randn(*shape, device=device, dtype=dtype, requires_grad=True)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name,kwargs", MODULES, ids=[f"{m}-{i}" for i, (m, _) in enumerate(MODULES)])
def test_module_twin_forward_backward_repr(name, kwargs, device):
    ours, theirs = getattr(mnn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    assert repr(ours) == repr(theirs) and ours.state_dict() == theirs.state_dict() == {}
    x = _x(*SHAPES[name[-2:]], device=device)
    if name.startswith("LP"):
        x = x.detach().abs().add(0.5).requires_grad_()  # x^p of a negative x is NaN for p = 1.5
    a, b = ours(x), theirs(x)
    torch.testing.assert_close(a, b)
    assert type(a.grad_fn).__name__.endswith("FunctionBackward")  # a manualgrad Function's node
    dy = torch.randn_like(a)
    torch.testing.assert_close(torch.autograd.grad(a, x, dy)[0], torch.autograd.grad(b, x, dy)[0])


def test_max_pool_module_returns_indices_like_torch():
    ours = mnn.MaxPool2d(3, 1, 1, return_indices=True)
    theirs = torch.nn.MaxPool2d(3, 1, 1, return_indices=True)
    assert repr(ours) == repr(theirs)
    x = _x(2, 5, 6)
    (a, i), (b, j) = ours(x), theirs(x)
    torch.testing.assert_close(a, b)
    assert torch.equal(i, j) and i.dtype == torch.int64 and not i.requires_grad


NAN, INF = float("nan"), float("inf")
TIES = torch.tensor([[[[0.0, 2.0, 2.0, 0.0, 1.0], [2.0, 1.0, 2.0, 2.0, 1.0], [1.0, 2.0, 0.0, 2.0, 2.0],
                       [2.0, 2.0, 2.0, 2.0, 2.0]]]])
SPECIAL = torch.tensor([[[[NAN, 1.0, -INF, 0.0], [2.0, NAN, -INF, -INF], [INF, 0.0, NAN, 1.0],
                          [-INF, -INF, 3.0, NAN]]]])
INDEX_CASES = [
    ("random", lambda: torch.randn(2, 3, 5, 6), dict(kernel_size=3, stride=1, padding=1)),
    ("constant", lambda: torch.ones(1, 2, 5, 6), dict(kernel_size=3, stride=1, padding=1)),
    ("ties", lambda: TIES, dict(kernel_size=2, stride=1)),
    ("ties, ceil, padding", lambda: TIES, dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("nan/inf", lambda: SPECIAL, dict(kernel_size=2, stride=1, padding=1)),
    ("dilation", lambda: torch.randn(1, 2, 6, 7), dict(kernel_size=(2, 3), stride=(1, 2), dilation=(3, 2))),
    ("unbatched", lambda: torch.randn(3, 5, 6), dict(kernel_size=2)),
    ("empty batch", lambda: torch.randn(0, 3, 5, 6), dict(kernel_size=2)),
    ("channels_last", lambda: torch.randn(2, 3, 5, 6).contiguous(memory_format=torch.channels_last),
     dict(kernel_size=3, stride=2, ceil_mode=True)),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("make,kwargs", [c[1:] for c in INDEX_CASES], ids=[c[0] for c in INDEX_CASES])
def test_indices_and_values_equal_torchs(make, kwargs, device):
    """Ties keep torch's choice (the first maximum in scan order), NaN is the max."""
    x = make().to(device).requires_grad_()
    (a, i), (b, j) = MF.max_pool2d(x, return_indices=True, **kwargs), F.max_pool2d(x, return_indices=True, **kwargs)
    torch.testing.assert_close(a, b, equal_nan=True)
    assert torch.equal(i, j)
    dy = torch.randn_like(a)
    torch.testing.assert_close(torch.autograd.grad(a, x, dy)[0], torch.autograd.grad(b, x, dy)[0])


def test_return_indices_by_position_and_default():
    x = _x(1, 2, 5, 6)
    y = MF.max_pool2d(x, 2)
    assert isinstance(y, torch.Tensor)
    y, i = MF.max_pool2d(x, 2, None, 0, 1, False, True)  # return_indices is argument 6, as in torch
    assert torch.equal(i, F.max_pool2d(x, 2, None, 0, 1, False, True)[1])


def test_max_pool_saves_only_the_indices():
    x = _x(4, 8, 16, 16, dtype=torch.float32)
    ours, count, (_, idx) = saved_bytes(lambda: MF.max_pool2d(x, 3, 2, 1, return_indices=True))
    theirs, _, _ = saved_bytes(lambda: F.max_pool2d(x, 3, 2, 1))
    assert count == 1 and ours == idx.numel() * 8  # int64 indices, not x
    assert ours <= theirs


@pytest.mark.parametrize("op,args", [("avg_pool2d", (3, 2, 1, True, False)), ("adaptive_avg_pool2d", ((3, 5),))])
def test_average_pools_save_no_tensor(op, args):
    x = _x(2, 3, 8, 9, dtype=torch.float32)
    ours, count, _ = saved_bytes(lambda: getattr(MF, op)(x, *args))
    theirs, _, _ = saved_bytes(lambda: getattr(F, op)(x, *args))
    assert count == 0 and ours == 0 < theirs


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op,args", [("max_pool2d", (3, 2, 1)), ("avg_pool2d", (3, 2, 1))])
def test_channels_last_gradient_keeps_the_layout(op, args, device):
    x = torch.randn(2, 3, 6, 7, device=device).contiguous(memory_format=torch.channels_last).requires_grad_()
    y = getattr(MF, op)(x, *args)
    (dx,) = torch.autograd.grad(y, x, torch.randn_like(y))
    assert dx.is_contiguous(memory_format=torch.channels_last) and not dx.is_contiguous()


@pytest.mark.parametrize("device", DEVICES)
def test_max_pool_double_backward_equals_torchs(device):
    """d(dx·v)/dy is the gather of v at the argmaxes; overlapping windows share argmaxes."""
    x = _x(2, 3, 5, 6, device=device)
    dy = torch.randn(2, 3, 5, 6, device=device, dtype=torch.float64, requires_grad=True)
    v = torch.randn_like(x)
    got = []
    for fn in (MF.max_pool2d, F.max_pool2d):
        (dx,) = torch.autograd.grad(fn(x, 3, 1, 1), x, dy, create_graph=True)
        got.append(torch.autograd.grad((dx * v).sum(), dy)[0])
    torch.testing.assert_close(*got)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("h,w", [(1, 3), (3, 1)])
def test_dilated_window_inside_padding_gets_no_gradient(h, w, device):
    """Dilation lets a window hold padding only (rows −1 and 1 of a 1-row input): y = −inf there,
    constant in x, so the gradient is zero. Torch returns a meaningless index there (past the
    plane, or aliasing another element); its CPU backward adds dy to whatever that index
    aliases, or writes out of bounds (torch 2.13 aborts with 'double free or corruption' here)."""
    x = _x(1, 2, h, w, device=device)
    kwargs = dict(kernel_size=2, stride=1, padding=1, dilation=2)
    a, b = MF.max_pool2d(x, **kwargs), F.max_pool2d(x, **kwargs)
    torch.testing.assert_close(a, b)
    assert a.isneginf().any()
    (dx,) = torch.autograd.grad(a, x, torch.randn_like(a))
    assert torch.equal(dx, torch.zeros_like(x))


def test_adaptive_avg_pool_to_zero_size_has_a_zero_gradient():
    """Torch's forward allows output_size 0 but its backward raises; ours returns zeros."""
    x = _x(1, 2, 5, 6)
    y = MF.adaptive_avg_pool2d(x, (0, 2))
    assert y.shape == F.adaptive_avg_pool2d(x, (0, 2)).shape == (1, 2, 0, 2)
    (dx,) = torch.autograd.grad(y, x, torch.randn_like(y))
    assert torch.equal(dx, torch.zeros_like(x))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("n", [1, 2, 3])
def test_max_unpool_module_inverts_max_pool_like_torch(n, device):
    pool = getattr(torch.nn, f"MaxPool{n}d")(2, 2, 1, return_indices=True)
    ours, theirs = getattr(mnn, f"MaxUnpool{n}d")(2, 2, 1), getattr(torch.nn, f"MaxUnpool{n}d")(2, 2, 1)
    assert repr(ours) == repr(theirs)
    x = torch.randn(*SHAPES[f"{n}d"], device=device, dtype=torch.float64)
    y, idx = pool(x)
    y.requires_grad_()
    a, b = ours(y, idx, output_size=x.shape), theirs(y, idx, output_size=x.shape)
    torch.testing.assert_close(a, b)
    assert type(a.grad_fn).__name__ == "MaxUnpoolFunctionBackward"
    dy = torch.randn_like(a)
    torch.testing.assert_close(torch.autograd.grad(a, y, dy)[0], torch.autograd.grad(b, y, dy)[0])


@pytest.mark.parametrize("op", ["avg_pool3d", "lp_pool3d"])
def test_half_avg_pool3d_on_cpu_raises_as_torch(op):
    """torch has no bfloat16/float16 avg_pool3d CPU kernel: ours, whose forward is torch's, raises the same."""
    x = torch.randn(1, 2, 4, 4, 4, dtype=torch.bfloat16, requires_grad=True)
    args = (x, 2) if op == "avg_pool3d" else (x, 2, 2)
    with pytest.raises(NotImplementedError) as theirs:
        getattr(F, op)(*args)
    with pytest.raises(NotImplementedError, match=str(theirs.value)):
        getattr(MF, op)(*args)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("n", [1, 3])
def test_dilated_windows_inside_padding_get_no_gradient_in_1d_and_3d(n, device):
    """As the 2-d test above: a window of padding only gives −inf and no gradient (torch's backward
    is not run: it writes out of bounds)."""
    x = _x(*(1, 2) + (1,) * n, device=device)
    y = getattr(MF, f"max_pool{n}d")(x, kernel_size=2, stride=1, padding=1, dilation=2)
    assert torch.equal(y, getattr(F, f"max_pool{n}d")(x.detach(), kernel_size=2, stride=1, padding=1, dilation=2))
    assert y.isneginf().any()
    (dx,) = torch.autograd.grad(y, x, torch.randn_like(y))
    assert torch.equal(dx, torch.zeros_like(x))


@pytest.mark.parametrize("n", [1, 2, 3])
def test_adaptive_max_pool_saves_only_the_indices(n):
    x = _x(*SHAPES[f"{n}d"], dtype=torch.float32)
    ours, count, (_, idx) = saved_bytes(lambda: getattr(MF, f"adaptive_max_pool{n}d")(x, 2, True))
    theirs, _, _ = saved_bytes(lambda: getattr(F, f"adaptive_max_pool{n}d")(x, 2))
    assert count == 1 and ours == idx.numel() * 8 <= theirs


@pytest.mark.parametrize("n", [1, 2, 3])
def test_lp_pool_of_an_all_zero_window_matches_torch(n):
    """sign(s)·relu(|s|) then s^(1/p): at s = 0 torch's chain gives 0·∞; ours is the same chain."""
    x = _x(*SHAPES[f"{n}d"]).detach()
    x[0] = 0
    x.requires_grad_()
    a, b = getattr(MF, f"lp_pool{n}d")(x, 2, 2), getattr(F, f"lp_pool{n}d")(x, 2, 2)
    torch.testing.assert_close(a, b)
    dy = torch.randn_like(a)
    torch.testing.assert_close(torch.autograd.grad(a, x, dy)[0], torch.autograd.grad(b, x, dy)[0], equal_nan=True)
