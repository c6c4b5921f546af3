"""torch.compile with the default (inductor) backend of swapped models whose math is reached by
functional routing: a Hugging Face GPT-2 (transformers.Conv1D's addmm, NewGELU's tanh/pow, the
attention's matmul/softmax) and the zoo's ConvNeXt (LayerNorm2d's F.layer_norm, stochastic depth).
One graph (fullgraph), the routed calls traced as manualgrad's Functions, and the compiled forward
and backward equal eager manualgrad's; the ConvNeXt also with strict routing (the arithmetic too). Each compiles once (C++ codegen: most of the time)."""

import copy

import pytest
import torch

import manualgrad as mg

from zoo import ZOO


def _inductor_recording(codes):
    from torch._inductor.compile_fx import compile_fx

    def backend(gm, example_inputs):
        codes.append(gm.code)
        return compile_fx(gm, example_inputs)

    return backend


def gpt2():
    transformers = pytest.importorskip("transformers")
    transformers.logging.set_verbosity_error()
    config = transformers.GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=50, n_positions=16, attn_pdrop=0.0,
                                     resid_pdrop=0.0, embd_pdrop=0.0)
    ids = torch.randint(0, 50, (2, 8), generator=torch.Generator().manual_seed(1))
    loss_fn = mg.nn.CrossEntropyLoss()
    return transformers.GPT2LMHeadModel(config), lambda m: loss_fn(m(input_ids=ids).logits.flatten(0, 1), ids.flatten())


def convnext():
    model, x = ZOO["convnext"]()
    y = torch.randint(0, 5, (x.shape[0],), generator=torch.Generator().manual_seed(1))
    loss_fn = mg.nn.CrossEntropyLoss()
    return model.float(), lambda m: loss_fn(m(x.float()), y)


@pytest.mark.parametrize("build,strict", [(gpt2, False), (convnext, False), (convnext, True)],
                         ids=["gpt2", "convnext", "convnext-strict"])
def test_inductor_compiles_a_routed_model_and_matches_eager(build, strict):
    torch.manual_seed(0)
    model, step = build()
    mg.swap(model, strict=strict)  # functional routing on (strict: the arithmetic too)
    eager = copy.deepcopy(model)
    codes = []
    torch._dynamo.reset()
    compiled = torch.compile(lambda: step(model), fullgraph=True, backend=_inductor_recording(codes))
    torch.manual_seed(2)
    with torch._inductor.config.patch(fallback_random=True):  # stochastic depth draws torch's stream
        got = compiled()
    got.backward()
    torch.manual_seed(2)
    want = step(eager)
    want.backward()
    assert len(codes) == 1 and codes[0].count("autograd_function_apply(") >= 8
    for torch_math in ("torch.addmm", "torch.tanh", "torch.pow", "torch.matmul", "layer_norm(", "softmax("):
        assert torch_math not in codes[0], torch_math
    if strict:  # layer_scale * block(x) and stochastic depth's mask product are manualgrad's; `result += input` not
        assert ".mul(" not in codes[0] and codes[0].count("autograd_function_apply(") == 22, codes[0]
    torch.testing.assert_close(got, want)
    for (name, p), q in zip(model.named_parameters(), eager.parameters()):
        torch.testing.assert_close(p.grad, q.grad, msg=lambda m: f"{name}: {m}")
