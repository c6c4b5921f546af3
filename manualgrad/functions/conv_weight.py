"""The convolution's weight gradient (``ConvFunction``'s dw, derived in its docstring; also
``ConvTransposeFunction``'s, with x and dy swapped) and the ways it is computed: im2col matmuls on eager CPU, the regrouped convolution elsewhere, one
contraction per kernel tap under torch.compile; half precision summed in float32."""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F

from ._recompute import active

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}

_ACC = {torch.float16: torch.float32, torch.bfloat16: torch.float32}  # dw's sums in half precision
_COLS = 1 << 19  # floats per chunk (2 MiB in float32: cache-sized chunks measured fastest)


def weight_grad(x, dy, w_shape, s, d, lo, groups) -> torch.Tensor:
    """dw[c, ci, k] = Σ_{b,o} dy[b, c, o] · xp[b, g·Cg + ci, k·d + o·s] (the class docstring), x
    padded by 'same''s extra zero; summed in float32 (float64 for float64) and rounded once.

    Eager CPU, groups 1: :func:`_weight_grad_im2col`. Otherwise the regrouped convolution
    (:func:`_weight_grad_regrouped`); in half precision on float32 copies of x and dy, a chunk
    of the batch at a time on eager CPU (whole on CUDA and when traced). Half precision never
    runs that convolution in its own dtype: its kernel is as large as the image and its input
    channels are the batch, a shape torch's own backward never gives a half kernel (torch calls
    the dedicated weight-gradient kernels), and half kernels get it wrong: bf16 dw off by ~110 %
    at batch 4 and 8 (3→8 channels, 16×16, padding 1) on a CPU with AMX, and an fp16 crash in
    conv1d with groups 3, stride 3, dilation 3, padding 1. Neither reproduces on an avx512_bf16
    CPU without AMX (AMD Zen 4, where fp16 runs torch's slow kernels, not oneDNN), where
    ONEDNN_VERBOSE shows batch 4 and 8 (below 16 input channels) taking oneDNN's small-channel
    bf16 kernel (weights AcdB16a2b) and batch 16 the blocked one (aBcd16b): the split by batch
    that the AMX failure followed. And oneDNN's bf16 convolution makes NaN of an inf input on this
    CPU too (bf16 conv1d([1, inf, 1, 1], [1, 1]) is [nan, inf, 2]; float32's [inf, inf, 2]): x is
    that convolution's input here, so bf16 dw was NaN where float64's is ±inf (the fuzzer's
    find; tests/test_fuzz_findings_conv.py). x is zero-padded before that convolution, not by it:
    its implicit padding skips the taps that float64's explicit zeros multiply, so an inf in dy
    met by padding gave ±inf or finite where float64 and torch give NaN (conv_transpose's dw, in
    every dtype, where x is the padded operand). On CUDA the float32 convolution may run in TF32, which
    holds half-precision inputs exactly and sums in float32."""
    if x.shape[0] == 0:  # empty batch: nothing to sum (a 0-channel conv is ill-defined)
        return x.new_zeros(w_shape)
    kernel = w_shape[2:]
    if _im2col_applies(x, groups):
        return _weight_grad_im2col(x, dy, kernel, s, d, lo)
    acc = _ACC.get(x.dtype)
    if torch.compiler.is_compiling():  # every size symbolic (see _weight_grad_per_tap)
        xa, dya = (x, dy) if acc is None else (x.to(acc), dy.to(acc))
        return _weight_grad_per_tap(xa, dya, kernel, s, d, lo, groups).to(x.dtype)
    if any(lo):  # explicit zeros: 0·inf is NaN, as float64's (the conv's implicit padding skips them)
        x, lo = F.pad(x, [p for lo_i in reversed(lo) for p in (lo_i, lo_i)]), (0,) * len(lo)
    if acc is None:
        return _weight_grad_regrouped(x, dy, kernel, s, d, lo, groups)
    step = x.shape[0]
    if x.device.type == "cpu" and active():
        step = max(1, _COLS // max(1, x[0].numel() + dy[0].numel()))
    dw = None
    for b0 in range(0, x.shape[0], step):
        part = _weight_grad_regrouped(x[b0:b0 + step].to(acc), dy[b0:b0 + step].to(acc), kernel, s, d, lo, groups)
        dw = part if dw is None else dw + part
    return dw.to(x.dtype)


def _im2col_applies(x: torch.Tensor, groups: int) -> bool:
    """Eager CPU, groups 1 (see :func:`_weight_grad_im2col`)."""
    return groups == 1 and x.device.type == "cpu" and active()


def _weight_grad_regrouped(x, dy, kernel, s, d, lo, groups) -> torch.Tensor:
    """dw as a convolution of x with dy as the kernel (the class docstring), in x's dtype."""
    n = x.dim() - 2
    xt = x.unflatten(1, (groups, -1)).permute(2, 1, 0, *range(3, 3 + n)).flatten(1, 2)
    return crop(_CONV[n](xt, dy.transpose(0, 1), None, d, lo, s, groups).transpose(0, 1), kernel)


def _weight_grad_im2col(x, dy, kernel, s, d, lo) -> torch.Tensor:
    """dw[c, ci, k] = Σ_{b,o} dy[b, c, o] · xp[b, ci, o·s + k·d] (groups 1) as matmuls over
    chunks of the batch: xp channels-last, its windows an ``as_strided`` view (b, o, k, ci),
    copied chunk by chunk into (samples·rows, K·Cin) columns, and dy of the chunk as (Cout,
    samples·rows) @ columns, one matmul per chunk that sums over the samples and the output
    positions at once (dy's transposed copy is Cout/(K·Cin) of the columns' size), accumulated
    over the chunks by ``addmm_``. A bmm per sample summed afterwards wrote chunk × Cout × K·Cin
    floats first: ResNet-18's 512-channel 3×3 layers at 2×2 output, 8 samples, 75 MB for a
    9 MB result. Half precision: each chunk of
    xp and dy is copied in float32 and dw is summed in float32, rounded once at the end
    (summing in half would round at every chunk).
    On CPU this is 1.6-3× faster than the regrouped convolution (a kernel as large as the image,
    which the conv kernels handle poorly: 3→32, 32→32, 32→64, 64→64 channels, 3×3, batch 128) and
    never holds more than one chunk of columns. Grouped convolutions keep the regrouped
    convolution; so do torch.compile and torch.func, which trace it. With 2 threads the bench's
    ResNet step is 1.58× torch's with this path against 1.81× with the regrouped convolution,
    and with the cores oversubscribed (a busy process beside it) 1.83× against 1.86×
    (interleaved steps, medians)."""
    acc = _ACC.get(x.dtype, x.dtype)
    xp = x.movedim(1, -1)  # (B, *P, Cin): padded and made contiguous in one copy
    xp = F.pad(xp, [0, 0, *(p for lo_i in reversed(lo) for p in (lo_i, lo_i))]) if any(lo) else xp.contiguous()
    out_size, cin = dy.shape[2:], xp.shape[-1]
    strides = xp.stride()
    window = (*out_size, *kernel, cin)
    spatial = strides[1:-1]
    window_strides = (*(si * st for si, st in zip(s, spatial)), *(di * st for di, st in zip(d, spatial)), 1)
    rows = math.prod(out_size)
    dyt = dy.flatten(2).transpose(0, 1)  # (Cout, B, rows): a view of a contiguous dy
    chunk = max(1, _COLS // max(1, rows * math.prod(kernel) * cin))
    dw = None
    for b0 in range(0, x.shape[0], chunk):
        xc = xp[b0:b0 + chunk].to(acc)  # half precision: the chunk in float32 (a view otherwise)
        k = xc.shape[0]
        cols = xc.as_strided((k, *window), (strides[0], *window_strides), xc.storage_offset())
        dyc = dyt[:, b0:b0 + k].to(acc).reshape(dyt.shape[0], k * rows)  # (Cout, k·rows)
        cols = cols.reshape(k * rows, -1)  # (k·rows, K·Cin)
        dw = dyc @ cols if dw is None else dw.addmm_(dyc, cols)  # in place on a product of our own
    return dw.view(-1, *kernel, cin).movedim(-1, 1).to(x.dtype)


def _weight_grad_per_tap(x, dy, kernel, s, d, lo, groups) -> torch.Tensor:
    """dw[c, ci, k] = Σ_{b,o} dy[b, c, o] · xp[b, g·Cg + ci, o·s + k·d], one contraction per
    kernel tap k: the entries of xp that tap k meets are the strided view xp[..., k·d :: s] (O of
    them per dim), contracted with dy over (b, o) within each group. For torch.compile: the
    regrouped convolution takes dy as its kernel, and inductor's convolution lowering pins a
    kernel's shape (here the batch and output size) to constants, a recompile per batch size;
    here every size stays symbolic, and the loop runs over the weight's kernel size. The price
    with static shapes (inductor, CPU, 32→32 channels 3×3 on 128×32×32): conv forward + backward
    601 ms against 485 ms with the regrouped convolution."""
    xp = F.pad(x, [p for lo_i in reversed(lo) for p in (lo_i, lo_i)]) if any(lo) else x
    out = dy.shape[2:]
    dyg = dy.unflatten(1, (groups, -1)).flatten(3)  # (B, G, Og, rows)
    taps = []
    for k in itertools.product(*map(range, kernel)):
        window = (slice(ki * di, ki * di + si * (oi - 1) + 1, si) for ki, di, si, oi in zip(k, d, s, out))
        xk = xp[(slice(None), slice(None), *window)].unflatten(1, (groups, -1)).flatten(3)  # (B, G, Cg, rows)
        taps.append(torch.einsum("bgor,bgcr->goc", dyg, xk))
    return torch.stack(taps, -1).flatten(0, 1).unflatten(-1, tuple(kernel))  # (G·Og, Cg, *kernel)


def crop(t: torch.Tensor, size) -> torch.Tensor:
    """The leading ``size`` entries of ``t``'s trailing dims."""
    for dim, m in enumerate(size, start=t.dim() - len(size)):
        if t.shape[dim] != m:
            t = t.narrow(dim, 0, m)
    return t
