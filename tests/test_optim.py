"""Optimizers: each follows its torch.optim twin step for step, with state dicts and schedulers."""

import copy
import itertools
import warnings

import pytest
import torch
from torch.optim import lr_scheduler

import manualgrad.optim as mopt
from conftest import DEVICES

F64 = torch.float64
TIGHT = dict(rtol=1e-10, atol=1e-12)
SHAPES = [(3, 4), (2, 3), (4,)]  # the last param never gets a gradient


def product(**options):
    """Every combination of the options, as kwargs dicts."""
    return [dict(zip(options, values)) for values in itertools.product(*options.values())]


SGD_CONFIGS = [  # the valid ones: nesterov needs momentum and no dampening
    c for c in product(momentum=[0, 0.9], dampening=[0, 0.3], nesterov=[False, True],
                       weight_decay=[0, 0.1], maximize=[False, True])
    if not c["nesterov"] or (c["momentum"] > 0 and c["dampening"] == 0)
]  # fmt: skip
RMSPROP_CONFIGS = product(
    alpha=[0.99, 0.8], centered=[False, True], momentum=[0, 0.9],
    weight_decay=[0, 0.1], maximize=[False, True],
)  # fmt: skip
ADAM_CONFIGS = product(amsgrad=[False, True], weight_decay=[0, 0.1], maximize=[False, True])

PAIRS = {
    "SGD": (mopt.SGD, torch.optim.SGD, 0.05),  # ours, torch's, a base lr for the toy problem
    "RMSprop": (mopt.RMSprop, torch.optim.RMSprop, 0.01),
    "Adam": (mopt.Adam, torch.optim.Adam, 0.05),
    "AdamW": (mopt.AdamW, torch.optim.AdamW, 0.05),
}
CASES = (
    [("SGD", c) for c in SGD_CONFIGS]
    + [("RMSprop", c) for c in RMSPROP_CONFIGS]
    + [(name, c) for name in ("Adam", "AdamW") for c in ADAM_CONFIGS]
    + [("Adam", dict(betas=(torch.tensor(0.8), torch.tensor(0.95)))),  # float32 tensor betas
       ("Adam", dict(decoupled_weight_decay=True, weight_decay=0.1)),  # torch's Adam option too
       ("AdamW", dict(betas=(0.5, 0.9), eps=1e-3, weight_decay=0.3))]
)  # fmt: skip
RICH = {  # the options that fill every state key
    "SGD": dict(momentum=0.9, nesterov=True, weight_decay=0.1),
    "RMSprop": dict(centered=True, momentum=0.9, weight_decay=0.1),
    "Adam": dict(amsgrad=True, weight_decay=0.1),
    "AdamW": dict(amsgrad=True),
}


def case_id(case):
    name, config = case
    return "-".join([name] + [f"{k}={v}" for k, v in config.items()])


class Problem:
    """f(w) = Σ ½ c⊙(w − a)² + 0.1 Σ cos 3w over the first two of three tensors; groups [w₀] and
    [w₁, w₂] (lr, lr/2.5). The gradient c⊙(w − a) − 0.3 sin 3w is written into ``.grad`` directly,
    negated under ``maximize`` so ascent on −f retraces descent on f; w₂ never gets one.
    """

    def __init__(self, device="cpu", seed=0):
        gen = torch.Generator().manual_seed(seed)
        draws = [[torch.randn(s, generator=gen, dtype=F64) for s in SHAPES] for _ in range(3)]
        self.init, self.a, c = ([t.to(device) for t in ts] for ts in draws)
        self.c = [ci.abs() + 0.5 for ci in c]

    def params(self):
        return [w.clone().requires_grad_() for w in self.init]

    @staticmethod
    def groups(ws, lr):
        return [{"params": ws[:1]}, {"params": ws[1:], "lr": lr / 2.5}]

    def set_grads(self, ws, sign=1.0):
        with torch.no_grad():
            for w, a, c in zip(ws[:-1], self.a, self.c):
                w.grad = sign * (c * (w - a) - 0.3 * torch.sin(3 * w))

    def loss(self, ws):
        return sum((0.5 * c * (w - a) ** 2 + 0.1 * torch.cos(3 * w)).sum()
                   for w, a, c in zip(ws[:-1], self.a, self.c))  # fmt: skip


def flat(ws):
    return torch.cat([w.detach().flatten() for w in ws])


def twins(name, config, device="cpu", lr=None):
    """Problem, our params and optimizer (second group added later), torch's params and
    (single-tensor) optimizer."""
    ours_cls, theirs_cls, base_lr = PAIRS[name]
    lr = base_lr if lr is None else lr
    prob = Problem(device)
    ws, vs = prob.params(), prob.params()
    ours = ours_cls(prob.groups(ws, base_lr)[:1], lr=lr, **config)
    ours.add_param_group(prob.groups(ws, base_lr)[1])  # filled in from ours.defaults
    theirs = theirs_cls(prob.groups(vs, base_lr), lr=lr, foreach=False, **config)
    return prob, ws, ours, vs, theirs


def step_both(prob, ws, ours, vs, theirs, sign=1.0):
    for params, opt in ((ws, ours), (vs, theirs)):
        prob.set_grads(params, sign)
        opt.step()
    assert_tight(flat(ws), flat(vs))


def assert_tight(a, b):
    if not torch.allclose(a, b, **TIGHT):  # cheap test first: this runs at every step
        torch.testing.assert_close(a, b, **TIGHT)


def assert_same_state(ours, theirs):
    assert len(ours.state) == len(theirs.state)
    for s, t in zip(ours.state.values(), theirs.state.values()):  # params in the same order
        assert set(s) == set(t), (set(s), set(t))
        for key in s:
            assert s[key].dtype == t[key].dtype and s[key].device == t[key].device, key
            torch.testing.assert_close(s[key], t[key], **TIGHT)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_trajectory_equals_torch_for_every_option_combination(case):
    name, config = case
    prob, ws, ours, vs, theirs = twins(name, config)
    sign = -1.0 if config.get("maximize") else 1.0
    for _ in range(100):
        step_both(prob, ws, ours, vs, theirs, sign)
    assert (flat(ws) - flat(prob.init)).abs().max() > 0.1  # it really moved
    assert torch.equal(ws[-1], prob.init[-1]) and ws[-1] not in ours.state  # grad None: skipped
    assert_same_state(ours, theirs)


@pytest.mark.parametrize("name", PAIRS)
@pytest.mark.parametrize("source", ["torch", "ours"])
def test_state_dict_loads_from_and_into_torch(name, source):
    prob, ws, ours, vs, theirs = twins(name, RICH[name])
    src, src_ws = (theirs, vs) if source == "torch" else (ours, ws)
    for _ in range(5):
        prob.set_grads(src_ws)
        src.step()
    # a fresh optimizer of the other kind, on copies of the current weights, takes the state
    dst_ws = [w.detach().clone().requires_grad_() for w in src_ws]
    other = (ours if source == "torch" else theirs).__class__
    kwargs = {"foreach": False} if source == "ours" else {}
    dst = other(prob.groups(dst_ws, 1.0), lr=123.0, **kwargs)
    dst.load_state_dict(copy.deepcopy(src.state_dict()))  # as after torch.save/torch.load
    assert [g["lr"] for g in dst.param_groups] == [g["lr"] for g in src.param_groups]
    assert_same_state(dst, src)
    for _ in range(10):
        step_both(prob, src_ws, src, dst_ws, dst)
    back = src.__class__(prob.groups(prob.params(), 1.0))
    back.load_state_dict(copy.deepcopy(dst.state_dict()))  # and back again
    assert_same_state(back, src)


SCHEDULERS = {
    "StepLR": lambda opt: lr_scheduler.StepLR(opt, step_size=7, gamma=0.5),
    "CosineAnnealingLR": lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=12, eta_min=1e-4),
    "LinearLR": lambda opt: lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=8),
    "ReduceLROnPlateau": lambda opt: lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1),
}


@pytest.mark.parametrize("name", PAIRS)
@pytest.mark.parametrize("sched", SCHEDULERS)
def test_lr_schedulers_drive_ours_as_torch(name, sched):
    prob, ws, ours, vs, theirs = twins(name, RICH[name])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "lr_scheduler.step() before optimizer.step()"
        ours_sched, theirs_sched = SCHEDULERS[sched](ours), SCHEDULERS[sched](theirs)
        lrs = []
        for i in range(30):
            step_both(prob, ws, ours, vs, theirs)
            metric = max(1.0, 10.0 - i)  # improves, then plateaus
            for s in (ours_sched, theirs_sched):
                s.step(metric) if sched == "ReduceLROnPlateau" else s.step()
            lrs.append([g["lr"] for g in ours.param_groups])
            assert lrs[-1] == [g["lr"] for g in theirs.param_groups]
    assert len({tuple(lr) for lr in lrs}) > 2  # the schedule really changed the lr


@pytest.mark.parametrize("default", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", ["RMSprop", "Adam"])
def test_step_counter_dtype_follows_default_dtype(name, default):
    previous = torch.get_default_dtype()
    torch.set_default_dtype(default)
    try:
        prob, ws, ours, vs, theirs = twins(name, {})
        step_both(prob, ws, ours, vs, theirs)
    finally:
        torch.set_default_dtype(previous)
    assert ours.state[ws[0]]["step"].dtype == default
    assert_same_state(ours, theirs)


def test_decoupled_flag_survives_state_dict_loads():
    w = [torch.zeros(2, requires_grad=True)]
    for ours, theirs in [
        (mopt.Adam(w), torch.optim.Adam(w, decoupled_weight_decay=True)),
        (mopt.AdamW(w), torch.optim.Adam(w)),  # an AdamW always decouples
    ]:
        ours.load_state_dict(theirs.state_dict())
        assert ours.param_groups[0]["decoupled_weight_decay"] is True


def test_rules_by_hand():
    """The docstrings' first steps, computed by hand (independent of torch)."""
    w = torch.zeros(2, dtype=F64, requires_grad=True)
    opt = mopt.SGD([w], lr=0.1, momentum=0.9, dampening=0.5)
    for _ in range(2):
        w.grad = torch.tensor([1.0, -2.0], dtype=F64)
        opt.step()  # b₁ = g, b₂ = 0.9·g + 0.5·g
    torch.testing.assert_close(w.detach(), -0.1 * (1 + 1.4) * w.grad)
    w = torch.zeros(3, dtype=F64, requires_grad=True)
    opt = mopt.Adam([w], lr=0.01, eps=0.0)
    w.grad = torch.tensor([3.0, -1e-3, 20.0], dtype=F64)
    opt.step()  # m̂ / √v̂ = g / |g| on the first step
    torch.testing.assert_close(w.detach(), -0.01 * w.grad.sign())
    opt = mopt.AdamW([w], lr=0.5, weight_decay=0.2)
    w.grad = torch.zeros(3, dtype=F64)
    before = w.detach().clone()
    opt.step()  # zero gradient: only the decoupled decay moves w
    torch.testing.assert_close(w.detach(), before * (1 - 0.5 * 0.2))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", PAIRS)
def test_closure_hooks_zero_grad_tensor_lr_and_device(name, device):
    lr = torch.tensor(0.03, dtype=F64)  # a CPU tensor, as torch allows whatever the params' device
    prob, ws, ours, vs, theirs = twins(name, RICH[name], device=device, lr=lr)
    calls = []
    ours.register_step_pre_hook(lambda *_: calls.append("pre"))
    ours.register_step_post_hook(lambda *_: calls.append("post"))

    def closure(opt, params):  # autograd inside step(): grad must be enabled there
        opt.zero_grad()
        loss = prob.loss(params)
        loss.backward()
        return loss

    for _ in range(5):
        assert ours.step(lambda: closure(ours, ws)).requires_grad
        theirs.step(lambda: closure(theirs, vs))
        torch.testing.assert_close(flat(ws), flat(vs), **TIGHT)
    assert calls == ["pre", "post"] * 5
    assert_same_state(ours, theirs)
    ours.zero_grad()
    assert all(w.grad is None for w in ws)
