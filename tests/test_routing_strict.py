"""Strict routing (manualgrad.routing_strict): inside `manual(strict=True)` and in a model swapped
with `strict=True`, the arithmetic (torch.add/sub/mul/div/neg/addcmul/addcdiv, their methods and the
operators) runs manualgrad.math's Functions; results and gradients equal torch's (float64); the
default mode leaves it torch's; the forms strict routing leaves alone stay torch's; the Functions'
own torch calls are not routed again; torch.compile traces it."""

import copy
import json
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import manualgrad as mg
from manualgrad.routing import routed_names

TIGHT = dict(rtol=1e-12, atol=1e-13)
FUNCTIONS = {"AddFunctionBackward", "MulFunctionBackward", "DivFunctionBackward", "NegFunctionBackward",
             "AddcFunctionBackward", "ReciprocalFunctionBackward"}


def _leaves(*shapes):
    gen = torch.Generator().manual_seed(0)
    return [(torch.rand(s, generator=gen, dtype=torch.float64) + 0.5).requires_grad_() for s in shapes]


CALLS = {  # name -> f(x (3, 4), y (4,), z (3, 1)): every routed form, broadcast
    "x + y": lambda x, y, z: x + y, "1 + x": lambda x, y, z: 1 + x, "x - y": lambda x, y, z: x - y,
    "2 - x": lambda x, y, z: 2 - x, "x * y": lambda x, y, z: x * y, "2.5 * x": lambda x, y, z: 2.5 * x,
    "x / y": lambda x, y, z: x / y, "3 / x": lambda x, y, z: 3 / x, "-x": lambda x, y, z: -x,
    "torch.add alpha": lambda x, y, z: torch.add(x, y, alpha=-2), "x.sub alpha": lambda x, y, z: x.sub(z, alpha=0.5),
    "torch.subtract": lambda x, y, z: torch.subtract(x, y), "torch.rsub": lambda x, y, z: torch.rsub(x, z, alpha=3),
    "torch.multiply": lambda x, y, z: torch.multiply(x, z), "x.div": lambda x, y, z: x.div(z),
    "torch.divide": lambda x, y, z: torch.divide(y, x), "true_divide": lambda x, y, z: torch.true_divide(x, 2),
    "rounding_mode=None": lambda x, y, z: torch.div(x, y, rounding_mode=None),
    "torch.neg": lambda x, y, z: torch.neg(x), "x.negative": lambda x, y, z: x.negative(),
    "torch.addcmul": lambda x, y, z: torch.addcmul(x, y, z, value=0.5),
    "x.addcdiv": lambda x, y, z: x.addcdiv(y, z, value=-2),
    "x * bool mask": lambda x, y, z: x * (y > 1), "x + int tensor": lambda x, y, z: x + torch.arange(4),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_strict_routes_the_arithmetic_and_equals_torch(name):
    f = CALLS[name]
    args = _leaves((3, 4), (4,), (3, 1))
    with mg.manual(strict=True):
        ours = f(*args)
    assert type(ours.grad_fn).__name__ in FUNCTIONS, name
    want = f(*(a.detach().requires_grad_() for a in args))
    dy = torch.randn_like(want)
    used = [a for a in args if a.requires_grad]
    got_grads = torch.autograd.grad(ours, used, dy, allow_unused=True)
    ref = [a.detach().requires_grad_() for a in args]
    want_grads = torch.autograd.grad(f(*ref), ref, dy, allow_unused=True)
    torch.testing.assert_close(ours, want, **TIGHT)
    torch.testing.assert_close(got_grads, want_grads, **TIGHT)


def test_default_mode_leaves_the_arithmetic_to_torch():
    x, y, z = _leaves((3, 4), (4,), (3, 1))
    with mg.manual():
        nodes = [type(f(x, y, z).grad_fn).__name__ for f in CALLS.values()]
    assert not set(nodes) & FUNCTIONS
    assert "torch.add" not in routed_names() and "Tensor.__rsub__" not in routed_names()
    assert {"torch.add", "Tensor.mul", "Tensor.__rsub__", "Tensor.__rdiv__", "torch.addcdiv"} <= set(
        routed_names(strict=True))


def test_forms_left_to_torch():
    x, y, _ = _leaves((3, 4), (4,), (3, 1))
    with mg.manual(strict=True):
        assert type(torch.div(x, y, rounding_mode="floor").grad_fn).__name__.startswith("DivBackward")
        assert (x.detach() + 1).grad_fn is None  # nothing requires grad
        assert type((x * (1 + 2j)).grad_fn).__name__ == "MulBackward0"  # a complex number
        h = x * 1.0
        h += y  # in place: torch's
        assert type(h.grad_fn).__name__ == "AddBackward0"
        assert type((x // 2).grad_fn).__name__ != "DivFunctionBackward"
    with mg.manual(strict=True), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's deprecation warning (given once per process)
        old = [torch.add(x, 2, y), x.addcmul(0.5, y, y)]  # torch's deprecated positional forms: torch's
    assert [type(t.grad_fn).__name__ for t in old] == ["AddBackward0", "AddcmulBackward0"]
    with mg.manual(strict=True):
        assert type(torch.true_divide(input=x, other=y).grad_fn).__name__ == "DivFunctionBackward"
        assert type(x.mul(other=y).grad_fn).__name__ == "MulFunctionBackward"
        with pytest.raises(TypeError, match="true_divide"):
            torch.true_divide(dividend=x, divisor=y)  # torch's own error


def test_the_functions_own_torch_calls_are_not_routed_again():
    x, y, _ = _leaves((3, 4), (4,), (3, 1))
    seen = []

    class Spy(mg.routing.Routing):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            seen.append(func)
            return super().__torch_function__(func, types, args, kwargs)

    with Spy(strict=True):
        out = x * y + x / y
        (gx,) = torch.autograd.grad(out.sum(), x, create_graph=True)  # backward: not routed
        gx.sum().backward()  # double backward through our formulas
    # x * y once; neither the Functions' forwards (torch.mul, torch.div, torch.add) nor the backward's
    # formulas (dy * b, ...) reach the mode
    assert seen.count(torch.Tensor.mul) == 1 and not {torch.mul, torch.div, torch.add} & set(seen)
    assert type(out.grad_fn).__name__ == "AddFunctionBackward"
    nexts = {type(n).__name__ for n, _ in out.grad_fn.next_functions}
    assert nexts == {"MulFunctionBackward", "DivFunctionBackward"}
    ref = x.detach().requires_grad_()
    (want,) = torch.autograd.grad((ref * y + ref / y).sum(), ref, create_graph=True)
    torch.testing.assert_close(gx, want, **TIGHT)


class Scaled(nn.Module):
    """A residual block whose scale parameters are used only in products, as LayerScale's."""

    def __init__(self, d=8):
        super().__init__()
        self.lin = nn.Linear(d, d)
        self.gamma = nn.Parameter(torch.full((d,), 0.5))
        self.beta = nn.Parameter(torch.zeros(d))

    def forward(self, x):
        h = torch.addcmul(self.beta, self.gamma, F.gelu(self.lin(x)))
        return x + h * self.gamma / 2 - x.mean(-1, keepdim=True)


def test_swap_strict_covers_every_parameter_and_revert_removes_it():
    torch.manual_seed(0)
    ref, x = Scaled().double(), torch.randn(4, 8, dtype=torch.float64, requires_grad=True)
    ours, default = copy.deepcopy(ref), copy.deepcopy(ref)
    report = mg.swap(ours, strict=True)
    assert report.strict and report.functional and "strict" in str(report)
    assert mg.check(ours, ref, x, rtol=1e-12, atol=1e-13)
    cov = mg.coverage(ours, x)
    assert cov.param_share == 1 and cov.by_kind["torch arithmetic"] == 0, str(cov)
    mg.swap(default)
    assert {p.name for p in mg.coverage(default, x).params if p.source != "manualgrad"} == {"gamma", "beta"}
    assert mg.revert(ours).functional
    assert mg.coverage(ours, x).param_share == 0
    with pytest.raises(ValueError, match="functional routing"):
        mg.swap(copy.deepcopy(ref), functional=False, strict=True)


def test_swap_strict_compiles_in_one_graph():
    torch.manual_seed(0)
    model, x = Scaled(), torch.randn(4, 8)
    mg.swap(model, strict=True)
    eager = copy.deepcopy(model)
    torch._dynamo.reset()
    graphs = []
    compiled = torch.compile(model, fullgraph=True,
                             backend=lambda gm, inputs: graphs.append(gm.code) or gm.forward)
    got, want = compiled(x), eager(x)
    assert len(graphs) == 1 and graphs[0].count("autograd_function_apply(") == 7  # linear, gelu, 5 arithmetic
    assert not any(op in graphs[0] for op in ("torch.addcmul", ".mul(", ".div(", ".add(", ".sub(")), graphs[0]
    torch.testing.assert_close(got, want)
    got.square().sum().backward()
    want.square().sum().backward()
    for p, q in zip(model.parameters(), eager.parameters()):
        torch.testing.assert_close(p.grad, q.grad)


def test_one_tensor_twice_compiles_routed():
    torch._dynamo.reset()
    graphs = []
    f = torch.compile(lambda x: x * x - x / (x + 1), fullgraph=True,
                      backend=lambda gm, inputs: graphs.append(gm.code) or gm.forward)
    x = _leaves((3, 4))[0]
    with mg.manual(strict=True):
        got = f(x)
    assert graphs[0].count("autograd_function_apply(") == 4, graphs[0]
    ref = x.detach().requires_grad_()
    want = ref * ref - ref / (ref + 1)
    torch.testing.assert_close(got, want, **TIGHT)
    torch.testing.assert_close(torch.autograd.grad(got.sum(), x), torch.autograd.grad(want.sum(), ref), **TIGHT)


def test_cli_coverage_strict(capsys):
    from manualgrad.cli import main
    assert main(["coverage", "zoo:convnext", "--strict", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["param_share"] == 1 and data["heavy"] == [] and "strict" in data["swap"]


def test_a_strict_model_inside_a_default_one_runs_strict():
    torch.manual_seed(0)
    inner, outer = Scaled().double(), Scaled().double()
    mg.swap(inner, strict=True)
    mg.swap(outer)
    x = torch.randn(4, 8, dtype=torch.float64, requires_grad=True)
    with mg.manual():
        y = inner(x)
        assert type(y.grad_fn).__name__ == "AddFunctionBackward"  # the block's last `- mean` is a sub
        assert type((x * 2).grad_fn).__name__ == "MulBackward0"  # left again after its forward
    assert type(outer(x).grad_fn).__name__ == "SubBackward0"
    with mg.manual(strict=True):
        assert type(outer(x).grad_fn).__name__ == "AddFunctionBackward"


def test_swapping_a_model_around_a_strict_block_keeps_it_strict():
    torch.manual_seed(0)
    block = Scaled().double()
    mg.swap(block, strict=True)
    model = nn.Sequential(nn.Linear(8, 8), block).double()
    mg.swap(model)
    x = torch.randn(4, 8, dtype=torch.float64, requires_grad=True)
    cov = mg.coverage(model, x)
    assert cov.param_share == 1, str(cov)
    assert type(model(x).grad_fn).__name__ == "AddFunctionBackward"


def test_llama_rmsnorm_weights_come_from_manualgrad():
    """Llama's RMSNorm weights are used only in `weight * hidden`: torch's MulBackward0 by default,
    manualgrad's with strict routing (12/12 parameters), gradients equal torch's in float64."""
    transformers = pytest.importorskip("transformers")
    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    config = transformers.LlamaConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                                      intermediate_size=32, vocab_size=50, max_position_embeddings=16)
    ref = transformers.LlamaForCausalLM(config).double()
    ids = torch.randint(0, 50, (2, 8))
    default, strict = copy.deepcopy(ref), copy.deepcopy(ref)
    mg.swap(default), mg.swap(strict, strict=True)
    assert mg.coverage(default, input_ids=ids, labels=ids).param_share == 9 / 12
    cov = mg.coverage(strict, input_ids=ids, labels=ids)
    assert cov.param_share == 1 and cov.heavy == [], str(cov)
    for m in (ref, strict):
        F.cross_entropy(m(input_ids=ids).logits.flatten(0, 1), ids.flatten()).backward()
    for p, q in zip(strict.parameters(), ref.parameters()):
        torch.testing.assert_close(p.grad, q.grad, **TIGHT)


def test_compiled_under_strict_is_recompiled_under_default():
    torch._dynamo.reset()
    graphs = []
    f = torch.compile(lambda x: torch.tanh(x) * 2, fullgraph=True,
                      backend=lambda gm, inputs: graphs.append(gm.code) or gm.forward)
    x = torch.randn(3, requires_grad=True)
    with mg.manual(strict=True):
        strict = f(x)
    with mg.manual():
        default = f(x)
    assert len(graphs) == 2 and type(default.grad_fn).__name__ == "MulBackward0"
    assert type(strict.grad_fn).__name__ != "MulBackward0"
