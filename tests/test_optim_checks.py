"""Optimizers: the argument checks and refusals of their torch.optim twins (type and message)."""

import inspect

import pytest
import torch

import manualgrad.optim as mopt
from test_optim import PAIRS, RICH, Problem, case_id, flat, step_both


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
    ours = ours_cls([torch.zeros(2, requires_grad=True)])
    theirs = theirs_cls([torch.zeros(2, requires_grad=True)])
    assert ours.defaults == theirs.defaults


def test_every_torch_optimizer_has_a_twin_in_the_package():
    assert set(mopt.__all__) & set(dir(torch.optim)) == set(PAIRS)


@pytest.mark.parametrize("name", PAIRS)
def test_signature_matches_torch(name):
    """A drop-in: every argument torch's class takes, in the same order, kind and default."""
    ours_cls, theirs_cls, _ = PAIRS[name]

    def shape(cls):
        return [(p.name, p.kind, p.default) for p in inspect.signature(cls.__init__).parameters.values()]

    assert shape(ours_cls) == shape(theirs_cls)


@pytest.mark.parametrize("name", PAIRS)
def test_torch_defaults_passed_explicitly_are_accepted(name):
    ours_cls, theirs_cls, _ = PAIRS[name]
    explicit = {p.name: p.default for p in inspect.signature(theirs_cls.__init__).parameters.values()
                if p.name not in ("self", "params")}
    ours_cls([torch.zeros(2, requires_grad=True)], **explicit)
    falses = {k: False for k in ("foreach", "fused") if k in explicit}  # torch's None means False here
    ours_cls([torch.zeros(2, requires_grad=True)], **dict(explicit, **falses))


UNSUPPORTED = [(name, arg) for name in PAIRS for arg in ("fused", "capturable", "differentiable")
               if arg in inspect.signature(PAIRS[name][1].__init__).parameters]


@pytest.mark.parametrize("name, arg", UNSUPPORTED)
def test_unsupported_implementations_are_refused_by_name(name, arg):
    ours_cls = PAIRS[name][0]
    w = torch.zeros(2, requires_grad=True)
    with pytest.raises(NotImplementedError, match=rf"^{name}\({arg}=True\) is not supported: "):
        ours_cls([w], **{arg: True})
    opt = ours_cls([w])  # a group added, or loaded, with the option set is refused at its first step
    opt.add_param_group({"params": [torch.zeros(3, requires_grad=True)], arg: True})
    w.grad = torch.ones(2)
    with pytest.raises(NotImplementedError, match=rf"{arg}=True"):
        opt.step()
    assert (w == 0).all()


@pytest.mark.parametrize("foreach", [None, False, True])
@pytest.mark.parametrize("name", PAIRS)
def test_foreach_and_maximize_follow_torch(name, foreach):
    """``foreach`` (any value: one loop here) and ``maximize`` against torch's own implementation
    of the same arguments."""
    ours_cls, theirs_cls, lr = PAIRS[name]
    prob = Problem()
    ws, vs = prob.params(), prob.params()
    kw = dict(lr=lr, foreach=foreach, maximize=True, **RICH[name])
    ours, theirs = ours_cls(prob.groups(ws, lr), **kw), theirs_cls(prob.groups(vs, lr), **kw)
    for _ in range(20):
        step_both(prob, ws, ours, vs, theirs, sign=-1.0)
    assert (flat(ws) - flat(prob.init)).abs().max() > 0.01
    assert all(g["foreach"] is foreach for g in ours.param_groups)


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
