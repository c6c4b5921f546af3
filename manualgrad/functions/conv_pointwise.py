"""The pointwise (1×1) convolution as matrix products over the channels: ``ConvFunction``'s
forward, dx and dw when every kernel size is 1, the stride 1, no padding and groups 1 (a
MobileNet's expansions and projections, a squeeze-excitation block's, a ResNet bottleneck's).

With K = 1 the convolution's sums (``ConvFunction``'s docstring) lose their window: at every
position p of every sample b,
    y[b, :, p] = W · x[b, :, p] + bias       W = w viewed as (Cout, Cin)
    dx[b, :, p] = Wᵀ · dy[b, :, p]
    dw = Σ_{b,p} dy[b, :, p] · x[b, :, p]ᵀ
oneDNN's convolution kernels cost 70-90 µs a call at a MobileNetV3's sizes whatever the work
(8×144×1×1 → 576: 83 µs for the forward, 96 for conv_transpose's dx), the matrix products
20-60 µs. Eager CPU, float32/float64, batched input in contiguous or (float32, 4-d)
channels-last layout only: where torch's output layout is plain to read (both contiguous:
contiguous; channels-last x: channels-last), everything else keeps torch's convolution kernels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._base import unviewed
from ._ints import ints
from ._recompute import active

_BATCHED_GEMM_FROM = 16  # positions per sample from which a bmm beats one folded matmul


def applies(x, w, b, stride, padding, dilation, groups, n, layout) -> bool:
    """Whether :func:`forward` computes this convolution (see the module docstring), ``layout``
    being the one torch's kernel gives y (``conv.memory_format``): :func:`channel_map` gives
    contiguous for contiguous x, channels-last for channels-last x. Anything that is not plainly
    a well-formed 1×1 convolution (dtypes, sizes or arguments torch would refuse, an empty batch
    or weight) goes to torch's kernel, whose checks and messages are the reference."""
    if not (active() and x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64)
            and x.dim() == n + 2 and x.numel() and w.numel() and groups == 1 and w.dim() == n + 2):
        return False
    if w.dtype != x.dtype or w.shape[1] != x.shape[1] or any(k != 1 for k in w.shape[2:]):
        return False
    if b is not None and (b.dtype != x.dtype or b.shape != (w.shape[0],)):
        return False
    steps, dilations = ints(stride, n), ints(dilation, n)
    pads = padding if isinstance(padding, str) and padding in ("valid", "same") else ints(padding, n)
    if steps is None or dilations is None or pads is None:
        return False
    if any(s != 1 for s in steps) or any(d < 1 for d in dilations) or (not isinstance(pads, str) and any(pads)):
        return False  # ('same' pads a 1×1 kernel by nothing; a dilation torch refuses goes to its kernel)
    if _nhwc(x):
        return layout is torch.channels_last
    return x.is_contiguous() and layout is torch.contiguous_format


def _nhwc(t: torch.Tensor) -> bool:
    """A 4-d float32 tensor laid out NHWC (and not also NCHW: one channel or one position): its
    (N·H·W, C) rows are a matrix a matmul reads as it is."""
    return (t.dim() == 4 and t.dtype == torch.float32 and not t.is_contiguous()
            and t.is_contiguous(memory_format=torch.channels_last))


def channel_map(t: torch.Tensor, m: torch.Tensor, bias=None) -> torch.Tensor:
    """out[b, :, p] = m · t[b, :, p] (+ bias), in t's layout when t is channels-last, else
    contiguous. Channels-last: one matmul over the (B·P, C) rows t already is. Contiguous:
    a bmm over the samples from 16 positions a sample; below that (MKL's batched GEMM with
    4 columns ran 230-330 µs where the folded product took 35-60), one matmul on the
    transposed copy of t."""
    if _nhwc(t):
        return F.linear(t.movedim(1, -1), m, bias).movedim(-1, 1)
    t = t.contiguous()
    t3 = t.flatten(2)  # (B, C, P)
    if t3.shape[2] >= _BATCHED_GEMM_FROM:
        out = torch.matmul(m, t3)
        out = out if bias is None else out.add_(bias[:, None])
    else:
        out = F.linear(t3.transpose(1, 2), m, bias).transpose(1, 2).contiguous()
    # through the flat (B, M·P): one position's size-1 dims get the strides torch gives them
    return out.view(t.shape[0], -1).view(t.shape[0], m.shape[0], *t.shape[2:])


def forward(x, w, b) -> torch.Tensor:
    """y = W · x + bias at every position (the module docstring); a tensor of its own, not a view
    of the product's (the caller may modify y in place, as torch's conv output)."""
    return unviewed(channel_map(x, w.reshape(w.shape[0], w.shape[1]), b))


def input_grad(dy, w) -> torch.Tensor:
    """dx[b, :, p] = Wᵀ · dy[b, :, p]."""
    return unviewed(channel_map(dy, w.reshape(w.shape[0], w.shape[1]).t()))


def weight_grad(x, dy, w_shape) -> torch.Tensor:
    """dw = Σ_{b,p} dy[b, :, p] · x[b, :, p]ᵀ, as (Cout, Cin, 1, …). Both channels-last: one
    matmul of the (B·P, ·) row blocks, no copy. Otherwise on (B, C, P) views: per-sample products
    summed over the batch (B·Cout·Cin floats written) where that is less than copying both
    operands to (B·P, ·) rows for one matmul (B·P·(Cin + Cout)), else that matmul."""
    cout, cin = w_shape[0], w_shape[1]
    if _nhwc(x) and _nhwc(dy):
        dw = dy.movedim(1, -1).reshape(-1, cout).t() @ x.movedim(1, -1).reshape(-1, cin)
        return dw.view(w_shape)
    x3, dy3 = x.contiguous().flatten(2), dy.contiguous().flatten(2)
    positions = x3.shape[2]
    if positions == 1:
        dw = dy3[:, :, 0].t() @ x3[:, :, 0]
    elif cout * cin < positions * (cin + cout):
        dw = torch.matmul(dy3, x3.transpose(1, 2)).sum(0)
    else:
        dw = dy3.transpose(0, 1).reshape(cout, -1) @ x3.transpose(1, 2).reshape(-1, cin)
    return dw.view(w_shape)
