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
CI_EXAMPLES, LONG_EXAMPLES = 30, 1600  # × 34 ops (weighted): ~960 drawn in CI, ~51,000 long
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
    counts = _TALLY.setdefault(name, Counter())
    if _LOG:  # the parent reads the counts so far and the case, should this one crash
        Path(_LOG).write_text(json.dumps({"case": repr(case), "tally": counts}))
    outcome, found = disagreements(*OPS[name].pair, case)
    counts["cases"] += 1
    counts[outcome if not found else "disagree"] += 1
    for cls, detail in found:
        counts[cls] += 1
        text = f"{detail}\n    reproduce: check({case!r})"
        if len(repr(case)) < _SMALLEST.get((name, cls), (1 << 30,))[0]:
            _SMALLEST[(name, cls)] = (len(repr(case)), text)
    return found


def _examples(name: str) -> int:
    if os.environ.get("MANUALGRAD_FUZZ_CASES"):  # a restarted child: what its predecessor left
        return int(os.environ["MANUALGRAD_FUZZ_CASES"])
    return max(1, round((_EXAMPLES or settings.get_profile(f"manualgrad-{PROFILE}").max_examples) * OPS[name].weight))


def fuzz(name: str) -> None:
    """Run the profile's hypothesis search over ``name``'s cases; raise on a disagreement."""
    spec = OPS[name]
    base = settings.get_profile(f"manualgrad-{PROFILE}")

    @settings(base, max_examples=_examples(name))
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


def fuzz_in_subprocess(name: str, tmp: Path, timeout: float, restarts: int = 0) -> str:
    """``fuzz(name)`` in a child process: '' when it passes, else its failures; a crash fails the
    op and names the case the child was running. The child's counts are merged into this
    process's tally. ``restarts``: after a crash, start a fresh child (random in the long
    profile) for the cases left, this many times."""
    log = tmp / "state.json"
    env = dict(os.environ, MANUALGRAD_FUZZ_LOG=str(log),
               PYTHONPATH=os.pathsep.join([str(Path(__file__).parents[2]), str(Path(__file__).parents[1]),
                                           os.environ.get("PYTHONPATH", "")]))
    merged, failures, left = _TALLY.setdefault(name, Counter()), [], _examples(name)
    for _ in range(restarts + 1):
        log.unlink(missing_ok=True)
        p = subprocess.run([sys.executable, "-m", "fuzz.runner", name], env=dict(env, MANUALGRAD_FUZZ_CASES=str(left)),
                           capture_output=True, text=True, timeout=timeout)
        state = json.loads(log.read_text()) if log.exists() else {"case": "?", "tally": {}}
        merged.update(state["tally"])
        if p.returncode >= 0:
            if p.returncode:
                failures.append((p.stdout + p.stderr)[-6000:])
            break
        merged.update(cases=1, disagree=1, crash=1)
        _SMALLEST[(name, "crash")] = (0, f"signal {-p.returncode}\n    reproduce: check({state['case']})")
        failures.append(f"{name}: the child died of signal {-p.returncode} on\n    check({state['case']})")
        left -= state["tally"].get("cases", 0) + 1
        if left <= 0:
            break
    return "\n".join(failures)


def _main(name: str) -> int:
    try:
        fuzz(name)
        return 0
    except Exception:  # noqa: BLE001 - reported to the parent through the exit status and output
        import traceback
        traceback.print_exc()
        return 1
    finally:
        if _LOG:
            Path(_LOG).write_text(json.dumps({"case": None, "tally": _TALLY.get(name, {})}))


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1]))
