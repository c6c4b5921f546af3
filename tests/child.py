"""One way to run Python in a child interpreter for what may crash the test process (a segfault in
a half-precision CPU kernel): ``conftest.in_subprocess`` and the fuzzer's ``fuzz_in_subprocess``
both start their children here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def run_python(args: list[str], timeout: float, env: dict | None = None) -> subprocess.CompletedProcess:
    """``python *args`` with the repository and tests/ first on its path (``env``: the child's
    environment, this process's by default), stdout and stderr captured as text; a child killed
    by a signal has ``returncode`` −signal."""
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS.parent), str(TESTS), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=timeout)
