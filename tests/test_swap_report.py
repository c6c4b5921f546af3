"""What ``swap``'s report lists: third-party modules that do math (not those that rearrange), what
functional routing makes of a forward it cannot swap, and a swapped LSTM with no torch gate math
left (``manualgrad.coverage``)."""

import torch
import torch.nn.functional as F
from torch import nn

import manualgrad as mg


class Permute(nn.Module):
    def __init__(self, dims):
        super().__init__()
        self.dims = dims

    def forward(self, x):
        return torch.permute(x, self.dims).contiguous()


def drop_path(x, p: float, training: bool):
    if p == 0.0 or not training:
        return x
    mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(1 - p)
    return x * mask.div_(1 - p)


class DropPath(nn.Module):
    """timm's stochastic depth: a mask multiply in a module-level function."""

    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        return drop_path(x, self.p, self.training)


class Gelu(nn.Module):
    def forward(self, x):
        return 0.5 * x * (1 + torch.tanh(0.79788456 * (x + 0.044715 * torch.pow(x, 3))))


def test_swap_lists_third_party_modules_that_do_math_not_those_that_rearrange():
    model = nn.Sequential(Permute((0, 2, 1)), nn.Linear(3, 3), DropPath(0.1), Gelu(), nn.Identity(), nn.Flatten())
    report = mg.swap(model)
    skipped = {e.path: e.reason for e in report.skipped}
    assert list(skipped) == ["3"] and "manualgrad.coverage" in skipped["3"]
    assert "children" not in skipped["3"]


def test_swapped_lstm_classifier_has_no_torch_gate_math():
    """A 2-layer bidirectional LSTM classifier after swap: the recurrence (the gates' sigmoid and
    tanh, the matmuls) is all manualgrad's; what torch keeps is plumbing (selecting h0 per
    layer, concatenating directions, stacking final states, the last-step slice)."""
    torch.manual_seed(0)
    lstm = nn.LSTM(4, 6, num_layers=2, bidirectional=True, batch_first=True)
    head = nn.Linear(12, 3)

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm, self.head = lstm, head

        def forward(self, x):
            return self.head(self.lstm(x)[0][:, -1])

    model = Classifier()
    x = torch.randn(2, 5, 4)
    before = {h.name for h in mg.coverage(model, x).heavy}
    assert before & {"MkldnnRnnLayerBackward0", "SigmoidBackward0", "TanhBackward0", "MmBackward0",
                     "AddmmBackward0"}  # torch's LSTM: its own fused node or the gate math
    mg.swap(model)
    after = mg.coverage(model, x)
    names = set().union(*(set(v) for v in after.names.values()))
    assert not names & {"SigmoidBackward0", "TanhBackward0", "AddmmBackward0", "MmBackward0"}
    assert after.heavy == [] and after.param_share == 1.0
    assert after.names["manualgrad"]["LSTMFunctionBackward"] == 4


class Erf(nn.Module):
    def forward(self, x):
        return torch.special.erf(x) * 2 + x @ x.transpose(-1, -2)


class LayerNormLast(nn.LayerNorm):
    """A timm-style subclass with its own forward written with F.layer_norm."""

    def forward(self, x):
        assert x.ndim > 1, "checks are not computation"
        return F.layer_norm(x.permute(0, 2, 1), self.normalized_shape, self.weight, self.bias, self.eps).permute(0, 2, 1)


def test_swap_report_says_what_routing_makes_of_a_forward_it_cannot_swap():
    model = nn.Sequential(Gelu(), Erf(), LayerNormLast(3))
    skipped = {e.path: e.reason for e in mg.swap(model).skipped}
    assert "functional routing: tanh, pow are manualgrad's, the rest is arithmetic" in skipped["0"]
    assert "@ is manualgrad's, erf stays torch's" in skipped["1"]
    assert "redefines forward" in skipped["2"] and "layer_norm is manualgrad's, the rest" in skipped["2"]
    skipped = {e.path: e.reason for e in mg.swap(nn.Sequential(Gelu()), functional=False).skipped}
    assert "routing" not in skipped["0"] and "its own forward runs as written" in skipped["0"]
