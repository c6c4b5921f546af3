"""manualgrad.check(swapped, original, x, per_module=True): every module's output, the gradient
flowing into it and out of it, manualgrad vs the unswapped copy, and the first module where they
part — named exactly, whether the broken module's forward, input gradient or weight gradient is
wrong, also inside nested blocks with residuals."""

import copy

import pytest
import torch
from torch import nn

import manualgrad as mg
import manualgrad.nn as mnn
from manualgrad.functions._base import Function


class WrongTanhFunction(Function):
    """tanh whose backward forgets the square: dx = dy · (1 − y) (should be 1 − y²)."""

    @staticmethod
    def forward(x):
        return torch.tanh(x)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(output)

    @staticmethod
    def backward(ctx, dy):
        (y,) = ctx.saved_tensors
        return dy * (1 - y)


class WrongTanh(mnn.Tanh):
    def forward(self, x):
        return WrongTanhFunction.apply(x)


class WrongForwardTanh(mnn.Tanh):
    def forward(self, x):
        return super().forward(x) * 1.001


class WrongWeightGradLinear(mnn.Linear):
    """Right forward and input gradient, weight gradient scaled by 2 (a hook stands in for a bug)."""

    def forward(self, x):
        w = self.weight * 1.0
        w.register_hook(lambda g: 2 * g)
        return nn.functional.linear(x, w, self.bias)


class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.norm, self.fc, self.act = nn.LayerNorm(d), nn.Linear(d, d), nn.Tanh()

    def forward(self, x):
        return x + self.act(self.fc(self.norm(x)))


def models():
    torch.manual_seed(0)
    original = nn.Sequential(nn.Linear(5, 6), Block(6), Block(6), nn.Linear(6, 3)).double()
    swapped = copy.deepcopy(original)
    mg.swap(swapped)
    return swapped, original, torch.randn(4, 5, dtype=torch.float64)


def test_a_correct_swap_has_no_divergence():
    swapped, original, x = models()
    result = mg.check(swapped, original, x, per_module=True)
    assert result.ok and result.first_divergence is None and all(r.ok for r in result.modules)
    labels = [r.label for r in result.modules]
    assert labels == ["0", "1.norm", "1.fc", "1.act", "1", "2.norm", "2.fc", "2.act", "2", "3", "<model>"]
    assert [r.cls for r in result.modules][:4] == ["Linear", "LayerNorm", "Linear", "Tanh"]
    first = result.modules[0]
    assert first.grad_input is None and first.grad_params.ok and first.output.max_abs < 1e-12
    assert result.modules[-1].grad_output.max_abs == 0  # the shared upstream gradient
    assert "no module diverges" in str(result) and "d params" in str(result)


@pytest.mark.parametrize("path, broken", [("2.act", WrongTanh), ("1.act", WrongTanh), ("1.fc", WrongWeightGradLinear)])
def test_a_wrong_backward_is_named_exactly(path, broken):
    swapped, original, x = models()
    swapped.get_submodule(path).__class__ = broken
    result = mg.check(swapped, original, x, per_module=True)
    assert not result.ok and result.first_divergence == path
    rows = {r.label: r for r in result.modules}
    assert rows[path].grad_output.ok and all(r.output.ok for r in result.modules)
    assert f"first divergence: {path}" in str(result) and "!" in str(result)
    later = [r for r in result.modules[[r.label for r in result.modules].index(path) + 1:] if r.name != ""]
    assert all(r.grad_output is None or r.grad_output.ok for r in later)  # downstream agrees


def test_a_wrong_forward_is_named_first_in_forward_order():
    swapped, original, x = models()
    swapped[1].act.__class__ = WrongForwardTanh
    result = mg.check(swapped, original, x, per_module=True)
    assert result.first_divergence == "1.act"
    rows = {r.label: r for r in result.modules}
    assert rows["1.fc"].output.ok and not rows["1.act"].output.ok and not rows["2.norm"].output.ok


def test_a_module_called_twice_and_a_missing_call():
    torch.manual_seed(0)
    lin = nn.Linear(3, 3).double()

    class Twice(nn.Module):
        def __init__(self, extra=False):
            super().__init__()
            self.lin, self.act, self.extra = copy.deepcopy(lin), nn.Tanh(), extra

        def forward(self, x):
            x = self.lin(self.act(self.lin(x)))
            return self.act(x) if self.extra else x

    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    swapped = Twice()
    mg.swap(swapped)
    result = mg.check(swapped, Twice(), x, per_module=True)
    assert result.first_divergence is None and [r.label for r in result.modules] == \
        ["lin", "act", "lin (call 2)", "<model>"]
    assert result.modules[0].grad_input.ok and result.modules[2].grad_params is None
    result = mg.check(swapped, Twice(extra=True), x, per_module=True)
    assert result.first_divergence == "<model>"  # the reference's output differs: its extra tanh
    assert [r.missing for r in result.modules if r.missing] == ["called by the reference only"]


def test_per_module_needs_two_modules():
    with pytest.raises(TypeError, match="two modules"):
        mg.check(torch.tanh, torch.tanh, torch.randn(3, requires_grad=True), per_module=True)


def test_a_swapped_tiny_gpt2_against_its_original():
    transformers = pytest.importorskip("transformers")
    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    config = transformers.GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=50, n_positions=16,
                                     resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    original = transformers.GPT2LMHeadModel(config).double()
    swapped = copy.deepcopy(original)
    mg.swap(swapped)
    ids = torch.randint(0, 50, (2, 8))
    result = mg.check(swapped, original, ids, per_module=True)  # a ModelOutput: logits, flattened
    assert result.ok and result.first_divergence is None
    rows = {r.label: r for r in result.modules}
    assert rows["transformer.h.0.ln_1"].cls == "LayerNorm" and rows["transformer.h.0.ln_1"].grad_params.ok
    swapped.transformer.h[0].mlp.act.__class__ = WrongTanh  # NewGELU's slot, a wrong tanh instead
    result = mg.check(swapped, original, ids, per_module=True)
    assert result.first_divergence == "transformer.h.0.mlp.act"  # its forward differs: named in forward order
