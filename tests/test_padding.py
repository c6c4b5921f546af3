"""pad beyond the op table: the source maps against torch's kernels (hypothesis), module twins,
what the backward saves, double backward, autocast and half precision."""

import hypothesis.strategies as st
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings

import manualgrad.functional as MF
import manualgrad.nn as mnn
from conftest import DEVICES, saved_bytes
from manualgrad.functions.padding import _pairs, source_index


@st.composite
def calls(draw):
    mode = draw(st.sampled_from(["reflect", "replicate", "circular"]))
    k = draw(st.integers(1, 3))
    spatial = draw(st.tuples(*[st.integers(1, 6)] * k))
    batch = draw(st.sampled_from([(), (2,)])) if k < 3 else (2,)
    pad = draw(st.tuples(*[st.integers(-3, 6)] * (2 * k)))
    return torch.randn(*batch, 2, *spatial, dtype=torch.float64), pad, mode


@settings(max_examples=300, deadline=None)
@given(calls())
def test_source_maps_reproduce_torchs_kernels(call):
    """Gathering x through each dim's source map is torch's padding (and ours), on every size, pad
    (negative too) and mode it accepts."""
    x, pad, mode = call
    try:
        want = MF.pad(x, pad, mode)
    except (RuntimeError, NotImplementedError):
        return  # torch's errors, and circular padding with nothing to wrap (op table)
    torch.testing.assert_close(want, F.pad(x, pad, mode), rtol=0, atol=0)
    got = x
    for back, before, after in _pairs(pad):
        got = got.index_select(x.dim() - back, source_index(mode, x.shape[-back], before, after, x.device))
    torch.testing.assert_close(got, want, rtol=0, atol=0)


MODULES = [  # (class, constructor arguments, input shape)
    ("ZeroPad1d", ((2, 1),), (2, 3, 5)), ("ZeroPad2d", ((1, 2, -1, 0),), (2, 3, 4, 5)),
    ("ZeroPad3d", (1,), (1, 2, 3, 4, 5)),
    ("ConstantPad1d", ((2, 1), 1.5), (3, 5)), ("ConstantPad2d", (1, -1.0), (2, 3, 4, 5)),
    ("ConstantPad3d", ((1, 0, 2, 1, 0, 1), 2.0), (1, 2, 3, 4, 5)),
    ("ReflectionPad1d", ((3, 1),), (2, 3, 5)), ("ReflectionPad2d", ((1, 2, 3, 0),), (3, 4, 5)),
    ("ReflectionPad3d", (2,), (1, 2, 3, 4, 5)),
    ("ReplicationPad1d", ((4, 0),), (3, 5)), ("ReplicationPad2d", (2,), (2, 3, 4, 5)),
    ("ReplicationPad3d", ((1, 2, 0, 1, 2, 1),), (2, 3, 4, 5)),
    ("CircularPad1d", ((2, 5),), (2, 3, 5)), ("CircularPad2d", ((1, 1, 4, 0),), (3, 4, 5)),
    ("CircularPad3d", (1,), (1, 2, 3, 4, 5)),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name,args,shape", MODULES, ids=[m[0] for m in MODULES])
def test_module_twin_forward_backward_repr(name, args, shape, device):
    ours, theirs = getattr(mnn, name)(*args), getattr(torch.nn, name)(*args)
    assert isinstance(ours, getattr(torch.nn, name))
    assert repr(ours) == repr(theirs) and ours.state_dict() == theirs.state_dict() == {}
    x = torch.randn(shape, device=device, dtype=torch.float64, requires_grad=True)
    a, b = ours(x), theirs(x)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert type(a.grad_fn).__name__ == "PadFunctionBackward"
    dy = torch.randn_like(a)
    torch.testing.assert_close(torch.autograd.grad(a, x, dy)[0], torch.autograd.grad(b, x, dy)[0])


@pytest.mark.parametrize("pad", [(3, -3), (-4, 1), (3, -2)])
def test_circular_padding_past_the_cropped_part_raises(pad):
    """Torch checks circular pads against the uncropped size and returns uninitialised memory
    when a pad is longer than what negative pads leave; we raise."""
    x = torch.randn(2, 4)
    assert F.pad(x, pad, "circular").shape == (2, 4 + sum(pad))
    with pytest.raises(RuntimeError, match="wraps around more than the cropped part"):
        MF.pad(x, pad, "circular")


def test_circular_module_checks_the_input_rank_as_torch():
    x = torch.randn(5)
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        mnn.CircularPad1d(1)(x)
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        torch.nn.CircularPad1d(1)(x)


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_backward_saves_no_tensor(mode):
    x = torch.randn(2, 3, 8, 9, requires_grad=True)
    ours, count, _ = saved_bytes(lambda: MF.pad(x, (2, 1, 1, 3), mode))
    assert count == 0 and ours == 0


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_double_backward_equals_torchs(mode, device):
    """d(dx·v)/dy is the pad of v (the backward is linear in dy, its adjoint the forward)."""
    x = torch.randn(2, 3, 4, 5, device=device, dtype=torch.float64, requires_grad=True)
    dy = torch.randn(2, 3, 7, 9, device=device, dtype=torch.float64, requires_grad=True)
    v = torch.randn_like(x)
    got = []
    for fn in (MF.pad, F.pad):
        (dx,) = torch.autograd.grad(fn(x, (3, 1, 2, 1), mode), x, dy, create_graph=True)
        got.append(torch.autograd.grad((dx * v).sum(), dy)[0])
    torch.testing.assert_close(*got)
    torch.testing.assert_close(got[0], F.pad(v, (3, 1, 2, 1), mode))


@pytest.mark.parametrize("mode,pad,want", [
    ("reflect", (1, 1), torch.float32), ("reflect", (1, 1, 1, 1), torch.float32), ("reflect", (1,) * 6, torch.bfloat16),
    ("replicate", (1,) * 6, torch.float32), ("circular", (1, 1), torch.bfloat16), ("constant", (1, 1), torch.bfloat16)])
def test_cpu_autocast_dtype_is_torchs(mode, pad, want):
    """CPU autocast runs reflection_pad1d/2d and replication_pad* in float32, the rest as given."""
    x = torch.randn(1, 2, 3, 4, 5, dtype=torch.bfloat16)[(0,) * (3 - len(pad) // 2)].requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ours, theirs = MF.pad(x, pad, mode), F.pad(x, pad, mode)
    assert ours.dtype == theirs.dtype == want
    (dx,) = torch.autograd.grad(ours, x, torch.ones_like(ours))
    assert dx.dtype == torch.bfloat16


def test_half_precision_fold_accumulates_in_float32():
    """Replicate padding by 60 folds 61 copies of dy onto each border entry: summed in float32 and
    rounded once, within one bfloat16 step of the float64 sum."""
    x = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    dy = torch.randn(2, 3, 124, dtype=torch.float64).bfloat16().double()
    want = torch.autograd.grad(MF.pad(x, (60, 60), "replicate"), x, dy)[0]
    xb = x.detach().bfloat16().requires_grad_()
    got = torch.autograd.grad(MF.pad(xb, (60, 60), "replicate"), xb, dy.bfloat16())[0]
    torch.testing.assert_close(got.double(), want, rtol=2 ** -8, atol=1e-6)


def test_pad_to_an_empty_output_has_a_zero_gradient():
    """A negative pad that crops a dim to 0 leaves nothing of x in y: dx = 0 (torch 2.13's
    reflection_pad3d backward returns uninitialised memory there)."""
    x = torch.randn(3, 4, 1, 5, 4, requires_grad=True)
    y = MF.pad(x, (1, 2, 1, 1, 0, -1), mode="reflect")
    assert y.shape == F.pad(x, (1, 2, 1, 1, 0, -1), mode="reflect").shape == (3, 4, 0, 7, 7)
    (dx,) = torch.autograd.grad(y, x, torch.randn_like(y))
    assert torch.equal(dx, torch.zeros_like(x))
