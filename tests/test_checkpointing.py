"""Activation checkpointing: ``torch.utils.checkpoint`` around manualgrad blocks (an MLP, a
Conv-BN-ReLU stack, a Transformer block with dropout p > 0 in train mode) gives the gradients of
the plain run and of the torch.nn twin under checkpoint, saves less, redraws the same dropout masks
(and provably would not without the RNG restore), keeps recompute tags from crossing the region's
boundary, and updates BatchNorm's running stats exactly as torch.nn does (twice: once per forward)."""

import contextlib
import copy

import pytest
import torch
from torch import nn
from torch.utils.checkpoint import checkpoint, checkpoint_sequential

import manualgrad.nn as mnn
from manualgrad.memory import SavedBytes

D64 = torch.float64


class Block(nn.Module):
    """Pre-LN Transformer block: x + drop(MHA(LN x)), then x + MLP(LN x) with GELU and dropout."""

    def __init__(self, lib, e=16, heads=4, p=0.5):
        super().__init__()
        self.ln1, self.ln2 = lib.LayerNorm(e), lib.LayerNorm(e)
        self.attn = lib.MultiheadAttention(e, heads, dropout=p, batch_first=True)
        self.drop = lib.Dropout(p)
        self.mlp = nn.Sequential(lib.Linear(e, 4 * e), lib.GELU(), lib.Dropout(p), lib.Linear(4 * e, e))

    def forward(self, x):
        h = self.ln1(x)
        x = x + self.drop(self.attn(h, h, h, need_weights=False)[0])
        return x + self.mlp(self.ln2(x))


def _mlp(lib):
    return nn.Sequential(lib.Linear(32, 64), lib.GELU(), lib.Dropout(0.5), lib.Linear(64, 64), lib.GELU(),
                         lib.Linear(64, 64), lib.GELU(), lib.Linear(64, 8))


def _cnn(lib):
    return nn.Sequential(lib.Conv2d(3, 8, 3, padding=1), lib.BatchNorm2d(8), lib.ReLU(),
                         lib.Conv2d(8, 8, 3, padding=1), lib.BatchNorm2d(8), lib.ReLU(), lib.Conv2d(8, 4, 1))


def _transformer(lib):
    return nn.Sequential(Block(lib), Block(lib))


MODELS = {"mlp": (_mlp, (16, 32)), "cnn": (_cnn, (4, 3, 8, 8)), "transformer": (_transformer, (3, 10, 16))}

WRAPS = {
    "plain": lambda m, x: m(x),
    "whole": lambda m, x: checkpoint(m, x, use_reentrant=False),
    "per_layer": lambda m, x: checkpoint_sequential(m, len(m), x, use_reentrant=False),
    "halves": lambda m, x: checkpoint_sequential(m, 2, x, use_reentrant=False),
    "reentrant": lambda m, x: checkpoint(m, x, use_reentrant=True),
    "no_rng_restore": lambda m, x: checkpoint(m, x, use_reentrant=False, preserve_rng_state=False),
}


def twins(name):
    """(manualgrad model, torch.nn model with the same weights, input), float64, train mode."""
    build, shape = MODELS[name]
    ours = build(mnn).to(D64)
    theirs = build(nn).to(D64)
    theirs.load_state_dict(ours.state_dict())
    return ours, theirs, torch.randn(shape, dtype=D64)


def run(model, x, wrap, seed=1):
    """(output, grads of x and every parameter) of one forward under
    ``wrap`` and a backward with a fixed random dy (``.backward()``: the reentrant checkpoint
    refuses ``autograd.grad``)."""
    x = x.detach().requires_grad_()
    for p in model.parameters():
        p.grad = None
    torch.manual_seed(seed)
    out = WRAPS[wrap](model, x)
    dy = torch.randn(out.shape, dtype=out.dtype, generator=torch.Generator().manual_seed(7))
    out.backward(dy)
    return out.detach(), [x.grad, *(p.grad for p in model.parameters())]


def assert_same(a, b, **tol):
    assert len(a) == len(b)
    for g, h in zip(a, b):
        torch.testing.assert_close(g, h, **tol)


@pytest.mark.parametrize("wrap", ["whole", "per_layer", "halves", "reentrant"])
@pytest.mark.parametrize("name", list(MODELS))
def test_gradients_equal_the_plain_run_and_the_torch_twin(name, wrap):
    ours, theirs, x = twins(name)
    out0, plain = run(copy.deepcopy(ours), x, "plain")
    out, got = run(ours, x, wrap)
    torch.testing.assert_close(out, out0, rtol=0, atol=0)  # same masks, same arithmetic: bit for bit
    assert_same(got, plain, rtol=0, atol=0)
    _, want = run(theirs, x, wrap)
    assert_same(got, want)  # float64 default tolerances (1e-7 relative)


@pytest.mark.parametrize("name", list(MODELS))
def test_without_the_rng_restore_the_masks_differ(name):
    """The equality above is no accident: with ``preserve_rng_state=False`` the recomputation
    draws new dropout masks and the gradients (not the output) change. The CNN has no dropout:
    for it the restore must not matter."""
    ours, _, x = twins(name)
    out0, plain = run(copy.deepcopy(ours), x, "plain")
    out, got = run(ours, x, "no_rng_restore")
    torch.testing.assert_close(out, out0, rtol=0, atol=0)
    if name == "cnn":
        assert_same(got, plain, rtol=0, atol=0)
    else:
        assert max((g - h).abs().max().item() for g, h in zip(got, plain)) > 1e-3


def activation_bytes(model, x, wrap):
    """Bytes of the distinct storages autograd keeps from forward to backward, parameters left
    out (a layer saving its weight costs nothing)."""
    with SavedBytes(ignore=model.parameters()) as counter:
        WRAPS[wrap](model, x.detach().requires_grad_())
    return counter.total


@pytest.mark.parametrize("name, whole, halves", [("mlp", 8, 1.75), ("cnn", 6, None), ("transformer", 30, 1.8)])
def test_saved_activation_bytes_drop(name, whole, halves):
    """Measured (plain / checkpointed): the whole model checkpointed keeps only its input: 9.0x
    less for the MLP, 6.3x for the CNN, 32.7x for the two Transformer blocks; the first half
    checkpointed (``checkpoint_sequential``, 2 segments: torch runs the last one plainly) 1.81x
    (MLP) and 1.88x (one of the two blocks). The CNN's first segment (conv, BN, ReLU) saves as
    much as its output does, so halves gain nothing there."""
    ours, _, x = twins(name)
    plain = activation_bytes(ours, x, "plain")
    assert activation_bytes(ours, x, "whole") == x.nbytes
    assert plain >= whole * x.nbytes
    if halves is not None:
        assert plain >= halves * activation_bytes(ours, x, "halves")


def test_running_stats_are_updated_as_torch_nn_does_under_checkpoint():
    """torch.nn.BatchNorm under checkpoint updates its running stats twice (the recomputation is a
    second training-mode forward) and counts two batches; manualgrad's does exactly the same."""
    ours, theirs, x = twins("cnn")
    run(ours, x, "whole")
    run(theirs, x, "whole")
    for key, value in theirs.state_dict().items():
        torch.testing.assert_close(ours.state_dict()[key], value)
    assert int(ours[1].num_batches_tracked) == 2
    fresh = twins("cnn")[0]
    run(fresh, x, "plain")
    assert not torch.equal(fresh[1].running_mean, ours[1].running_mean)  # the test can fail


# Splits of the CNN/MLP where a recompute tag (GELU's or BatchNorm/ReLU's output, see
# functions/_recompute.py) crosses the checkpoint boundary, into it or out of it.
SPLITS = {
    "gelu_outside_linear_inside": ("mlp", lambda m, x: checkpoint(m[7], m[:7](x), use_reentrant=False)),
    "gelu_inside_linear_outside": ("mlp", lambda m, x: m[7](checkpoint(m[:7], x, use_reentrant=False))),
    "bn_outside_relu_conv_inside": ("cnn", lambda m, x: checkpoint(m[2:], m[:2](x), use_reentrant=False)),
    "relu_inside_conv_outside": ("cnn", lambda m, x: m[6](checkpoint(m[:6], x, use_reentrant=False))),
    "bn_relu_outside_conv_inside": ("cnn", lambda m, x: checkpoint(m[3:], m[:3](x), use_reentrant=False)),
}


OUTER = {  # what the whole run is wrapped in: checkpoint re-creates its input objects under hooks
    "none": contextlib.nullcontext,
    "observer": lambda: torch.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t),
    "save_on_cpu": torch.autograd.graph.save_on_cpu,
    "memory.SavedBytes": SavedBytes,
}


@pytest.mark.parametrize("outer", list(OUTER))
@pytest.mark.parametrize("split", list(SPLITS))
def test_recompute_tags_across_the_checkpoint_boundary(split, outer, monkeypatch):
    """A tagged activation made outside a checkpoint region and consumed inside it (or the other
    way) gives the plain run's gradients, also when the run is inside other saved-tensor hooks:
    the tag is not used across the boundary (checkpoint's recomputation then sees a fresh,
    untagged input object; using the tag gave a wrong dW, 0.3 off)."""
    name, fn = SPLITS[split]
    monkeypatch.setitem(WRAPS, "split", fn)
    ours, _, x = twins(name)
    out0, plain = run(copy.deepcopy(ours), x, "plain")
    with OUTER[outer]():
        out, got = run(ours, x, "split")
    torch.testing.assert_close(out, out0, rtol=0, atol=0)
    assert_same(got, plain, rtol=0, atol=0)
