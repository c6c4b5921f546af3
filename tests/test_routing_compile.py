"""Functional routing under torch.compile: a swapped model compiles to one graph of manualgrad's
Functions, and a function compiled inside ``manual()`` is recompiled outside it."""

import copy

import torch
import torch.nn.functional as F
from torch import nn

import manualgrad as mg


class Compiled(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(8, 8)

    def forward(self, x):
        return torch.tanh(F.gelu(self.lin(x)))


def test_swapped_model_compiles_in_one_graph_routed():
    torch.manual_seed(0)
    model, x = Compiled(), torch.randn(4, 8)
    mg.swap(model)
    eager = copy.deepcopy(model)
    torch._dynamo.reset()
    explained = torch._dynamo.explain(model)(x)
    assert explained.graph_break_count == 0
    code = explained.graphs[0].code
    assert code.count("autograd_function_apply(") == 3 and "torch.tanh" not in code and "gelu" not in code
    torch._dynamo.reset()
    got = torch.compile(model, backend="aot_eager", fullgraph=True)(x)
    want = eager(x)
    torch.testing.assert_close(got, want)
    got.square().sum().backward()
    want.square().sum().backward()
    for p, q in zip(model.parameters(), eager.parameters()):
        torch.testing.assert_close(p.grad, q.grad)


def test_a_function_compiled_inside_manual_is_recompiled_outside():
    graphs = []
    torch._dynamo.reset()
    f = torch.compile(lambda x: torch.tanh(x).softmax(-1), fullgraph=True,
                      backend=lambda gm, example_inputs: graphs.append(gm.code) or gm.forward)
    x = torch.randn(3, 4, requires_grad=True)
    with mg.manual():
        inside = f(x)
    outside = f(x)
    assert len(graphs) == 2 and "torch.tanh" not in graphs[0] and "torch.tanh" in graphs[1]
    assert type(inside.grad_fn).__name__ != type(outside.grad_fn).__name__
    torch.testing.assert_close(inside, outside)
