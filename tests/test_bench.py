"""manualgrad bench and memory_report: they run and measure what they say (timings themselves are
never asserted: they belong to the benchmark's output, not to tests)."""

import copy
import json
import subprocess
import sys

import pytest
import torch
from torch import nn

import manualgrad as mg
from manualgrad import bench, bench_models
from manualgrad import nn as mnn
from manualgrad.memory import SavedBytes, memory_report, saved_bytes


@pytest.mark.parametrize("act", [nn.ReLU, nn.Sigmoid, nn.Tanh])
def test_saved_bytes_of_classic_mlps_are_at_most_torchs(act):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 32), act(), nn.Linear(32, 32), act(), nn.Linear(32, 5))
    x = torch.randn(16, 20)
    report = memory_report(model, x)
    assert report.manual <= report.torch and report.torch > 0
    assert [r[0] for r in report.rows] == ["0", "1", "2", "3", "4"]
    assert all(ours <= theirs for _, _, ours, theirs in report.rows)
    assert type(model[0]) is nn.Linear  # the model itself is left as it was


def test_memory_report_shows_dropouts_bit_mask():
    model = nn.Sequential(nn.Linear(8, 64), nn.Dropout(0.5), nn.Linear(64, 2))
    report = memory_report(model, torch.randn(32, 8))
    row = next(r for r in report.rows if r[1] == "Dropout")
    assert row[2] == 32 * 64 // 8 and row[2] < row[3]  # 1 bit per element (torch: a byte or a float)
    text = str(report)
    assert "Dropout" in text and "total" in text


def test_saved_bytes_counts_each_storage_once():
    x = torch.randn(100, requires_grad=True)
    nbytes, y = saved_bytes(lambda t: t * t, x)  # x saved twice by one node
    assert nbytes == 400 and y.shape == (100,)
    with SavedBytes() as counter:
        (x.sin() * x.cos()).sum()
    assert counter.total == 400 + 2 * 400 and counter.count == 4


def test_run_case_measures_a_training_step():
    case = next(c for c in bench.CASES if c.name == "mlp 64-128-10 b64")
    row = bench.run_case(case, torch.device("cpu"), repeat=3, warmup=1)
    assert row.torch_ms > 0 and row.manual_ms > 0 and row.ratio > 0 and row.peak_ratio is None
    assert row.saved_ratio <= 1.0 and row.torch_saved_mb > 0


def test_bench_cli_json_and_errors(capsys):
    r = subprocess.run([sys.executable, "-m", "manualgrad", "bench", "--suite", "quick", "--repeat", "2", "--json"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["rows"][0]["case"] == "mlp 64-128-10 b64" and out["matmul_ceiling_tflops"] is None
    from manualgrad import cli
    assert cli.main(["bench", "--case", "nope"]) == 2
    assert "unknown case 'nope'" in capsys.readouterr().err


def test_a_multi_case_bench_runs_each_case_in_its_own_process(monkeypatch, capsys):
    """A case is measured as a user runs one model, in a fresh interpreter: the parent asks one child
    per case for its row; ``--in-process`` keeps them all in one; a child asked for the compiled row
    alone (``--compile-only``) gives only that."""
    from manualgrad import cli
    children, real = [], subprocess.run

    def spy(cmd, **kwargs):
        children.append(cmd)
        return real(cmd, **kwargs)
    monkeypatch.setattr(subprocess, "run", spy)
    names = ["mlp 64-128-10 b64", "mlp 784-1024-1024-10 b512"]
    assert cli.main(["bench", "--case", names[0], "--case", names[1], "--repeat", "2", "--json"]) == 0
    assert sorted(r["case"] for r in json.loads(capsys.readouterr().out)["rows"]) == sorted(names)
    assert sorted(c[c.index("--case") + 1] for c in children) == sorted(names)
    assert all("--in-process" in c for c in children)
    children.clear()
    assert cli.main(["bench", "--case", names[0], "--case", names[1], "--repeat", "2", "--json", "--in-process"]) == 0
    assert children == [] and len(json.loads(capsys.readouterr().out)["rows"]) == 2
    assert cli.main(["bench", "--case", names[0], "--repeat", "2", "--json", "--in-process", "--compile-only"]) == 0
    assert [r["compiled"] for r in json.loads(capsys.readouterr().out)["rows"]] == [True]


def test_every_bench_model_swaps_completely():
    for case in bench.CASES:
        if case.cuda_only or bench.skip_reason(case):
            continue
        report = mg.swap(case.build(), functional=case.functional)
        assert not report.skipped, f"{case.name}: {report}"


def test_linear_cross_entropy_bench_row_on_small_sizes():
    row = bench.run_linear_cross_entropy(torch.device("cpu"), n=64, h=16, v=500, dtype=torch.float32, repeat=2)
    assert row.case.startswith("linear_cross_entropy") and row.saved_ratio < 0.5 and row.manual_ms > 0


def test_compiled_cases_in_a_row_each_start_from_a_fresh_dynamo(monkeypatch):
    """`bench --compile` runs every case's step through one code object: were Dynamo not reset per
    case, its cache of it would fill at the fifth case (recompile_limit 8, two sides per case)."""
    compile_ = torch.compile
    monkeypatch.setattr(torch, "compile", lambda fn, **kw: compile_(fn, backend="eager", **kw))
    for i in range(5):
        case = bench.Case(f"mlp {i}", lambda i=i: bench._mlp([8, 8 + i, 3]), bench._classes((4, 8), 3))
        assert bench.run_case(case, torch.device("cpu"), repeat=2, compile_=True, warmup=1).compiled


_TINY = {  # the models suite's architectures at test sizes: (model, input, targets)
    "resnet18": lambda: (bench_models.ResNet18(classes=10, width=8), torch.randn(2, 3, 32, 32), torch.tensor([1, 7])),
    "mobilenetv3": lambda: (bench_models.MobileNetV3Small(classes=10, scale=0.25), torch.randn(2, 3, 32, 32),
                            torch.tensor([3, 0])),
    "gpt": lambda: (bench_models.GPT(vocab=50, context=8, d=16, layers=1, heads=2, dropout=0.0),
                    torch.randint(0, 50, (2, 8)),
                    torch.randint(0, 50, (16,))),
    "lstm": lambda: (bench_models.LSTMClassifier(vocab=50, embed=8, hidden=12, classes=3), torch.randint(0, 50, (2, 5)),
                     torch.tensor([2, 0])),
}


@pytest.mark.parametrize("name", list(_TINY))
def test_models_suite_architectures_swap_completely_and_match_torch(name):
    """Every layer of each model runs manualgrad's backward after swap (nothing skipped, and
    F.scaled_dot_product_attention routed for the GPT), with torch's loss and gradients."""
    if name == "lstm" and not hasattr(mnn, "LSTM"):
        pytest.skip("manualgrad.nn.LSTM does not exist in this build")
    torch.manual_seed(0)
    model, x, y = _TINY[name]()
    model, x = model.double(), (x.double() if x.is_floating_point() else x)  # float32: BatchNorm over 2 values
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0  # the two sides draw their masks differently (the GPT: dropout=0.0 for its attention)
    ours = copy.deepcopy(model)
    report = mg.swap(ours, functional=True)
    assert not report.skipped and report.swapped
    grads = []
    for side in (model, ours):
        loss = nn.functional.cross_entropy(side(x), y)
        loss.backward()
        grads.append([p.grad for p in side.parameters()])
    assert [g.shape for g in grads[0]] == [g.shape for g in grads[1]]
    for theirs, mine in zip(*grads):
        torch.testing.assert_close(mine, theirs)
    if name == "gpt":
        assert ours.lm_head.weight is ours.wte.weight  # the tied head survives the deep copy and swap
        assert any("ScaledDotProduct" in type(n).__name__ or "Attention" in type(n).__name__
                   for n in _nodes(nn.functional.cross_entropy(ours(x), y).grad_fn))


def _nodes(fn, seen=None):
    seen = set() if seen is None else seen
    if fn is not None and fn not in seen:
        seen.add(fn)
        for nxt, _ in fn.next_functions:
            _nodes(nxt, seen)
    return seen


def test_models_suite_selects_its_four_cases_and_runs_a_tiny_case():
    names = [c.name for c in bench.select(torch.device("cpu"), "models")]
    assert names == ["resnet18 8x3x64x64", "mobilenetv3-small 8x3x64x64", "gpt2 2L d128 h4 4x64",
                     "lstm classifier 8x32"]
    assert not set(names) & {c.name for c in bench.select(torch.device("cpu"), "default")}
    case = bench.Case("tiny gpt", lambda: bench_models.GPT(vocab=50, context=8, d=16, layers=1, heads=2),
                      bench._tokens((2, 8), 50, 50, per_token=True), functional=True)
    row = bench.run_case(case, torch.device("cpu"), repeat=2, warmup=1)
    assert row.manual_ms > 0 and row.torch_saved_mb > 0 and row.saved_ratio > 0


def test_lstm_case_is_skipped_with_its_reason_without_manualgrad_lstm(monkeypatch, capsys):
    from manualgrad import cli
    monkeypatch.delattr(mnn, "LSTM", raising=False)
    case = next(c for c in bench.CASES if c.requires == "LSTM")
    assert bench.skip_reason(case) == "manualgrad.nn.LSTM does not exist in this build"
    assert cli.main(["bench", "--case", case.name, "--repeat", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rows"] == [] and out["skipped"] == {case.name: "manualgrad.nn.LSTM does not exist in this build"}
    assert f"{case.name:<34} skipped: manualgrad.nn.LSTM" in bench.format_table([], None, out["skipped"])


def test_bench_layers_splits_a_model_into_its_layers(capsys):
    """Every leaf layer of the model is a row (the same layer on the same shape once, with its
    count), plus the attention calls a torch function mode sees and the loss; each row timed."""
    from manualgrad import bench_layers, cli
    case = bench.Case("tiny gpt", lambda: bench_models.GPT(vocab=50, context=8, d=16, layers=2, heads=2),
                      bench._tokens((2, 8), 50, 50, per_token=True), functional=True)
    rows = bench_layers.run_layers(case, torch.device("cpu"), repeat=2, warmup=1)
    calls = {}
    for r in rows:
        calls[r.layer.split("(")[0]] = calls.get(r.layer.split("(")[0], 0) + r.calls
    # per block: 2 LayerNorms, c_attn, c_proj, fc, proj, GELU, 2 dropouts, attention; then ln_f, the head
    assert calls == {"LayerNorm": 5, "Linear": 9, "GELU": 2, "Dropout": 5, "Embedding": 2,
                     "scaled_dot_product_attention": 2, "cross_entropy ": 1}
    assert len([r for r in rows if r.layer.startswith("Linear")]) == 5  # a row a shape: the 4 per block (×2), the head
    assert all(min(r.torch_fwd_us, r.torch_bwd_us, r.manual_fwd_us, r.manual_bwd_us) > 0 for r in rows)
    assert [r.extra_ms for r in rows] == sorted((r.extra_ms for r in rows), reverse=True)
    assert "sum" in bench_layers.format_layers(rows)
    assert cli.main(["bench", "--layers", "--case", "mlp 64-128-10 b64", "--repeat", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {r["layer"].split("(")[0] for r in out} == {"Linear", "ReLU", "cross_entropy "}
