"""torch.func through manualgrad: vmap (forward and per-sample gradients) over the op table
against a Python loop, per-sample gradients of an MLP and a CNN against single-sample backward
passes and the torch.nn twins, jacrev of an MLP. Forward mode: tests/test_func_jvp.py."""

import warnings

import pytest
import torch
from torch.func import functional_call, grad, jacrev, vmap

import manualgrad.functional as MF
import manualgrad.nn as MN
from manualgrad import ops, verify

B = 3  # batch of the vmapped copies
# ops torch's own vmap refuses outright ("Batching rule not implemented for aten::lstm.input"): ours
# vmap, and are held to their own loop on every sample
TORCH_CANNOT_VMAP = {"rnn_tanh", "rnn_relu", "lstm", "gru", "rnn_tanh_cell", "rnn_relu_cell", "lstm_cell", "gru_cell"}


def _copies(t: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """B versions of ``t`` stacked on dim 0: t itself and permutations of its elements (values
    stay valid: probabilities in [0, 1], class indices in range)."""
    flat = t.detach().reshape(-1)
    perms = [flat[torch.randperm(flat.numel(), generator=gen)].view(t.shape) for _ in range(B - 1)]
    return torch.stack([t.detach(), *perms])


def _batched(fn, sample):
    """``f(*tensors)`` = ``fn`` on the sample with every tensor argument replaced, and the B stacked
    versions of those tensors; plus which of them are differentiable."""
    vals = list(sample.args) + list(sample.kwargs.values())
    slots = [i for i, a in enumerate(vals) if isinstance(a, torch.Tensor)]
    n, keys = len(sample.args), list(sample.kwargs)

    def f(*ts):
        new = list(vals)
        for i, t in zip(slots, ts):
            new[i] = t
        args = new[:n]
        if sample.clone_input:
            args[0] = args[0].clone()
        return fn(*args, **dict(zip(keys, new[n:])))

    gen = torch.Generator().manual_seed(0)
    argnums = tuple(k for k, i in enumerate(slots) if vals[i].requires_grad)
    return f, [_copies(vals[i], gen) for i in slots], argnums


def _loop(f, stacked, seed):
    outs = []
    for b in range(B):
        with verify.seeded(seed):
            outs.append(f(*[s[b] for s in stacked]))
    return [torch.stack(o) for o in zip(*outs)] if isinstance(outs[0], tuple) else torch.stack(outs)


def _cases(spec):
    """(sample, f, stacked, argnums, seed) of every sample that torch itself can vmap."""
    seed = 0 if spec.seeded else None
    for sample in spec.samples(torch.device("cpu"), torch.float64):
        f, stacked, argnums = _batched(spec.op, sample)
        if spec.name.split(".")[0] in TORCH_CANNOT_VMAP:
            if "batch_sizes" not in sample.kwargs:  # a packed sequence's layout is not batchable
                yield sample, f, stacked, argnums, seed
            continue
        ref, _, _ = _batched(spec.ref, sample)
        try:
            with verify.seeded(seed):
                theirs = vmap(ref, randomness="same")(*stacked)
        except Exception:  # noqa: BLE001 - not batchable for torch either (e.g. one broadcast sample)
            continue
        if isinstance(theirs, torch.Tensor) and theirs.shape != _loop(ref, stacked, seed).shape:
            continue  # torch's own vmap disagrees with its loop (a 1-d linear input with a (1, out) bias)
        yield sample, f, stacked, argnums, seed


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's deprecation and "batching rule" performance warnings
        yield


@pytest.mark.parametrize("spec", ops.OPS, ids=lambda s: s.name)
def test_vmap_forward_equals_loop(spec):
    n = 0
    for sample, f, stacked, _, seed in _cases(spec):
        with verify.seeded(seed):
            got = vmap(f, randomness="same")(*stacked)
        torch.testing.assert_close(got, _loop(f, stacked, seed), equal_nan=True, msg=lambda m: f"{sample}: {m}")
        n += 1
    assert n > 0


@pytest.mark.parametrize("spec", ops.OPS, ids=lambda s: s.name)
def test_vmap_of_grad_equals_loop(spec):
    """Per-sample gradients of Σ op(...) ⊙ dy (one random dy for all) with respect to every
    differentiable input."""
    n = 0
    for sample, f, stacked, argnums, seed in _cases(spec):
        if not argnums:
            continue
        with verify.seeded(seed):
            dy = torch.randn_like(f(*[s[0] for s in stacked]))

        def loss(*ts):
            with verify.seeded(seed):
                return (f(*ts) * dy).sum()

        got = vmap(grad(loss, argnums=argnums), randomness="same")(*stacked)
        want = [torch.stack(g) for g in zip(*[grad(loss, argnums=argnums)(*[s[b] for s in stacked])
                                               for b in range(B)])]
        torch.testing.assert_close(list(got), want, equal_nan=True, msg=lambda m: f"{sample}: {m}")
        n += 1
    assert n > 0


def test_vmap_dropout_draws_a_mask_per_sample():
    x = torch.randn(B, 64, dtype=torch.float64)
    y = vmap(lambda v: MF.dropout(v, 0.5), randomness="different")(x)
    kept = y != 0
    torch.testing.assert_close(y[kept], 2 * x[kept])
    assert not torch.equal(kept[0], kept[1])
    g = vmap(grad(lambda v: MF.dropout(v, 0.5).sum()), randomness="different")(x)
    assert set(g.unique().tolist()) <= {0.0, 2.0}


@pytest.mark.parametrize("op", ["relu", "leaky_relu", "elu", "silu"])
def test_vmap_of_inplace_activation(op):
    """Under torch.func an in-place activation runs out of place and is copied into its input."""
    x = torch.randn(B, 5, dtype=torch.float64)
    f = lambda v: getattr(MF, op)(v.clone(), inplace=True).square().sum()  # noqa: E731
    g = lambda v: getattr(torch.nn.functional, op)(v.clone(), inplace=True).square().sum()  # noqa: E731
    torch.testing.assert_close(vmap(grad(f))(x), vmap(grad(g))(x))


def test_value_checks_are_skipped_under_vmap_not_outside():
    x, t = torch.randn(B, 4, 3, dtype=torch.float64), torch.tensor([[0, 1, 2, 1]] * B)
    torch.testing.assert_close(vmap(MF.cross_entropy)(x, t), vmap(torch.nn.functional.cross_entropy)(x, t))
    with pytest.raises(IndexError, match="Target 5 is out of bounds"):
        MF.cross_entropy(x[0], torch.tensor([0, 1, 5, 1]))


def test_embedding_sparse_refused_under_transforms():
    w, idx = torch.randn(5, 3), torch.tensor([[0, 4], [1, 2]])
    with pytest.raises(NotImplementedError, match="embedding: sparse=True .* torch.func"):
        vmap(lambda i: MF.embedding(i, w, sparse=True))(idx)


# ---------------------------------------------------------------- models: per-sample gradients


def _mlp(nn):
    torch.manual_seed(0)
    return torch.nn.Sequential(nn.Linear(6, 8), nn.GELU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3)).double()


def _cnn(nn, norm):
    torch.manual_seed(0)
    layer = nn.GroupNorm(2, 4) if norm == "group" else nn.BatchNorm2d(4)
    model = torch.nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), layer, nn.ReLU(), nn.MaxPool2d(2),
                                torch.nn.Flatten(), nn.Linear(4 * 3 * 3, 3)).double()
    if norm == "batch":  # eval mode: running statistics (training-mode BN mixes the samples)
        layer.running_mean.uniform_(-0.5, 0.5)
        layer.running_var.uniform_(0.5, 2.0)
        model.eval()
    return model


def _per_sample_grads(model, loss_fn, x, t):
    params = {k: v.detach() for k, v in model.named_parameters()}

    def loss(p, xi, ti):
        return loss_fn(functional_call(model, p, (xi.unsqueeze(0),)), ti.unsqueeze(0))

    return vmap(grad(loss), in_dims=(None, 0, 0))(params, x, t)


def _loop_grads(model, loss_fn, x, t):
    grads = []
    for i in range(x.shape[0]):
        model.zero_grad()
        loss_fn(model(x[i:i + 1]), t[i:i + 1]).backward()
        grads.append({k: p.grad.clone() for k, p in model.named_parameters()})
    return {k: torch.stack([g[k] for g in grads]) for k in grads[0]}


@pytest.mark.parametrize("kind", ["mlp", "cnn-group", "cnn-batch-eval"])
def test_per_sample_gradients(kind):
    """vmap(grad) of a manualgrad model equals single-sample backward passes (float64, tight) and
    the torch.nn twin's per-sample gradients."""
    if kind == "mlp":
        ours, twin, x = _mlp(MN), _mlp(torch.nn), torch.randn(5, 6, dtype=torch.float64)
    else:
        norm = kind.split("-")[1]
        ours, twin, x = _cnn(MN, norm), _cnn(torch.nn, norm), torch.randn(5, 1, 6, 6, dtype=torch.float64)
    twin.load_state_dict(ours.state_dict())
    t = torch.tensor([0, 2, 1, 1, 0])
    got = _per_sample_grads(ours, MN.CrossEntropyLoss(), x, t)
    tight = {"rtol": 1e-10, "atol": 1e-12}
    torch.testing.assert_close(got, _loop_grads(ours, MN.CrossEntropyLoss(), x, t), **tight)
    torch.testing.assert_close(got, _per_sample_grads(twin, torch.nn.CrossEntropyLoss(), x, t), **tight)


def test_jacrev_of_mlp_equals_torch():
    ours, twin = _mlp(MN), _mlp(torch.nn)
    twin.load_state_dict(ours.state_dict())
    x = torch.randn(4, 6, dtype=torch.float64)
    torch.testing.assert_close(jacrev(ours)(x), jacrev(twin)(x), rtol=1e-10, atol=1e-12)
    params = {k: v.detach() for k, v in ours.named_parameters()}
    got = jacrev(lambda p: functional_call(ours, p, (x,)))(params)
    want = jacrev(lambda p: functional_call(twin, p, (x,)))(params)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
