"""manualgrad bench and memory_report: they run and measure what they say (timings themselves are
never asserted: they belong to the benchmark's output, not to tests)."""

import json
import subprocess
import sys

import pytest
import torch
from torch import nn

import manualgrad as mg
from manualgrad import bench
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


def test_every_bench_model_swaps_completely():
    for case in bench.CASES:
        if case.cuda_only:
            continue
        report = mg.swap(case.build())
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
