"""The block zoo (tests/zoo.py: torchvision / timm blocks re-implemented from their published code,
and nn.Transformer), swapped with functional routing, in train and eval mode, float64: outputs, the
input's and every parameter's gradient equal the unswapped copy's; the backward holds no heavy torch
node; every parameter's gradient comes from a manualgrad node except the documented ones below,
which come from torch's arithmetic; swap's report says what routing makes of the modules it leaves."""

import copy
import fnmatch
import re

import pytest
import torch

import manualgrad as mg

from zoo import ZOO

# Parameters used only in a product or sum: their gradient is torch's arithmetic (MulBackward0,
# AddcmulBackward0; not a heavy node), as a residual add's is. Nothing to hand-derive there.
ARITHMETIC_PARAMS = {
    "convnext": ["features.*.layer_scale"],  # torchvision CNBlock: layer_scale * block(x)
    "convnext_v2": ["mlp.grn.weight", "mlp.grn.bias"],  # GRN: torch.addcmul(β, γ, x·Nx)
    "vit": ["ls*.gamma"],  # timm LayerScale: x * gamma
}


class ExactHardsigmoid(torch.nn.Hardsigmoid):
    """The reference's Hardsigmoid: torch's float64 hardsigmoid backward multiplies by float32's 1/6
    (its CPU kernel's ``1.0f / 6.0f`` = 0.16666667163...), which BatchNorm's backward then amplifies
    to 1e-6 relative; autograd of the formula multiplies by 1/6 (the derivative manualgrad's
    hardsigmoid uses; its forward is torch's, bit for bit)."""

    def forward(self, x):
        return (x / 6 + 0.5).clamp(0, 1)


def exact_reference(model):
    for m in model.modules():
        if type(m) is torch.nn.Hardsigmoid:
            m.__class__ = ExactHardsigmoid
    return model


def _inputs(x):
    return tuple(t.detach().requires_grad_() for t in (x if isinstance(x, tuple) else (x,)))


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("name", list(ZOO))
def test_swapped_block_equals_torch_with_no_heavy_torch_node(name, train):
    ref, x = ZOO[name]()
    ours = copy.deepcopy(ref)
    report = mg.swap(ours)
    ref.train(train), ours.train(train)
    inputs = _inputs(x)
    result = mg.check(ours, exact_reference(ref), *inputs, rtol=1e-10, atol=1e-12)
    assert result, str(result)
    cov = mg.coverage(ours, *inputs)
    assert cov.heavy == [], str(cov)
    allowed = ARITHMETIC_PARAMS.get(name, [])
    for p in cov.params:
        if p.source != "manualgrad":
            assert any(fnmatch.fnmatchcase(p.name, pat) for pat in allowed), str(cov)
            assert all(n in cov.names["torch arithmetic"] for n in p.via), p
    assert not cov.unused
    for entry in report.skipped:  # left alone: its own forward runs routed, nothing in it stays torch's
        assert "functional routing" in entry.reason and not re.search(r"stays? torch's,", entry.reason), str(report)


def test_documented_exceptions_are_exactly_the_arithmetic_parameters():
    for name, patterns in ARITHMETIC_PARAMS.items():
        model, x = ZOO[name]()
        mg.swap(model)
        cov = mg.coverage(model.train(), *_inputs(x))
        torch_params = {p.name for p in cov.params if p.source != "manualgrad"}
        assert torch_params and all(any(fnmatch.fnmatchcase(n, pat) for n in torch_params) for pat in patterns)


def test_swap_without_routing_leaves_the_heavy_nodes_routing_removes():
    model, x = ZOO["convnext_v2"]()
    mg.swap(model, functional=False)
    heavy = {h.name for h in mg.coverage(model, *_inputs(x)).heavy}
    assert {"NativeLayerNormBackward0", "LinalgVectorNormBackward0", "MeanBackward1"} <= heavy


def test_per_module_check_walks_the_routed_third_party_modules():
    ref, x = ZOO["convnext_v2"]()
    ours = copy.deepcopy(ref)
    mg.swap(ours)
    result = mg.check(ours, ref.train(), *_inputs(x), rtol=1e-10, atol=1e-12, per_module=True)
    assert result and result.first_divergence is None
    assert {"norm", "mlp.grn", "mlp.fc1"} <= {row.name for row in result.modules}


@pytest.mark.parametrize("name", list(ZOO))
def test_strict_routing_covers_every_parameter(name):
    """swap(strict=True): the arithmetic is manualgrad's too, so the documented exceptions above go
    and 100 % of parameter gradients come from manualgrad nodes; still equal to torch's."""
    ref, x = ZOO[name]()
    ours = copy.deepcopy(ref)
    report = mg.swap(ours, strict=True)
    assert all("arithmetic (manualgrad's: strict)" in e.reason for e in report.skipped), str(report)
    inputs = _inputs(x)
    result = mg.check(ours, exact_reference(ref.train()), *inputs, rtol=1e-10, atol=1e-12)
    assert result, str(result)
    cov = mg.coverage(ours.train(), *inputs)
    assert cov.heavy == [] and cov.param_share == 1 and cov.element_share == 1, str(cov)
    assert set(cov.names["torch arithmetic"]) <= {"AddBackward0"}, str(cov)  # in-place `result += input`
