"""The differential fuzzer (tests/fuzz/): every op of ``manualgrad.functional`` that torch also has,
on hypothesis-drawn shapes, layouts, dtypes, options and values, must behave as torch's: the same
exception type where torch raises, the same outputs, mutated arguments and gradients otherwise.

``MANUALGRAD_FUZZ=long`` selects the long profile; the terminal summary lists per-op case counts
and disagreement classes. Crash-prone ops (half-precision conv) run in a subprocess, and in the
long profile every op does (torch itself has crashed there: a crash fails the op, names its
case, and a fresh child goes on with the cases left).
"""

import pytest

from fuzz.ops import OPS
from fuzz.runner import PROFILE, fuzz, fuzz_in_subprocess

pytestmark = pytest.mark.fuzz


@pytest.mark.parametrize("name", list(OPS))
def test_ours_behaves_as_torch(name, tmp_path):
    if PROFILE == "long":
        failure = fuzz_in_subprocess(name, tmp_path, timeout=3600, restarts=5)
        assert not failure, failure
    elif OPS[name].isolated:
        failure = fuzz_in_subprocess(name, tmp_path, timeout=300)
        assert not failure, failure
    else:
        fuzz(name)


def test_a_crash_in_the_subprocess_fails_the_op_and_names_its_case(tmp_path, monkeypatch):
    """The child dies of SIGSEGV on its first case (a sitecustomize makes torch's conv1d read
    address 0): the parent survives, fails the op and prints the case as a reproducer."""
    import fuzz.runner as runner

    (tmp_path / "sitecustomize.py").write_text(
        "import ctypes, torch.nn.functional as F\nF.conv1d = lambda *a, **k: ctypes.string_at(0)\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setattr(runner, "_TALLY", {})  # keep this run out of the summary
    monkeypatch.setattr(runner, "_SMALLEST", {})
    failure = fuzz_in_subprocess("conv1d[half]", tmp_path, timeout=300)
    assert "signal 11" in failure and "check(Case('conv1d', (T(" in failure, failure
    assert runner.tally()["conv1d[half]"]["crash"] == 1
