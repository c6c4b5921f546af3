"""Deterministic algorithms: with ``torch.use_deterministic_algorithms(True)`` every op of the table
(manualgrad/ops.py) runs, forward and backward, and two runs give bit-identical outputs and
gradients. On CUDA this holds because every backward is built from primitives torch makes
deterministic under the flag (index_add, scatter_add, gather, conv and conv_transpose, matmul) or
that never were otherwise (narrow + add, sums); where torch's own backward raises under the flag
(adaptive_avg_pool2d, reflection/replication pad, nll_loss on CUDA), ours runs."""

import contextlib
import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

import manualgrad.functional as MF
from manualgrad import ops, verify
from conftest import DEVICES


@contextlib.contextmanager
def deterministic_algorithms():
    """The global flag on (and cuBLAS's workspace setting, which torch requires for a
    deterministic matmul on CUDA), both restored afterwards, also on an exception."""
    before = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    cublas = os.environ.get("CUBLAS_WORKSPACE_CONFIG")
    try:
        os.environ["CUBLAS_WORKSPACE_CONFIG"] = cublas or ":4096:8"
        torch.use_deterministic_algorithms(True)
        yield
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
        if cublas is None:
            os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)


@pytest.fixture
def deterministic():
    with deterministic_algorithms():
        yield


def _samples():
    return [pytest.param(spec, i, id=f"{spec.name}-{i}")
            for spec in ops.OPS for i, _ in enumerate(spec.samples("cpu", torch.float32))]


def _run(spec, sample, dy=None):
    """Output and input gradients of ours on ``sample``, the RNG at seed 0 (dropout's masks)."""
    return verify.run(spec.op, sample.args, sample.kwargs, dy=dy, seed=0, clone_input=sample.clone_input)


def assert_bitwise_equal(a, b):
    """Same values bit for bit (NaN where NaN), tensor by tensor; None where None."""
    assert len(a) == len(b)
    for s, t in zip(a, b):
        assert (s is None) == (t is None)
        if s is not None:
            torch.testing.assert_close(s, t, rtol=0, atol=0, equal_nan=True)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("spec,i", _samples())
def test_every_op_runs_and_repeats_bit_for_bit(spec, i, device, deterministic):
    assert torch.are_deterministic_algorithms_enabled()
    sample = list(spec.samples(torch.device(device), torch.float32))[i]
    try:
        first = _run(spec, sample)
    except RuntimeError as e:  # torch's own kernel has no deterministic implementation (max_unpool)
        assert "does not have a deterministic implementation" in str(e)
        with pytest.raises(RuntimeError, match="does not have a deterministic implementation"):
            verify.run(spec.ref, sample.args, sample.kwargs, seed=0, clone_input=sample.clone_input)
        return
    second = _run(spec, sample, first.dy)
    assert_bitwise_equal([first.out, *first.grads], [second.out, *second.grads])


def test_the_comparison_can_fail(deterministic):
    """A different dropout seed gives different masks: the bitwise check above would notice."""
    x = torch.randn(64, requires_grad=True)
    with verify.seeded(0):
        a = MF.dropout(x, 0.5)
    with verify.seeded(1):
        b = MF.dropout(x, 0.5)
    with pytest.raises(AssertionError):
        assert_bitwise_equal([a], [b])


def test_the_flag_is_restored_after_a_failure():
    before = torch.are_deterministic_algorithms_enabled()
    with pytest.raises(ZeroDivisionError):
        with deterministic_algorithms():
            assert torch.are_deterministic_algorithms_enabled()
            1 / 0
    assert torch.are_deterministic_algorithms_enabled() == before


@pytest.mark.cuda
@pytest.mark.parametrize("case", ["adaptive_avg_pool2d", "reflect_pad", "replicate_pad", "nll_loss"])
def test_cuda_ops_torch_refuses_run_here_and_repeat(case, deterministic):
    """Under the flag torch raises for these on CUDA (its backward or kernel uses atomics); ours
    are written with matmuls, narrow + add and gather / scatter_add (deterministic under the flag),
    so they run, repeat bit for bit and equal torch's values computed without the flag."""
    x = torch.randn(4, 3, 9, 9, device="cuda", requires_grad=True)
    t = torch.randint(0, 3, (4, 9, 9), device="cuda")
    fns = {
        "adaptive_avg_pool2d": lambda f, x: f.adaptive_avg_pool2d(x, (4, 5)),
        "reflect_pad": lambda f, x: f.pad(x, (2, 1, 1, 2), mode="reflect"),
        "replicate_pad": lambda f, x: f.pad(x, (2, 1, 1, 2), mode="replicate"),
        "nll_loss": lambda f, x: f.nll_loss(f.log_softmax(x, 1), t),
    }
    fn = fns[case]
    with pytest.raises(RuntimeError, match="deterministic"):
        y = fn(F, x)
        torch.autograd.grad(y, x, torch.ones_like(y))
    runs = []
    for _ in range(2):
        y = fn(MF, x)
        runs.append([y, *torch.autograd.grad(y, x, torch.ones_like(y))])
    assert_bitwise_equal(runs[0], runs[1])
    torch.use_deterministic_algorithms(False)
    y = fn(F, x)
    want = [y, *torch.autograd.grad(y, x, torch.ones_like(y))]
    for g, h in zip(runs[0], want):
        torch.testing.assert_close(g, h)


def test_train_deterministic_twice_gives_identical_parameters(tmp_path):
    """``manualgrad train --deterministic`` (a tiny CPU run, dropout on: RNG in the loop) twice:
    the final parameters are bit-identical, and the run's hparams record the flag."""
    cmd = [sys.executable, "-m", "manualgrad", "train", "--dataset", "spirals", "--epochs", "1", "--quiet",
           "--dropout", "0.2", "--hidden", "16", "--deterministic", "--log-dir", str(tmp_path), "--name", "det"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for _ in range(2):
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
        assert r.returncode == 0, r.stderr
    a, b = (torch.load(tmp_path / "det" / f"version_{v}" / "checkpoints" / "last.pt", weights_only=True)["model"]
            for v in (0, 1))
    assert a.keys() == b.keys() and a
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert "deterministic: true" in (tmp_path / "det" / "version_0" / "hparams.yaml").read_text()


def test_use_deterministic_algorithms_sets_the_flag_and_cublas_config(monkeypatch):
    from manualgrad.train.command import use_deterministic_algorithms

    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    with deterministic_algorithms():  # restores both afterwards
        torch.use_deterministic_algorithms(False)
        use_deterministic_algorithms("cpu")
        assert torch.are_deterministic_algorithms_enabled()
        os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)  # (the context set it)
        use_deterministic_algorithms("cuda")
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
