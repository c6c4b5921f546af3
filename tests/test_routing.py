"""Functional routing (manualgrad.routing): inside `manual()` and while a swapped model runs, the
torch.nn.functional calls, torch functions and tensor methods manualgrad implements run its
Functions; results and gradients equal torch's (float64); outside, after revert and on another
thread they are torch's again; exceptions leave no mode behind; a layer recomputed by checkpointing
is routed again. torch.compile: tests/test_routing_compile.py; models written as function calls
(tiny Hugging Face BERT and Llama, a resampling decoder): tests/test_routing_models.py."""

import copy
import threading
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import manualgrad as mg
from manualgrad.routing import ROUTES, Routing, routing
from torch.overrides import _get_current_function_mode_stack


TIGHT = dict(rtol=1e-12, atol=1e-13)


class Inline(nn.Module):
    """Layers written as function calls, as Hugging Face and timm write them."""

    def __init__(self, d=8, heads=2):
        super().__init__()
        self.w1, self.b1 = nn.Parameter(torch.randn(d, d) / d**0.5), nn.Parameter(torch.randn(d) / 10)
        self.w2 = nn.Parameter(torch.randn(5, d) / d**0.5)
        self.ln_w, self.ln_b = nn.Parameter(1 + torch.randn(d) / 10), nn.Parameter(torch.randn(d) / 10)
        self.heads = heads

    def forward(self, x):
        h = F.gelu(F.linear(x, self.w1, self.b1))
        h = torch.tanh(h) + F.relu(h).softmax(-1)
        h = F.layer_norm(h, h.shape[-1:], self.ln_w, self.ln_b)
        b, t, d = h.shape
        q = h.view(b, t, self.heads, d // self.heads).transpose(1, 2)
        a = F.scaled_dot_product_attention(q, q, q, is_causal=True).transpose(1, 2).reshape(b, t, d)
        return F.linear(h + a, self.w2)


def batch(dtype=torch.float64):
    torch.manual_seed(1)
    return torch.randn(3, 4, 8, dtype=dtype), torch.randint(0, 5, (3 * 4,))


def loss_fn(y, target):
    return F.cross_entropy(y.flatten(0, 1), target, label_smoothing=0.1)


def grads(model, x, target):
    model.zero_grad()
    loss = loss_fn(model(x), target)
    loss.backward()
    return loss, [p.grad for p in model.parameters()]


def test_manual_block_runs_manualgrad_and_equals_torch():
    torch.manual_seed(0)
    ref, x, target = Inline().double(), *batch()
    model = copy.deepcopy(ref)
    want, want_grads = grads(ref, x, target)
    with mg.manual():
        assert routing()
        got, got_grads = grads(model, x, target)  # the loss's F.cross_entropy too
    assert not routing()
    torch.testing.assert_close(got, want, **TIGHT)
    for g, w in zip(got_grads, want_grads):
        torch.testing.assert_close(g, w, **TIGHT)
    with mg.manual():
        report = mg.coverage(model, x, loss_fn=lambda y: loss_fn(y, target))
    assert report.heavy == [] and report.param_share == 1.0, str(report)  # no torch math node left
    assert {"GELUFunctionBackward", "TanhFunctionBackward", "SoftmaxFunctionBackward", "LayerNormFunctionBackward",
            "CrossEntropyFunctionBackward", "ScaledDotProductAttentionFunctionBackward"} <= set(
                report.names["manualgrad"])
    outside = mg.coverage(model, x, loss_fn=lambda y: loss_fn(y, target))
    assert {"GeluBackward0", "TanhBackward0", "SoftmaxBackward0", "NativeLayerNormBackward0"} <= \
        {h.name for h in outside.heavy} and outside.param_share == 0.0


def test_swap_routes_the_forward_and_revert_stops_it():
    torch.manual_seed(0)
    ref, x, target = Inline().double(), *batch()
    model = copy.deepcopy(ref)
    report = mg.swap(model)
    assert report.functional and "functional routing on" in str(report) and not report.swapped
    assert mg.coverage(model, x).heavy == []
    want, want_grads = grads(ref, x, target)
    got, got_grads = grads(model, x, target)
    torch.testing.assert_close(got, want, **TIGHT)
    for g, w in zip(got_grads, want_grads):
        torch.testing.assert_close(g, w, **TIGHT)
    assert not routing()  # only while the model runs: the loss above ran torch's cross_entropy
    mg.swap(model)
    assert len(model._forward_pre_hooks) == 1 and len(model._forward_hooks) == 1  # attached once
    assert mg.coverage(copy.deepcopy(model), x).heavy == []  # a deep copy keeps its routing
    back = mg.revert(model)
    assert back.functional and "functional routing removed" in str(back)
    assert not model._forward_pre_hooks and not model._forward_hooks and not model._forward_hooks_always_called
    assert "GeluBackward0" in {h.name for h in mg.coverage(model, x).heavy}


def test_functional_off_and_selections():
    model = nn.Sequential(nn.Linear(4, 4), nn.Tanh())
    assert not mg.swap(copy.deepcopy(model), functional=False).functional
    assert not mg.swap(copy.deepcopy(model), exclude=["1"]).functional  # a selection: off unless asked
    assert mg.swap(copy.deepcopy(model), exclude=["1"], functional=True).functional
    mg.swap(model, functional=False)
    assert not model._forward_pre_hooks and "functional" not in str(mg.swap(model, functional=False))


def test_another_thread_is_not_routed():
    x = torch.randn(4, 4, requires_grad=True)
    inside, seen = threading.Barrier(2), {}

    def other():
        inside.wait()  # the main thread is in its manual() block now
        seen["other"] = type(torch.tanh(x).grad_fn).__name__
        inside.wait()

    (t := threading.Thread(target=other)).start()
    with mg.manual():
        inside.wait()
        seen["main"] = type(torch.tanh(x).grad_fn).__name__
        inside.wait()  # still inside while the other thread ran
    t.join()
    assert seen == {"main": "TanhFunctionBackward", "other": "TanhBackward0"}


class Raises(nn.Module):
    def forward(self, x):
        assert routing()
        raise ValueError("boom")


def test_exceptions_leave_no_mode_behind():
    with pytest.raises(ValueError, match="boom"):
        with mg.manual():
            raise ValueError("boom")
    assert not routing() and not _get_current_function_mode_stack()
    model = Raises()
    mg.swap(model)
    with pytest.raises(ValueError, match="boom"):
        model(torch.randn(2, 3))
    assert not routing() and not _get_current_function_mode_stack()
    model.register_forward_pre_hook(lambda m, a: 1 / 0)  # a later pre-hook raises: ours exits too
    with pytest.raises(ZeroDivisionError):
        model(torch.randn(2, 3))
    assert not _get_current_function_mode_stack()


class Outer(nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(torch.tanh(x))


def test_nested_swapped_models_enter_one_mode():
    depths = []
    inner = nn.Sequential(nn.Linear(3, 3))
    inner.register_forward_hook(lambda *a: depths.append(sum(isinstance(m, Routing)
                                                             for m in _get_current_function_mode_stack())))
    mg.swap(inner)
    outer = Outer(inner)
    mg.swap(outer)
    y = outer(torch.randn(2, 3, requires_grad=True))
    assert depths == [1] and not _get_current_function_mode_stack()
    assert type(y.grad_fn.next_functions[0][0]).__name__ == "TanhFunctionBackward"


def test_adapters_keep_torch_semantics():
    x = torch.randn(3, 4, requires_grad=True)
    with mg.manual():
        y = torch.softmax(x, 1, torch.float64)  # dtype third, as torch.softmax's (F.softmax's is _stacklevel)
        assert y.dtype == torch.float64 and type(y.grad_fn).__name__ == "SoftmaxFunctionBackward"
        assert type(x.log_softmax(dim=0).grad_fn).__name__ == "LogSoftmaxFunctionBackward"
        with torch.no_grad():
            torch.tanh(x, out=(out := torch.empty(3, 4)))  # out=: torch's own
        h = x * 1
        assert F.relu_(h) is h and type(h.grad_fn).__name__ == "ReLUFunctionBackward"
        with torch.no_grad():  # grad mode off: nothing to hand-derive, torch's own runs
            assert torch.tanh(x).grad_fn is None
    torch.testing.assert_close(out, torch.tanh(x).detach())
    assert {torch.tanh, torch.Tensor.softmax, F.gelu, F.scaled_dot_product_attention, F.cross_entropy} <= set(ROUTES)


class Block(nn.Module):
    def __init__(self, d=8):
        super().__init__()
        self.w = nn.Parameter(torch.randn(d, d) / d**0.5)

    def forward(self, x):
        h = F.silu(F.linear(x, self.w)).unsqueeze(1)
        return F.scaled_dot_product_attention(h, h, h, enable_gqa=True).squeeze(1).log_softmax(-1)


class Checkpointed(Outer):
    def forward(self, x):
        return torch.utils.checkpoint.checkpoint(self.inner, x, use_reentrant=self.reentrant)


@pytest.mark.parametrize("reentrant", [False, True], ids=["non-reentrant", "reentrant"])
def test_a_layer_recomputed_by_checkpointing_is_routed_again(reentrant):
    torch.manual_seed(0)
    ref, x = Checkpointed(Block()).double(), torch.randn(3, 5, 8, dtype=torch.float64, requires_grad=True)
    ref.reentrant = reentrant
    model = copy.deepcopy(ref)
    mg.swap(model)  # routing hooks on the block too: its recompute in backward enters the mode again
    grads = []
    for m in (ref, model):  # before the fix: CheckpointError, the recompute saved torch's tensors
        x.grad = None
        m(x).square().sum().backward()
        grads.append((x.grad, m.inner.w.grad))
    for g, w in zip(*grads):
        torch.testing.assert_close(g, w, **TIGHT)


class Recording(torch.overrides.TorchFunctionMode):
    """A user's torch function mode that records the name of every call it sees."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.seen.append(getattr(func, "__name__", str(func)))
        return func(*args, **(kwargs or {}))


def test_a_functional_is_one_op_to_a_function_mode():
    """A manualgrad functional (its checks included: BatchNorm's make dozens of torch calls) and a
    Function run as one op to the torch function modes, as torch's own ops do; the modes are back
    on the stack afterwards, also after an error; a functional that calls the user's code (the
    triplet loss's distance function) leaves that code to the modes."""
    x = torch.randn(4, 3, 5, dtype=torch.float64, requires_grad=True)
    rm, rv, w = torch.zeros(3, dtype=x.dtype), torch.ones(3, dtype=x.dtype), torch.ones(2, 5, dtype=x.dtype)
    short, (a, p, n) = torch.zeros(2), (torch.randn(2, 4, requires_grad=True) for _ in range(3))
    with Recording() as mode:
        z = mg.functional.linear(mg.functional.batch_norm(x, rm, rv, training=True), w)
        assert mode.seen == [] and _get_current_function_mode_stack() == [mode]
        with pytest.raises(RuntimeError, match="running_mean should contain 3 elements not 2"):
            mg.functional.batch_norm(x, short, short, training=True)
        assert mode.seen == [] and _get_current_function_mode_stack() == [mode]
        mg.functional.triplet_margin_with_distance_loss(a, p, n, distance_function=lambda u, v: (u - v).abs().sum(-1))
        assert "abs" in mode.seen
    torch.testing.assert_close(z, F.linear(F.batch_norm(x, torch.zeros_like(rm), torch.ones_like(rv), training=True),
                                           w), **TIGHT)


@pytest.mark.parametrize("case", ["softmax", "dropout2d", "dropout3d", "embedding_bag", "mse_loss"])
def test_a_functional_warning_names_its_caller(case):
    """Deprecation and size warnings point at the line that called the functional, as torch's do,
    through the autocast and one_op wrappers, with and without a torch function mode on."""
    calls = {
        "softmax": lambda f: f.softmax(torch.randn(2, 3)),
        "dropout2d": lambda f: f.dropout2d(torch.randn(2, 3, 4)),
        "dropout3d": lambda f: f.dropout3d(torch.randn(2, 3, 4)),
        "embedding_bag": lambda f: f.embedding_bag(torch.randn(5, 2), torch.tensor([[0, 1]])),
        "mse_loss": lambda f: f.mse_loss(torch.randn(2, 3), torch.randn(3)),
    }
    def caller_lines(f, mode=None):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if mode is None:
                calls[case](f)
            else:
                with mode:
                    calls[case](f)
        return [w.filename for w in caught]

    assert caller_lines(F) == [__file__]
    assert caller_lines(mg.functional) == [__file__]
    assert caller_lines(mg.functional, Recording()) == [__file__]
