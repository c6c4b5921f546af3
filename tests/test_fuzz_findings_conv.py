"""What the differential fuzzer (tests/test_fuzz.py) found in half-precision conv1d: weight gradients
on non-finite inputs, now float64's rounded once (run in a child process: a half CPU kernel may
crash)."""

import torch
import torch.nn.functional as F

import manualgrad.functional as MF
from conftest import grads, in_subprocess, leaf
from fuzz import Case, T
from fuzz.compare import disagreements
from fuzz.ops import OPS


def run_nonfinite_conv(configs) -> int:
    """Child process: half-precision conv1d weight gradients on ±inf/±1e30/NaN inputs against
    float64 rounded to the dtype once (same non-finite entries, finite ones within a few ulps of the scale)."""
    bad = 0
    for dtype, groups in configs:
        print("run", dtype, groups, flush=True)
        if groups == 0:  # the fuzzer's reproducer (bf16 only: NaN where float64 gives -inf)
            case = Case('conv1d', (T((2, 4), dtype=dtype, layout='strided', values='special'),
                                   T((2, 2, 3), dtype=dtype, layout='strided', values='special')), {})
            found = disagreements(*OPS["conv1d[half]"].pair, case)[1]
            if found:
                bad += 1
                print("FAIL", dtype, found, flush=True)
            continue
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(2, 2 * groups, 12, generator=gen, dtype=torch.float64)
        # at the ends: each reaches one tap k of dw (0 or 2), the other taps stay finite
        x[0, 0, 0], x[0, 1, 11], x[1, 0, 11] = float("inf"), float("-inf"), 1e30 if dtype == "bfloat16" else 6e4
        x[1, 1, 0] = -1e30 if dtype == "bfloat16" else float("nan")  # 1e30: bf16's range, not fp16's
        w = torch.randn(2 * groups, 2, 3, generator=gen, dtype=torch.float64)
        dy = torch.randn(2, 2 * groups, 10, generator=gen, dtype=torch.float64)
        x, w, dy = (t.to(getattr(torch, dtype)) for t in (x, w, dy))
        (ours,) = grads(lambda w: MF.conv1d(x, w, groups=groups), (leaf(w),), dy)
        (exact,) = grads(lambda w: F.conv1d(x.double(), w, groups=groups), (leaf(w.double()),), dy.double())
        exact = exact.to(ours.dtype).double()  # rounded once: fp16 overflows to inf above 65504
        fin = exact.isfinite()
        same = (ours.double() == exact) | (ours.isnan() & exact.isnan()) | fin
        err = ((ours.double()[fin] - exact[fin]).abs().max() / max(exact[fin].abs().max(), 1.0)).nan_to_num(nan=1.0)
        if not same.all() or not ours[fin].isfinite().all() or err > 8 * 2.0 ** -8:
            bad += 1
            print("FAIL", dtype, groups, "ours", ours.tolist(), "float64", exact.tolist(), flush=True)
    return bad


def test_half_conv_weight_gradient_on_non_finite_inputs_is_float64s():
    """bf16 conv1d on inf/1e30 inputs gave NaN weight gradients where float64 gives ±inf: the
    regrouped weight-gradient convolution (x as the input, dy as the kernel) ran in bf16 through
    oneDNN, whose bf16 convolution makes NaN of an inf input (torch 2.13: bf16
    conv1d([1, inf, 1, 1], [1, 1]) is [nan, inf, 2]; with mkldnn disabled, and in float32,
    [inf, inf, 2]); weight_grad now sums in float32. groups 0 stands for the fuzzer's reproducer, groups 1 takes the
    im2col path, groups 2 the regrouped one."""
    in_subprocess("test_fuzz_findings_conv", "run_nonfinite_conv",
                  [(d, g) for d in ("bfloat16", "float16") for g in (0, 1, 2)])


def run_channels_last_padding_windows(configs) -> int:
    """Child process: half channels-last conv2d whose windows along the width hold only padding
    (1×1 kernel, width 1), forward and backward, against float32 rounded once; the fuzzer's
    reproducer through the fuzzer's own check (torch's kernel skipped there, float64 its reference)."""
    bad = 0
    for dtype, stride, padding, dilation in configs:
        print("run", dtype, stride, padding, dilation, flush=True)
        dt = getattr(torch, dtype)
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(1, 4, 4, 1, generator=gen).to(dt).contiguous(memory_format=torch.channels_last)
        w = torch.randn(4, 2, 1, 1, generator=gen).to(dt)
        kw = dict(stride=stride, padding=padding, dilation=dilation, groups=2)
        y = MF.conv2d(x, leaf(w), **kw)
        ref = F.conv2d(x.float(), w.float(), **kw)
        (dw,) = grads(lambda w: MF.conv2d(x, w, **kw), (leaf(w),), torch.ones_like(y))
        (dw_ref,) = grads(lambda w: F.conv2d(x.float(), w, **kw), (leaf(w.float()),), torch.ones_like(ref))
        if not (y.float().equal(ref.to(dt).float()) and y.is_contiguous(memory_format=torch.channels_last)
                and torch.allclose(dw.float(), dw_ref, atol=0, rtol=2 ** -7)):
            bad += 1
            print("FAIL", dtype, stride, padding, dilation, y.tolist(), ref.tolist(), flush=True)
    print("run the fuzzer's reproducer", flush=True)
    case = Case('conv2d', (T((1, 4, 4, 1), dtype='bfloat16', layout='channels_last', values='special', seed=16737, grad=False),
                           T((4, 2, 1, 1), dtype='bfloat16', values='special', seed=3578)),
                {'stride': (1, 2), 'padding': 1, 'dilation': (2, 2), 'groups': 2})
    found = disagreements(*OPS["conv2d[half]"].pair, case)[1]
    if found:
        bad += 1
        print("FAIL reproducer", found, flush=True)
    return bad


def test_half_channels_last_conv_with_padding_only_windows_runs():
    """bf16 channels-last conv2d, 1×1 kernel on width 1, padding 1, stride 2, dilation 2 (every
    window along the width padding only): torch 2.13's oneDNN kernel segfaults in the forward
    (the fuzzer's child died of SIGSEGV). Ours pads x itself there and convolves unpadded."""
    in_subprocess("test_fuzz_findings_conv", "run_channels_last_padding_windows",
                  [[d, [1, 2], 1, [2, 2]] for d in ("bfloat16", "float16")]
                  + [["bfloat16", [1, 2], 3, [1, 3]], ["bfloat16", [2, 2], 1, [2, 2]]])
    # there ours raises torch's own checks (a float32 bias of a half conv), which float64 casts away;
    # then two where the bf16 kernel, on x padded by hand too, gave NaN in a padding-only window
    # next to NaN/±1e30 inputs (torch's own call and float64: 0): now computed in float32
    in_subprocess("test_fuzz_findings_conv", "run_reproducers", [[
        "conv2d[half]",
        "Case('conv2d', (T((1, 34, 2, 1), dtype='float16', layout='transposed', values='tiny', seed=390), "
        "T((4, 17, 1, 3), dtype='float16', layout='channels_last', values='tiny', seed=1500, grad=False)), "
        "{'bias': T((4,), dtype='float32', layout='expanded', values='special', seed=754), 'padding': 1, 'groups': 2})"], [
        "conv2d[half]",
        "Case('conv2d', (T((3, 2, 1, 2), dtype='bfloat16', layout='channels_last', values='special', seed=8404), "
        "T((4, 1, 3, 2), dtype='bfloat16', layout='channels_last', seed=7993)), {'padding': 'same', 'dilation': 3, 'groups': 2})"], [
        "conv3d[half]",
        "Case('conv3d', (T((1, 3, 4, 3), dtype='bfloat16', layout='channels_last', values='special', seed=1872), "
        "T((2, 1, 1, 3, 2), dtype='bfloat16', layout='expanded', values='kinks', seed=819)), "
        "{'bias': T((2,), dtype='bfloat16', values='wide', seed=1628), 'padding': 1, 'dilation': (2, 1, 3)})"]])


def run_reproducers(items) -> int:
    """Child process: each ``[fuzzer op key, Case repr]`` through the fuzzer's own comparison."""
    bad = 0
    for key, text in items:
        print("run", text, flush=True)
        found = disagreements(*OPS[key].pair, eval(text, {"Case": Case, "T": T}))[1]
        if found:
            bad += 1
            print("FAIL", key, found, flush=True)
    return bad


def test_half_conv_transpose_weight_gradient_padding_meets_inf():
    """fp16 conv_transpose1d (padding 2, dilation 2, groups 2) with ±inf in x: dw is conv1d's
    weight gradient with x as its dy, and the regrouped convolution's implicit padding skipped
    the taps where padding meets an inf (−inf where float64 and torch give NaN: 0·inf). Now
    padded with explicit zeros first."""
    in_subprocess("test_fuzz_findings_conv", "run_reproducers", [[
        "conv_transpose1d[half]",
        "Case('conv_transpose1d', (T((2, 6), dtype='float16', layout='strided', values='special', seed=201, grad=False), "
        "T((2, 17, 2), dtype='float16', layout='expanded', seed=2077)), {'padding': 2, 'dilation': 2, 'groups': 2})"]])


def test_integer_conv_with_a_bias_requiring_grad_raises_torchs_error():
    """int64 conv2d on a 1×1 input with a float32 bias that requires grad: torch's kernel adds the
    bias there and autograd then refuses the int64 result ("Autograd not support dtype: Long");
    ours returned it. Now raised as torch does (without grad mode both return int64)."""
    x, w = torch.ones(2, 3, 1, 1, dtype=torch.long), torch.ones(51, 1, 1, 1, dtype=torch.long)
    b = torch.ones(51, requires_grad=True)
    for f in (F.conv2d, MF.conv2d):
        with torch.no_grad():
            assert f(x, w, b, 2, 'valid', 2, 3).dtype == torch.long
    in_subprocess("test_fuzz_findings_conv", "run_reproducers", [[
        "conv2d",
        "Case('conv2d', (T((2, 3, 1, 1), dtype='int64', layout='expanded', values='kinks', seed=1), "
        "T((51, 1, 1, 1), dtype='int64', layout='expanded', values='special', seed=1)), "
        "{'bias': T((51,), dtype='float32', layout='expanded', values='kinks', seed=797), "
        "'stride': 2, 'padding': 'valid', 'dilation': 2, 'groups': 3})"]])


def test_conv_transpose_input_gradient_padding_meets_inf():
    """float32 conv_transpose2d (padding 1, dilation (2, 3)) with inf/NaN in w: dx is conv(dy, w),
    whose implicit padding skipped the taps where padding meets a non-finite w (finite or ±inf
    where float64 and torch give NaN: 0·inf). dy is now padded with explicit zeros first."""
    in_subprocess("test_fuzz_findings_conv", "run_reproducers", [[
        "conv_transpose2d",
        "Case('conv_transpose2d', (T((2, 3, 6, 7), dtype='float32', layout='transposed', values='kinks', seed=44), "
        "T((3, 1, 3, 2), dtype='float32', values='special', seed=32509)), "
        "{'bias': T((3,), dtype='float32', layout='strided', values='kinks', seed=25393, grad=False), "
        "'padding': 1, 'dilation': (2, 3), 'output_padding': (0, 1), 'groups': 3})"]])


def test_conv_transpose_weight_gradient_padding_meets_inf_in_float32():
    """The same as the half case above in float32 (there the regrouped convolution still padded
    implicitly): unbatched conv_transpose1d, stride 3, padding 1, NaN in x's last sample meets the
    high padding of dy (0 where torch and float64 give NaN)."""
    in_subprocess("test_fuzz_findings_conv", "run_reproducers", [[
        "conv_transpose1d",
        "Case('conv_transpose1d', (T((3, 7), dtype='float32', values='special', seed=1), "
        "T((3, 1, 2), dtype='float32', values='special', seed=1)), {'stride': 3, 'padding': 1, 'groups': 3})"]])


def test_bfloat16_grouped_conv_input_gradient_at_an_infinite_weight():
    """bfloat16 conv2d, groups 2, an infinite weight: dx is conv_transpose(dy, w), and torch 2.13's
    oneDNN grouped bf16 kernel (contiguous dy) returns NaN where float64 and torch's own backward
    give ±inf. That case now runs in float32."""
    in_subprocess("test_fuzz_findings_conv", "run_reproducers", [[
        "conv2d",
        "Case('conv2d', (T((3, 4, 5, 6), dtype='bfloat16', layout='channels_last', values='kinks', seed=112), "
        "T((2, 2, 1, 1), dtype='bfloat16', values='special', seed=223)), "
        "{'bias': T((2,), dtype='bfloat16', values='tiny', seed=5717, grad=False), "
        "'stride': (1, 3), 'dilation': 3, 'groups': 2})"]])


def test_half_channels_last_same_padding_with_a_stride_raises_torchs_error():
    """The evening's long profile: bf16 conv2d with a channels-last weight, padding='same' and
    stride 2 on an unbatched input. The padding-only-window path above padded x by hand and
    convolved, where torch raises ('same' is not supported for strided convolutions): ours
    returned a result. It now leaves 'same' with a stride to torch's kernel and its error."""
    in_subprocess("test_fuzz_findings_conv", "run_reproducers", [[
        "conv2d[half]",
        "Case('conv2d', (T((6, 2, 1), dtype='bfloat16', values='ints', seed=691, grad=False), "
        "T((3, 2, 2, 1), dtype='bfloat16', layout='channels_last', values='tiny', seed=10781)), "
        "{'bias': T((3,), dtype='bfloat16', values='tiny', seed=86, grad=False), 'stride': 2, 'padding': 'same', "
        "'dilation': 3, 'groups': 3})"]])


def test_bfloat16_channels_last_conv_input_gradient_at_an_infinite_weight():
    """The evening's long profile: bf16 conv2d, 1×1 channels-last weight [inf, −1.6], padding 1:
    oneDNN's bf16 transposed kernel gave dx NaN where torch's backward and float64 give ±inf (the
    grouped case above had the float32 route; an ungrouped channels-last one did not)."""
    in_subprocess("test_fuzz_findings_conv", "run_reproducers", [[
        "conv2d[half]",
        "Case('conv2d', (T((3, 2, 1, 5), dtype='bfloat16', layout='channels_last', values='special', seed=175), "
        "T((1, 2, 1, 1), dtype='bfloat16', layout='channels_last', values='special', seed=175, grad=False)), "
        "{'stride': (1, 1), 'padding': 1})"]])
