"""Automatic mixed precision: every op of the table under ``torch.autocast`` behaves as its torch
twin does there (manualgrad/functional/_autocast.py).

The expected behaviour is torch's own, observed at test time (no hard-coded op list): the twin
runs under the same autocast, and ours must give the same output dtype, each input's gradient in
that input's own dtype (as torch's), and values within low-precision error of torch's. Each
sample runs as given (float32), with its first floating argument in the autocast dtype (an
activation from a previous low-precision op) and with all of them in it, which tells the
"fp32", "lower" and "as given" policies apart. ``l1_l2_penalty`` is left out: its reference is manualgrad's own autograd
formula, not a torch op with an autocast policy (the penalty runs in its parameters' dtype).
"""

import copy

import pytest
import torch

import manualgrad as mg
import manualgrad.functional as MF
from manualgrad import ops, verify
from manualgrad.functional._autocast import FP32, LOWER, PROMOTE, autocast_policy

pytestmark = pytest.mark.filterwarnings("ignore:Mismatch dtype between input and weight")  # torch's rms_norm

NO_TWIN = {"l1_l2_penalty"}
N_SAMPLES = 3  # the first samples of each op: the plain cases, with and without optional tensors
AUTOCASTS = [pytest.param("cpu", torch.bfloat16, id="cpu-bf16"),
             pytest.param("cuda", torch.bfloat16, marks=pytest.mark.cuda, id="cuda-bf16"),
             pytest.param("cuda", torch.float16, marks=pytest.mark.cuda, id="cuda-fp16")]
# assert_close's defaults for the autocast dtype, for every compared tensor (a float32 result
# of a low-precision op carries the low-precision error); or at most twice torch's error
# against float64 (verify.compare)
TOL = {torch.bfloat16: (1.6e-2, 1e-5), torch.float16: (1e-3, 1e-5)}


def _cases():
    return [pytest.param(spec, i, variant, id=f"{spec.name}-{i}-{variant}")
            for spec in ops.OPS if spec.name not in NO_TWIN
            for i in range(min(N_SAMPLES, len(list(spec.samples("cpu", torch.float32)))))
            for variant in ("fp32", "low", "all-low")]


def _in_low(sample, dtype, variant):
    """The sample's tensors as the variant says: "fp32" as given; "low": the first floating
    one (the activation) in ``dtype``; "all-low": every floating one in ``dtype`` (still leaves)."""
    args, kwargs = list(sample.args), dict(sample.kwargs)
    todo = {"fp32": 0, "low": 1, "all-low": len(args) + len(kwargs)}[variant]
    for seq, keys in ((args, range(len(args))), (kwargs, list(kwargs))):
        for k in keys:
            a = seq[k]
            if todo and isinstance(a, torch.Tensor) and a.is_floating_point():
                seq[k] = a.detach().to(dtype).requires_grad_(a.requires_grad)
                todo -= 1
    return tuple(args), kwargs


def _run(fn, args, kwargs, sample, seeded, device, dtype, dy=None):
    """fn under autocast (forward and the backward call), or the exception it raises."""
    try:
        with torch.autocast(device, dtype=dtype):
            return verify.run(fn, args, kwargs, dy=dy, seed=0 if seeded else None,
                              clone_input=sample.clone_input)
    except Exception as e:  # noqa: BLE001 - the twin's exception is what ours must raise
        return e


@pytest.mark.parametrize("device,dtype", AUTOCASTS)
@pytest.mark.parametrize("spec,i,variant", _cases())
def test_op_under_autocast_matches_torch(spec, i, variant, device, dtype):
    sample = list(spec.samples(torch.device(device), torch.float32))[i]
    args, kwargs = _in_low(sample, dtype, variant)
    theirs = _run(spec.ref, args, kwargs, sample, spec.seeded, device, dtype)
    ours = _run(spec.op, args, kwargs, sample, spec.seeded, device, dtype,
                dy=None if isinstance(theirs, Exception) else theirs.dy)
    if isinstance(theirs, Exception):  # binary_cross_entropy on CUDA: unsafe to autocast
        assert type(ours) is type(theirs) and str(theirs).splitlines()[0] in str(ours)
        return
    if isinstance(ours, Exception):
        raise ours
    assert ours.out.dtype == theirs.out.dtype
    args64, kwargs64 = verify._upcast(args, kwargs)
    exact = verify.run(spec.ref, args64, kwargs64, dy=theirs.dy.double(), seed=0 if spec.seeded else None,
                       clone_input=sample.clone_input)
    rtol, atol = TOL[dtype]
    diffs = [("output", verify.compare(ours.out, theirs.out, exact.out, rtol, atol))]
    leaves = verify.grad_inputs(args, kwargs)
    for k, (leaf, g, h) in enumerate(zip(leaves, ours.grads, theirs.grads)):
        if h is not None:
            assert h.dtype == leaf.dtype  # torch's rule, which ours must follow
        assert (g is None) == (h is None), f"gradient {k}: None on one side"
        if g is not None:
            assert (g.dtype, g.shape) == (leaf.dtype, leaf.shape), f"gradient {k}"
            diffs.append((f"gradient {k}", verify.compare(g, h, exact.grads[k], rtol, atol)))
    bad = [f"{name}: {d.why}" for name, d in diffs if not d.ok]
    assert not bad, "\n".join(bad)


def _backward_in_autocast_equals_outside(fn, *args):
    """Gradients of fn (run without autocast) from a backward called inside and outside a CPU
    bf16 autocast region."""
    out = fn(*args)
    dy = torch.randn_like(out)
    outside = torch.autograd.grad(out, args, dy, retain_graph=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inside = torch.autograd.grad(out, args, dy)
    return all(torch.equal(a, b) for a, b in zip(outside, inside))


@pytest.mark.parametrize("name", ["linear", "conv2d"])
def test_backward_runs_without_autocast(name, monkeypatch):
    """The engine runs a backward under the autocast state of the ``.backward()`` call; ours
    switches it off (custom_bwd semantics: the forward ran with it off), so a backward called
    inside an autocast region gives the float32 gradients of a float32 forward. Without that
    guard the backward's matmul/conv primitives would be autocast to bf16: the check can tell."""
    if name == "linear":
        args = (torch.randn(4, 8, requires_grad=True), torch.randn(5, 8, requires_grad=True))
    else:
        args = (torch.randn(2, 3, 6, 6, requires_grad=True), torch.randn(4, 3, 3, 3, requires_grad=True))
    op = getattr(MF, name)
    assert _backward_in_autocast_equals_outside(op, *args)
    function = ops.get(name).function
    monkeypatch.setattr(function, "backward", staticmethod(function.backward.__wrapped__))
    assert not _backward_in_autocast_equals_outside(op, *args)


def _cnn():
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(4, 6, 3), torch.nn.GroupNorm(2, 6), torch.nn.SiLU(), torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(), torch.nn.Linear(6, 5))


def _mlp():
    return torch.nn.Sequential(
        torch.nn.Linear(12, 16), torch.nn.LayerNorm(16), torch.nn.GELU(), torch.nn.Linear(16, 16),
        torch.nn.Tanh(), torch.nn.Linear(16, 5), torch.nn.LogSoftmax(dim=1))


@pytest.mark.parametrize("make,shape,loss", [(_cnn, (8, 1, 8, 8), "cross_entropy"),
                                             (_mlp, (8, 12), "nll_loss")], ids=["cnn", "mlp"])
def test_training_under_autocast_matches_torch(make, shape, loss):
    """3 SGD steps under CPU bf16 autocast: float32 parameters get float32 gradients, and the
    losses and gradients follow torch.nn's."""
    theirs = make()
    ours = copy.deepcopy(theirs)
    assert mg.swap(ours)  # every module now runs manualgrad's backward
    assert all(type(m).__module__.startswith("manualgrad") for m in ours if type(m) is not torch.nn.Flatten)
    x, y = torch.randn(shape), torch.randint(0, 5, (shape[0],))
    opts = [torch.optim.SGD(m.parameters(), lr=0.1) for m in (ours, theirs)]
    for _ in range(3):
        losses = []
        for model, opt, lib in ((ours, opts[0], MF), (theirs, opts[1], torch.nn.functional)):
            opt.zero_grad()
            with torch.autocast("cpu", dtype=torch.bfloat16):
                out = getattr(lib, loss)(model(x), y)
            assert out.dtype == torch.float32
            out.backward()
            losses.append(out.detach())
        torch.testing.assert_close(losses[0], losses[1], rtol=2e-2, atol=1e-3)
        # near-zero gradients (a conv bias before BatchNorm) are floored at the model's scale
        scale = max(q.grad.abs().max().item() for q in theirs.parameters())
        for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
            assert p.grad.dtype == torch.float32, name
            torch.testing.assert_close(p.grad, q.grad, rtol=2e-2, atol=1e-2 * scale, msg=name)
        for opt in opts:
            opt.step()


def _probe(a, b=None, dtype=None):
    """What a wrapper's body sees: the dtypes of its tensors and whether autocast is on."""
    return a.dtype, None if b is None else b.dtype, torch.is_autocast_enabled("cpu")


@pytest.mark.parametrize("policy,given,seen", [
    (LOWER, (torch.float32, torch.float64), (torch.bfloat16, torch.float64)),  # float64 is left alone
    (FP32, (torch.bfloat16, torch.float16), (torch.float32, torch.float32)),
    (PROMOTE, (torch.bfloat16, torch.float32), (torch.float32, torch.float32)),
    (PROMOTE, (torch.bfloat16, torch.float64), (torch.bfloat16, torch.float64)),
    (None, (torch.bfloat16, torch.float32), (torch.bfloat16, torch.float32)),
], ids=["lower", "fp32", "promote", "promote-ignores-float64", "as-given"])
def test_policy_casts(policy, given, seen):
    probe = autocast_policy("banned", cpu=policy)(_probe)
    a, b = (torch.ones(2, dtype=d) for d in given)
    assert probe(a, b) == (*given, False)  # without autocast: the call as is
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert probe(a, b) == (*seen, False)  # the body runs with autocast off
        assert probe(a, b, dtype=torch.float64) == (*given, False)  # an explicit dtype: no cast


def test_banned_and_device_types_without_autocast():
    def binary_cross_entropy(a):
        return a
    banned = autocast_policy(None, cpu="banned")(binary_cross_entropy)
    x = torch.ones(2)
    assert banned(x) is x
    with torch.autocast("cpu", dtype=torch.bfloat16), pytest.raises(RuntimeError, match="unsafe to autocast"):
        banned(x)
    w = torch.ones(3, 2, device="meta", requires_grad=True)  # 'meta' has no autocast at all
    assert MF.linear(torch.ones(4, 2, device="meta"), w).shape == (4, 3)
    with pytest.raises(ValueError, match="unknown autocast policy"):
        autocast_policy("bf16")
