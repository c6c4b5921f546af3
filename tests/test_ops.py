"""Every op of the table (manualgrad/ops.py) against torch, sample by sample.

Forward equal to torch; every input gradient with one shared random dy equal to torch (float64
tight, float32 assert_close defaults) with its dtype, shape and device checked; the output's
grad_fn is the op's Function; ctx.needs_input_grad honoured; float64 gradcheck and
gradgradcheck; bad input raises torch's exception type and message.
"""

import inspect
import os

import pytest
import torch

from manualgrad import ops, verify
from conftest import DEVICES


def _samples(dtype):
    return [pytest.param(spec, i, id=f"{spec.name}-{i}")
            for spec in ops.OPS for i, _ in enumerate(spec.samples("cpu", dtype))]


def _sample(spec, i, device, dtype):
    return list(spec.samples(torch.device(device), dtype))[i]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
@pytest.mark.parametrize("spec,i", _samples(torch.float64))
def test_forward_and_gradients_equal_torch(spec, i, device, dtype):
    sample = _sample(spec, i, device, dtype)
    ours, theirs, _, _ = verify.compare_sample(spec, sample, dtype)
    tol = spec.tolerance(dtype)
    torch.testing.assert_close(ours.out, theirs.out, equal_nan=True, **tol)
    leaves = verify.grad_inputs(sample.args, sample.kwargs)
    assert len(ours.grads) == len(leaves)
    for leaf, g, h in zip(leaves, ours.grads, theirs.grads):
        if h is None:
            assert g is None, "torch gives no gradient here"
            continue
        assert g is not None, "missing gradient"
        assert (g.dtype, g.shape, g.device) == (leaf.dtype, leaf.shape, leaf.device)
        torch.testing.assert_close(g, h, equal_nan=True, **tol)
    if sample.node and ours.out.requires_grad:
        assert type(ours.out.grad_fn).__name__ == spec.function.__name__ + "Backward"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("spec,i", _samples(torch.float64))
def test_needs_input_grad_is_honoured(spec, i, device):
    """With one differentiable input at a time, the backward returns None for every other."""
    sample = _sample(spec, i, device, torch.float64)
    f, inputs = verify.as_function_of_grad_inputs(spec.op, sample, 0 if spec.seeded else None)
    if not sample.node or not inputs:
        pytest.skip("no Function node or nothing differentiable")
    for keep in range(len(inputs)):
        out = f(*(t.detach().requires_grad_(k == keep) for k, t in enumerate(inputs)))
        if out.grad_fn is None:
            continue
        n_out = len(inspect.signature(spec.function.backward).parameters) - 1  # minus ctx
        dys = [None] * n_out
        dys[out.output_nr] = torch.randn_like(out)  # out may be any of the node's outputs (an RNN's h_n)
        grads = out.grad_fn.apply(*dys)
        grads = grads if isinstance(grads, tuple) else (grads,)
        computed = [g for g in grads if g is not None]
        assert len(computed) <= 1, f"{len(computed)} gradients computed, only one input needs one"


# the gradchecks are most of the suite's time (the recurrences' above all): by default
# gradgradcheck runs on every third sample of each op (the first included), and gradcheck on all in
# torch's fast mode (a random projection of the Jacobian against the numerical one; the full
# first-order gradient of every sample is compared with torch's above, for a random dy);
# MANUALGRAD_GRADCHECK=all runs both in full on every sample (docs/testing.md)
_EVERY_GRADGRAD = os.environ.get("MANUALGRAD_GRADCHECK") == "all"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("spec,i", [p for p in _samples(torch.float64)
                                     if _sample(p.values[0], p.values[1], "cpu", torch.float64).gradcheck])
def test_gradcheck_and_gradgradcheck(spec, i, device):
    sample = _sample(spec, i, device, torch.float64)
    first, second = verify.gradchecks(spec, sample, second=_EVERY_GRADGRAD or i % 3 == 0,
                                      fast_first=not _EVERY_GRADGRAD)
    assert first, "gradcheck failed"
    assert second, "gradgradcheck failed"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("spec,j", [pytest.param(s, j, id=f"{s.name}-{j}")
                                    for s in ops.OPS for j, _ in enumerate(s.errors("cpu"))])
def test_bad_input_raises_like_torch(spec, j, device):
    bad = list(spec.errors(torch.device(device)))[j]
    problem = verify.error_matches(spec, bad, device)
    assert not problem, problem


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("spec,i", _samples(torch.bfloat16))  # some ops add half-precision samples
def test_bfloat16_is_no_worse_than_torch(spec, i, device):
    """In bfloat16 torch is no ground truth either: each result equals torch's within bf16's
    assert_close tolerance, or its error against float64 is at most twice torch's."""
    sample = _sample(spec, i, device, torch.bfloat16)
    _, _, fwd, grads = verify.compare_sample(spec, sample, torch.bfloat16)
    assert fwd.ok, f"forward: {fwd.why}"
    for k, d in enumerate(grads):
        assert d.ok, f"grad {k}: {d.why}"
