"""manualgrad.coverage: the backward graph of a user's model sorted into manualgrad / torch nodes,
each heavy torch node with the file:line that made it, and the parameters whose gradient comes
from manualgrad; the model left as found. Also `manualgrad coverage` (swap's report:
test_swap_report.py)."""

import copy
import inspect
import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import manualgrad as mg
from manualgrad.cli import main
from manualgrad.coverage import kind


def cnn():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(4 * 4 * 4, 8), nn.GELU(), nn.Dropout(0.1), nn.Linear(8, 3))


def test_a_torch_cnn_before_and_after_swap():
    model, x = cnn().train(), torch.randn(2, 3, 8, 8)
    before = mg.coverage(model, x)
    assert before.by_kind["manualgrad"] == 0 and before.param_share == 0 and before.element_share == 0
    names = {h.name for h in before.heavy}
    assert {"ConvolutionBackward0", "AddmmBackward0", "GeluBackward0"} <= names
    where = {h.name: (h.where.rpartition(":")[0], h.function, h.modules) for h in before.heavy}
    assert where["ConvolutionBackward0"] == ("torch/nn/modules/conv.py", "_conv_forward", ("0 (Conv2d)",))
    assert where["AddmmBackward0"] == ("torch/nn/modules/linear.py", "forward", ("5 (Linear)", "8 (Linear)"))
    assert {p.source for p in before.params} == {"torch"} and len(before.params) == 8
    mg.swap(model)
    after = mg.coverage(model, x)
    assert after.param_share == 1.0 and after.element_share == 1.0 and not after.unused
    assert after.heavy == [] and after.by_kind["torch math"] == 0
    assert after.by_kind["manualgrad"] == 8  # every module but Flatten
    assert "no heavy node outside manualgrad" in str(after) and "8/8 tensors (100.0 %)" in str(after)


class Functional(nn.Module):
    """A Linear swap can reach, then math written inline that it cannot."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 5)
        self.w = nn.Parameter(torch.randn(5, 3))

    def forward(self, x):
        h = torch.tanh(self.lin(x))  # line TANH
        return h @ self.w  # line MM


def _line(marker: str) -> int:
    lines, start = inspect.getsourcelines(Functional.forward)
    return start + next(i for i, text in enumerate(lines) if marker in text)


def test_inline_math_is_listed_with_its_file_line_and_function():
    model = Functional()
    mg.swap(model, functional=False)  # torch.tanh stays torch's (routed: tests/test_routing.py)
    report = mg.coverage(model, torch.randn(6, 4))
    where = {h.name: (h.file, h.line, h.function, h.count) for h in report.heavy}
    assert where == {"TanhBackward0": (__file__, _line("line TANH"), "forward", 1),
                     "MmBackward0": (__file__, _line("line MM"), "forward", 1)}
    assert {h.modules for h in report.heavy} == {("<model> (Functional)",)}
    assert report.names["manualgrad"] == {"LinearFunctionBackward": 1}
    sources = {p.name: (p.source, p.via) for p in report.params}
    assert sources == {"lin.weight": ("manualgrad", ("LinearFunctionBackward",)),
                       "lin.bias": ("manualgrad", ("LinearFunctionBackward",)),
                       "w": ("torch", ("MmBackward0",))}
    assert report.param_share == pytest.approx(2 / 3) and report.element_share == pytest.approx(25 / 40)
    text = str(report)
    assert "tests/test_coverage.py:" in text and "torch w (15 elements) via MmBackward0" in text
    assert [h.code for h in report.heavy if h.name == "MmBackward0"] == ["return h @ self.w  # line MM"]


def test_the_model_is_left_as_it_was_found():
    model, x = cnn().train(), torch.randn(2, 3, 8, 8)
    model[0].weight.grad = sentinel = torch.full_like(model[0].weight, 7.0)
    stats = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    mg.coverage(model, x)
    assert model[0].weight.grad is sentinel and bool((sentinel == 7).all())
    assert all(p.grad is None for n, p in model.named_parameters() if n != "0.weight")
    assert all(torch.equal(v, stats[k]) for k, v in model.state_dict().items())  # running stats restored
    assert torch.equal(torch.get_rng_state(), rng) and not torch.is_anomaly_enabled()
    assert model.training


def test_a_model_without_parameters_and_a_loss_fn():
    model = nn.Sequential(nn.Tanh(), nn.Softmax(dim=-1))
    x = torch.randn(3, 4)
    report = mg.coverage(model, x)
    assert report.params == [] and report.param_share is None and report.element_share is None
    assert {h.name for h in report.heavy} == {"TanhBackward0", "SoftmaxBackward0"} and not x.requires_grad
    assert "parameters: none reached by the loss" in str(report)
    mg.swap(model)
    report = mg.coverage(model, x, loss_fn=lambda y: y.log().mean())  # the loss's own nodes count
    assert report.by_kind["manualgrad"] == 2
    assert {(h.name, h.file, h.function, h.modules) for h in report.heavy} == \
        {(name, __file__, "<lambda>", ()) for name in ("LogBackward0", "MeanBackward0")}


class DictOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(3, 2), nn.Linear(3, 4)

    def forward(self, x):
        return {"logits": self.a(x), "rest": (self.b(x), torch.arange(3)), "cache": object()}


def test_dict_and_tuple_outputs_every_tensor_is_a_root():
    model = DictOut()
    mg.swap(model)
    report = mg.coverage(model, torch.randn(5, 3))
    assert report.param_share == 1.0 and report.names["manualgrad"] == {"LinearFunctionBackward": 2}
    report = mg.coverage(model, torch.randn(5, 3), loss_fn=lambda out: out["logits"].sum())
    assert report.unused == ["b.weight", "b.bias"] and len(report.params) == 2


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)

    def forward(self, ids):
        return F.linear(self.embed(ids), self.embed.weight)  # the tied head stays torch's unless routed


def test_a_weight_used_by_manualgrad_and_by_torch_is_mixed():
    model = Tied()
    mg.swap(model, functional=False)
    report = mg.coverage(model, torch.tensor([[1, 2, 3]]))
    (p,) = report.params
    assert p.source == "mixed" and set(p.via) == {"EmbeddingFunctionBackward", "MmBackward0"}
    assert report.param_share == 0.0 and "mixed embed.weight" in str(report)


def test_kinds_of_nodes():
    x = torch.randn(3, 4, requires_grad=True)
    copied, written = torch.zeros(3, 4, dtype=torch.float64), x.clone()
    copied.copy_(x)  # CopyBackwards
    written[0] = x[1]  # CopySlices
    cases = {"torch arithmetic": [x + 1, x * x, x / 2, -x, 1 - x],
             "views/copies": [x.t(), x.view(12), x[1], x[:, 1:], x.expand(2, 3, 4), torch.cat([x, x]),
                              x.clone(), x.double(), x.unsqueeze(0), x.permute(1, 0), x.masked_fill(x > 0, 0),
                              copied, written],
             "torch math": [x @ x.t(), x.exp(), x.sum(), x.softmax(-1), x.pow(3)]}
    for want, tensors in cases.items():
        assert [kind(t.grad_fn) for t in tensors] == [want] * len(tensors), want


class Square(torch.autograd.Function):
    """A user's own Function: not manualgrad's, listed as 'other Function'."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved_tensors
        return 2 * x * dy


def test_a_non_manualgrad_function_is_listed_as_other():
    model = nn.Linear(3, 3)
    mg.swap(model)
    report = mg.coverage(model, torch.randn(2, 3), loss_fn=lambda y: Square.apply(y).sum())
    assert {h.name: (h.kind, h.file, h.function) for h in report.heavy} == {
        "SquareBackward": ("other Function", __file__, "<lambda>"), "SumBackward0": ("torch math", __file__, "<lambda>")}
    assert report.by_kind["other Function"] == 1 and report.param_share == 1.0


def tiny_gpt2():
    transformers = pytest.importorskip("transformers")
    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    config = transformers.GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=50, n_positions=16)
    ids = torch.randint(0, 50, (2, 8))
    return transformers.GPT2LMHeadModel(config), {"input_ids": ids, "labels": ids}


def test_a_swapped_tiny_gpt2_names_what_transformers_still_runs_through_torch():
    model, inputs = tiny_gpt2()
    routed = copy.deepcopy(model)
    mg.swap(model, functional=False)  # modules only: Conv1D's torch.addmm stays torch's
    report = mg.coverage(model, **inputs)
    assert 0 < report.param_share < 1 and 0 < report.element_share < 1
    source = {p.name: p.source for p in report.params}
    assert source["transformer.wte.weight"] == "manualgrad"  # tied to lm_head: both manualgrad now
    assert source["transformer.h.0.ln_1.weight"] == "manualgrad"
    assert source["transformer.h.0.attn.c_attn.weight"] == "torch"  # transformers' Conv1D: torch.addmm
    addmm = [h for h in report.heavy if h.name == "AddmmBackward0"]
    assert addmm and all("transformers" in h.file and h.function == "forward" for h in addmm)
    assert sum(h.count for h in addmm) == 4  # c_attn, c_proj, c_fc, mlp.c_proj
    assert all(h.line > 0 and "transformers" in h.file for h in report.heavy)
    assert {m for h in addmm for m in h.modules} == {f"transformer.h.0.{m} (Conv1D)" for m in
                                                     ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")}
    assert "AddmmBackward0" in str(report) and "transformers/" in str(report)
    no_loss = mg.coverage(model, input_ids=inputs["input_ids"])  # a ModelOutput of logits and a cache
    assert no_loss.param_share == report.param_share and "NllLossBackward0" not in str(no_loss)
    mg.swap(routed)  # with routing: Conv1D's torch.addmm, the attention's matmuls run manualgrad's too
    report = mg.coverage(routed, **inputs)
    assert report.param_share == 1.0 and report.heavy == [], str(report)
    assert report.names["manualgrad"]["AddmmFunctionBackward"] == 4


def cli_factory():
    model = Functional()
    return model, torch.randn(2, 4), lambda y: y.square().sum()


def test_cli_coverage(capsys):
    assert main(["coverage", "tests.test_coverage:cli_factory", "--swap"]) == 0
    out = capsys.readouterr().out
    assert "lin: torch.Linear -> manualgrad.Linear" in out and "PowBackward0" in out  # the loss's square
    assert "TanhBackward0" not in out and "MmBackward0" not in out  # swap routes the forward's tanh and @
    assert "tests/test_coverage.py:" in out and "in <lambda>" in out  # the loss's line, not the CLI's own frames
    assert main(["coverage", "tests.test_coverage:cli_factory", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["param_share"] == 0 and {h["name"] for h in data["heavy"]} >= {"AddmmBackward0", "TanhBackward0"}
    assert main(["coverage", "tests.test_coverage:nothing"]) == 2
    assert "cannot load" in capsys.readouterr().err
