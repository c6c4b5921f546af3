"""What the differential fuzzer (tests/test_fuzz.py) found in scaled_dot_product_attention: non-finite
entries as torch's math backend's, and empty or key-less attention keeping its graph (docs/ops.md,
"Deliberate differences"; tests/fuzz/deviations_layers.py)."""

import torch
import torch.nn.functional as F

import manualgrad.functional as MF


def test_4d_attention_with_a_nan_query_row_is_torchs_math_backends():
    """A NaN in a query row makes all its scores NaN, so its output row is NaN: as torch's math
    backend (which its 2-d/3-d calls take) gives it. torch's CPU flash kernel (4-d) gives 0 where
    the value column is finite: torch disagrees with itself; ours is the math backend's."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    torch.manual_seed(5)
    q, k, v = torch.randn(1, 2, 4, 4), torch.randn(1, 2, 3, 4), torch.randn(1, 2, 3, 4)
    q[0, 0, 1, 1] = float("nan")
    ours = MF.scaled_dot_product_attention(q, k, v)
    with sdpa_kernel(SDPBackend.MATH):
        math = F.scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(ours, math, equal_nan=True)
    assert bool(ours[0, 0, 1].isnan().all())
    assert torch.equal(F.scaled_dot_product_attention(q[0], k[0], v[0])[0, 1].isnan(), ours[0, 0, 1].isnan())
    assert not bool(F.scaled_dot_product_attention(q, k, v)[0, 0, 1].isnan().all())  # else drop the deviation


def test_4d_causal_attention_at_scale_0_is_the_average_of_the_visible_values():
    """scale = 0: every score is 0, so each query row averages the values it may see (causal:
    keys 0..i). torch's math backend (and its 3-d call) give that; its 4-d flash kernel gives NaN."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    torch.manual_seed(8)
    q, k, v = (torch.randn(1, 2, 2, 4, dtype=torch.float64), torch.randn(1, 2, 3, 4, dtype=torch.float64),
               torch.randn(1, 2, 3, 4, dtype=torch.float64))
    ours = MF.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.0)
    want = torch.stack([v[..., :1, :].mean(-2), v[..., :2, :].mean(-2)], -2)
    torch.testing.assert_close(ours, want)
    with sdpa_kernel(SDPBackend.MATH):
        torch.testing.assert_close(F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.0), want)
    assert F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.0).isnan().all()  # else drop it


def test_empty_attention_keeps_its_graph():
    """An empty output that depends on a mask requiring grad: ours' requires grad, and the mask's
    gradient is empty (None: nothing flows); torch's output does not require grad."""
    q, m = torch.zeros(0, 2), torch.zeros(0, 0, requires_grad=True)
    assert not F.scaled_dot_product_attention(q, q, q, attn_mask=m).requires_grad
    y = MF.scaled_dot_product_attention(q, q, q, attn_mask=m)
    assert y.requires_grad
    (g,) = torch.autograd.grad(y, m, torch.zeros(0, 2), allow_unused=True)
    assert g is None or g.shape == (0, 0)


def test_attention_with_no_keys_keeps_its_graph_to_the_mask():
    """No keys (S = 0), a non-empty output (zeros) and a mask requiring grad: torch's output does
    not require grad; ours' does, and the mask's gradient is empty (None: nothing flows)."""
    q, kv, m = torch.ones(1, 2, 1, 2), torch.zeros(1, 2, 0, 2), torch.zeros(1, 0, requires_grad=True)
    assert not F.scaled_dot_product_attention(q, kv, kv, attn_mask=m).requires_grad
    y = MF.scaled_dot_product_attention(q, kv, kv, attn_mask=m)
    assert y.requires_grad and bool((y == 0).all())
    (g,) = torch.autograd.grad(y, m, torch.ones_like(y), allow_unused=True)
    assert g is None or g.shape == (1, 0)


def test_softmax_backward_residue_is_accepted_only_within_its_terms():
    """Identical value rows (0, −1e30) make dP equal along each query row, so dS = P ⊙ (dP − Σ P ⊙ dP)
    is 0 exactly and dq is the rounding residue of terms of size 1e29: ours −6.9e12, torch's 0.
    The fuzzer accepts it as that residue (tests/fuzz/deviations_layers.py), and not a dq further
    from torch's than a few ulps of those terms."""
    from fuzz import Case, T, check
    from fuzz.compare import run
    from fuzz.deviations_layers import attention_softmax_residue
    from fuzz.ops import OPS
    case = Case('scaled_dot_product_attention', (
        T((4, 2), dtype='float64', values='wide', seed=20), T((3, 2), dtype='float64', layout='strided', values='special', seed=872),
        T((3, 2), dtype='float64', layout='expanded', values='special', seed=1099)), {'is_causal': True}, seed=2)
    check(case)
    ours_fn, torch_fn = OPS[case.op].pair
    ours, theirs = run(ours_fn, case), run(torch_fn, case)
    assert ours.grads[0][1, 1] != theirs.grads[0][1, 1]  # else the case no longer shows the residue
    assert attention_softmax_residue(case, ours, theirs, {"grad 0"})
    ours.grads = (ours.grads[0] + 1e17,) + ours.grads[1:]
    assert attention_softmax_residue(case, ours, theirs, {"grad 0"}) is None
