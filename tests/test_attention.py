"""scaled_dot_product_attention: dropout under a seed, fully-masked rows, the weights path's
derivatives, saved bytes. MultiheadAttention: tests/test_multihead_attention.py."""

import math

import pytest
import torch
import torch.nn.functional as F

import manualgrad.functional as MF
import manualgrad.nn as mnn
from manualgrad.functions.attention import ScaledDotProductAttentionFunction
from manualgrad.samples.attention import sdpa_math_reference
from conftest import DEVICES


D64 = dict(dtype=torch.float64)


def saved_bytes(fn):
    """Bytes of the distinct storages autograd saves while ``fn()`` runs (views of one storage,
    as MHA's q, k, v of one packed projection, count once), and their number."""
    storages = {}

    def pack(t):
        s = t.untyped_storage()
        storages[s.data_ptr()] = s.nbytes() if t.numel() else 0
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(storages.values()), len(storages)


def _qkv(*lead, l=3, s=4, e=5, ev=6, device="cpu", **kw):
    return tuple(torch.randn(*lead, n, d, device=device, requires_grad=True, **kw)
                 for n, d in ((l, e), (s, e), (s, ev)))


@pytest.mark.parametrize("p", [0.2, 0.5])
@pytest.mark.parametrize("mask", [False, True])
def test_dropout_equals_torch_under_the_same_seed(p, mask):
    """CPU: ours, torch's kernel and the op table's math reference draw the same mask."""
    q, k, v = _qkv(2, 3, **D64)
    kw = {"dropout_p": p, "attn_mask": torch.rand(3, 4) > 0.3 if mask else None}
    dy = torch.randn(2, 3, 3, 6, **D64)
    outs = []
    for fn in (MF.scaled_dot_product_attention, F.scaled_dot_product_attention, sdpa_math_reference):
        torch.manual_seed(11)
        y = fn(q, k, v, **kw)
        outs.append((y, torch.autograd.grad(y, (q, k, v), dy)))
    for y, grads in outs[1:]:
        torch.testing.assert_close(y, outs[0][0])
        for g, h in zip(grads, outs[0][1]):
            torch.testing.assert_close(g, h)
    torch.manual_seed(12)
    other = MF.scaled_dot_product_attention(q, k, v, **kw)
    assert not torch.equal(other, outs[0][0]), "another seed draws another mask"


def test_drop_rate_and_scaling():
    """With v = 1 every output is Σ P̃ = Σ kept P / (1 − p): its mean is 1."""
    q, k = torch.randn(1, 400, 4), torch.randn(1, 50, 4)
    y = MF.scaled_dot_product_attention(q, k, torch.ones(1, 50, 1), dropout_p=0.3)
    assert abs(y.mean().item() - 1) < 0.02


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("float_mask", [False, True])
def test_fully_masked_row_gives_zeros_as_torch(device, float_mask):
    """torch 2.13's math path uses _safe_softmax: a row with nothing to attend gives 0 (not NaN),
    and so do its gradients."""
    q, k, v = _qkv(2, device=device, **D64)
    keep = torch.ones(3, 4, dtype=torch.bool, device=device)
    keep[1] = False
    mask = torch.zeros(3, 4, device=device, **D64).masked_fill(~keep, -math.inf) if float_mask else keep
    y = MF.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert torch.equal(y[:, 1], torch.zeros_like(y[:, 1]))
    torch.testing.assert_close(y, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    dq, dk = torch.autograd.grad(y.sum(), (q, k))
    assert torch.equal(dq[:, 1], torch.zeros_like(dq[:, 1])) and dk.isfinite().all()


@pytest.mark.parametrize("gqa", [False, True])
@pytest.mark.parametrize("float_mask", [False, True])
def test_causal_with_a_mask_applies_both_where_torch_takes_its_cpu_flash_kernel(float_mask, gqa):
    """torch's math path refuses is_causal with an attn_mask; its CPU flash kernel (4-d, no
    dropout, same head dims, ...) applies both, the causal mask top-left aligned: ours does what
    torch's chosen path does, also under GQA, and raises where torch raises (3-d, dropout)."""
    torch.manual_seed(0)
    q = torch.randn(2, 4, 3, 2, **D64)
    k, v = (torch.randn(2, 2 if gqa else 4, 5, 2, **D64) for _ in range(2))
    keep = torch.rand(3, 5) < 0.7
    mask = torch.randn(3, 5, **D64).masked_fill(~keep, -math.inf) if float_mask else keep
    kw = dict(attn_mask=mask, is_causal=True, enable_gqa=gqa)
    causal = torch.ones(3, 5, dtype=torch.bool).tril()
    both = mask & causal if mask.dtype == torch.bool else mask.masked_fill(~causal, -math.inf)
    want = F.scaled_dot_product_attention(q, k, v, attn_mask=both, enable_gqa=gqa)
    for fn in (F.scaled_dot_product_attention, MF.scaled_dot_product_attention):
        torch.testing.assert_close(fn(q, k, v, **kw), want)
    for args, extra in (((q[0], k[0], v[0]), {}), ((q, k, v), {"dropout_p": 0.5})):  # torch's math path
        for fn in (F.scaled_dot_product_attention, MF.scaled_dot_product_attention):
            with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set when is_causal=True"):
                fn(*args, **kw, **extra)


def test_scale_and_enable_gqa_are_keyword_only_as_torch():
    q, k, v = _qkv(**D64)
    for fn in (MF.scaled_dot_product_attention, F.scaled_dot_product_attention):
        with pytest.raises(TypeError):
            fn(q, k, v, None, 0.0, False, 0.5)


@pytest.mark.parametrize("weights", ["heads", "mean"])
@pytest.mark.parametrize("dropout_p", [0.0, 0.4])
def test_weights_path_gradcheck_and_gradgradcheck(weights, dropout_p):
    """MultiheadAttention's need_weights path: both outputs (O and the probabilities) and both
    masks (attn_mask, key_mask) differentiated, twice."""
    q, k, v = _qkv(2, 2, l=2, s=3, e=2, ev=2, **D64)
    attn_mask = torch.randn(2, 3, **D64, requires_grad=True)
    key_mask = torch.randn(2, 1, 1, 3, **D64, requires_grad=True)

    def f(*ts):
        torch.manual_seed(0)
        out, w, *_ = ScaledDotProductAttentionFunction.apply(*ts, dropout_p, False, 0.6, False, weights)
        return out, w

    inputs = (q, k, v, attn_mask, key_mask)
    assert torch.autograd.gradcheck(f, inputs)
    assert torch.autograd.gradgradcheck(f, inputs)


def test_saves_a_score_matrix_only_with_dropout():
    """Without dropout P is recomputed: q, k, v are saved (not even the row logsumexp); torch's
    CPU flash path saves q, k, v, its output and the logsumexp. With dropout P (L·S floats) and
    1 bit per score: torch's math path saves the scores, the dropped scores and the mask."""
    b, h, l, s, e = 2, 2, 32, 32, 8
    q, k, v = _qkv(b, h, l=l, s=s, e=e, ev=e)
    qkv = 3 * q.numel() * 4
    for kw, extra in (({}, 0), ({"dropout_p": 0.1}, b * h * l * s // 8 + b * h * l * s * 4)):
        ours, _ = saved_bytes(lambda: MF.scaled_dot_product_attention(q, k, v, **kw))
        theirs, _ = saved_bytes(lambda: F.scaled_dot_product_attention(q, k, v, **kw))
        assert ours == qkv + extra and ours < theirs
    x = torch.randn(l, b, 16)
    for train in (False, True):
        ours, _ = saved_bytes(lambda: mnn.MultiheadAttention(16, 2, dropout=0.1).train(train)(x, x, x))
        theirs, _ = saved_bytes(lambda: torch.nn.MultiheadAttention(16, 2, dropout=0.1).train(train)(x, x, x))
        assert ours < theirs
