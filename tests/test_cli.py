"""The manualgrad command line: verify's table, JSON, exit codes, one-line errors."""

import json
import subprocess
import sys

import pytest
import torch

from manualgrad import cli, ops
from manualgrad.ops import OpSpec


def test_verify_one_op_passes(capsys):
    assert cli.main(["verify", "--op", "linear"]) == 0
    out = capsys.readouterr().out
    assert "linear" in out and "PASS" in out and "1/1 ops pass" in out


def test_verify_json(capsys):
    assert cli.main(["verify", "--op", "linear", "--dtype", "float32", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["name"] == "linear" and rows[0]["ok"] and rows[0]["samples"] > 5


def test_verify_exits_1_when_an_op_is_wrong(monkeypatch, capsys):
    good = ops.get("linear")
    broken = OpSpec("broken_linear", lambda x, w, b=None: good.op(x, w, b) * 1.001, good.ref,
                    good.function, good.samples)
    monkeypatch.setitem(ops.OPS_BY_NAME, "broken_linear", broken)
    assert cli.main(["verify", "--op", "broken_linear", "--no-gradcheck"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "broken_linear failures" in out


def test_unknown_op_is_a_one_line_error(capsys):
    assert cli.main(["verify", "--op", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown op 'nope'" in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_cuda_without_gpu_is_a_one_line_error():
    r = subprocess.run([sys.executable, "-m", "manualgrad", "verify", "--device", "cuda"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "no CUDA device" in r.stderr
