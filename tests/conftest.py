import json
import os
import sys
from collections import Counter

import pytest
import torch

from child import run_python

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]


def pytest_collection_modifyitems(config, items):
    """``@pytest.mark.cuda`` tests skip cleanly where no GPU is present; ``@pytest.mark.slow``
    ones (minutes each on 2 cores) run with ``MANUALGRAD_SLOW=1``."""
    skips = {}
    if not torch.cuda.is_available():
        skips["cuda"] = pytest.mark.skip(reason="needs a CUDA device")
    if os.environ.get("MANUALGRAD_SLOW") != "1":
        skips["slow"] = pytest.mark.skip(reason="slow: run with MANUALGRAD_SLOW=1")
    for item in items:
        for marker, skip in skips.items():
            if marker in item.keywords:
                item.add_marker(skip)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def saved_bytes(fn):
    """Bytes of every tensor autograd saves while ``fn()`` runs, and the result."""
    sizes = []

    def pack(t):
        sizes.append(t.untyped_storage().nbytes() if t.numel() else 0)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return sum(sizes), len(sizes), out


def grads(fn, inputs, dy):
    """torch autograd's gradients of ``fn(*inputs)`` for ``dy``, one per input that requires grad."""
    leaves = [t for t in inputs if isinstance(t, torch.Tensor) and t.requires_grad]
    return torch.autograd.grad(fn(*inputs), leaves, dy)


def leaf(t):
    """A fresh leaf with ``t``'s values (and strides) that requires grad."""
    return t.detach().clone().requires_grad_()


def seeded_twins(name, *args, **kwargs):
    """(manualgrad.nn.<name>, torch.nn.<name>) built from the same seed: the same initial weights."""
    import manualgrad.nn as mnn
    pair = []
    for owner in (mnn, torch.nn):
        torch.manual_seed(7)
        pair.append(getattr(owner, name)(*args, **kwargs))
    return tuple(pair)


def assert_same_twin_state(ours, theirs, fresh):
    """Same repr, state_dict keys and initial parameters; ours' state_dict loads into ``fresh``
    (a new torch module of the same config) and gives torch's state."""
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for (n, a), (m, b) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert n == m
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    fresh.load_state_dict(ours.state_dict())
    assert all(torch.equal(v, theirs.state_dict()[k]) for k, v in fresh.state_dict().items())


def assert_module_matches(ours, theirs, x, dy):
    """Output and the gradients of x and every parameter, for one upstream ``dy``, equal."""
    a, b = ours(x), theirs(x)
    torch.testing.assert_close(a, b)
    ga = torch.autograd.grad(a, [x, *ours.parameters()], dy)
    gb = torch.autograd.grad(b, [x, *theirs.parameters()], dy)
    for g, h in zip(ga, gb):
        torch.testing.assert_close(g, h)


def in_subprocess(module: str, function: str, payload, timeout: int = 600) -> None:
    """``module.function(payload)`` (a module of tests/, payload JSON-able) in a child interpreter
    on one thread, for what may crash it: a segfault must not kill the test process. The function
    prints ``run <what>`` before each case and ``FAIL <why>`` on a failure, and returns the number
    of failures; the test fails with those lines, or with the case a signal interrupted. One
    thread: kernels are chosen by shape and dtype, and OpenMP on a shared machine's busy cores
    runs small ops some 40× slower."""
    code = (f"import sys, json, torch; torch.set_num_threads(1); import {module}; "
            f"sys.exit(min({module}.{function}(json.loads({json.dumps(payload)!r})), 100))")
    r = run_python(["-c", code], timeout)
    lines = r.stdout.splitlines()
    report = [ln for ln in lines if ln.startswith("FAIL")]
    if r.returncode < 0:
        report.append(f"signal {-r.returncode} in " + next((ln for ln in reversed(lines) if ln.startswith("run")), "?"))
    assert r.returncode == 0, "\n".join(report) + "\n" + r.stderr[-2000:]


def pytest_terminal_summary(terminalreporter):
    """The differential fuzzer's per-op case counts and disagreement classes (tests/test_fuzz.py)."""
    runner = sys.modules.get("fuzz.runner")
    if runner is None or not runner.tally():
        return
    write = terminalreporter.write_line
    terminalreporter.section(f"differential fuzzer ({runner.PROFILE} profile)")
    total = Counter()
    for name, counts in sorted(runner.tally().items()):
        total.update(counts)
        rest = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())
                         if k not in ("cases", "returned", "both raise", "disagree"))
        write(f"{name:34} {counts['cases']:6} cases: {counts['returned']:6} returned alike, "
              f"{counts['both raise']:5} raised alike, {counts['disagree']:5} disagree" + (f" ({rest})" if rest else ""))
    write(f"{'total':34} {total['cases']:6} cases, {total['disagree']} disagree")
