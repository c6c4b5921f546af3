"""MultiheadAttention as torch's twin for every option: init, state_dict and repr, outputs, weights
and gradients (batched, unbatched, float masks), dropout under a seed, warnings and errors.
scaled_dot_product_attention itself: tests/test_attention.py."""

import pytest
import torch

import manualgrad.nn as mnn

D64 = dict(dtype=torch.float64)


CONFIGS = [{}, {"bias": False}, {"kdim": 3, "vdim": 5}, {"batch_first": True}, {"add_bias_kv": True},
           {"add_zero_attn": True}, {"dropout": 0.2}]


def _twins(seed=3, **kw):
    torch.manual_seed(seed)
    ours = mnn.MultiheadAttention(6, 2, **kw, **D64)
    torch.manual_seed(seed)
    return ours, torch.nn.MultiheadAttention(6, 2, **kw, **D64)


@pytest.mark.parametrize("kw", CONFIGS, ids=str)
def test_same_init_state_dict_and_repr_as_torch(kw):
    ours, theirs = _twins(**kw)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for (n, a), (m, b) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert n == m and torch.equal(a, b)


L, S, N = 3, 4, 2


KPM = torch.tensor([[0, 0, 1, 0], [1, 0, 0, 1]], dtype=torch.bool)


CAUSAL = torch.ones(L, L, dtype=torch.bool).triu(1)


BOOL_3D = torch.rand(N * 2, L, S, generator=torch.Generator().manual_seed(1)) > 0.6


BOOL_3D[0, 1] = True  # a fully masked row: NaN on torch's weights path, 0 through its SDPA


# (module kwargs, self-attention?, forward kwargs)
CASES = [
    ({}, False, {}),
    ({}, True, {}),
    ({}, False, {"key_padding_mask": KPM}),
    ({}, False, {"key_padding_mask": KPM.double() * -2.5}),
    ({}, False, {"attn_mask": torch.rand(L, S) > 0.5}),
    ({}, False, {"attn_mask": torch.randn(L, S, **D64)}),
    ({}, False, {"attn_mask": BOOL_3D, "key_padding_mask": KPM}),
    ({}, False, {"attn_mask": torch.randn(N * 2, L, S, **D64), "key_padding_mask": KPM.double() * -1}),
    ({}, True, {"attn_mask": CAUSAL, "is_causal": True}),
    ({}, True, {"attn_mask": CAUSAL, "is_causal": True, "key_padding_mask": KPM[:, :L]}),
    ({"bias": False}, False, {"key_padding_mask": KPM}),
    ({"kdim": 3, "vdim": 5}, False, {"attn_mask": torch.randn(L, S, **D64)}),
    ({"batch_first": True}, False, {"key_padding_mask": KPM}),
    ({"batch_first": True}, True, {"attn_mask": CAUSAL}),
    # one more key position (bias_k/bias_v, zeros): the masks are padded to attend to it
    ({"add_bias_kv": True}, False, {}),
    ({"add_bias_kv": True}, False, {"attn_mask": BOOL_3D, "key_padding_mask": KPM}),
    ({"add_zero_attn": True}, False, {"attn_mask": torch.randn(L, S, **D64), "key_padding_mask": KPM.double()}),
    ({"add_bias_kv": True, "add_zero_attn": True}, True, {"attn_mask": CAUSAL, "is_causal": True}),
    ({"add_bias_kv": True, "add_zero_attn": True, "kdim": 3, "vdim": 5, "batch_first": True}, False,
     {"key_padding_mask": KPM}),
]


def _inputs(module, self_attention, batched=True):
    lead = (N,) if batched else ()
    x = torch.randn(L, *lead, 6, **D64, requires_grad=True)
    if self_attention:
        q = k = v = x
    else:
        q = x
        k = torch.randn(S, *lead, module.kdim, **D64, requires_grad=True)
        v = torch.randn(S, *lead, module.vdim, **D64, requires_grad=True) if module.kdim != module.vdim else k
    if module.batch_first and batched:
        q, k, v = (t.transpose(0, 1) for t in (q, k, v))
    return q, k, v


def _run(module, q, k, v, kw, seed=5):
    """Output, weights, and gradients of every parameter and input for one random dy."""
    torch.manual_seed(seed)
    out, w = module(q, k, v, **kw)
    gen = torch.Generator().manual_seed(9)
    loss = (out * torch.randn(out.shape, generator=gen, **D64)).sum()
    if w is not None:  # the weights are differentiable outputs too (NaN rows left out)
        loss = loss + (w.nan_to_num() * torch.randn(w.shape, generator=gen, **D64)).sum()
    leaves = [*module.parameters(), *{id(t): t for t in (q, k, v)}.values()]
    leaves += [m for m in kw.values() if isinstance(m, torch.Tensor) and m.requires_grad]
    return out, w, torch.autograd.grad(loss, leaves, allow_unused=True)


def _assert_twin_outputs(ours, theirs):
    for a, b in zip(ours[:2], theirs[:2]):
        assert (a is None) == (b is None)
        if a is not None:
            torch.testing.assert_close(a, b, equal_nan=True)
    for g, h in zip(ours[2], theirs[2]):
        torch.testing.assert_close(g, h, equal_nan=True)


@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)],
                         ids=["weights averaged", "weights per head", "no weights"])
@pytest.mark.parametrize("case", range(len(CASES)), ids=lambda i: f"{CASES[i][0]}-{list(CASES[i][2])}")
def test_outputs_weights_and_gradients_equal_torch(case, need_weights, average):
    kw_module, self_attention, kw = CASES[case]
    for training in (False, True):  # training with dropout 0 too
        ours, theirs = _twins(**kw_module)
        ours.train(training), theirs.train(training)
        q, k, v = _inputs(ours, self_attention)
        fwd = dict(kw, need_weights=need_weights, average_attn_weights=average)
        _assert_twin_outputs(_run(ours, q, k, v, fwd), _run(theirs, q, k, v, fwd))


@pytest.mark.parametrize("need_weights", [True, False])
def test_unbatched_equals_torch(need_weights):
    ours, theirs = _twins()
    q, k, v = _inputs(ours, False, batched=False)
    for kw in ({"key_padding_mask": KPM[0]}, {"attn_mask": torch.randn(2, L, S, **D64)}):
        kw = dict(kw, need_weights=need_weights)
        _assert_twin_outputs(_run(ours, q, k, v, kw), _run(theirs, q, k, v, kw))


@pytest.mark.parametrize("need_weights", [True, False])
def test_float_mask_gradients_equal_torch(need_weights):
    ours, theirs = _twins()
    q, k, v = _inputs(ours, False)
    kw = {"attn_mask": torch.randn(N * 2, L, S, **D64, requires_grad=True),
          "key_padding_mask": torch.randn(N, S, **D64, requires_grad=True), "need_weights": need_weights}
    _assert_twin_outputs(_run(ours, q, k, v, kw), _run(theirs, q, k, v, kw))


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("self_attention", [True, False])
def test_dropout_equals_torch_under_the_same_seed_and_reproduces(need_weights, self_attention):
    ours, theirs = _twins(dropout=0.3)
    q, k, v = _inputs(ours, self_attention)
    kw = {"key_padding_mask": KPM[:, :L] if self_attention else KPM, "need_weights": need_weights}
    a = _run(ours, q, k, v, kw)
    _assert_twin_outputs(a, _run(theirs, q, k, v, kw))
    _assert_twin_outputs(a, _run(ours, q, k, v, kw))
    assert not torch.equal(a[0], _run(ours, q, k, v, kw, seed=6)[0])
    ours.eval()
    assert torch.equal(ours(q, k, v, **kw)[0], ours(q, k, v, **kw)[0])


def test_mismatched_mask_types_warn_as_torch():
    ours, _ = _twins()
    x = torch.randn(L, N, 6, **D64)
    with pytest.warns(UserWarning, match="Support for mismatched key_padding_mask and attn_mask is deprecated"):
        ours(x, x, x, key_padding_mask=KPM[:, :L], attn_mask=torch.zeros(L, L, **D64))


BAD = [
    ("no attn_mask with is_causal", {"is_causal": True}),
    ("2-D attn_mask of the wrong shape", {"attn_mask": torch.zeros(L, L + 1, **D64)}),
    ("3-D attn_mask of the wrong shape", {"attn_mask": torch.zeros(N, L, L, **D64)}),
    ("4-D attn_mask", {"attn_mask": torch.zeros(1, 1, L, L, **D64)}),
    ("key_padding_mask of the wrong length", {"key_padding_mask": KPM}),
    ("1-D key_padding_mask", {"key_padding_mask": KPM[0]}),
    ("int key_padding_mask", {"key_padding_mask": KPM[:, :L].long()}),
]


def _raises_like_torch(ours, theirs, *args, **kw):
    with pytest.raises(Exception) as want:
        theirs(*args, **kw)
    with pytest.raises(want.type) as got:
        ours(*args, **kw)
    assert str(want.value) in str(got.value)


@pytest.mark.parametrize("what,kw", BAD, ids=[b[0] for b in BAD])
def test_bad_input_raises_like_torch(what, kw):
    x = torch.randn(L, N, 6, **D64)
    _raises_like_torch(*_twins(), x, x, x, **kw)


@pytest.mark.parametrize("kw,shapes", [
    ({}, [(L, N, 5)] * 3),
    ({"kdim": 3, "vdim": 5}, [(L, N, 6), (S, N, 4), (S, N, 5)]),
    ({}, [(L, N, 6), (S, N, 6), (S + 1, N, 6)]),
    ({}, [(L, N, 6), (S, 6), (S, 6)]),
    ({}, [(N, 1, L, 6)] * 3),
], ids=["embed_dim", "kdim", "key vs value", "batched query, unbatched key", "4-D query"])
def test_bad_shapes_raise_like_torch(kw, shapes):
    _raises_like_torch(*_twins(**kw), *(torch.randn(s, **D64) for s in shapes))


@pytest.mark.parametrize("batch_first", [True, False])
def test_inference_runs_torchs_forward_bit_for_bit_training_under_no_grad_ours(batch_first):
    ours, theirs = _twins(batch_first=batch_first)
    x = torch.randn(2, L, 6, **D64) if batch_first else torch.randn(L, 2, 6, **D64)
    with torch.no_grad():
        ours.eval(), theirs.eval()
        assert torch.equal(ours(x, x, x)[0], theirs(x, x, x)[0])  # torch's fast path where it takes it
        ours.train(), theirs.train()
        no_grad = ours(x, x, x)[0]
    assert torch.equal(no_grad, ours(x, x, x)[0])  # the same arithmetic as with grad (dropout 0)
