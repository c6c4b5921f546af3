"""Conv1d/Conv2d/Conv3d: module twins of torch.nn's, padding modes (hand-derived padding adjoint),
saved bytes, half-precision gradient dtypes. The functional ops are in the op table."""

import pytest
import torch
import torch.nn.functional as F

import manualgrad.functional as MF
from manualgrad.functional._conv import _pad
from conftest import assert_same_twin_state, seeded_twins, DEVICES
from conftest import saved_bytes

D = torch.float64
CONFIGS = [  # (dims, in, out, kernel, kwargs)
    (1, 4, 6, 3, {}),
    (1, 4, 4, 2, dict(padding="same", groups=4, bias=False, padding_mode="reflect")),
    (1, 2, 3, 3, dict(stride=2, padding=2, dilation=2, padding_mode="circular")),
    (2, 4, 6, (3, 2), dict(stride=(2, 1), padding=(1, 0), groups=2)),
    (2, 4, 8, 3, dict(padding=1, groups=4)),  # depthwise, channel multiplier 2
    (2, 3, 2, (2, 3), dict(padding="same", padding_mode="replicate")),
    (2, 3, 2, 3, dict(padding="valid", padding_mode="reflect", bias=False)),
    (2, 2, 3, (3, 2), dict(padding=(2, 1), padding_mode="circular")),
    (2, 2, 3, 3, dict(padding=1, dilation=(1, 2), padding_mode="reflect")),
    (3, 4, 2, (2, 3, 1), dict(stride=(1, 2, 1), padding=(1, 0, 1), groups=2)),
    (3, 2, 3, (2, 1, 3), dict(padding="same", padding_mode="replicate")),
    (3, 2, 2, 3, dict(padding=(1, 1, 2), padding_mode="circular")),
]
IDS = [f"Conv{c[0]}d-{'-'.join(f'{k}={v}' for k, v in c[4].items()) or 'default'}" for c in CONFIGS]


def _twins(dims, cin, cout, k, kwargs, device="cpu", dtype=D):
    return seeded_twins(f"Conv{dims}d", cin, cout, k, device=device, dtype=dtype, **kwargs)


def _input(dims, cin, batch=(2,), device="cpu", dtype=D):
    return torch.randn(*batch, cin, *(7, 6, 5)[:dims], device=device, dtype=dtype, requires_grad=True)


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_same_init_state_dict_and_repr_as_torch(config):
    ours, theirs = _twins(*config)
    assert_same_twin_state(ours, theirs, type(theirs)(*config[1:4], dtype=D, **config[4]))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("batch", [(2,), (), (0,)], ids=["batched", "unbatched", "empty batch"])
@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_module_forward_backward_equal_torch(config, batch, device):
    ours, theirs = _twins(*config, device=device)
    x = _input(config[0], config[1], batch, device)
    a, b = ours(x), theirs(x)
    torch.testing.assert_close(a, b)
    assert type(a.grad_fn).__name__ == "ConvFunctionBackward"
    dy = torch.randn_like(a)
    for g, h in zip(torch.autograd.grad(a, [x, *ours.parameters()], dy),
                    torch.autograd.grad(b, [x, *theirs.parameters()], dy)):
        torch.testing.assert_close(g, h)


@pytest.mark.parametrize("config", [c for c in CONFIGS if c[4].get("padding_mode", "zeros") != "zeros"],
                         ids=[i for c, i in zip(CONFIGS, IDS) if c[4].get("padding_mode", "zeros") != "zeros"])
def test_padding_modes_gradcheck_and_gradgradcheck(config):
    ours, _ = _twins(*config)
    x = _input(config[0], config[1], (1,))
    params = list(ours.parameters())

    def f(x, *p):
        return torch.func.functional_call(ours, dict(zip([n for n, _ in ours.named_parameters()], p)), (x,))

    assert torch.autograd.gradcheck(f, (x, *params))
    assert torch.autograd.gradgradcheck(f, (x, *params))


PADS = [((1, 2), "reflect"), ((2, 0, 1, 2), "reflect"), ((3, 5), "replicate"), ((0, 4, 2, 1), "replicate"),
        ((4, 1), "circular"), ((1, 3, 2, 2), "circular")]


@pytest.mark.parametrize("pad,mode", PADS, ids=[f"{m}-{p}" for p, m in PADS])
def test_pad_equals_torch_and_is_twice_differentiable(pad, mode):
    x = torch.randn(2, 3, 4, dtype=D, requires_grad=True)  # pad ≤ 4 in every dim: circular's limit
    y, ref = _pad(x, pad, mode), F.pad(x, pad, mode=mode)
    torch.testing.assert_close(y, ref, rtol=0, atol=0)
    assert type(y.grad_fn).__name__ == "PadFunctionBackward"
    dy = torch.randn_like(y)
    torch.testing.assert_close(torch.autograd.grad(y, x, dy)[0], torch.autograd.grad(ref, x, dy)[0])
    assert torch.autograd.gradgradcheck(lambda x: _pad(x, pad, mode), (x,))


def test_pad_rejects_what_torch_rejects():
    x = torch.randn(1, 2, 3)
    with pytest.raises(RuntimeError) as theirs:
        F.pad(x, (3, 0), mode="reflect")
    with pytest.raises(RuntimeError) as ours:
        _pad(x, (3, 0), "reflect")
    assert str(theirs.value).splitlines()[0] in str(ours.value)


def test_saves_only_what_each_gradient_reads():
    x = torch.randn(2, 3, 6, 5)
    w = torch.randn(4, 3, 3, 2, requires_grad=True)
    nbytes, count, _ = saved_bytes(lambda: MF.conv2d(x, w, padding=1))
    assert count == 1 and nbytes == x.numel() * 4  # x (for dw); w is not read: x needs no grad
    x.requires_grad_()
    w.requires_grad_(False)
    nbytes, count, _ = saved_bytes(lambda: MF.conv2d(x, w, torch.randn(4, requires_grad=True)))
    assert count == 1 and nbytes == w.numel() * 4  # w (for dx); db reads nothing


@pytest.mark.parametrize("padding", [1, "same"])  # 'same' here pads one side more: torch saves a padded copy
@pytest.mark.parametrize("x_grad", [False, True], ids=["first layer", "hidden layer"])
def test_functional_saves_no_more_than_torch(padding, x_grad):
    x = torch.randn(4, 3, 8, 8, requires_grad=x_grad)
    w = torch.randn(5, 3, 3, 2, requires_grad=True)
    ours, _, _ = saved_bytes(lambda: MF.conv2d(x, w, padding=padding))
    theirs, _, _ = saved_bytes(lambda: F.conv2d(x, w, padding=padding))
    assert ours <= theirs


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_module_saves_no_more_than_torch(mode):
    ours, theirs = _twins(2, 3, 5, 3, dict(padding=1, padding_mode=mode), dtype=torch.float32)
    x = torch.randn(4, 3, 8, 8, requires_grad=True)
    assert saved_bytes(lambda: ours(x))[0] <= saved_bytes(lambda: theirs(x))[0]


IM2COL = [  # groups 1: the eager CPU weight gradient goes through im2col matmuls
    (1, dict(stride=2, padding=3, dilation=2)),
    (2, dict(padding=1)),
    (2, dict(stride=(2, 1), padding=(0, 2), dilation=(1, 3))),
    (2, dict(padding="same")),
]


@pytest.mark.parametrize("dims,kwargs", IM2COL, ids=[f"{d}d-{kw}" for d, kw in IM2COL])
def test_im2col_weight_gradient_and_its_double_backward_equal_torch(dims, kwargs):
    """Batch 5, chunked so that the last chunk is partial; the double backward of dw (towards x
    and dy) against torch's too."""
    import manualgrad.functions.conv_weight as conv
    torch.manual_seed(0)
    conv_fn, mconv = (F.conv1d, MF.conv1d) if dims == 1 else (F.conv2d, MF.conv2d)
    x = torch.randn(5, 16, *(9,) * dims, dtype=D, requires_grad=True)
    w = torch.randn(3, 16, *(4,) * dims, dtype=D, requires_grad=True)
    dy = torch.randn_like(conv_fn(x, w, **kwargs)).requires_grad_()
    v = torch.randn_like(w)
    chunk = conv._COLS
    try:
        conv._COLS = 2 * 16 * 4 ** dims * 9 ** dims  # two samples' columns (or fewer) per chunk
        results = []
        for fn in (mconv, conv_fn):
            dx, dw = torch.autograd.grad(fn(x, w, **kwargs), (x, w), dy, create_graph=True)
            results.append((dx, dw, *torch.autograd.grad((dw * v).sum(), (x, dy))))
    finally:
        conv._COLS = chunk
    for a, b in zip(*results):
        torch.testing.assert_close(a, b)


PER_TAP = [  # (dims, groups, stride, padding, dilation)
    (1, 1, (2,), (3,), (2,)), (2, 2, (1, 1), (1, 1), (1, 1)), (2, 1, (2, 1), (0, 2), (1, 3)),
    (3, 3, (1, 2, 1), (1, 0, 1), (2, 1, 1)),
]


@pytest.mark.parametrize("dims,groups,stride,padding,dilation", PER_TAP, ids=[str(c) for c in PER_TAP])
def test_per_tap_weight_gradient_and_its_double_backward_equal_torch(dims, groups, stride, padding, dilation):
    """The weight gradient torch.compile traces (one contraction per kernel tap, every size
    symbolic) equals torch's, and so does its derivative towards x and dy."""
    import manualgrad.functions.conv_weight as conv
    conv_fn = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[dims]
    x = torch.randn(3, 6, *(7,) * dims, dtype=D, requires_grad=True)
    w = torch.randn(2 * groups, 6 // groups, *(3,) * dims, dtype=D, requires_grad=True)
    dy = torch.randn_like(conv_fn(x, w, None, stride, padding, dilation, groups)).requires_grad_()
    v = torch.randn_like(w)
    ours = conv._weight_grad_per_tap(x, dy, w.shape[2:], stride, dilation, padding, groups)
    (theirs,) = torch.autograd.grad(conv_fn(x, w, None, stride, padding, dilation, groups), w, dy, create_graph=True)
    torch.testing.assert_close(ours, theirs)
    for a, b in zip(torch.autograd.grad((ours * v).sum(), (x, dy)), torch.autograd.grad((theirs * v).sum(), (x, dy))):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("im2col", [True, False], ids=["im2col", "regrouped"])
@pytest.mark.parametrize("cin,groups,channels_last", [(1, 1, False), (3, 1, False), (4, 2, False), (3, 1, True)])
def test_weight_gradient_has_the_weights_layout(cin, groups, channels_last, im2col, monkeypatch):
    """dw comes back with w's strides, as torch's kernel gives it (DDP's gradient buckets expect the
    parameter's layout: it warned "Grad strides do not match bucket view strides" and copied)."""
    x = torch.randn(2, cin, 6, 6, requires_grad=True)
    w = torch.randn(4, cin // groups, 3, 3)
    w = (w.to(memory_format=torch.channels_last) if channels_last else w).requires_grad_()
    import manualgrad.functions.conv_weight as conv
    if not im2col:  # the regrouped convolution (grouped convs, torch.compile, torch.func take it)
        monkeypatch.setattr(conv, "_im2col_applies", lambda x, groups: False)
    y = MF.conv2d(x, w, None, 1, 1, 1, groups)
    dy = torch.randn_like(y)
    (dw,) = torch.autograd.grad(y, w, dy)
    assert dw.stride() == w.stride()
    torch.testing.assert_close(dw, torch.autograd.grad(F.conv2d(x, w, None, 1, 1, 1, groups), w, dy)[0])


EXPANDED = {  # (x, w, dy) makers: stride-0 dims
    "expanded leaf w": (lambda: torch.randn(2, 3, 6, 6), lambda: torch.randn(4, 1, 1, 1).expand(4, 3, 3, 3), None),
    "partly expanded w": (lambda: torch.randn(2, 3, 6, 6), lambda: torch.randn(4, 3, 1, 3).expand(4, 3, 3, 3), None),
    "expanded x and dy": (lambda: torch.randn(1, 3, 1, 6).expand(2, 3, 6, 6), lambda: torch.randn(4, 3, 3, 3),
                          lambda: torch.randn(1, 4, 6, 1).expand(2, 4, 6, 6)),
}


@pytest.mark.parametrize("im2col", [True, False], ids=["im2col", "regrouped"])
@pytest.mark.parametrize("case", EXPANDED)
def test_expanded_inputs_and_weights_equal_torch(case, im2col, monkeypatch):
    """A weight with stride-0 dims (a leaf made by expand, or a non-leaf expand of a smaller
    parameter) gets torch's contiguous dw: w's own strides would put many elements in one place."""
    import manualgrad.functions.conv_weight as conv
    if not im2col:
        monkeypatch.setattr(conv, "_im2col_applies", lambda x, groups: False)
    make_x, make_w, make_dy = EXPANDED[case]
    x, w = make_x().requires_grad_(), make_w().requires_grad_()
    base = make_w().contiguous()[:, :1, :1, :1].clone().requires_grad_()  # a parameter, expanded in the graph
    for weight, leaves in ((w, (x, w)), (base.expand(w.shape), (x, base))):
        y = MF.conv2d(x, weight, None, 1, 1)
        dy = make_dy() if make_dy else torch.randn_like(y)
        ours = torch.autograd.grad(y, leaves, dy)
        theirs = torch.autograd.grad(F.conv2d(x, weight, None, 1, 1), leaves, dy)
        for g, h in zip(ours, theirs):
            torch.testing.assert_close(g, h)
            assert g.stride() == h.stride()


def _strides(t):  # a size-1 dim's stride is arbitrary
    return [st for st, size in zip(t.stride(), t.shape) if size > 1]


@pytest.mark.parametrize("channels_last", ["none", "x", "w", "dy", "depthwise w"])
@pytest.mark.parametrize("padding", [1, "same"])  # 'same' with even kernels: dx is cropped
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_dx_has_torchs_layout(dims, padding, channels_last):
    """dx is channels_last where x or w has channels-last strides (a depthwise w's size-1 dim
    counts as torch counts it), else contiguous, whatever dy's layout (it followed dy's and w's:
    a channels_last x with a contiguous w came back contiguous), and dense ('same' with an even
    kernel returned a view into the larger transposed-convolution output)."""
    groups = 3 if channels_last == "depthwise w" else 1
    fmt = {2: torch.channels_last, 3: torch.channels_last_3d}.get(dims)
    x = torch.randn(2, 3, *(7, 6, 5)[:dims])
    w = torch.randn(6, 3 // groups, *(2, 4, 2)[:dims])
    dy = torch.randn(2, 6, *(7, 6, 5)[:dims] if padding == "same" else (8, 5, 6)[:dims])
    x, w, dy = (t.to(memory_format=fmt) if fmt and channels_last.endswith(name) else t
                for t, name in ((x, "x"), (w, "w"), (dy, "dy")))
    x.requires_grad_()
    conv, mconv = getattr(F, f"conv{dims}d"), getattr(MF, f"conv{dims}d")
    (ours,), (theirs,) = (torch.autograd.grad(fn(x, w, None, 1, padding, 1, groups), x, dy) for fn in (mconv, conv))
    torch.testing.assert_close(ours, theirs)
    assert _strides(ours) == _strides(theirs)


@pytest.mark.parametrize("mode", ["reflect", "replicate"])
@pytest.mark.parametrize("layout", ["channels_last", "transposed", "unbatched"])
def test_padding_mode_dx_has_torchs_layout(layout, mode):
    """dx of a padding_mode module: channels_last where x is, contiguous otherwise (it followed
    dy's layout: a transposed x, or a channels_last weight on an unbatched x, got HWC strides)."""
    ours, theirs = _twins(2, 3, 4, 3, dict(padding=1, padding_mode=mode), dtype=torch.float32)
    x = torch.randn(2, 3, 7, 6)
    if layout == "channels_last":
        x = x.to(memory_format=torch.channels_last)
    elif layout == "transposed":
        x = torch.randn(3, 2, 7, 6).transpose(0, 1)
    else:
        x = x[0]
        for m in (ours, theirs):
            m.to(memory_format=torch.channels_last)
    x.requires_grad_()
    a, b = ours(x), theirs(x)
    dy = torch.randn_like(b)
    (dx,), (want,) = torch.autograd.grad(a, x, dy), torch.autograd.grad(b, x, dy)
    torch.testing.assert_close(dx, want)
    assert _strides(dx) == _strides(want)
