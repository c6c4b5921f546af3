"""swap on whole models written with plain torch.nn: a ResNet-style CNN, a Transformer encoder
block, an MLP with every activation. After the swap, outputs, loss and every parameter gradient
equal the unswapped model's (train and eval, float64 tight, float32 assert_close defaults), the
backward graph holds only manualgrad's Functions, and BatchNorm running stats follow torch's."""

import copy

import pytest
import torch
from torch import nn

import manualgrad as mg

TIGHT = {torch.float64: dict(rtol=1e-10, atol=1e-12), torch.float32: {}}
# Nodes that carry no layer arithmetic of their own (residual adds, reshapes, head splits).
STRUCTURAL = {"AddBackward0", "ViewBackward0", "UnsafeViewBackward0", "ReshapeAliasBackward0",
              "TransposeBackward0", "PermuteBackward0", "UnsqueezeBackward0", "SqueezeBackward0",
              "SqueezeBackward1", "ExpandBackward0", "CloneBackward0", "AccumulateGrad", "TBackward0",
              "SelectBackward0", "SliceBackward0", "UnbindBackward0", "SplitBackward0", "ChunkBackward0",
              "SplitWithSizesBackward0", "ToCopyBackward0", "MeanBackward0", "SumBackward0",
              "UnflattenBackward0", "ViewBackward1"}


class ResidualBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding="same", bias=False), nn.BatchNorm2d(c)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(x + self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))))


class ResNet(nn.Module):
    def __init__(self, classes=5):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2))
        self.block = ResidualBlock(8)
        self.down = nn.Sequential(nn.Conv2d(8, 12, 3, stride=2, padding=1), nn.BatchNorm2d(12), nn.ReLU(),
                                  nn.AvgPool2d(2, ceil_mode=True))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(12, classes))
        self.loss = nn.CrossEntropyLoss(label_smoothing=0.1)

    def forward(self, x, y):
        return self.loss(self.head(self.down(self.block(self.stem(x)))), y)


class EncoderBlock(nn.Module):
    def __init__(self, vocab=20, d=16, heads=4):
        super().__init__()
        self.embed = nn.Embedding(vocab, d, padding_idx=0)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Dropout(0.1), nn.Linear(2 * d, d))
        self.drop = nn.Dropout(0.1)
        self.out = nn.Linear(d, vocab)
        self.loss = nn.CrossEntropyLoss(ignore_index=0)

    def forward(self, tokens, y):
        x = self.embed(tokens)
        h = self.norm1(x)
        causal = torch.ones(tokens.shape[1], tokens.shape[1], dtype=torch.bool).triu(1)
        a, _ = self.attn(h, h, h, key_padding_mask=tokens == 0, attn_mask=causal, need_weights=False)
        x = x + self.drop(a)
        x = x + self.mlp(self.norm2(x))
        return self.loss(self.out(x).flatten(0, 1), y.flatten())


ACTIVATIONS = [nn.ReLU(), nn.LeakyReLU(0.1), nn.ELU(), nn.GELU(approximate="tanh"), nn.SiLU(), nn.Softplus(),
               nn.Sigmoid(), nn.Tanh(), nn.Softmax(dim=-1), nn.GELU()]


class EveryActivationMLP(nn.Module):
    def __init__(self, d=6, classes=3):
        super().__init__()
        layers = []
        for act in ACTIVATIONS:
            layers += [nn.Linear(d, d), copy.deepcopy(act)]
        self.body = nn.Sequential(*layers, nn.Dropout(0.1), nn.Linear(d, classes), nn.LogSoftmax(dim=1))
        self.loss = nn.NLLLoss()

    def forward(self, x, y):
        return self.loss(self.body(x), y)


def resnet_batch(dtype):
    return torch.randn(4, 3, 8, 8, dtype=dtype), torch.randint(0, 5, (4,))


def encoder_batch(dtype):
    tokens = torch.randint(1, 20, (3, 6))
    tokens[0, 4:] = 0  # padding at the end of one sequence
    return tokens, torch.randint(0, 20, (3, 6))


def mlp_batch(dtype):
    return torch.randn(8, 6, dtype=dtype), torch.randint(0, 3, (8,))


MODELS = [(ResNet, resnet_batch), (EncoderBlock, encoder_batch), (EveryActivationMLP, mlp_batch)]
IDS = ["resnet", "encoder", "mlp"]


def torch_nodes(loss):
    """Names of the autograd nodes behind ``loss`` that are neither manualgrad's nor structural."""
    seen, stack, found = set(), [loss.grad_fn], set()
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        name = type(node).__name__
        if not name.endswith("FunctionBackward") and name not in STRUCTURAL:
            found.add(name)
        stack.extend(n for n, _ in node.next_functions)
    return found


def loss_and_grads(model, batch, seed=0):
    model.zero_grad()
    torch.manual_seed(seed)
    loss = model(*batch)
    loss.backward()
    return loss, {n: p.grad for n, p in model.named_parameters()}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("make,batch", MODELS, ids=IDS)
def test_swapped_model_equals_torch(make, batch, train, dtype):
    torch.manual_seed(0)
    ref = make().to(dtype).train(train)
    ours = copy.deepcopy(ref)
    report = mg.swap(ours)
    assert not report.skipped, str(report)
    assert ours.state_dict().keys() == ref.state_dict().keys()
    data = batch(dtype)
    want, want_grads = loss_and_grads(ref, data)
    got, got_grads = loss_and_grads(ours, data)
    assert torch_nodes(got) == set(), "torch autograd nodes left after the swap"
    torch.testing.assert_close(got, want, **TIGHT[dtype])
    for name, g in got_grads.items():
        torch.testing.assert_close(g, want_grads[name], **TIGHT[dtype], msg=lambda m: f"{name}: {m}")


@pytest.mark.parametrize("make,batch", MODELS, ids=IDS)
def test_training_steps_follow_torch_including_running_stats(make, batch):
    torch.manual_seed(1)
    ref = make().double()
    ours = copy.deepcopy(ref)
    mg.swap(ours)
    opts = [torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9) for m in (ref, ours)]
    for step in range(4):
        data = batch(torch.float64)
        for m, opt in zip((ref, ours), opts):
            opt.zero_grad()
            loss_and_grads(m, data, seed=step)
            opt.step()
    for (name, a), b in zip(ref.state_dict().items(), ours.state_dict().values()):
        torch.testing.assert_close(b, a, rtol=1e-9, atol=1e-11, msg=lambda m: f"{name}: {m}")
    mg.revert(ours)
    assert all(type(m).__module__.startswith("torch.nn") for m in ours.modules()
               if type(m).__module__.startswith(("torch", "manualgrad")))
