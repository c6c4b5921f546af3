"""Conv and transposed conv in half precision: the weight gradient is summed in float32 and
rounded once; its error against float64 is no worse than torch's; a grid of bf16/fp16
configurations runs in a subprocess, since a half-precision CPU kernel can crash the
interpreter (so do the float16 samples of the ops added after conv1d/conv2d)."""

import dataclasses

import pytest
import torch
import torch.nn.functional as F

import manualgrad.functional as MF
import manualgrad.functions.conv_weight as conv
import manualgrad.nn as mnn
from manualgrad import ops, verify
from conftest import DEVICES, in_subprocess

HALF = [torch.bfloat16, torch.float16]
UNIT_ROUNDOFF = {torch.bfloat16: 2.0 ** -8, torch.float16: 2.0 ** -11}


@pytest.mark.parametrize("dtype", HALF, ids=str)
@pytest.mark.parametrize("name", ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
                                  "ConvTranspose3d"])
def test_modules_gradients_keep_dtype_and_are_no_worse_than_torch(name, dtype):
    """Every gradient in the leaf's dtype; its error against float64 within torch's tolerance of
    torch's, or at most twice torch's (verify.compare: torch's fp16 CPU kernels sum in fp16)."""
    dims = int(name[-2])
    kwargs = dict(stride=2, padding=1 if "Transpose" in name else "valid", groups=2)
    mods = []
    for lib, dt in ((mnn, dtype), (torch.nn, dtype), (torch.nn, torch.float64)):
        torch.manual_seed(7)
        mods.append(getattr(lib, name)(4, 6, 3, dtype=dt, **kwargs))
    mods[2].load_state_dict(mods[0].state_dict())
    x = torch.randn(3, 4, *(7, 6, 5)[:dims], dtype=dtype)
    dy = torch.randn_like(mods[1](x))
    grads = []
    for mod in mods:
        leaf = x.to(mod.weight.dtype).requires_grad_()
        grads.append(torch.autograd.grad(mod(leaf), [leaf, *mod.parameters()], dy.to(leaf.dtype)))
    for g, h, exact in zip(*grads):
        assert g.dtype == dtype
        d = verify.compare(g, h, exact)
        assert d.ok, d.why


@pytest.mark.parametrize("name", ["conv1d", "conv2d"])
def test_float16_samples_are_no_worse_than_torch(name):
    """``manualgrad verify`` in float16 (bfloat16 is in tests/test_ops.py): its samples at
    blocked-kernel sizes included."""
    report = verify.verify_op(ops.get(name), "cpu", torch.float16, gradcheck=False)
    assert report.ok, report.failures


def verify_float16(names) -> int:
    """Child process: ``manualgrad verify`` in float16 of each op; returns the number of failures."""
    bad = 0
    for name in names:
        print("run", name, flush=True)
        for failure in verify.verify_op(ops.get(name), "cpu", torch.float16, gradcheck=False).failures:
            bad += 1
            print("FAIL", name, failure, flush=True)
    return bad


def test_float16_samples_of_the_newer_convolutions_in_a_subprocess():
    """The same for conv3d, the transposed convolutions and fold/unfold, whose float16 CPU
    kernels had not run here before: in a child process."""
    in_subprocess("test_conv_precision", "verify_float16",
                  ["conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "fold", "unfold"])


def _weight_grads(dtype, device, groups, dims):
    torch.manual_seed(0)
    size = (16,) * dims if dims < 3 else (6, 5, 4)
    x = torch.randn(8, 4, *size, device=device)
    dy = torch.randn(8, 6, *size, device=device)
    args = ((6, 4 // groups, *(3,) * dims), (1,) * dims, (1,) * dims, (1,) * dims, groups)
    return conv.weight_grad(x.to(dtype), dy.to(dtype), *args), conv.weight_grad(
        x.to(dtype).float(), dy.to(dtype).float(), *args)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", HALF, ids=str)
@pytest.mark.parametrize("dims,groups", [(1, 1), (2, 1), (3, 1), (1, 2), (2, 2), (3, 2)])
def test_half_weight_gradient_is_the_float32_one_rounded_once(dims, groups, dtype, device, monkeypatch):
    """The im2col path (CPU, groups 1) and the regrouped convolution (in batch chunks on CPU,
    whole on CUDA) both sum in float32: dw differs from the float32 dw of the same inputs by its
    one rounding (unit roundoff), plus float32 summation order."""
    monkeypatch.setattr(conv, "_COLS", 3000)  # several chunks of the batch on CPU
    half, full = _weight_grads(dtype, device, groups, dims)
    assert half.dtype == dtype
    torch.testing.assert_close(half.float(), full, rtol=UNIT_ROUNDOFF[dtype], atol=1e-5 * full.abs().max().item())


def test_verify_catches_a_weight_gradient_summed_in_bfloat16(monkeypatch):
    """The bf16 samples at blocked-kernel sizes fail ``manualgrad verify`` if dw's chunk sums
    round in bf16 (one sample per chunk); the same check passes with the float32 sums."""
    full = ops.get("conv2d")
    spec = dataclasses.replace(full, samples=lambda device, dtype: [
        s for s in full.samples(device, dtype) if "to 8 channels" in s.name], errors=lambda device: ())
    assert verify.verify_op(spec, "cpu", torch.bfloat16, gradcheck=False).ok
    monkeypatch.setattr(conv, "_ACC", {})
    monkeypatch.setattr(conv, "_COLS", 1)
    failures = verify.verify_op(spec, "cpu", torch.bfloat16, gradcheck=False).failures
    assert any("batch 16" in f and "grad 1" in f for f in failures), failures


# ---------------------------------------------------------------- crash-prone: in a subprocess

def _grid(transposed):
    """(dtype, dims, groups, stride, dilation, padding, channels_last, transposed) configurations;
    the transposed ones with output_padding stride − 1."""
    for dtype in ("float16", "bfloat16"):
        for dims in (1, 2, 3):
            for groups in (1, 3):
                for stride in (1, 3):
                    for dilation in (1, 3):
                        for padding in (0, 1) if transposed else (0, 1, "same"):
                            for channels_last in (False, True)[:min(dims, 2)]:
                                if padding != "same" or stride == 1:
                                    yield dtype, dims, groups, stride, dilation, padding, channels_last, transposed


def run_configs(configs) -> int:
    """Child process: each configuration's forward and backward against torch's and float64's,
    announced before it runs (a crash names it); returns the number of failures."""
    bad = 0
    for config in configs:
        dtype, dims, groups, stride, dilation, padding, channels_last, transposed = config
        print("run", config, flush=True)
        torch.manual_seed(0)
        x = torch.randn(4, 2 * groups, *(13, 11, 9)[:dims], dtype=getattr(torch, dtype))
        w = torch.randn(2 * groups, 2, *(3,) * dims, dtype=x.dtype)
        if channels_last:
            fmt = torch.channels_last if dims == 2 else torch.channels_last_3d
            x, w = x.to(memory_format=fmt), w.to(memory_format=fmt)
        b = torch.randn(2 * groups, dtype=x.dtype, requires_grad=True)
        kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        if transposed:
            kwargs["output_padding"] = stride - 1
        args = ((x.requires_grad_(), w.requires_grad_(), b), kwargs)
        name = f"conv_transpose{dims}d" if transposed else f"conv{dims}d"
        ours = verify.run(getattr(MF, name), *args)
        theirs = verify.run(getattr(F, name), *args, dy=ours.dy)
        exact = verify.run(getattr(F, name), *verify._upcast(*args), dy=ours.dy.double())
        for what, g, h, e in zip(("y", "dx", "dw", "db"), [ours.out, *ours.grads], [theirs.out, *theirs.grads],
                                 [exact.out, *exact.grads]):
            d = verify.compare(g, h, e)
            if not d.ok:
                bad += 1
                print("FAIL", config, what, d.why, flush=True)
    return bad


def test_float16_conv1d_groups_stride_dilation_3():
    """fp16 conv1d, groups 3, stride 3, dilation 3, padding 1: the regrouped weight-gradient
    convolution (stride and dilation exchanged) in fp16 crashed torch's CPU kernel."""
    in_subprocess("test_conv_precision", "run_configs", [("float16", 1, 3, 3, 3, 1, False, False)])


@pytest.mark.parametrize("transposed", [False, True], ids=["conv", "conv_transpose"])
def test_half_precision_grid_runs_and_is_no_worse_than_torch(transposed):
    in_subprocess("test_conv_precision", "run_configs", list(_grid(transposed)))
