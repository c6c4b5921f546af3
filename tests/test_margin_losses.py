"""The issue-15 modules (distances, margin and likelihood losses, CTC) beyond the op table: each
module is its torch twin (state_dict, repr, forward and gradients), swap replaces the torch
modules and routing sends the F.* calls to ours; torch's uninitialised empty reductions of the
multi-class margin losses; a user's distance stays the user's."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import manualgrad as mg
import manualgrad.functional as MF
import manualgrad.nn as MN

D = dict(dtype=torch.float64)


def _triplet():
    return tuple(torch.randn(4, 5, **D) for _ in range(3))


def _ctc_args():
    logp = torch.randn(6, 2, 4, **D).log_softmax(-1)
    return logp, torch.tensor([[1, 2], [3, 3]]), torch.tensor([6, 5]), torch.tensor([2, 2])


MODULES = [  # (class name, constructor kwargs, inputs: make() -> tuple; the first is differentiated)
    ("CosineSimilarity", {"dim": 0, "eps": 1e-6}, lambda: (torch.randn(4, 5, **D), torch.randn(4, 5, **D))),
    ("PairwiseDistance", {"p": 3.0, "keepdim": True}, lambda: (torch.randn(4, 5, **D), torch.randn(4, 5, **D))),
    ("MarginRankingLoss", {"margin": 0.3},
     lambda: (torch.randn(4, **D), torch.randn(4, **D), torch.randn(4, **D).sign())),
    ("HingeEmbeddingLoss", {"margin": 0.5, "reduction": "sum"},
     lambda: (torch.randn(4, 5, **D), torch.randn(4, 5, **D).sign())),
    ("SoftMarginLoss", {"reduction": "none"}, lambda: (torch.randn(4, 5, **D), torch.randn(4, 5, **D).sign())),
    ("CosineEmbeddingLoss", {"margin": -0.2}, lambda: (torch.randn(4, 5, **D), torch.randn(4, 5, **D),
                                                       torch.tensor([1.0, -1.0, -1.0, 1.0], **D))),
    ("MultiMarginLoss", {"p": 2, "margin": 0.7, "weight": torch.rand(5, **D)},
     lambda: (torch.randn(4, 5, **D), torch.tensor([0, 4, 2, 2]))),
    ("MultiLabelMarginLoss", {}, lambda: (torch.randn(2, 4, **D), torch.tensor([[3, 0, -1, 1], [1, -1, 0, 0]]))),
    ("TripletMarginLoss", {"margin": 2.0, "p": 1.0, "swap": True}, _triplet),
    ("TripletMarginWithDistanceLoss", {"swap": True, "margin": 1.5}, _triplet),
    ("KLDivLoss", {"reduction": "batchmean", "log_target": True},
     lambda: (torch.randn(4, 5, **D).log_softmax(1), torch.randn(4, 5, **D).log_softmax(1))),
    ("PoissonNLLLoss", {"log_input": False, "full": True},
     lambda: (torch.rand(4, 5, **D) + 0.1, torch.rand(4, 5, **D) * 4)),
    ("GaussianNLLLoss", {"full": True, "eps": 1e-3}, lambda: (torch.randn(4, 5, **D), torch.randn(4, 5, **D),
                                                            torch.rand(4, 1, **D) + 0.1)),
    ("MultiLabelSoftMarginLoss", {"weight": torch.rand(5, **D)},
     lambda: (torch.randn(4, 5, **D), torch.rand(4, 5, **D))),
    ("CTCLoss", {"blank": 0, "zero_infinity": True}, _ctc_args),
]
IDS = [m[0] for m in MODULES]


@pytest.mark.parametrize("name,kw,make", MODULES, ids=IDS)
def test_module_is_its_torch_twin(name, kw, make):
    ours, theirs = getattr(MN, name)(**kw), getattr(nn, name)(**kw)
    assert isinstance(ours, type(theirs)) and repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    args = make()
    x = args[0].clone().requires_grad_()
    y, want = ours(x, *args[1:]), theirs(args[0].clone().requires_grad_(), *args[1:])
    assert type(y.grad_fn).__name__.endswith("FunctionBackward")
    torch.testing.assert_close(y, want)
    x2 = args[0].clone().requires_grad_()
    dy = torch.randn_like(y)
    (g,) = torch.autograd.grad(y, x, dy)
    (h,) = torch.autograd.grad(theirs(x2, *args[1:]), x2, dy)
    torch.testing.assert_close(g, h)


class Holder(nn.Module):
    def __init__(self, loss):
        super().__init__()
        self.loss = loss

    def forward(self, *args):
        return self.loss(*args)


@pytest.mark.parametrize("name,kw,make", MODULES, ids=IDS)
def test_swap_replaces_the_torch_module_and_revert_restores_it(name, kw, make):
    model = Holder(getattr(nn, name)(**kw))
    mg.swap(model)
    assert type(model.loss) is getattr(MN, name)
    args = make()
    x = args[0].clone().requires_grad_()
    assert type(model(x, *args[1:]).grad_fn).__name__.endswith("FunctionBackward")
    mg.revert(model)
    assert type(model.loss) is getattr(nn, name)


CALLS = {  # F.<name>: inputs (first differentiated), keyword arguments
    "pairwise_distance": (lambda: (torch.randn(3, 4, **D), torch.randn(3, 4, **D)), {"p": 1.0}),
    "cosine_similarity": (lambda: (torch.randn(3, 4, **D), torch.randn(3, 4, **D)), {"dim": 1}),
    "normalize": (lambda: (torch.randn(3, 4, **D),), {"p": 3.0}),
    "kl_div": (lambda: (torch.randn(3, 4, **D), torch.rand(3, 4, **D)), {"reduction": "batchmean"}),
    "poisson_nll_loss": (lambda: (torch.randn(3, 4, **D), torch.rand(3, 4, **D) * 3), {"full": True}),
    "gaussian_nll_loss": (lambda: (torch.randn(3, 4, **D), torch.randn(3, 4, **D), torch.rand(3, **D) + 0.1), {}),
    "multilabel_soft_margin_loss": (lambda: (torch.randn(3, 4, **D), torch.rand(3, 4, **D)), {}),
    "triplet_margin_loss": (_triplet, {"swap": True}),
    "triplet_margin_with_distance_loss": (_triplet, {}),
    "soft_margin_loss": (lambda: (torch.randn(3, 4, **D), torch.randn(3, 4, **D).sign()), {}),
    "multi_margin_loss": (lambda: (torch.randn(3, 4, **D), torch.tensor([0, 3, 1])), {"p": 2}),
    "ctc_loss": (_ctc_args, {"reduction": "sum"}),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_routing_runs_ours_for_the_torch_calls(name):
    make, kw = CALLS[name]
    args = make()
    x = args[0].clone().requires_grad_()
    with mg.manual():
        y = getattr(F, name)(x, *args[1:], **kw)
    assert type(y.grad_fn).__name__.endswith("FunctionBackward")
    torch.testing.assert_close(y, getattr(F, name)(args[0], *args[1:], **kw))


@pytest.mark.parametrize("op", ["multi_margin_loss", "multilabel_margin_loss"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_empty_batch_reduces_to_nan_or_zero(op, reduction):
    """torch's kernels return uninitialised memory here (docs/ops.md); a sum over nothing is 0
    and a mean NaN, as every other loss."""
    x = torch.zeros(0, 5, **D, requires_grad=True)
    y = torch.zeros(0, dtype=torch.long) if op == "multi_margin_loss" else torch.zeros(0, 5, dtype=torch.long)
    out = getattr(MF, op)(x, y, reduction=reduction)
    assert (out.isnan() if reduction == "mean" else out == 0).item()
    (g,) = torch.autograd.grad(out, x)
    assert g.shape == x.shape


def test_a_users_distance_stays_the_users():
    calls = []

    def distance(a, b):
        calls.append((a.shape, b.shape))
        return (a - b).abs().sum(-1)

    a, p, n = (t.requires_grad_() for t in _triplet())
    y = MF.triplet_margin_with_distance_loss(a, p, n, distance_function=distance, swap=True)
    want = F.triplet_margin_with_distance_loss(a, p, n, distance_function=distance, swap=True)
    assert len(calls) == 6  # three per call: (a, p), (a, n) and the swap's (p, n)
    torch.testing.assert_close(y, want)
    torch.testing.assert_close(torch.autograd.grad(y, (a, p, n)), torch.autograd.grad(want, (a, p, n)))
