"""torch.compile: models of manualgrad modules trace in one graph (fullgraph=True, no graph
breaks per torch._dynamo.explain) and the compiled forward and hand-derived backward give the
eager results, with the aot_eager backend (traces forward and backward through our Functions
without a C++ compiler), and with inductor for a small twin of every `manualgrad bench` model,
compiled once for dynamic batch sizes (on 2 cores about 1-3 minutes of C++ compilation, most of
this file's time)."""

import copy
import functools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import manualgrad as mg
from manualgrad import bench, bench_models
import manualgrad.functional as MF


def mlp():
    return nn.Sequential(nn.Linear(12, 32), nn.LayerNorm(32), nn.GELU(), nn.Dropout(0.0), nn.Linear(32, 32),
                         nn.Tanh(), nn.Linear(32, 16), nn.SiLU(), nn.Linear(16, 4))


def cnn():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 8, 3, padding="same", groups=2), nn.GroupNorm(2, 8), nn.LeakyReLU(),
                         nn.AvgPool2d(2, ceil_mode=True), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))


def deconv():  # the transposed, 3-d and fold/unfold convolutions
    return nn.Sequential(nn.ConvTranspose2d(3, 8, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
                         nn.Unfold(2, stride=2), nn.Fold((16, 16), 2, stride=2), nn.Unflatten(1, (2, 4)),
                         nn.Conv3d(2, 2, 3, padding=1), nn.Flatten(1, 2), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(8, 4))


class Tokens(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed, self.norm, self.out = nn.Embedding(30, 16, padding_idx=0), nn.RMSNorm(16), nn.Linear(16, 4)

    def forward(self, t):
        return self.out(self.norm(self.embed(t)).mean(1))


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed, self.attn = nn.Embedding(30, 16), nn.MultiheadAttention(16, 4, batch_first=True)
        self.out = nn.Linear(16, 4)

    def forward(self, t):
        x = self.embed(t)
        causal = torch.ones(t.shape[1], t.shape[1], dtype=torch.bool).triu(1)
        return self.out((x + self.attn(x, x, x, attn_mask=causal, need_weights=False)[0]).mean(1))


def resampler():  # resampling and padding
    return nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(3, 4, 3), nn.Upsample(scale_factor=2, mode="bilinear"),
                         nn.ZeroPad2d((1, 0, 0, 1)), nn.CircularPad2d(1), nn.Conv2d(4, 4, 3),
                         nn.UpsamplingNearest2d(size=(5, 5)), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 4))


MODELS = {"mlp": (mlp, lambda: torch.randn(6, 12)), "cnn": (cnn, lambda: torch.randn(4, 3, 8, 8)),
          "deconv": (deconv, lambda: torch.randn(4, 3, 8, 8)),
          "resampler": (resampler, lambda: torch.randn(4, 3, 6, 6)),
          "tokens": (Tokens, lambda: torch.randint(0, 30, (4, 5))),
          "attention": (Attention, lambda: torch.randint(0, 30, (4, 5)))}


@pytest.mark.parametrize("name", MODELS)
def test_compiles_in_one_graph_and_matches_eager(name):
    build, data = MODELS[name]
    torch.manual_seed(0)
    model = build()
    assert not mg.swap(model).skipped
    x, y = data(), torch.randint(0, 4, (4 if name != "mlp" else 6,))
    loss_fn = mg.nn.CrossEntropyLoss(label_smoothing=0.1)

    def step(m, a, b):
        return loss_fn(m(a), b)

    explained = torch._dynamo.explain(step)(model, x, y)
    assert explained.graph_break_count == 0, explained.break_reasons
    eager = copy.deepcopy(model)
    want = step(eager, x, y)
    want.backward()
    torch._dynamo.reset()
    got = torch.compile(step, fullgraph=True, backend="aot_eager")(model, x, y)
    got.backward()
    torch.testing.assert_close(got, want)
    for (n, p), q in zip(model.named_parameters(), eager.parameters()):
        torch.testing.assert_close(p.grad, q.grad, msg=lambda m: f"{n}: {m}")
    for a, b in zip(model.buffers(), eager.buffers()):  # BatchNorm's running stats too
        torch.testing.assert_close(a, b)


INPLACE = {"relu": lambda f, x: f.relu(x, inplace=True), "leaky_relu": lambda f, x: f.leaky_relu(x, 0.1, True),
           "elu": lambda f, x: f.elu(x, 0.5, True), "silu": lambda f, x: f.silu(x, inplace=True),
           "dropout": lambda f, x: f.dropout(x, 0.3, True, inplace=True),
           "hardtanh": lambda f, x: f.hardtanh(x, -0.5, 0.5, True), "relu6": lambda f, x: f.relu6(x, True),
           "hardsigmoid": lambda f, x: f.hardsigmoid(x, True), "hardswish": lambda f, x: f.hardswish(x, True),
           "threshold": lambda f, x: f.threshold(x, 0.1, 2.0, True), "selu": lambda f, x: f.selu(x, True),
           "celu": lambda f, x: f.celu(x, 0.5, True), "mish": lambda f, x: f.mish(x, True),
           "rrelu": lambda f, x: f.rrelu(x, 0.1, 0.3, True, True)}


def _inplace_on_a_view(op, f, leaf, w):
    base = leaf * 1.5
    y = INPLACE[op](f, base[:, 1:])
    return (base * w).sum() + y.square().sum()


@pytest.mark.parametrize("op", INPLACE)
def test_inplace_op_on_a_view_compiles_and_differentiates_like_torch(op):
    """``inplace=True`` (ResNet's ``ReLU(inplace=True)``) traces in one graph; value and the
    gradient through the view's base equal eager torch's (dropout: the same mask, same seed)."""
    leaf, w = torch.randn(4, 6, requires_grad=True), torch.randn(4, 6)
    torch._dynamo.reset()
    compiled = torch.compile(functools.partial(_inplace_on_a_view, op, MF), fullgraph=True, backend="aot_eager")
    results = []
    for fn in (compiled, functools.partial(_inplace_on_a_view, op, F)):
        torch.manual_seed(1)
        loss = fn(leaf, w)
        results.append((loss, torch.autograd.grad(loss, leaf)[0]))
    for a, b in zip(*results):
        torch.testing.assert_close(a, b)


def test_gelu_backward_compiles_once_for_every_size():
    """The eager GELU backward runs over cache-sized chunks of x; traced, that loop would tie the
    graph to x's size (a recompile per batch size, and a dead end in inductor's dynamic shapes)."""
    compiled = torch.compile(lambda x: MF.gelu(x).sum(), fullgraph=True, backend="aot_eager", dynamic=True)
    torch._dynamo.reset()
    for rows in (700, 300):  # 2.7 and 1.2 chunks of float32
        x = torch.randn(rows, 512, requires_grad=True)
        with torch.compiler.set_stance("fail_on_recompile" if rows == 300 else "default"):
            torch.testing.assert_close(torch.autograd.grad(compiled(x), x)[0],
                                       torch.autograd.grad(F.gelu(x).sum(), x)[0])


class _BasicBlock(nn.Module):
    """torchvision's ResNet BasicBlock: conv-bn-relu(inplace)-conv-bn, + x, relu(inplace)."""

    def __init__(self, c):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))) + x)


def resnet():
    """The bench's conv-bn-relu ResNet in miniature, with torchvision's in-place ReLUs."""
    return nn.Sequential(_BasicBlock(4), nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 4))


# name -> (the small model, (batch, size) -> (input, its dynamic dims)); size: tokens per sequence
INDUCTOR = {"mlp": (lambda: nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 16), nn.GELU(), nn.Linear(16, 4)),
                    lambda b, s: (torch.randn(b, 12), (0,))),  # the bench's ReLU and GELU MLPs in one
            "resnet": (resnet, lambda b, s: (torch.randn(b, 4, 8, 8), (0,))),  # inductor pins a conv's image size
            "transformer": (lambda: bench._Encoder(vocab=30, d=16, heads=2, classes=4),
                            lambda b, s: (torch.randint(0, 30, (b, s)), (0, 1))),
            # --suite models, small: (input, dynamic dims[, per-token targets])
            "resnet18": (lambda: bench_models.ResNet18(classes=4, width=4), lambda b, s: (torch.randn(b, 3, 16, 16), (0,))),
            "mobilenet": (lambda: bench_models.MobileNetV3Small(classes=4, scale=0.25),
                          lambda b, s: (torch.randn(b, 3, 32, 32), (0,))),
            "gpt2": (lambda: bench_models.GPT(vocab=4, context=16, d=16, layers=1, heads=2, dropout=0.0),
                     lambda b, s: (torch.randint(0, 4, (b, s)), (0, 1), torch.randint(0, 4, (b * s,)))),
            # the recurrence is a Python loop over time steps that orders the sequences by length:
            # static shapes only (a symbolic batch or length stops Dynamo; docs/performance.md)
            "lstm": (lambda: bench_models.LSTMClassifier(vocab=30, embed=8, hidden=8, classes=4, bidirectional=True),
                     lambda b, s: (torch.randint(0, 30, (4, 6)), (), torch.randint(0, 4, (4,))))}
BENCH_TWINS = {"mlp 784-1024-1024-10 b512": "mlp", "mlp 64-128-10 b64": "mlp", "gelu mlp 784-1024-1024-10 b512": "mlp",
               "conv-bn-relu resnet 3x32x32 b128": "resnet", "transformer block d256 L128 b32": "transformer",
               "lstm 2x bidir h128 L64 b32": "lstm", "resnet18 8x3x64x64": "resnet18",
               "mobilenetv3-small 8x3x64x64": "mobilenet", "gpt2 2L d128 h4 4x64": "gpt2", "lstm classifier 8x32": "lstm",
               "bf16 mlp 4x8192 b8192": "mlp"}  # the bf16 one runs on CUDA only (.ci/gpu)


def test_every_bench_case_has_an_inductor_twin():
    assert set(BENCH_TWINS) == {c.name for c in bench.CASES}


SLOW = {"resnet18", "mobilenet"}  # 3-4 minutes of inductor compile each on 2 cores (MANUALGRAD_SLOW=1)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in INDUCTOR])
def test_inductor_training_step_equals_eager_at_two_batch_sizes(name):
    """Inductor, fullgraph: loss, every parameter gradient and BatchNorm's running stats equal
    eager manualgrad's, compiled once with dynamic batch (and sequence) dims and run at two
    batch sizes. Dropout draws torch's stream (fallback_random), as eager does."""
    build, data = INDUCTOR[name]
    torch.manual_seed(0)
    model = build()
    assert not mg.swap(model).skipped
    eager, loss_fn = copy.deepcopy(model), mg.nn.CrossEntropyLoss()
    torch._dynamo.reset()
    compiled = torch.compile(lambda a, b: loss_fn(model(a), b), fullgraph=True, backend="inductor")
    for step, (b, s) in enumerate([(4, 8), (6, 10)]):
        x, dims, *targets = data(b, s)
        y = targets[0] if targets else torch.randint(0, 4, (b,))
        for m in (model, eager):
            m.zero_grad(set_to_none=True)
        if step == 0:
            for d in dims:
                torch._dynamo.mark_dynamic(x, d)
            if dims:
                torch._dynamo.mark_dynamic(y, 0)
        torch.manual_seed(step)
        # allow_rnn: Dynamo refuses subclasses of nn.LSTM (ours are) without it
        with torch._inductor.config.patch(fallback_random=True), torch._dynamo.config.patch(allow_rnn=True), \
                torch.compiler.set_stance("fail_on_recompile" if step else "default"):
            got = compiled(x, y)
        got.backward()
        torch.manual_seed(step)
        want = loss_fn(eager(x), y)
        want.backward()
        torch.testing.assert_close(got, want, msg=lambda m: f"batch {b}: {m}")
        for (n, p), q in zip(model.named_parameters(), eager.parameters()):
            torch.testing.assert_close(p.grad, q.grad, msg=lambda m: f"batch {b}, {n}: {m}")
        for a, c in zip(model.buffers(), eager.buffers()):
            torch.testing.assert_close(a, c)
