"""Hypothesis profiles, the per-op run, its tally, and the subprocess runner for crash-prone ops.

``MANUALGRAD_FUZZ`` picks the profile: unset or ``ci`` (derandomized, CI_EXAMPLES per op, the
first disagreement fails the op and hypothesis shrinks it), ``long`` (random, LONG_EXAMPLES per
op, every disagreement is tallied by class and the op fails at the end with the smallest
reproducer of each class). ``MANUALGRAD_FUZZ_EXAMPLES`` overrides the examples per op.
``tally()`` holds per-op case counts for the terminal summary.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from .compare import disagreements
from .ops import OPS

PROFILE = os.environ.get("MANUALGRAD_FUZZ", "ci")
CI_EXAMPLES, LONG_EXAMPLES = 30, 1600  # × 34 ops: ~1,000 cases in CI, ~52,000 in the long run
_common = dict(deadline=None, print_blob=True, database=None,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
settings.register_profile("manualgrad-ci", max_examples=CI_EXAMPLES, derandomize=True, **_common)
settings.register_profile("manualgrad-long", max_examples=LONG_EXAMPLES, derandomize=False, **_common)
COLLECT = PROFILE == "long"
_EXAMPLES = int(os.environ.get("MANUALGRAD_FUZZ_EXAMPLES", 0))

_TALLY: dict[str, Counter] = {}
_SMALLEST: dict[tuple[str, str], tuple[int, str]] = {}  # (op, class) → (size, detail + reproducer)
_LOG = os.environ.get("MANUALGRAD_FUZZ_LOG")  # the subprocess writes each case here before running it


def tally() -> dict[str, Counter]:
    return _TALLY


def _record(name: str, case) -> list:
    if _LOG:
        Path(_LOG).write_text(repr(case))
    outcome, found = disagreements(*OPS[name].pair, case)
    counts = _TALLY.setdefault(name, Counter())
    counts["cases"] += 1
    counts[outcome if not found else "disagree"] += 1
    for cls, detail in found:
        counts[cls] += 1
        text = f"{detail}\n    reproduce: check({case!r})"
        if len(repr(case)) < _SMALLEST.get((name, cls), (1 << 30,))[0]:
            _SMALLEST[(name, cls)] = (len(repr(case)), text)
    return found


def fuzz(name: str) -> None:
    """Run the profile's hypothesis search over ``name``'s cases; raise on a disagreement."""
    spec = OPS[name]
    base = settings.get_profile(f"manualgrad-{PROFILE}")

    @settings(base, max_examples=max(1, round((_EXAMPLES or base.max_examples) * spec.weight)))
    @given(case=spec.cases)
    def search(case):
        found = _record(name, case)
        if found and not COLLECT:
            raise AssertionError("\n".join(f"[{c}] {d}" for c, d in found) + f"\nreproduce: check({case!r})")

    search()
    classes = sorted(cls for op, cls in _SMALLEST if op == name)
    if classes:
        raise AssertionError(f"{name}: disagreements in {sum(_TALLY[name][c] for c in classes)} checks of "
                             f"{_TALLY[name]['cases']} cases\n"
                             + "\n".join(f"[{c}] ×{_TALLY[name][c]}: {_SMALLEST[(name, c)][1]}" for c in classes))


def fuzz_in_subprocess(name: str, tmp: Path, timeout: float) -> str:
    """``fuzz(name)`` in a child process: '' when it passes, else its failure (a crash names the
    case it was running). The child's tally is merged into this process's."""
    log, counts = tmp / "case.txt", tmp / "tally.json"
    env = dict(os.environ, MANUALGRAD_FUZZ_LOG=str(log), MANUALGRAD_FUZZ_TALLY=str(counts),
               PYTHONPATH=os.pathsep.join([str(Path(__file__).parents[2]), str(Path(__file__).parents[1]),
                                           os.environ.get("PYTHONPATH", "")]))
    p = subprocess.run([sys.executable, "-m", "fuzz.runner", name], env=env, capture_output=True, text=True,
                       timeout=timeout)
    merged = _TALLY.setdefault(name, Counter())
    if counts.exists():
        merged.update(json.loads(counts.read_text()))
    if p.returncode < 0:
        case = log.read_text() if log.exists() else "?"
        merged["crash"] += 1
        _SMALLEST[(name, "crash")] = (0, f"signal {-p.returncode}\n    reproduce: check({case})")
        return f"{name}: the child died of signal {-p.returncode} on\n    check({case})"
    return "" if p.returncode == 0 else (p.stdout + p.stderr)[-6000:]


def smallest() -> dict:
    return dict(_SMALLEST)


def _main(name: str) -> int:
    try:
        fuzz(name)
        return 0
    except Exception:  # noqa: BLE001 - reported to the parent through the exit status and output
        import traceback
        traceback.print_exc()
        return 1
    finally:
        if os.environ.get("MANUALGRAD_FUZZ_TALLY"):
            Path(os.environ["MANUALGRAD_FUZZ_TALLY"]).write_text(json.dumps(_TALLY.get(name, {})))


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1]))
