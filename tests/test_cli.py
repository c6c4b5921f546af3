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


def test_verify_seed_reproduces_a_run(capsys):
    runs = []
    for seed in (3, 3, 4):
        assert cli.main(["verify", "--op", "mse_loss", "--no-gradcheck", "--json", "--seed", str(seed)]) == 0
        runs.append(json.loads(capsys.readouterr().out)[0])
    assert runs[0] == runs[1]  # same seed, same samples, the same errors to the last bit
    assert runs[0]["forward_err"] != runs[2]["forward_err"] or runs[0]["grad_err"] != runs[2]["grad_err"]


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


@pytest.mark.parametrize("argv,message", [
    (["--optimizer", "lbfgs"], "invalid choice: 'lbfgs'"),
    (["--lr", "-0.1"], "--lr must be > 0"),
    (["--batch-size", "0"], "--batch-size must be a positive integer or 'full'"),
    (["--hidden", "64,x"], "--hidden must be positive integers"),
    (["--dataset", "mnist", "--data-dir", "/nonexistent/mnist"], "is not a directory"),
    (["--dataset", "mnist"], "needs --data-dir"),
    (["--resume", "auto", "--name", "never_ran"], "no checkpoints/last.pt"),
    (["--model", "cnn", "--dataset", "spirals"], "--model cnn needs image data"),
    (["--lr", "inf"], "--lr must be a finite number, got inf"),
    (["--lr", "nan"], "--lr must be a finite number, got nan"),
    (["--lr", "0"], "--lr must be > 0"),
    (["--grad-clip", "-1"], "--grad-clip must be > 0, got -1.0"),
    (["--grad-clip", "nan"], "--grad-clip must be a finite number"),
    (["--grad-clip-value", "0"], "--grad-clip-value must be > 0"),
    (["--weight-decay", "nan"], "--weight-decay must be a finite number"),
    (["--momentum", "-0.5"], "--momentum must be >= 0"),
    (["--seed", str(2**64)], "argument --seed: seed 18446744073709551616 is out of range"),
    (["--seed", "x"], "argument --seed: invalid seed 'x'"),
    (["--name", "../../x"], "--name: the run name must be folder names joined by"),
    (["--name", ".."], "--name: the run name must be folder names joined by"),
    (["--resume", "."], "is not a checkpoint file (a directory?)"),
    (["--resume", "/nonexistent/last.pt"], "no checkpoint at /nonexistent/last.pt"),
])
def test_bad_train_input_is_a_one_line_error(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        sys.exit(cli.main(["train", "--log-dir", str(tmp_path), *argv]))
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1 and message in err, err


def test_verify_seed_beyond_64_bits_is_a_one_line_error(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["verify", "--op", "linear", "--seed", str(2**64)])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1 and "seed 18446744073709551616 is out of range" in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_train_on_cuda_without_gpu_is_a_one_line_error(tmp_path):
    r = subprocess.run([sys.executable, "-m", "manualgrad", "train", "--device", "cuda", "--log-dir", str(tmp_path)],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.count("\n") == 1
    assert "no CUDA device" in r.stderr


def test_train_runs_and_reports(tmp_path):
    r = subprocess.run([sys.executable, "-m", "manualgrad", "train", "--dataset", "spirals", "--epochs", "2",
                        "--quiet", "--log-dir", str(tmp_path), "--check-grads-every", "5", "--l1", "1e-4"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "test/acc" in r.stdout and "run folder:" in r.stdout and "tensorboard --logdir" in r.stdout
    assert (tmp_path / "spirals_mlp" / "version_0" / "checkpoints" / "last.pt").is_file()


def test_default_train_run_reaches_97_percent_on_digits(tmp_path):
    """The main job with no flags: ≥ 97 % test accuracy (its time is reported by the README, not tested)."""
    r = subprocess.run([sys.executable, "-m", "manualgrad", "train", "--quiet", "--log-dir", str(tmp_path)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert float(r.stdout.split("test/acc ")[1].split()[0]) >= 0.97, r.stdout


def test_train_resume_auto_continues_the_latest_run(tmp_path):
    base = [sys.executable, "-m", "manualgrad", "train", "--dataset", "spirals", "--quiet", "--log-dir", str(tmp_path)]
    first = subprocess.run(base + ["--epochs", "1"], capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    again = subprocess.run(base + ["--epochs", "2", "--resume", "auto"], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "version_0" in again.stdout and "2 epochs" in again.stdout
    assert not (tmp_path / "spirals_mlp" / "version_1").exists()
