"""manualgrad.nn's Transformer twins: built directly they equal torch's (init, state_dict, repr);
swapped into nn.Transformer / TransformerEncoder / TransformerDecoder (train and eval, norm_first
both, activation relu / "gelu" / a callable / a module) outputs and every gradient equal torch's
and the backward has no torch math node, with or without functional routing; torch's fused
inference fast path runs where torch takes it, with identical outputs."""

import copy

import pytest
import torch
import torch.nn.functional as F

import manualgrad as mg
import manualgrad.nn as mnn

D64 = dict(dtype=torch.float64)
ACTIVATIONS = {"relu": F.relu, "gelu": "gelu", "callable": lambda x: F.gelu(x, approximate="tanh") * torch.sigmoid(x),
               "module": torch.nn.SiLU()}


def _model(kind, activation, norm_first, batch_first=True):
    kw = dict(dim_feedforward=16, dropout=0.1, activation=activation, norm_first=norm_first, batch_first=batch_first,
              **D64)
    if kind == "transformer":
        return torch.nn.Transformer(8, 2, 2, 1, **kw)
    if kind == "encoder":
        return torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, **kw), 2,
                                           torch.nn.LayerNorm(8, **D64), enable_nested_tensor=False)
    return torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(8, 2, **kw), 2)


def _inputs(kind):
    gen = torch.Generator().manual_seed(1)
    src, tgt = (torch.randn(2, n, 8, generator=gen, **D64).requires_grad_() for n in (5, 4))
    causal = torch.nn.Transformer.generate_square_subsequent_mask(4, **D64)
    padding = torch.tensor([[False] * 5, [False] * 3 + [True] * 2])
    if kind == "transformer":
        return (src, tgt), dict(tgt_mask=causal, src_key_padding_mask=padding, memory_key_padding_mask=padding)
    if kind == "encoder":
        return (src,), dict(src_key_padding_mask=padding)
    return (tgt, src), dict(tgt_mask=causal, tgt_is_causal=True)


# every kind, norm placement and activation with routing; without routing (the twins alone) the
# nn.Transformer, which holds both layer kinds
CASES = [(kind, norm_first, activation, functional) for kind in ("transformer", "encoder", "decoder")
         for norm_first in (False, True) for activation in ACTIVATIONS
         for functional in ((True, False) if kind == "transformer" else (True,))]


@pytest.mark.parametrize("kind,norm_first,activation,functional", CASES,
                         ids=["-".join([c[0], "pre" if c[1] else "post", c[2], "routing" if c[3] else "modules"])
                              for c in CASES])
def test_swapped_transformer_equals_torch_with_no_torch_math_node(kind, norm_first, activation, functional):
    torch.manual_seed(0)
    ref = _model(kind, ACTIVATIONS[activation], norm_first)
    ours = copy.deepcopy(ref)
    report = mg.swap(ours, functional=functional)
    assert not report.skipped, str(report)
    args, kwargs = _inputs(kind)
    for train in (True, False):
        ref.train(train), ours.train(train)
        result = mg.check(ours, ref, *args, rtol=1e-10, atol=1e-12, **kwargs)
        assert result, str(result)
        cov = mg.coverage(ours, *args, **kwargs)
        assert cov.heavy == [] and cov.param_share == 1.0, str(cov)


def _counting(monkeypatch):
    calls = []
    fused = torch._transformer_encoder_layer_fwd

    def counted(*args):
        calls.append(1)
        return fused(*args)

    monkeypatch.setattr(torch, "_transformer_encoder_layer_fwd", counted)
    return calls


@pytest.mark.parametrize("activation", ["relu", "gelu", "callable"])
def test_inference_fast_path_kept_with_identical_outputs(monkeypatch, activation):
    torch.manual_seed(0)
    ref = _model("transformer", ACTIVATIONS[activation], False).eval()
    ours = copy.deepcopy(ref)
    mg.swap(ours)
    args, kwargs = _inputs("transformer")
    calls = _counting(monkeypatch)
    with torch.no_grad():
        want = ref(*args, **kwargs)
        taken = len(calls)
        got = ours(*args, **kwargs)
    assert len(calls) == 2 * taken and (taken > 0) == (activation != "callable")  # torch's own choice
    assert torch.equal(got, want)


@pytest.mark.parametrize("cls", ["TransformerEncoderLayer", "TransformerDecoderLayer", "Transformer"])
def test_built_directly_equals_torch_and_computes_with_manualgrad(cls):
    kw = dict(dim_feedforward=16, activation="gelu", batch_first=True, **D64)
    args = (8, 2, 1, 1) if cls == "Transformer" else (8, 2)
    torch.manual_seed(3)
    theirs = getattr(torch.nn, cls)(*args, **kw)
    torch.manual_seed(3)
    ours = getattr(mnn, cls)(*args, **kw)
    assert repr(ours) == repr(theirs) and ours.state_dict().keys() == theirs.state_dict().keys()
    assert all(torch.equal(a, b) for a, b in zip(ours.state_dict().values(), theirs.state_dict().values()))
    inputs = _inputs("decoder" if cls == "TransformerDecoderLayer" else "transformer")[0][:1 if "Encoder" in cls else 2]
    assert mg.check(ours, theirs, *inputs, rtol=1e-10, atol=1e-12)
    assert mg.coverage(ours, *inputs).heavy == []


def test_custom_encoder_is_left_as_passed_and_revert_restores_torch():
    custom = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, 16), 1)
    model = mnn.Transformer(8, 2, 1, 1, 16, custom_encoder=custom)
    assert type(model.encoder.layers[0]) is torch.nn.TransformerEncoderLayer
    assert type(model.decoder.layers[0]) is mnn.TransformerDecoderLayer
    mg.revert(model)
    assert all(type(m).__module__.startswith("torch") for m in model.modules())
