"""``manualgrad bench``: manualgrad against torch autograd, one full training step at a time.

For each case the model is built once with ``torch.nn``; a deep copy swapped to manualgrad
(``manualgrad.swap``) has the very same weights. Each side runs forward, loss, backward and its
optimizer's step (``torch.optim.SGD`` vs ``manualgrad.optim.SGD``, momentum 0.9) on the same
batch; the two are timed interleaved, alternating which goes first, and the medians compared.
Also measured: peak memory of a step (CUDA ``max_memory_allocated``) and the bytes saved for
backward (``saved_tensors_hooks``, each storage once).
"""

from __future__ import annotations

import copy
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import torch
from torch import nn

from . import bench_models as bm
from . import nn as mnn
from . import optim as mopt
from .memory import SavedBytes
from .swap import swap


@dataclass
class Case:
    name: str
    build: Callable[[], nn.Module]                  # the torch.nn model
    batch: Callable[[torch.device, torch.dtype], tuple]  # (input, class targets)
    dtype: torch.dtype = torch.float32
    cuda_only: bool = False
    suites: tuple = ("default",)
    functional: bool = False      # swap also routes torch.nn.functional calls (F.scaled_dot_product_attention)
    requires: str | None = None   # a manualgrad.nn module the case needs: skipped, with the reason, without it


def _mlp(sizes, act=nn.ReLU):
    layers = []
    for a, b in zip(sizes[:-2], sizes[1:-1]):
        layers += [nn.Linear(a, b), act()]
    return nn.Sequential(*layers, nn.Linear(sizes[-2], sizes[-1]))


def _classes(shape, classes):
    def make(device, dtype):
        return (torch.randn(shape, device=device, dtype=dtype), torch.randint(0, classes, shape[:1], device=device))
    return make


class _Residual(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
                                  nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(x + self.body(x))


def _resnet():
    return nn.Sequential(nn.Conv2d(3, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
                         _Residual(32), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3, padding=1, bias=False),
                         nn.BatchNorm2d(64), nn.ReLU(), _Residual(64), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(64, 10))


class _Encoder(nn.Module):
    """A pre-norm Transformer encoder block over token embeddings, mean-pooled to classes."""

    def __init__(self, vocab=1000, d=256, heads=4, classes=10):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d), nn.Dropout(0.1))
        self.head = nn.Linear(d, classes)

    def forward(self, tokens):
        x = self.embed(tokens)
        h = self.norm1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        x = x + self.mlp(self.norm2(x))
        return self.head(x.mean(1))


def _tokens(shape=(32, 128), vocab=1000, classes=10, per_token=False):
    def make(device, dtype):
        targets = (shape[0] * shape[1] if per_token else shape[0],)
        return torch.randint(0, vocab, shape, device=device), torch.randint(0, classes, targets, device=device)
    return make


CASES = [
    Case("mlp 784-1024-1024-10 b512", lambda: _mlp([784, 1024, 1024, 10]), _classes((512, 784), 10)),
    Case("mlp 64-128-10 b64", lambda: _mlp([64, 128, 10]), _classes((64, 64), 10), suites=("default", "quick")),
    Case("gelu mlp 784-1024-1024-10 b512", lambda: _mlp([784, 1024, 1024, 10], nn.GELU), _classes((512, 784), 10)),
    Case("conv-bn-relu resnet 3x32x32 b128", _resnet, _classes((128, 3, 32, 32), 10)),
    Case("transformer block d256 L128 b32", _Encoder, _tokens()),
    Case("lstm 2x bidir h128 L64 b32", lambda: bm.LSTMClassifier(bidirectional=True), _tokens((32, 64))),
    Case("bf16 mlp 4x8192 b8192", lambda: _mlp([8192] * 5), _classes((8192, 8192), 8192), dtype=torch.bfloat16,
         cuda_only=True),
    # --suite models: the re-implementations of bench_models
    Case("resnet18 8x3x64x64", bm.ResNet18, _classes((8, 3, 64, 64), 1000), suites=("models",)),
    Case("mobilenetv3-small 8x3x64x64", bm.MobileNetV3Small, _classes((8, 3, 64, 64), 1000), suites=("models",)),
    Case("gpt2 2L d128 h4 4x64", bm.GPT, _tokens((4, 64), 1000, 1000, per_token=True), suites=("models",),
         functional=True),
    Case("lstm classifier 8x32", bm.LSTMClassifier, _tokens((8, 32)), suites=("models",), requires="LSTM"),
]


def skip_reason(case: Case) -> str | None:
    """Why ``case`` cannot run in this build (None: it can)."""
    if case.requires and not hasattr(mnn, case.requires):
        return f"manualgrad.nn.{case.requires} does not exist in this build"
    return None


@dataclass
class Row:
    case: str
    device: str
    compiled: bool
    torch_ms: float
    manual_ms: float
    ratio: float
    spread: float                 # (p75 − p25)/median of the per-repeat ratios
    saved_ratio: float
    torch_saved_mb: float
    manual_saved_mb: float
    peak_ratio: float | None = None
    tflops: float | None = None   # manual side, for the bf16 MLP
    extra: dict = field(default_factory=dict)


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _stepper(model, opt_cls, loss_fn, x, y, compile_: bool):
    opt = opt_cls(model.parameters(), lr=1e-4, momentum=0.9)
    forward = torch.compile(lambda a, b: loss_fn(model(a), b), fullgraph=True) if compile_ else \
        (lambda a, b: loss_fn(model(a), b))

    def step():
        opt.zero_grad(set_to_none=True)
        with torch._dynamo.config.patch(allow_rnn=True):  # Dynamo refuses nn.LSTM (torch's and ours) without it
            forward(x, y).backward()
        opt.step()
    return step, forward


def _peak(step, device) -> float:
    _sync(device)
    torch.cuda.reset_peak_memory_stats(device)
    base = torch.cuda.memory_allocated(device)
    step()
    _sync(device)
    return torch.cuda.max_memory_allocated(device) - base


def run_case(case: Case, device: torch.device, repeat: int = 20, compile_: bool = False, warmup: int = 3) -> Row:
    if compile_:  # the steppers of every case share one code object: without a reset its Dynamo cache fills
        torch._dynamo.reset()  # up (recompile_limit 8, 2 sides × 5 cases) and one case's sizes turn the next dynamic
    torch.manual_seed(0)
    ref = case.build().to(device=device, dtype=case.dtype)
    ours = copy.deepcopy(ref)
    swap(ours, functional=case.functional)  # most cases are torch.nn modules only: nothing for routing to reach
    x, y = case.batch(device, case.dtype)
    sides = {"torch": _stepper(ref, torch.optim.SGD, nn.CrossEntropyLoss(), x, y, compile_),
             "manual": _stepper(ours, mopt.SGD, mnn.CrossEntropyLoss(), x, y, compile_)}
    saved = {}
    for name, (step, forward) in sides.items():
        for _ in range(warmup):
            step()
        with SavedBytes() as counter:
            forward(x, y)
        saved[name] = counter.total
    times = {"torch": [], "manual": []}
    for r in range(repeat):
        for name in (("torch", "manual") if r % 2 == 0 else ("manual", "torch")):
            _sync(device)
            t0 = time.perf_counter()
            sides[name][0]()
            _sync(device)
            times[name].append(time.perf_counter() - t0)
    ratios = sorted(m / t for m, t in zip(times["manual"], times["torch"]))
    q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
    tm, mm = statistics.median(times["torch"]), statistics.median(times["manual"])
    row = Row(case.name, str(device), compile_, 1e3 * tm, 1e3 * mm, statistics.median(ratios),
              (q[2] - q[0]) / q[1], saved["manual"] / max(saved["torch"], 1), saved["torch"] / 2**20,
              saved["manual"] / 2**20)
    if device.type == "cuda":
        row.peak_ratio = _peak(sides["manual"][0], device) / max(_peak(sides["torch"][0], device), 1)
    if case.dtype == torch.bfloat16:
        flops = 3 * 2 * x.shape[0] * sum(m.in_features * m.out_features for m in ref.modules()
                                         if isinstance(m, nn.Linear))
        row.tflops = flops / mm / 1e12
    return row


def run_linear_cross_entropy(device: torch.device, n: int = 8192, h: int = 4096, v: int = 128256,
                             dtype: torch.dtype = torch.bfloat16, repeat: int = 5) -> Row:
    """The LM-head loss: manualgrad.functional.linear_cross_entropy (chunked) against
    Linear + F.cross_entropy (full logits), forward and backward, time and peak memory."""
    from . import functional as MF

    torch.manual_seed(0)
    x = torch.randn(n, h, device=device, dtype=dtype, requires_grad=True)
    w = (torch.randn(v, h, device=device, dtype=dtype) / h ** 0.5).requires_grad_()
    t = torch.randint(0, v, (n,), device=device)
    sides = {"torch": lambda: nn.functional.cross_entropy(nn.functional.linear(x, w), t),
             "manual": lambda: MF.linear_cross_entropy(x, w, t)}
    steps = {k: (lambda f=f: torch.autograd.grad(f(), (x, w))) for k, f in sides.items()}
    saved, times = {}, {"torch": [], "manual": []}
    for name, loss in sides.items():
        steps[name]()
        with SavedBytes() as counter:
            loss()
        saved[name] = counter.total
    for r in range(repeat):
        for name in (("torch", "manual") if r % 2 == 0 else ("manual", "torch")):
            _sync(device)
            t0 = time.perf_counter()
            steps[name]()
            _sync(device)
            times[name].append(time.perf_counter() - t0)
    ratios = sorted(m / q for m, q in zip(times["manual"], times["torch"]))
    q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
    row = Row(f"linear_cross_entropy N{n} H{h} V{v} {str(dtype)[6:]}", str(device), False,
              1e3 * statistics.median(times["torch"]), 1e3 * statistics.median(times["manual"]),
              statistics.median(ratios), (q[2] - q[0]) / q[1], saved["manual"] / max(saved["torch"], 1),
              saved["torch"] / 2**20, saved["manual"] / 2**20)
    if device.type == "cuda":
        row.peak_ratio = _peak(steps["manual"], device) / max(_peak(steps["torch"], device), 1)
    return row


def matmul_ceiling(device: torch.device, n: int = 8192, repeat: int = 10) -> float:
    """TFLOP/s of a bf16 n×n×n matmul on ``device`` (the same-process ceiling)."""
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(repeat):
        a @ b
    _sync(device)
    return 2 * n**3 * repeat / (time.perf_counter() - t0) / 1e12


def select(device: torch.device, suite: str, names=None) -> list[Case]:
    cases = [c for c in CASES if device.type == "cuda" or not c.cuda_only]
    if names:
        known = {c.name for c in cases}
        missing = [n for n in names if n not in known]
        if missing:
            raise KeyError(f"unknown case {missing[0]!r}; cases on {device.type}: {', '.join(sorted(known))}")
        return [c for c in cases if c.name in names]
    return [c for c in cases if suite == "all" or suite in c.suites]


def format_table(rows: list[Row], ceiling: float | None, skipped: dict | None = None) -> str:
    head = (f"{'case':<34} {'comp':>4} {'torch ms':>9} {'manual ms':>9} {'ratio':>6} {'±IQR':>6} "
            f"{'saved':>6} {'peak':>6}")
    lines = [head, "-" * len(head)]
    for r in rows:
        peak = "n/a" if r.peak_ratio is None else f"{r.peak_ratio:.2f}"
        lines.append(f"{r.case:<34} {'yes' if r.compiled else 'no':>4} {r.torch_ms:>9.2f} {r.manual_ms:>9.2f} "
                     f"{r.ratio:>6.3f} {r.spread:>6.3f} {r.saved_ratio:>6.2f} {peak:>6}")
        if r.tflops is not None and ceiling:
            lines.append(f"{'':<34} manual {r.tflops:.0f} TFLOP/s = {r.tflops / ceiling:.0%} of the "
                         f"{ceiling:.0f} TFLOP/s bf16 matmul ceiling")
    for name, reason in (skipped or {}).items():
        lines.append(f"{name:<34} skipped: {reason}")
    lines.append("ratio: manual/torch step time (median of interleaved repeats); saved: bytes saved for backward, "
                 "manual/torch; peak: CUDA peak memory of a step, manual/torch")
    return "\n".join(lines)


def as_json(rows: list[Row], ceiling: float | None, skipped: dict | None = None) -> dict:
    return {"torch": torch.__version__, "threads": torch.get_num_threads(), "matmul_ceiling_tflops": ceiling,
            "rows": [asdict(r) for r in rows], "skipped": dict(skipped or {})}
