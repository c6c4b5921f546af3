"""The examples run and say what they claim."""

import pathlib
import subprocess
import sys

EXAMPLES = pathlib.Path(__file__).parent.parent / "examples"


def run_example(name, *args, timeout=120):
    return subprocess.run([sys.executable, str(EXAMPLES / name), *args], capture_output=True,
                          text=True, timeout=timeout, cwd=EXAMPLES.parent)


def test_backprop_by_hand_matches_torch_and_loss_falls():
    r = run_example("backprop_by_hand.py")
    assert r.returncode == 0, r.stderr
    losses = [float(line.split("L = ")[1]) for line in r.stdout.splitlines() if line.startswith("step ")]
    assert len(losses) >= 5 and losses[-1] < 0.5 * losses[0]
    assert all(b <= a for a, b in zip(losses, losses[1:]))
    for key in ("∂L/∂a", "∂a/∂z", "∂L/∂z", "∂L/∂w", "∂L/∂b"):
        assert key in r.stdout
