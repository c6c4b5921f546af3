"""interpolate beyond the op table: the interpolation matrices against torch's kernels (hypothesis),
the cases where torch's own gradient or forward is wrong, module twins, what the backward saves,
gradient layout and half precision."""

import hypothesis.strategies as st
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings

import manualgrad.functional as MF
import manualgrad.nn as mnn
from conftest import DEVICES, saved_bytes
from manualgrad.functions import resample as R
from manualgrad.functions import resample_weights as W
from manualgrad.samples import resample as samples

RANK = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3, "lanczos": 2}
ANTIALIASED = ("bilinear", "bicubic", "lanczos")


def matrix_forward(x, size=None, scale_factor=None, mode="nearest", align_corners=None,
                   recompute_scale_factor=None, antialias=False):
    """interpolate as A₁, A₂, … applied axis by axis (the matrices the backward transposes)."""
    y = MF.interpolate(x, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias)
    n = x.dim() - 2
    given_scales = scale_factor is not None and not recompute_scale_factor and mode != "area"
    scales = R._per_axis(scale_factor, n) if given_scales else [None] * n
    taps = R.axes(mode, x.shape[2:], y.shape[2:], bool(align_corners), scales, antialias, x.dtype, x.device)
    for i, (idx, w) in enumerate(taps):
        x = R.along(x, 2 + i, idx.to(x.device), w.to(x.device, x.dtype))
    return y, x


@st.composite
def calls(draw):
    mode = draw(st.sampled_from(["nearest", "nearest-exact", "area", "linear", "bilinear", "bicubic", "trilinear",
                                 "lanczos"]))
    antialias = mode == "lanczos" or (mode in ANTIALIASED and draw(st.booleans()))
    n = RANK.get(mode) or draw(st.integers(1, 3))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), *draw(st.tuples(*[st.integers(1, 9)] * n)))
    kw = dict(mode=mode, antialias=antialias)
    if draw(st.booleans()):
        kw["size"] = draw(st.one_of(st.integers(1, 12), st.tuples(*[st.integers(1, 12)] * n)))
    else:
        factor = st.sampled_from([0.3, 0.5, 0.6, 0.75, 0.9, 1.0, 1.1, 4 / 3, 1.5, 2.0, 2.1, 2.5, 3.0, 3.7])
        kw["scale_factor"] = draw(st.one_of(factor, st.tuples(*[factor] * n)))
        kw["recompute_scale_factor"] = draw(st.sampled_from([None, False, True]))
    if mode in RANK and mode != "lanczos":
        kw["align_corners"] = draw(st.sampled_from([None, False, True]))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    return torch.randn(shape, dtype=dtype), kw


@settings(max_examples=400, deadline=None)
@given(calls())
def test_matrices_reproduce_torchs_kernels(call):
    """A's rows hold torch's index arithmetic: the separable matrix product equals the kernel
    (the forward) on every mode, size, scale, rounding and border."""
    x, kw = call
    try:
        F.interpolate(x, **kw)
    except (RuntimeError, ValueError):
        return  # a size that rounds to 0: torch's error, ours too (op table)
    y, z = matrix_forward(x, **kw)
    tol = dict(rtol=1e-5, atol=1e-5) if x.dtype == torch.float32 else dict(rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(z, y, **tol)


@pytest.mark.parametrize("mode,n_in,n_out,aa", [("nearest", 7, 15, False), ("bilinear", 9, 4, True),
                                                ("bicubic", 6, 13, False), ("area", 11, 4, False)])
def test_dense_adjoint_equals_the_scatter(mode, n_in, n_out, aa):
    """The fast path (a matmul with the dense A) is the plain scatter of the taps, along any dim."""
    idx, w = W.axis(mode, n_in, n_out, align_corners=False, scale=None, antialiased=aa, dtype=torch.float64,
                    copy_same=True, shortcut=False)
    for dim in (0, 1, 2):
        shape = [3, 2, 4]
        shape[dim] = n_out
        g = torch.randn(shape, dtype=torch.float64)
        torch.testing.assert_close(R.adjoint_dense(g, dim, W.dense(idx, w, n_in)), R.adjoint_along(g, dim, idx, w, n_in))


def test_nearest_index_arithmetic_is_float32():
    """nearest reads ⌊o·s⌋ with s = 1/scale_factor rounded to float32 (in float64, 3·(1/3) = 1 would
    pick a different source at the boundaries)."""
    idx, _ = W.nearest(7, 21, 3.0, exact=False, shortcut=False)
    want = (torch.arange(21, dtype=torch.float32) * torch.tensor(1 / 3, dtype=torch.float32)).floor().long()
    assert torch.equal(idx[:, 0], want)


@pytest.mark.parametrize("sample", list(samples.torch_gradient_wrong("cpu", torch.float64)), ids=repr)
def test_gradient_is_the_adjoint_where_torchs_is_not(sample):
    """Torch's CPU backward and forward disagree on a shortcut for a kept or doubled size reached by
    a scale factor other than 1 or 2: its gradient fails gradcheck. Ours is the adjoint of the
    forward (the same as torch's, checked)."""
    x, kw = sample.args[0], sample.kwargs
    torch.testing.assert_close(MF.interpolate(x, **kw), F.interpolate(x, **kw), rtol=0, atol=0)
    assert torch.autograd.gradcheck(lambda t: MF.interpolate(t, **kw), x)
    assert torch.autograd.gradgradcheck(lambda t: MF.interpolate(t, **kw), x)
    assert not torch.autograd.gradcheck(lambda t: F.interpolate(t, **kw), x, raise_exception=False)


@pytest.mark.parametrize("sample", list(samples.antialias_width_one("cpu", torch.float64)), ids=repr)
def test_antialias_to_width_one_is_right_where_torchs_forward_is_not(sample):
    """Torch's CPU antialias kernel returns the first input row for every output row when the width
    becomes 1 and the height changes; ours equals the same kernel run on the transpose, and
    torch's own gradient there (the adjoint of the right map) equals ours."""
    x, (size,), kw = sample.args[0], sample.args[1:], sample.kwargs
    ours = MF.interpolate(x, size, **kw)
    right = F.interpolate(x.mT, size[::-1], **kw).mT
    torch.testing.assert_close(ours, right)
    assert not torch.allclose(F.interpolate(x, size, **kw), right)
    dy = torch.randn_like(ours)
    torch.testing.assert_close(torch.autograd.grad(ours, x, dy)[0],
                               torch.autograd.grad(F.interpolate(x, size, **kw), x, dy)[0])
    assert torch.autograd.gradcheck(lambda t: MF.interpolate(t, size, **kw), x)


MODULES = [
    ("Upsample", dict(scale_factor=2), (2, 3, 5)),
    ("Upsample", dict(size=(3, 7), mode="bilinear", align_corners=True), (2, 3, 4, 5)),
    ("Upsample", dict(scale_factor=(1.5, 0.5, 2.0), mode="trilinear", recompute_scale_factor=True), (1, 2, 4, 4, 3)),
    ("Upsample", dict(size=4, mode="bicubic"), (2, 3, 5, 6)),
    ("Upsample", dict(size=(2, 3), mode="area"), (2, 3, 5, 6)),
    ("UpsamplingNearest2d", dict(scale_factor=3), (2, 3, 4, 5)),
    ("UpsamplingBilinear2d", dict(size=(6, 9)), (2, 3, 4, 5)),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name,kwargs,shape", MODULES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MODULES)])
def test_module_twin_forward_backward_repr(name, kwargs, shape, device):
    ours, theirs = getattr(mnn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    assert isinstance(ours, getattr(torch.nn, name))
    assert repr(ours) == repr(theirs) and ours.state_dict() == theirs.state_dict() == {}
    x = torch.randn(shape, device=device, dtype=torch.float64, requires_grad=True)
    a, b = ours(x), theirs(x)
    torch.testing.assert_close(a, b)
    assert type(a.grad_fn).__name__ == "InterpolateFunctionBackward"
    dy = torch.randn_like(a)
    torch.testing.assert_close(torch.autograd.grad(a, x, dy)[0], torch.autograd.grad(b, x, dy)[0])


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_backward_saves_no_tensor(mode):
    x = torch.randn(2, 3, 8, 9, requires_grad=True)
    ours, count, _ = saved_bytes(lambda: MF.interpolate(x, scale_factor=2, mode=mode))
    assert count == 0 and ours == 0


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode,fmt,shape", [("bilinear", torch.channels_last, (2, 3, 4, 5)),
                                            ("trilinear", torch.channels_last_3d, (1, 3, 3, 4, 5))])
def test_channels_last_gradient_keeps_the_layout(mode, fmt, shape, device):
    x = torch.randn(shape, device=device).contiguous(memory_format=fmt).requires_grad_()
    y = MF.interpolate(x, scale_factor=2, mode=mode)
    (dx,) = torch.autograd.grad(y, x, torch.randn_like(y))
    assert dx.is_contiguous(memory_format=fmt) and not dx.is_contiguous()


@pytest.mark.parametrize("mode", ["nearest", "bilinear", "bicubic"])
def test_half_precision_gradient_accumulates_in_float32(mode):
    """Upsampling by 8 folds up to 64 dy entries onto each x entry: in float32 and rounded once,
    the bfloat16 gradient is the float64 one rounded (within one bfloat16 step)."""
    x = torch.randn(1, 2, 8, 8, dtype=torch.float64, requires_grad=True)
    dy = torch.randn(1, 2, 64, 64, dtype=torch.float64).bfloat16().double()
    kw = dict(size=(64, 64), mode=mode)
    want = torch.autograd.grad(MF.interpolate(x, **kw), x, dy)[0]
    xb = x.detach().bfloat16().requires_grad_()
    got = torch.autograd.grad(MF.interpolate(xb, **kw), xb, dy.bfloat16())[0]
    assert got.dtype == torch.bfloat16
    torch.testing.assert_close(got.double(), want, rtol=2 ** -8, atol=1e-6)


def test_autocast_runs_interpolate_in_the_input_dtype_as_torch():
    x = torch.randn(1, 2, 4, 5)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        for t in (x, x.bfloat16()):
            assert MF.interpolate(t, scale_factor=2, mode="bilinear").dtype == \
                F.interpolate(t, scale_factor=2, mode="bilinear").dtype == t.dtype


@pytest.mark.parametrize("mode,shape,size", [("nearest", (1, 2, 40), 90), ("linear", (1, 2, 70), 150),
                                             ("bicubic", (1, 1, 2, 130), (3, 200)),
                                             ("nearest-exact", (1, 1, 2, 3, 41), (3, 2, 17))])
def test_long_axes_take_the_scatter_and_equal_torch(mode, shape, size):
    """Axes longer than 32 taps per row take the scatter path (the table's small samples the dense
    one): equal to torch, gradcheck and gradgradcheck."""
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    y = MF.interpolate(x, size, mode=mode)
    dy = torch.randn_like(y)
    torch.testing.assert_close(torch.autograd.grad(y, x, dy)[0],
                               torch.autograd.grad(F.interpolate(x, size, mode=mode), x, dy)[0])
    assert torch.autograd.gradcheck(lambda t: MF.interpolate(t, size, mode=mode), x)
    assert torch.autograd.gradgradcheck(lambda t: MF.interpolate(t, size, mode=mode), x)
