"""Differential fuzzing of conv1d/2d/3d, conv_transpose1d/2d/3d and their modules (every
padding_mode; ConvTranspose's output_padding) against torch, as a user would call them: random
shapes, groups, stride, dilation, padding (int, tuple, 'same', 'valid'), padding modes, dtypes
(float64, float32, bf16, fp16), layouts (contiguous, channels_last (_3d), non-contiguous,
batch-transposed), empty batch, unbatched, which inputs need a
gradient, and a random dy. Compared: torch's exception where torch raises; else output and
gradients (float64 tight; lower precisions within assert_close's tolerance of torch's or no
worse than twice torch's error against float64, verify.compare) and every gradient's strides.
In a subprocess, since half-precision CPU kernels can crash; MANUALGRAD_FUZZ_CONFIGS sets how
many configurations (150 by default)."""

import os
import random

import torch
import torch.nn.functional as F

import manualgrad.functional as MF
import manualgrad.nn as mnn
from manualgrad import verify
from conftest import in_subprocess

CONFIGS = int(os.environ.get("MANUALGRAD_FUZZ_CONFIGS", "150"))
DTYPES = [torch.float64, torch.float32, torch.bfloat16, torch.float16]


def _config(seed: int) -> dict:
    rng = random.Random(seed)
    n, transposed = rng.choice([1, 2, 2, 3]), rng.random() < 0.4
    padding = rng.choice([rng.randint(0, 3), tuple(rng.randint(0, 3) for _ in range(n))] + ["same", "valid"] * (
        not transposed))
    module = rng.random() < 0.35
    groups = rng.choice([1, 1, 2, 3])
    return dict(transposed=transposed, output_padding=tuple(rng.randint(0, 2) for _ in range(n)),
        n=n, dtype=rng.choice(DTYPES), groups=groups, cin=groups * rng.randint(1, 3),
        cout=groups * rng.randint(1, 3), kernel=tuple(rng.randint(1, 4) for _ in range(n)),
        stride=(1,) * n if padding == "same" else tuple(rng.randint(1, 3) for _ in range(n)),
        dilation=tuple(rng.randint(1, 3) for _ in range(n)), padding=padding, module=module,
        mode=rng.choice(["zeros", "reflect", "replicate", "circular"]) if module and not transposed else "zeros",
        size=tuple(rng.randint(1, 12 if n < 3 else 6) for _ in range(n)), batch=rng.choice([(0,), (1,), (2,), (5,), ()]),
        bias=rng.random() < 0.6, layout=rng.choice(["contiguous", "channels_last", "strided", "transposed"]),
        needs=(rng.random() < 0.8, rng.random() < 0.85))


def _x(c: dict) -> torch.Tensor:
    shape = (*c["batch"], c["cin"], *c["size"])
    if c["layout"] == "strided":
        return torch.randn(*shape[:-1], 2 * shape[-1], dtype=torch.float64)[..., ::2]
    if c["layout"] == "transposed" and len(shape) == c["n"] + 2:
        return torch.randn(shape[1], shape[0], *shape[2:], dtype=torch.float64).transpose(0, 1)
    return _layout(torch.randn(shape, dtype=torch.float64), c)


def _layout(t: torch.Tensor, c: dict) -> torch.Tensor:
    """``t`` in channels_last (4-d) or channels_last_3d (5-d) memory where the layout says so."""
    fmt = {4: torch.channels_last, 5: torch.channels_last_3d}.get(t.dim())
    return t.to(memory_format=fmt) if c["layout"] == "channels_last" and fmt else t


def _run(c: dict, lib, dtype, seed: int):
    """Output, dy and the gradients of x (if it needs one), w and b, or the exception. Every
    tensor is drawn in float64 and rounded to the configuration's dtype, then cast to ``dtype``
    (so the float64 run sees the same values)."""
    torch.manual_seed(seed)
    cast = lambda t: t.to(c["dtype"]).to(dtype)  # noqa: E731
    x = cast(_x(c)).requires_grad_(c["needs"][0])
    kind = "ConvTranspose" if c["transposed"] else "Conv"
    opts = (c["stride"], c["padding"], c["output_padding"], c["groups"], c["dilation"]) if c["transposed"] else (
        c["stride"], c["padding"], c["dilation"], c["groups"])
    try:
        if c["module"]:
            args = (c["cin"], c["cout"], c["kernel"], *opts[:4], c["bias"], *opts[4:]) if c["transposed"] else (
                c["cin"], c["cout"], c["kernel"], *opts, c["bias"])
            m = cast(getattr(lib, f"{kind}{c['n']}d")(*args, padding_mode=c["mode"], dtype=torch.float64))
            m.weight.requires_grad_(c["needs"][1])
            if c["layout"] == "channels_last" and c["n"] > 1:
                m.to(memory_format=torch.channels_last if c["n"] == 2 else torch.channels_last_3d)
            y, params = m(x), [p for p in m.parameters() if p.requires_grad]
        else:
            w_in, w_out = (c["cin"], c["cout"]) if c["transposed"] else (c["cout"], c["cin"])
            w = _layout(torch.randn(w_in, w_out // c["groups"], *c["kernel"], dtype=torch.float64), c)
            b = cast(torch.randn(c["cout"], dtype=torch.float64)).requires_grad_() if c["bias"] else None
            params = [cast(w).requires_grad_(c["needs"][1]), b]
            y = getattr(lib, f"conv_transpose{c['n']}d" if c["transposed"] else f"conv{c['n']}d")(x, params[0], b, *opts)
            params = [p for p in params if p is not None and p.requires_grad]
    except Exception as e:  # noqa: BLE001 - torch's exception is what ours must raise
        return e
    dy = cast(torch.randn(y.shape, dtype=torch.float64))
    leaves = [x] * x.requires_grad + params
    return y, torch.autograd.grad(y, leaves, dy) if leaves and y.requires_grad else (), leaves


def _strides(t):  # a size-1 dim's stride is arbitrary, an empty tensor's all are
    return [st for st, size in zip(t.stride(), t.shape) if size > 1] if t.numel() else []


def run_seeds(seeds) -> int:
    """Child process: each seed's configuration, ours vs torch vs float64; returns the failures."""
    bad = 0
    for seed in seeds:
        c = _config(seed)
        print("run", seed, c, flush=True)
        ours = _run(c, mnn if c["module"] else MF, c["dtype"], seed)
        theirs = _run(c, torch.nn if c["module"] else F, c["dtype"], seed)
        if isinstance(ours, Exception) or isinstance(theirs, Exception):
            if not (type(ours) is type(theirs) and str(theirs).splitlines()[0] in str(ours)):
                bad += 1
                print("FAIL", seed, c, f"raised {ours!r}, torch {theirs!r}", flush=True)
            continue
        exact = _run(c, torch.nn if c["module"] else F, torch.float64, seed)
        if isinstance(exact, Exception):  # torch's float64 kernel refuses an output size 0 its float32 one allows
            exact = (None, [None] * len(ours[1]), None)
        for k, (g, h, e) in enumerate(zip([ours[0], *ours[1]], [theirs[0], *theirs[1]], [exact[0], *exact[1]])):
            d = verify.compare(g, h, None if c["dtype"] == torch.float64 else e)
            layout_ok = _strides(g) == _strides(h) or (c["mode"] == "circular" and k == 1)  # see PadFunction
            # dw has w's own layout (docs/ops.md); torch's follows its kernel (contiguous from CPU 3-d
            # float64/float16, which have no channels-last path)
            is_w = k == 1 + c["needs"][0] and c["needs"][1]
            layout_ok = layout_ok or (is_w and _strides(g) == _strides(ours[2][k - 1]))
            if not d.ok or not layout_ok:
                bad += 1
                print("FAIL", seed, c, f"result {k}:", d.why or f"strides {g.stride()}, torch {h.stride()}", flush=True)
    return bad


def test_conv_against_torch_on_random_configurations():
    in_subprocess("test_conv_fuzz", "run_seeds", list(range(CONFIGS)))
