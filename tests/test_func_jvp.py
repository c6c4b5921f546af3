"""Forward mode through manualgrad: torch.func.jvp of every op with a jvp of its own equals
torch's (float64, random tangents), jacfwd, forward_ad dual tensors (in-place ops too), and a
clear NotImplementedError for the ops without forward mode."""

import warnings

import pytest
import torch
import torch.autograd.forward_ad as fwAD
import torch.nn.functional as F
from torch.func import jacfwd, jacrev, jvp

import manualgrad.functional as MF
import manualgrad.nn as MN
from manualgrad import ops, verify
from manualgrad.functions._transform import forward_mode_ops

SUPPORTED = [s for s in ops.OPS if s.function.__name__ in forward_mode_ops()]
UNSUPPORTED = [s for s in ops.OPS if s not in SUPPORTED]
KNOWN = {("cross_entropy", "probabilities empty mean (nan)"):
         "empty input, NaN loss: torch's tangent is -0, ours NaN (0/0 of the empty mean)"}


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def test_forward_mode_covers_the_activations_and_losses():
    names = {s.name for s in SUPPORTED}
    assert {"linear", "relu", "leaky_relu", "elu", "gelu", "silu", "softplus", "sigmoid", "tanh", "softmax",
            "log_softmax", "dropout", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
            "binary_cross_entropy", "binary_cross_entropy_with_logits", "nll_loss", "cross_entropy"} <= names


@pytest.mark.parametrize("spec", SUPPORTED, ids=lambda s: s.name)
def test_jvp_equals_torch(spec):
    gen = torch.Generator().manual_seed(0)
    n = 0
    for sample in spec.samples(torch.device("cpu"), torch.float64):
        if not sample.gradcheck or (spec.name, repr(sample)) in KNOWN:  # inf/NaN samples
            continue
        seed = 0 if spec.seeded else None
        f, primals = verify.as_function_of_grad_inputs(spec.op, sample, seed)
        g, _ = verify.as_function_of_grad_inputs(spec.ref, sample, seed)
        if not primals:
            continue
        primals = tuple(p.detach() for p in primals)
        tangents = tuple(torch.randn(p.shape, dtype=p.dtype, generator=gen) for p in primals)
        try:
            want = jvp(g, primals, tangents)
        except RuntimeError:  # torch has no forward mode for this call either
            continue
        got = jvp(f, primals, tangents)
        torch.testing.assert_close(got, want, equal_nan=True, msg=lambda m: f"{sample}: {m}")
        n += 1
    assert n > 0


def test_jacfwd_equals_torch():
    torch.manual_seed(0)
    lin = MN.Linear(5, 4).double()
    twin = torch.nn.Linear(5, 4).double()
    twin.load_state_dict(lin.state_dict())
    x, t = torch.randn(3, 5, dtype=torch.float64), torch.tensor([0, 3, 1])
    ours = lambda v: MF.cross_entropy(MF.log_softmax(MF.gelu(lin(v)), 1), t, label_smoothing=0.1)  # noqa: E731
    theirs = lambda v: F.cross_entropy(F.log_softmax(F.gelu(twin(v)), 1), t, label_smoothing=0.1)  # noqa: E731
    torch.testing.assert_close(jacfwd(ours)(x), jacfwd(theirs)(x), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(jacfwd(ours)(x), jacrev(ours)(x), rtol=1e-10, atol=1e-12)
    h = lambda v: MF.mse_loss(MF.tanh(v), v.flip(0))  # noqa: E731
    torch.testing.assert_close(jacfwd(jacrev(h))(x), torch.func.hessian(lambda v: F.mse_loss(torch.tanh(v), v.flip(0)))(x))


@pytest.mark.parametrize("op,inplace", [(op, False) for op in ("relu", "elu", "gelu", "sigmoid")]
                         + [(op, True) for op in ("relu", "leaky_relu", "elu", "silu")])
def test_forward_ad_dual_tensors(op, inplace):
    """The plain forward_ad API (no torch.func): our jvp runs, in-place ops update the tangent."""
    x, dx = torch.randn(4, 5, dtype=torch.float64), torch.randn(4, 5, dtype=torch.float64)
    kw = {"inplace": True} if inplace else {}
    ref = getattr(torch, op) if op == "sigmoid" else getattr(F, op)
    results = []
    for fn in (getattr(MF, op), ref):
        with fwAD.dual_level():
            y = fn(fwAD.make_dual(x.clone(), dx.clone()), **kw)
            results.append(fwAD.unpack_dual(y))
    (y, dy), (y_ref, dy_ref) = results
    torch.testing.assert_close(y, y_ref)
    torch.testing.assert_close(dy, dy_ref)


@pytest.mark.parametrize("spec", [s for s in UNSUPPORTED if s.name in
                                  ("conv2d", "max_pool2d", "layer_norm", "group_norm", "batch_norm",
                                   "scaled_dot_product_attention", "linear_cross_entropy")], ids=lambda s: s.name)
def test_unsupported_forward_mode_raises_clearly(spec):
    sample = next(s for s in spec.samples(torch.device("cpu"), torch.float64) if s.node)
    f, primals = verify.as_function_of_grad_inputs(spec.op, sample, 0 if spec.seeded else None)
    primals = tuple(p.detach() for p in primals)
    name = spec.function.__name__
    with pytest.raises(NotImplementedError, match=f"forward-mode AD .* not implemented for {name}.*ReLUFunction"):
        jvp(f, primals, tuple(torch.ones_like(p) for p in primals))
    with fwAD.dual_level(), pytest.raises(NotImplementedError, match=f"not implemented for {name}"):
        f(*(fwAD.make_dual(p, torch.ones_like(p)) for p in primals))


def test_nothing_is_saved_for_forward_outside_forward_mode(monkeypatch):
    """A kept output's grad_fn must not hold tensors the backward released."""
    calls = []
    real = torch.autograd.function.FunctionCtx.save_for_forward
    monkeypatch.setattr(torch.autograd.function.FunctionCtx, "save_for_forward",
                        lambda ctx, *ts: calls.append(len(ts)) or real(ctx, *ts))
    x = torch.randn(3, 4, requires_grad=True)
    MF.gelu(MF.linear(x, torch.randn(2, 4)))
    assert calls == []
    with fwAD.dual_level():
        MF.gelu(MF.linear(x, torch.randn(2, 4)))
    assert calls == [2, 1]
