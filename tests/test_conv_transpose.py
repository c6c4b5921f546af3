"""ConvTranspose1d/2d/3d and Fold/Unfold: module twins of torch.nn's (init, state_dict, repr,
``output_size`` at call time), saved bytes, dx layout, swap and routing. The functional ops are in
the op table (tests/test_ops.py); half precision in tests/test_conv_precision.py."""

import pytest
import torch
import torch.nn.functional as F

import manualgrad as mg
import manualgrad.functional as MF
import manualgrad.nn as mnn
from conftest import assert_same_twin_state, seeded_twins, DEVICES, saved_bytes

D = torch.float64
SIZE = (5, 4, 3)
CONFIGS = [  # (dims, in, out, kernel, kwargs)
    (1, 4, 6, 3, {}),
    (1, 4, 4, 2, dict(stride=3, groups=4, bias=False, output_padding=2)),
    (1, 2, 3, 3, dict(stride=1, padding=2, dilation=3, output_padding=2)),
    (2, 4, 6, (3, 2), dict(stride=(2, 1), padding=(1, 0), groups=2)),
    (2, 4, 8, 3, dict(stride=2, padding=1, output_padding=1, groups=4)),  # depthwise, multiplier 2
    (2, 2, 3, 1, dict(stride=2)),
    (3, 2, 4, (2, 3, 2), dict(stride=(1, 2, 2), padding=(0, 1, 1), output_padding=(0, 1, 0), groups=2)),
    (3, 2, 2, 2, dict(dilation=2, bias=False)),
]
IDS = [f"ConvTranspose{c[0]}d-{'-'.join(f'{k}={v}' for k, v in c[4].items()) or 'default'}" for c in CONFIGS]


def _twins(dims, cin, cout, k, kwargs, device="cpu", dtype=D):
    return seeded_twins(f"ConvTranspose{dims}d", cin, cout, k, device=device, dtype=dtype, **kwargs)


def _input(dims, cin, batch=(2,), device="cpu", dtype=D):
    return torch.randn(*batch, cin, *SIZE[:dims], device=device, dtype=dtype, requires_grad=True)


def _equal_and_same_gradients(ours, theirs, x, *args, name="ConvTransposeFunctionBackward"):
    a, b = ours(x, *args), theirs(x, *args)
    torch.testing.assert_close(a, b)
    assert type(a.grad_fn).__name__ == name
    dy = torch.randn_like(a)
    for g, h in zip(torch.autograd.grad(a, [x, *ours.parameters()], dy),
                    torch.autograd.grad(b, [x, *theirs.parameters()], dy)):
        torch.testing.assert_close(g, h)


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_same_init_state_dict_and_repr_as_torch(config):
    ours, theirs = _twins(*config)
    assert_same_twin_state(ours, theirs, type(theirs)(*config[1:4], dtype=D, **config[4]))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("batch", [(2,), (), (0,)], ids=["batched", "unbatched", "empty batch"])
@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_module_forward_backward_equal_torch(config, batch, device):
    ours, theirs = _twins(*config, device=device)
    _equal_and_same_gradients(ours, theirs, _input(config[0], config[1], batch, device))


@pytest.mark.parametrize("extra", [0, 1], ids=["smallest", "largest"])
@pytest.mark.parametrize("form", ["list", "with batch and channels", "torch.Size"])
def test_output_size_at_call_time_as_torch(form, extra):
    """``output_size`` picks output_padding by torch's own rule: any size in [smallest,
    smallest + stride), given as the spatial sizes or with the batch and channel dims."""
    ours, theirs = _twins(2, 4, 3, 3, dict(stride=(2, 3), padding=1))
    x = _input(2, 4)
    size = [(5 - 1) * 2 - 2 + 3 + extra, (4 - 1) * 3 - 2 + 3 + 2 * extra]
    size = {"list": size, "with batch and channels": [2, 3, *size], "torch.Size": torch.Size(size)}[form]
    _equal_and_same_gradients(ours, theirs, x, size)
    assert ours(x, size).shape[-2:] == tuple(size[-2:])


@pytest.mark.parametrize("size", [[20, 20], [7], [1, 2, 3, 4, 5]], ids=["too large", "too short", "too long"])
def test_output_size_errors_are_torchs(size):
    ours, theirs = _twins(2, 4, 3, 3, dict(stride=2))
    x = _input(2, 4)
    with pytest.raises(ValueError) as want:
        theirs(x, size)
    with pytest.raises(ValueError, match=None) as got:
        ours(x, size)
    assert str(got.value) == str(want.value)


def test_padding_mode_other_than_zeros_is_refused_as_torch():
    ours, theirs = _twins(1, 2, 2, 3, {})
    for m in (ours, theirs):
        m.padding_mode = "reflect"  # torch's constructor refuses it; its forward checks again
    with pytest.raises(ValueError, match="Only `zeros` padding mode is supported for ConvTranspose1d"):
        theirs(_input(1, 2))
    with pytest.raises(ValueError, match="Only `zeros` padding mode is supported for ConvTranspose1d"):
        ours(_input(1, 2))


@pytest.mark.parametrize("x_grad", [False, True], ids=["first layer", "hidden layer"])
def test_saves_no_more_than_torch_and_only_what_each_gradient_reads(x_grad):
    x = torch.randn(4, 3, 8, 8, requires_grad=x_grad)
    w = torch.randn(3, 5, 3, 3, requires_grad=True)
    ours, count, _ = saved_bytes(lambda: MF.conv_transpose2d(x, w, stride=2))
    theirs, _, _ = saved_bytes(lambda: F.conv_transpose2d(x, w, stride=2))
    assert ours <= theirs
    assert ours == (x.numel() + x_grad * w.numel()) * 4  # x for dw; w only when dx is wanted


def _strides(t):  # a size-1 dim's stride is arbitrary
    return [st for st, size in zip(t.stride(), t.shape) if size > 1]


@pytest.mark.parametrize("channels_last", ["none", "x", "w", "dy"])
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_dx_has_torchs_layout(dims, channels_last):
    """dx is channels_last (_3d) where x or w is, else contiguous, whatever dy's layout."""
    fmt = {2: torch.channels_last, 3: torch.channels_last_3d}.get(dims)
    x, w = torch.randn(2, 4, *SIZE[:dims]), torch.randn(4, 3, *(3, 2, 2)[:dims])
    dy = torch.randn_like(getattr(F, f"conv_transpose{dims}d")(x, w, stride=2))
    x, w, dy = (t.to(memory_format=fmt) if fmt and channels_last == name else t
                for t, name in ((x, "x"), (w, "w"), (dy, "dy")))
    x.requires_grad_()
    fns = getattr(MF, f"conv_transpose{dims}d"), getattr(F, f"conv_transpose{dims}d")
    (ours,), (theirs,) = (torch.autograd.grad(fn(x, w, None, 2), x, dy) for fn in fns)
    torch.testing.assert_close(ours, theirs)
    assert _strides(ours) == _strides(theirs)


def test_transposed_convolution_double_backward_runs_our_conv():
    """dx = conv(dy, w) is ConvFunction: the gradient of a gradient is hand-derived too."""
    x = torch.randn(2, 3, 5, dtype=D, requires_grad=True)
    w = torch.randn(3, 2, 3, dtype=D, requires_grad=True)
    y = MF.conv_transpose1d(x, w, stride=2)
    (dx,) = torch.autograd.grad(y, x, torch.randn_like(y, requires_grad=True), create_graph=True)
    assert type(dx.grad_fn).__name__ == "ConvFunctionBackward"


FOLDS = [
    (dict(kernel_size=(2, 3)), (5, 6)),
    (dict(kernel_size=2, dilation=(1, 2), padding=1, stride=(2, 1)), (6, 5)),
]


@pytest.mark.parametrize("batch", [(2,), (), (0,)], ids=["batched", "unbatched", "empty batch"])
@pytest.mark.parametrize("kw,size", FOLDS)
def test_fold_unfold_modules_equal_torch_and_are_each_others_backward(kw, size, batch):
    x = torch.randn(*batch, 3, *size, dtype=D, requires_grad=True)
    ours, theirs = mnn.Unfold(**kw), torch.nn.Unfold(**kw)
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == []
    _equal_and_same_gradients(ours, theirs, x, name="UnfoldFunctionBackward")
    cols = ours(x).detach().requires_grad_()
    ours, theirs = mnn.Fold(size, **kw), torch.nn.Fold(size, **kw)
    assert repr(ours) == repr(theirs)
    _equal_and_same_gradients(ours, theirs, cols, name="FoldFunctionBackward")
    y, z = mnn.Unfold(**kw)(x), ours(cols)
    (dx,) = torch.autograd.grad(y, x, torch.randn_like(y, requires_grad=True), create_graph=True)
    (dc,) = torch.autograd.grad(z, cols, torch.randn_like(z, requires_grad=True), create_graph=True)
    assert (type(dx.grad_fn).__name__, type(dc.grad_fn).__name__) == ("FoldFunctionBackward", "UnfoldFunctionBackward")


def test_swap_replaces_the_modules_and_routing_sends_the_functions_to_ours():
    model = torch.nn.Sequential(torch.nn.Conv3d(2, 2, 1), torch.nn.ConvTranspose1d(4, 2, 3),
                                torch.nn.ConvTranspose2d(4, 2, 3), torch.nn.ConvTranspose3d(4, 2, 3),
                                torch.nn.Unfold(2), torch.nn.Fold((5, 5), 2))
    report = mg.swap(model)
    assert not report.skipped, str(report)
    assert [type(m) for m in model] == [mnn.Conv3d, mnn.ConvTranspose1d, mnn.ConvTranspose2d, mnn.ConvTranspose3d,
                                        mnn.Unfold, mnn.Fold]
    x = torch.randn(1, 2, 4, 4, requires_grad=True)
    w1, w2, w3 = (torch.randn(2, 2, *(1,) * n, requires_grad=True) for n in (1, 2, 3))
    with mg.manual():
        outs = [F.conv_transpose1d(x[0, :, 0], w1), F.conv_transpose2d(x, w2), F.conv_transpose3d(x[:, :, None], w3),
                F.conv3d(x[:, :, None], w3), F.unfold(x, 2), F.fold(F.unfold(x, 2), 4, 2)]
    assert [type(y.grad_fn).__name__ for y in outs] == ["ConvTransposeFunctionBackward"] * 3 + [
        "ConvFunctionBackward", "UnfoldFunctionBackward", "FoldFunctionBackward"]
