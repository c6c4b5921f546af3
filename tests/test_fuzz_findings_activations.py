"""What the differential fuzzer (tests/test_fuzz.py) found in the activations: the gradient at a NaN
input is that of the x > bound branch at every size, where torch's vectorized loop differs from its
scalar one (docs/ops.md, "Deliberate differences"; tests/fuzz/deviations_activations.py)."""

import pytest
import torch
import torch.nn.functional as F

import manualgrad.functional as MF
from conftest import grads, leaf


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64], ids=str)
def test_elu_gradient_at_nan_is_dy_at_every_size(dtype):
    """At a NaN input ours' gradient is dy (x ≤ 0 is false: the x > 0 branch), as torch's scalar
    loop gives it (a 2-element call); torch's vectorized loop gives NaN in a larger tensor."""
    for n in (2, 85):
        x, dy = torch.full((n,), float("nan"), dtype=dtype), torch.linspace(-2, 2, n, dtype=dtype)
        (ours,) = grads(MF.elu, (leaf(x),), dy)
        assert torch.equal(ours, dy)
    assert torch.equal(grads(F.elu, (leaf(x[:2]),), dy[:2])[0], dy[:2])
    assert grads(F.elu, (leaf(x),), dy)[0].isnan().any()


NAN_PASSES = [("selu", {}, 1.0507009873554805), ("celu", {"alpha": 0.5}, 1.0), ("hardtanh", {}, 1.0),
              ("relu6", {}, 1.0), ("hardswish", {}, 1.0), ("softshrink", {}, 1.0), ("hardshrink", {}, 1.0)]


@pytest.mark.parametrize("op,kwargs,slope", NAN_PASSES, ids=[n for n, _, _ in NAN_PASSES])
def test_gradient_at_nan_is_the_x_above_bound_branch_at_every_size(op, kwargs, slope):
    """As elu: at a NaN input ours' gradient is that of the x > bound branch (s·dy for selu, dy for
    the rest; every bound test is false for NaN), as torch's scalar loop gives it (2 elements);
    torch's vectorized loop gives NaN (hardswish, selu, celu) or 0 (hardtanh, relu6, the shrinks)."""
    x, dy = torch.full((85,), float("nan"), dtype=torch.float64), torch.linspace(-2, 2, 85, dtype=torch.float64)
    for n in (2, 85):
        (ours,) = grads(lambda t: getattr(MF, op)(t, **kwargs), (leaf(x[:n]),), dy[:n])
        torch.testing.assert_close(ours, dy[:n] * slope, rtol=1e-15, atol=0)
    (theirs,) = grads(lambda t: getattr(F, op)(t, **kwargs), (leaf(x[:2]),), dy[:2])
    torch.testing.assert_close(theirs, dy[:2] * slope, rtol=1e-15, atol=0)
    (theirs,) = grads(lambda t: getattr(F, op)(t, **kwargs), (leaf(x),), dy)
    assert not torch.allclose(theirs, dy * slope, equal_nan=True)
