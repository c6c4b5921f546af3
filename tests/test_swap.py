"""swap / revert mechanics: same objects, state_dict, mode, hooks, optimizer; what is left alone.
Whole models (CNN, Transformer block, MLP) are in tests/test_swap_models.py."""

import copy

import pytest
import torch
from torch.nn.utils import parametrize

import manualgrad as mg
import manualgrad.nn as mnn


def mlp():
    return torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Dropout(0.0),
                               torch.nn.Linear(8, 3)).double()


def _grads(model, x):
    model.zero_grad()
    model(x).square().sum().backward()
    return [p.grad.clone() for p in model.parameters()]


def test_swap_keeps_objects_state_dict_mode_and_hooks():
    model = mlp().eval()
    params = [id(p) for p in model.parameters()]
    modules = [id(m) for m in model.modules()]
    before = copy.deepcopy(model.state_dict())
    calls = []
    model[0].register_forward_hook(lambda m, i, o: calls.append(type(m).__name__))
    report = mg.swap(model)
    assert [e.path for e in report.swapped] == ["0", "1", "2", "3"] and not report.skipped
    assert type(model[0]) is mnn.Linear and type(model[1]) is mnn.Tanh and type(model[2]) is mnn.Dropout
    assert [id(p) for p in model.parameters()] == params and [id(m) for m in model.modules()] == modules
    assert not model.training and model[0].weight.dtype == torch.float64
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), before.values()))
    assert list(model.state_dict()) == list(before)
    y = model(torch.randn(2, 6, dtype=torch.float64, requires_grad=True))
    assert calls == ["Linear"] and type(y.grad_fn).__name__ == "LinearFunctionBackward"
    rev = mg.revert(model)
    assert len(rev) == 4 and type(model[0]) is torch.nn.Linear and type(model[1]) is torch.nn.Tanh
    assert list(model.state_dict()) == list(before)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), before.values()))


def test_optimizer_made_before_the_swap_keeps_training_the_same_parameters():
    torch.manual_seed(0)
    ref, model = mlp(), mlp()
    model.load_state_dict(ref.state_dict())
    opts = [torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9) for m in (ref, model)]
    mg.swap(model)
    x = torch.randn(5, 6, dtype=torch.float64)
    for _ in range(3):
        for m, opt in zip((ref, model), opts):
            opt.zero_grad()
            m(x).square().mean().backward()
            opt.step()
    for p, q in zip(ref.parameters(), model.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-13, atol=1e-13)


def test_model_itself_is_swapped():
    lin = torch.nn.Linear(3, 2)
    report = mg.swap(lin)
    assert type(lin) is mnn.Linear and report.swapped[0].path == ""
    assert "<model>: torch.Linear -> manualgrad.Linear" in str(report)


def test_swap_is_idempotent_and_leaves_manualgrad_modules_alone():
    model = torch.nn.Sequential(mnn.Linear(3, 3), torch.nn.ReLU())
    assert [e.path for e in mg.swap(model).swapped] == ["1"]
    assert not mg.swap(model).swapped


class Scaled(torch.nn.Linear):
    """Overrides forward: cannot be proven equal, must be left alone."""

    def forward(self, x):
        return 2 * super().forward(x)


class Renamed(torch.nn.Linear):
    """Only a new __init__: safe to swap (as torch's NonDynamicallyQuantizableLinear)."""

    def __init__(self, n):
        super().__init__(n, n)
        self.tag = "kept"

    def describe(self):
        return self.tag


def test_subclasses_swapped_only_when_provably_equal():
    model = torch.nn.Sequential(Scaled(3, 3), Renamed(3)).double()
    report = mg.swap(model)
    skipped = {e.path: e.reason for e in report.skipped}
    assert "Scaled redefines forward" in skipped["0"] and type(model[0]) is Scaled
    assert isinstance(model[1], Renamed) and isinstance(model[1], mnn.Linear)
    assert model[1].describe() == "kept" and "Renamed (on manualgrad.Linear)" in str(report)
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    assert type(model[1](x).grad_fn).__name__ == "LinearFunctionBackward"
    copy.deepcopy(model)  # the made class deep-copies
    mg.revert(model)
    assert type(model[1]) is Renamed


def test_unimplemented_torch_modules_are_reported_with_a_reason():
    model = torch.nn.Sequential(torch.nn.CrossMapLRN2d(3), torch.nn.Flatten(), torch.nn.LazyLinear(2),
                                torch.nn.MultiheadAttention(4, 2, add_bias_kv=True, add_zero_attn=True))
    skipped = {e.path: e.reason for e in mg.swap(model).skipped}
    assert "does not implement CrossMapLRN2d" in skipped["0"]
    assert "lazy module" in skipped["2"]
    assert "3" not in skipped and type(model[3]) is mg.nn.MultiheadAttention  # add_bias_kv, add_zero_attn: ours
    assert "1" not in skipped  # Flatten has no arithmetic of its own


def test_include_and_exclude():
    model = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.ReLU(),
                                torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.ReLU()))
    assert [e.path for e in mg.swap(copy.deepcopy(model), include=[torch.nn.ReLU]).swapped] == ["1", "2.1"]
    assert [e.path for e in mg.swap(copy.deepcopy(model), include=["Linear"]).swapped] == ["0", "2.0"]
    assert [e.path for e in mg.swap(copy.deepcopy(model), exclude=["2.*"]).swapped] == ["0", "1"]
    assert [e.path for e in mg.swap(copy.deepcopy(model), exclude=["2"]).swapped] == ["0", "1"]
    assert [e.path for e in mg.swap(copy.deepcopy(model), include=["2"]).swapped] == ["2.0", "2.1"]
    assert [e.path for e in mg.swap(copy.deepcopy(model), include=["2.*"], exclude=["ReLU"]).swapped] == ["2.0"]


def test_parametrized_module_swaps_and_keeps_its_parametrization():
    class Symmetric(torch.nn.Module):
        def forward(self, w):
            return w.triu() + w.triu(1).t()

    ref = torch.nn.Linear(4, 4).double()
    parametrize.register_parametrization(ref, "weight", Symmetric())
    model = copy.deepcopy(ref)
    mg.swap(model)
    assert isinstance(model, mnn.Linear) and parametrize.is_parametrized(model)
    x = torch.randn(3, 4, dtype=torch.float64)
    for a, b in zip(_grads(ref, x), _grads(model, x)):
        torch.testing.assert_close(a, b, rtol=1e-13, atol=1e-13)


def test_swap_rejects_non_modules():
    with pytest.raises(TypeError, match="expects a torch.nn.Module"):
        mg.swap(lambda x: x)


def test_resampling_and_padding_modules_are_swapped():
    nn = torch.nn
    model = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(2, 3, 3), nn.Upsample(scale_factor=2),
                          nn.ZeroPad2d((1, 0, 0, 1)), nn.UpsamplingBilinear2d(size=(5, 6)), nn.ReplicationPad2d(2),
                          nn.CircularPad2d(1), nn.UpsamplingNearest2d(scale_factor=2),
                          nn.ConstantPad2d(1, 0.5)).double()
    ref = copy.deepcopy(model)
    x = torch.randn(2, 2, 4, 5, dtype=torch.float64)
    report = mg.swap(model)
    assert not report.skipped and len(report.swapped) == len(model)
    assert [type(m) for m in model] == [getattr(mnn, type(m).__name__) for m in ref]
    torch.testing.assert_close(model(x), ref(x), rtol=1e-12, atol=1e-12)
    for g, h in zip(_grads(model, x), _grads(ref, x)):
        torch.testing.assert_close(g, h, rtol=1e-12, atol=1e-12)
    assert len(mg.revert(model)) == len(model) and [type(m) for m in model] == [type(m) for m in ref]


class _RecurrentClassifier(torch.nn.Module):
    """Embedding → 2-layer bidirectional LSTM → Linear on the last step, plus a GRU, an RNN and
    the three cells on the side: every recurrent module swap has to handle."""

    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(10, 4)
        self.lstm = torch.nn.LSTM(4, 5, num_layers=2, bidirectional=True, dropout=0.2, batch_first=True)
        self.gru = torch.nn.GRU(10, 3)
        self.rnn = torch.nn.RNN(3, 3, nonlinearity="relu")
        self.cells = torch.nn.ModuleList([torch.nn.RNNCell(3, 3), torch.nn.LSTMCell(3, 3), torch.nn.GRUCell(3, 3)])
        self.head = torch.nn.Linear(3, 2)

    def forward(self, tokens):
        y, _ = self.lstm(self.embed(tokens))
        y, _ = self.rnn(self.gru(y)[0])
        h = self.cells[0](y[:, -1])
        h = self.cells[1](h)[0]
        return self.head(self.cells[2](h))


def test_recurrent_modules_swap_with_weights_kept():
    torch.manual_seed(0)
    ref = _RecurrentClassifier().double()
    model = copy.deepcopy(ref)
    before = copy.deepcopy(model.state_dict())
    report = mg.swap(model)
    swapped = {e.path for e in report.swapped}
    assert {"lstm", "gru", "rnn", "cells.0", "cells.1", "cells.2"} <= swapped
    assert type(model.lstm) is mnn.LSTM and type(model.cells[1]) is mnn.LSTMCell and type(model.rnn) is mnn.RNN
    assert list(model.state_dict()) == list(before)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), before.values()))
    tokens = torch.randint(0, 10, (3, 6))
    for m in (ref, model):
        torch.manual_seed(1)  # the LSTM's inter-layer dropout draws the same mask on both
        m.zero_grad()
        m(tokens).square().sum().backward()
    for (name, p), q in zip(ref.named_parameters(), model.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-12, atol=1e-12, msg=name)
    mg.revert(model)
    assert type(model.lstm) is torch.nn.LSTM and type(model.cells[2]) is torch.nn.GRUCell
