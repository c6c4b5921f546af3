"""Optimizers: the argument checks and refusals of their torch.optim twins (type and message)."""

import inspect

import pytest
import torch

from test_optim import PAIRS, case_id


INVALID = [  # what torch refuses, by optimizer
    *(("SGD", k) for k in (
        dict(lr=-1.0), dict(momentum=-0.5), dict(weight_decay=-1e-3), dict(nesterov=True),
        dict(nesterov=True, momentum=0.9, dampening=0.1), dict(lr=torch.tensor([0.1, 0.2])))),
    *(("RMSprop", k) for k in (
        dict(lr=-1.0), dict(eps=-1e-8), dict(momentum=-0.1), dict(weight_decay=-0.1),
        dict(alpha=-0.5), dict(lr=float("nan")))),
    *(("Adam", k) for k in (
        dict(lr=-1.0), dict(eps=-1.0), dict(betas=(1.0, 0.999)), dict(betas=(0.9, -0.1)),
        dict(weight_decay=-1), dict(betas=(0.9, 0)), dict(betas=(torch.tensor(0.9), 0.99)))),
    *(("AdamW", k) for k in (dict(lr=-1e-3), dict(weight_decay=-0.1), dict(betas=(0.9, 1.5)))),
]  # fmt: skip
ACCEPTED = [  # edge cases torch lets through (SGD checks `lr < 0`, which NaN passes)
    ("SGD", dict(lr=float("nan"))), ("SGD", dict(lr=torch.tensor([0.1]))),
    ("SGD", dict(momentum=0.9, nesterov=True)), ("RMSprop", dict(alpha=1.5)),
    ("Adam", dict(betas=(torch.tensor(0.9), torch.tensor(0.99)))),
]  # fmt: skip


def outcome(cls, kwargs):
    try:
        cls([torch.zeros(2, requires_grad=True)], **kwargs)
    except Exception as e:  # noqa: BLE001 - the exception itself is what is compared
        return type(e), str(e)
    return None


@pytest.mark.parametrize(
    "case, valid",
    [pytest.param(c, valid, id=case_id(c)) for cs, valid in ((INVALID, False), (ACCEPTED, True))
     for c in cs],
)  # fmt: skip
def test_argument_checks_match_torch(case, valid):
    name, kwargs = case
    ours_cls, theirs_cls, _ = PAIRS[name]
    expected = outcome(theirs_cls, kwargs)
    assert (expected is None) == valid  # the table itself is right
    assert outcome(ours_cls, kwargs) == expected


@pytest.mark.parametrize("name", PAIRS)
def test_invalid_lr_message_and_defaults(name):
    ours_cls, theirs_cls, _ = PAIRS[name]
    with pytest.raises(ValueError, match=r"^Invalid learning rate: -1\.0$"):
        ours_cls([torch.zeros(2, requires_grad=True)], lr=-1.0)
    ours_sig = inspect.signature(ours_cls).parameters
    theirs_sig = inspect.signature(theirs_cls).parameters
    for arg, p in ours_sig.items():
        assert p.default == theirs_sig[arg].default, arg
    ours = ours_cls([torch.zeros(2, requires_grad=True)])
    theirs = theirs_cls([torch.zeros(2, requires_grad=True)])
    assert ours.defaults.items() <= theirs.defaults.items()


@pytest.mark.parametrize("name", PAIRS)
def test_sparse_and_complex_are_refused_before_any_update(name):
    ours_cls = PAIRS[name][0]
    dense, sparse = torch.ones(4, requires_grad=True), torch.zeros(4, requires_grad=True)
    complex_ = torch.zeros(2, dtype=torch.complex64, requires_grad=True)
    for w in (dense, sparse, complex_):
        w.grad = torch.ones_like(w)
    sparse.grad = sparse.grad.to_sparse()
    for bad, what in ((sparse, "sparse gradients"), (complex_, "complex parameters")):
        with pytest.raises(RuntimeError, match=f"^{name} does not support {what}$"):
            ours_cls([dense, bad], lr=0.1).step()
        assert (dense == 1).all()  # the group is checked before any param moves
