"""Functional routing in models written as function calls: tiny Hugging Face BERT and Llama swapped
(no heavy torch node left, float64 gradients equal the originals'), and a resampling decoder's
interpolate and pad calls inside ``manual()``."""

import copy
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import manualgrad as mg
from manualgrad.routing import ROUTES
from test_routing import TIGHT


def hf_models():
    transformers = pytest.importorskip("transformers")
    transformers.logging.set_verbosity_error()
    small = dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, vocab_size=50,
                 max_position_embeddings=16)
    return {"bert": transformers.BertForMaskedLM(transformers.BertConfig(**small, hidden_dropout_prob=0.0,
                                                                         attention_probs_dropout_prob=0.0)),
            "llama": transformers.LlamaForCausalLM(transformers.LlamaConfig(**small, num_key_value_heads=1))}


# heavy torch nodes left after swap(): none (Llama's own RMSNorm, pow, mean, rsqrt: the math routes)
LEFT = {"bert": set(), "llama": set()}


@pytest.mark.parametrize("name", ["bert", "llama"])
def test_hugging_face_models_swapped_with_routing(name):
    torch.manual_seed(0)
    ref = hf_models()[name].double()
    ids = torch.randint(0, 50, (2, 8))
    swapped_only, model = copy.deepcopy(ref), copy.deepcopy(ref)
    mg.swap(swapped_only, functional=False), mg.swap(model)
    before, modules_only, after = (mg.coverage(m, input_ids=ids, labels=ids) for m in (ref, swapped_only, model))
    assert before.param_share == 0 and after.param_share >= modules_only.param_share > 0
    assert {h.name for h in after.heavy} == LEFT[name], str(after)
    assert sum(h.count for h in after.heavy) < sum(h.count for h in modules_only.heavy)
    # float64 end to end (Hugging Face's own loss upcasts the logits to float32): a loss of our own
    for m in (ref, model):
        m.zero_grad()
        F.cross_entropy(m(input_ids=ids).logits.flatten(0, 1), ids.flatten()).backward()
    for (n, p), q in zip(model.named_parameters(), ref.parameters()):
        torch.testing.assert_close(p.grad, q.grad, **TIGHT, msg=lambda m: f"{n}: {m}")


class Resampling(nn.Module):
    """A decoder step written as function calls: pad, upsample, pad again."""

    def forward(self, x):
        h = F.pad(x, (1, 2, 0, 1), mode="reflect")
        h = F.interpolate(h, scale_factor=2, mode="bilinear", align_corners=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecated, and calls F.interpolate
            h = F.upsample_bilinear(F.pad(h, (1, 1, 1, 1)), size=(9, 11))
        return F.interpolate(F.pad(h, [2, 0, 0, 1], "circular"), size=(4, 5), mode="area")


def test_interpolate_and_pad_are_routed():
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64, requires_grad=True)
    model = Resampling()
    want = model(x)
    (want_dx,) = torch.autograd.grad(want, x, torch.ones_like(want))
    with mg.manual():
        got = model(x)
        report = mg.coverage(model, x)
    (got_dx,) = torch.autograd.grad(got, x, torch.ones_like(got))
    torch.testing.assert_close(got, want, **TIGHT)
    torch.testing.assert_close(got_dx, want_dx, **TIGHT)
    assert {F.interpolate, F.pad} <= set(ROUTES)
    assert report.heavy == []
    assert {"InterpolateFunctionBackward", "PadFunctionBackward"} <= set(report.names["manualgrad"])
