"""linear_cross_entropy beyond the op table: it never keeps the N×V logits (saved bytes, peak
memory), the chunk size does not change the result, bfloat16 accumulates in float32, and the module
is torch 2.13's twin (and the same module on a torch without it)."""

import os
import subprocess
import sys
import weakref

import pytest
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

import manualgrad as mg
import manualgrad.functional as MF
import manualgrad.nn as mnn
from manualgrad.samples.linear_cross_entropy import chunks
from conftest import saved_bytes

HAS_TWIN = hasattr(torch.nn, "LinearCrossEntropyLoss")
OPTIONS = [dict(), dict(linear_bias=True), dict(reduction="sum"), dict(reduction="none", linear_bias=True),
           dict(weight=True), dict(ignore_index=2), dict(label_smoothing=0.2),
           dict(weight=True, ignore_index=1, label_smoothing=0.1, linear_bias=True)]


def composite(x, w, t, linear_bias=None, ignore_index=None, **kw):
    """The unfused reference: the full (N, V) logits, then cross_entropy."""
    return F.cross_entropy(F.linear(x, w, linear_bias), t, ignore_index=-100 if ignore_index is None else ignore_index,
                           **kw)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: ",".join(o) or "default")
def test_equals_the_unfused_composite(opts, dtype):
    """Loss and the gradients of input, weight and bias, 10 rows in ragged chunks of 3."""
    x, w = torch.randn(10, 6, dtype=dtype, requires_grad=True), torch.randn(9, 6, dtype=dtype, requires_grad=True)
    t = torch.tensor([0, 8, 2, 2, 1, 5, 4, 1, 7, 3])
    kw = dict(opts)
    if kw.get("linear_bias"):
        kw["linear_bias"] = torch.randn(9, dtype=dtype, requires_grad=True)
    if kw.get("weight"):
        kw["weight"] = torch.rand(9, dtype=dtype) + 0.5
    leaves = [x, w] + ([kw["linear_bias"]] if "linear_bias" in kw else [])
    ours, ref = MF.linear_cross_entropy(x, w, t, options=chunks(3), **kw), composite(x, w, t, **kw)
    torch.testing.assert_close(ours, ref)
    dy = torch.randn_like(ref)
    for g, h in zip(torch.autograd.grad(ours, leaves, dy), torch.autograd.grad(ref, leaves, dy)):
        assert g.dtype == dtype
        torch.testing.assert_close(g, h)


def test_saves_the_inputs_only_while_the_composite_saves_the_logits():
    n, h, v = 256, 32, 1000
    x, w, b = torch.randn(n, h, requires_grad=True), torch.randn(v, h, requires_grad=True), torch.randn(v, requires_grad=True)
    t, cw = torch.randint(0, v, (n,)), torch.rand(v)
    kw = dict(linear_bias=b, weight=cw, ignore_index=3, label_smoothing=0.1)
    ours, _, _ = saved_bytes(lambda: MF.linear_cross_entropy(x, w, t, options=chunks(64), **kw))
    theirs, _, _ = saved_bytes(lambda: composite(x, w, t, **kw))
    assert ours <= x.nbytes + w.nbytes + b.nbytes + cw.nbytes + t.nbytes  # N·H + V·H + O(N + V), no N×V
    assert theirs >= 4 * n * v > 4 * ours  # torch keeps the logits (or the log-probabilities)


class _PeakBytes(TorchDispatchMode):
    """Peak bytes of the tensors the ops under it create and keep alive (each storage counted
    from its creation until it is freed): a deterministic CPU stand-in for max_memory_allocated."""

    def __init__(self):
        super().__init__()
        self.live, self.now, self.peak = {}, 0, 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for o in out if isinstance(out, (tuple, list)) else (out,):
            storage = o.untyped_storage() if isinstance(o, torch.Tensor) else None
            if storage is not None and storage.data_ptr() and storage.data_ptr() not in self.live:  # views, in place: once
                self.live[storage.data_ptr()] = storage.nbytes()
                self.now += storage.nbytes()
                self.peak = max(self.peak, self.now)
                weakref.finalize(storage, self._free, storage.data_ptr())
        return out

    def _free(self, key):
        self.now -= self.live.pop(key)


def test_cpu_peak_memory_is_a_fraction_of_the_composites():
    n, h, v = 1024, 128, 8000
    x, w, t = torch.randn(n, h, requires_grad=True), torch.randn(v, h, requires_grad=True), torch.randint(0, v, (n,))
    peaks = {}
    for name, loss in (("ours", lambda: MF.linear_cross_entropy(x, w, t, options=chunks(128))),
                       ("composite", lambda: composite(x, w, t))):
        with _PeakBytes() as counter:
            torch.autograd.grad(loss(), (x, w))
        peaks[name] = counter.peak
    assert peaks["composite"] >= 2 * 4 * n * v  # logits and log-probabilities together: the meter works
    assert peaks["ours"] <= 0.25 * peaks["composite"]  # measured 17 MiB against 98 MiB


@pytest.mark.cuda
def test_cuda_peak_memory_is_at_most_a_quarter_of_the_composites():
    n, h, v = 4096, 512, 32000
    x = torch.randn(n, h, device="cuda", requires_grad=True)
    w = (torch.randn(v, h, device="cuda") / h ** 0.5).requires_grad_()
    t = torch.randint(0, v, (n,), device="cuda")
    peaks = {}
    for name, loss in (("ours", lambda: MF.linear_cross_entropy(x, w, t)), ("composite", lambda: composite(x, w, t))):
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        start = torch.cuda.memory_allocated()
        grads = torch.autograd.grad(loss(), (x, w))
        torch.cuda.synchronize()
        peaks[name] = torch.cuda.max_memory_allocated() - start
        del grads
    assert peaks["ours"] <= 0.25 * peaks["composite"], peaks


@pytest.mark.parametrize("chunk", [1, 3, 7, 100])
def test_chunk_size_does_not_change_the_result(chunk):
    torch.manual_seed(0)
    x = torch.randn(7, 5, dtype=torch.float64, requires_grad=True)
    w = torch.randn(9, 5, dtype=torch.float64, requires_grad=True)
    b = torch.randn(9, dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0, 8, 3, -100, 3, 1, 2])
    kw = dict(linear_bias=b, label_smoothing=0.05, reduction="mean")
    loss = MF.linear_cross_entropy(x, w, t, options=chunks(chunk), **kw)
    ref = F.cross_entropy(F.linear(x, w, b), t, label_smoothing=0.05)
    torch.testing.assert_close(loss, ref)
    for g, h in zip(torch.autograd.grad(loss, (x, w, b)), torch.autograd.grad(ref, (x, w, b))):
        torch.testing.assert_close(g, h)


@pytest.mark.parametrize("classes", [0, 3])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_no_rows_reduce_as_cross_entropy(classes, reduction, label_smoothing):
    """No rows: the loss is cross_entropy's reduction of nothing, also with smoothing over no
    classes, where 'sum' scales the (empty) smoothing term by ε/C = ∞: NaN (the fuzzer found
    ours returning 0 there)."""
    x = torch.randn(0, 5, dtype=torch.float64, requires_grad=True)
    w, b = torch.randn(classes, 5, dtype=torch.float64), torch.randn(classes, dtype=torch.float64)
    t = torch.zeros(0, dtype=torch.long)
    kw = dict(linear_bias=b, reduction=reduction, label_smoothing=label_smoothing)
    ours, ref = MF.linear_cross_entropy(x, w, t, **kw), composite(x, w, t, **kw)
    torch.testing.assert_close(ours, ref, equal_nan=True)
    assert bool(ours.isnan().any()) == (reduction == "mean" or (reduction == "sum" and label_smoothing > 0 and not classes))
    (dx,) = torch.autograd.grad(ours, x, torch.ones_like(ours))
    assert dx.shape == x.shape


def test_bfloat16_weight_gradient_accumulates_in_float32():
    torch.manual_seed(0)
    x = torch.randn(64, 16, dtype=torch.bfloat16, requires_grad=True)
    w = torch.randn(50, 16, dtype=torch.bfloat16, requires_grad=True)
    t = torch.randint(0, 50, (64,))
    ours = torch.autograd.grad(MF.linear_cross_entropy(x, w, t, options=chunks(4)), w)[0]
    xd, wd = x.detach().double().requires_grad_(), w.detach().double().requires_grad_()
    exact = torch.autograd.grad(F.cross_entropy(F.linear(xd, wd), t), wd)[0]
    theirs = torch.autograd.grad(F.cross_entropy(F.linear(x, w), t), w)[0]
    assert ours.dtype == torch.bfloat16
    assert (ours.double() - exact).abs().max() <= 2 * (theirs.double() - exact).abs().max() + 1e-6


@pytest.mark.skipif(not HAS_TWIN, reason="torch.nn.LinearCrossEntropyLoss exists from torch 2.13")
def test_module_is_torchs_twin_and_swaps():
    torch.manual_seed(0)
    theirs = torch.nn.LinearCrossEntropyLoss(8, 11, bias=True, label_smoothing=0.1)
    torch.manual_seed(0)
    ours = mnn.LinearCrossEntropyLoss(8, 11, bias=True, label_smoothing=0.1)
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(ours.state_dict().values(), theirs.state_dict().values()))
    x, t = torch.randn(6, 8, requires_grad=True), torch.randint(0, 11, (6,))
    a, b = ours(x, t), theirs(x, t)
    torch.testing.assert_close(a, b)
    assert type(a.grad_fn).__name__ == "LinearCrossEntropyFunctionBackward"
    for g, h in zip(torch.autograd.grad(a, [x, *ours.parameters()]), torch.autograd.grad(b, [x, *theirs.parameters()])):
        torch.testing.assert_close(g, h)
    swapped = torch.nn.LinearCrossEntropyLoss(8, 11)
    assert [e.after for e in mg.swap(swapped).swapped][0] is mnn.LinearCrossEntropyLoss


OLD_TORCH = """
import torch, torch.nn.functional as F
for owner, name in ((torch.nn, "LinearCrossEntropyLoss"), (torch.nn, "LinearCrossEntropyOptions"),
                    (F, "linear_cross_entropy")):
    if hasattr(owner, name):
        delattr(owner, name)  # torch as before 2.13
import manualgrad as mg, manualgrad.functional as MF, manualgrad.nn as mnn
from manualgrad.ops import OPS_BY_NAME
from manualgrad.samples.linear_cross_entropy import chunks
assert "linear_cross_entropy" in MF.EXTENSIONS and "LinearCrossEntropyLoss" in mnn.EXTENSIONS
cw = torch.rand(11) + 0.5
torch.manual_seed(0)
m = mnn.LinearCrossEntropyLoss(8, 11, bias=True, weight=cw, ignore_index=3, label_smoothing=0.1,
                               options=chunks(4))
torch.manual_seed(0)
lin = torch.nn.Linear(8, 11, bias=True)  # torch 2.13's initialisation: its Linear's
assert list(m.state_dict()) == ["weight", "linear.weight", "linear.bias"]
assert torch.equal(m.linear.weight, lin.weight) and torch.equal(m.linear.bias, lin.bias)
assert repr(m).startswith("LinearCrossEntropyLoss(\\n  in_features=8, num_classes=11, out_features=(), bias=True,")
x, t = torch.randn(10, 8, requires_grad=True), torch.randint(0, 11, (10,))
loss = m(x, t)
ref = F.cross_entropy(F.linear(x, m.linear.weight, m.linear.bias), t, weight=m.weight, ignore_index=3,
                      label_smoothing=0.1)
torch.testing.assert_close(loss, ref)
assert type(loss.grad_fn).__name__ == "LinearCrossEntropyFunctionBackward"
for g, h in zip(torch.autograd.grad(loss, [x, *m.parameters()]), torch.autograd.grad(ref, [x, *m.parameters()])):
    torch.testing.assert_close(g, h)
spec = OPS_BY_NAME["linear_cross_entropy"]  # the reference falls back to the composite
for sample in spec.samples("cpu", torch.float64):
    torch.testing.assert_close(spec.op(*sample.args, **sample.kwargs), spec.ref(*sample.args, **sample.kwargs),
                               equal_nan=True)
for name, args in (("weight", dict(weight=torch.ones(3))), ("label_smoothing", dict(label_smoothing=2.0))):
    try:
        mnn.LinearCrossEntropyLoss(8, 11, **args)
        raise AssertionError(name)
    except RuntimeError as e:
        assert "expected " + name in str(e)
print("ok")
"""


def test_works_on_a_torch_without_linear_cross_entropy():
    """torch < 2.13 (simulated by removing 2.13's names): the function, the op table's reference and
    the module (torch 2.13's constructor, init, state_dict keys, repr, checks) all work."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")])))
    run = subprocess.run([sys.executable, "-c", OLD_TORCH], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-3000:]
