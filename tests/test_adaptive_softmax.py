"""AdaptiveLogSoftmaxWithLoss: outputs, loss, log_prob, predict and every gradient equal torch's
(float64; batched, unbatched, targets all in the shortlist, every cluster, empty batch); torch's
errors; double backward; no heavy torch node; swap and state_dict."""

import copy

import pytest
import torch

import manualgrad as mg
import manualgrad.nn as mnn

ARGS = dict(in_features=8, n_classes=20, cutoffs=[4, 10, 15], div_value=2.0)


def _pair(head_bias=True):
    torch.manual_seed(0)
    theirs = torch.nn.AdaptiveLogSoftmaxWithLoss(**ARGS, head_bias=head_bias).double()
    ours = mnn.AdaptiveLogSoftmaxWithLoss(**ARGS, head_bias=head_bias).double()
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


TARGETS = {
    "every cluster": torch.tensor([0, 5, 19, 3, 12, 11, 9]),
    "shortlist only": torch.tensor([0, 3, 1]),
    "tail only": torch.tensor([7, 16, 12]),
    "empty batch": torch.tensor([], dtype=torch.long),
}


@pytest.mark.parametrize("head_bias", [False, True])
@pytest.mark.parametrize("case", list(TARGETS))
def test_output_loss_and_gradients_equal_torchs(case, head_bias):
    ours, theirs = _pair(head_bias)
    t = TARGETS[case]
    x = torch.randn(len(t), 8, dtype=torch.float64, requires_grad=True)
    a, b = ours(x, t), theirs(x, t)
    assert type(a) is type(b)
    torch.testing.assert_close(a.output, b.output)
    torch.testing.assert_close(a.loss, b.loss, equal_nan=True)
    if not len(t):
        return
    dy = torch.randn_like(a.output)
    ga = torch.autograd.grad(a.loss + (a.output * dy).sum(), [x, *ours.parameters()], allow_unused=True)
    gb = torch.autograd.grad(b.loss + (b.output * dy).sum(), [x, *theirs.parameters()], allow_unused=True)
    for g, h in zip(ga, gb):
        assert (g is None) == (h is None)
        if g is not None:
            torch.testing.assert_close(g, h)


def test_unbatched_input():
    ours, theirs = _pair()
    x, t = torch.randn(8, dtype=torch.float64), torch.tensor(17)
    a, b = ours(x, t), theirs(x, t)
    assert a.output.shape == b.output.shape == ()
    torch.testing.assert_close(a, b)


def test_log_prob_and_predict_equal_torchs():
    ours, theirs = _pair()
    x = torch.randn(50, 8, dtype=torch.float64, requires_grad=True)
    torch.testing.assert_close(ours.log_prob(x), theirs.log_prob(x))
    dy = torch.randn(50, 20, dtype=torch.float64)
    torch.testing.assert_close(torch.autograd.grad(ours.log_prob(x), x, dy)[0],
                               torch.autograd.grad(theirs.log_prob(x), x, dy)[0])
    assert torch.equal(ours.predict(x), theirs.predict(x))
    assert (ours.predict(x) >= ours.shortlist_size).any()  # the cluster branch ran


def test_gradcheck_and_gradgradcheck():
    ours, _ = _pair()
    t = TARGETS["every cluster"]
    x = torch.randn(len(t), 8, dtype=torch.float64, requires_grad=True)
    f = lambda x: ours(x, t).output  # noqa: E731
    assert torch.autograd.gradcheck(f, (x,)) and torch.autograd.gradgradcheck(f, (x,))


@pytest.mark.parametrize("x, t", [
    (torch.randn(3, 8), torch.tensor([0, 1])),
    (torch.randn(3, 2, 8), torch.tensor([0, 1, 2])),
    (torch.randn(3, 8), torch.tensor(1)),
    (torch.randn(3, 8), torch.zeros(3, 1, dtype=torch.long)),
    (torch.randn(3, 8), torch.tensor([0, 20, 1])),
    (torch.randn(3, 8), torch.tensor([0, -1, 1])),
])
def test_errors_are_torchs(x, t):
    ours, theirs = _pair()
    with pytest.raises(RuntimeError) as want:
        theirs.float()(x, t)
    with pytest.raises(RuntimeError) as got:
        ours.float()(x, t)
    assert str(got.value) == str(want.value)


def test_no_heavy_torch_node_and_swap():
    model = torch.nn.ModuleDict({"asm": torch.nn.AdaptiveLogSoftmaxWithLoss(**ARGS)})
    ref = copy.deepcopy(model)
    mg.swap(model)
    assert type(model["asm"]) is mnn.AdaptiveLogSoftmaxWithLoss
    assert model.state_dict().keys() == ref.state_dict().keys()
    x, t = torch.randn(7, 8), TARGETS["every cluster"]
    report = mg.coverage(model["asm"], x, t)
    assert not report.heavy and report.param_share == 1.0
    torch.testing.assert_close(model["asm"](x, t).loss, ref["asm"](x, t).loss)
