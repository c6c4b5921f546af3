"""The examples run and say what they claim."""

import pathlib
import subprocess
import sys

EXAMPLES = pathlib.Path(__file__).parent.parent / "examples"


def run_example(name, *args, timeout=300, cwd=None):
    """Run one example; training examples run in ``cwd`` (a tmp folder) so tb_logs/ lands there."""
    return subprocess.run([sys.executable, str(EXAMPLES / name), *args], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd or EXAMPLES.parent)


def table(stdout, names):
    """{name: [numbers]} from the printed table rows that start with each of ``names``."""
    rows = {}
    for line in stdout.splitlines():
        for name in names:
            if line.startswith(name + " "):
                rows[name] = [float(t) for t in line[len(name):].split()]
    assert set(rows) == set(names), stdout
    return rows


def test_backprop_by_hand_matches_torch_and_loss_falls():
    r = run_example("backprop_by_hand.py")
    assert r.returncode == 0, r.stderr
    losses = [float(line.split("L = ")[1]) for line in r.stdout.splitlines() if line.startswith("step ")]
    assert len(losses) >= 5 and losses[-1] < 0.5 * losses[0]
    assert all(b <= a for a, b in zip(losses, losses[1:]))
    for key in ("∂L/∂a", "∂a/∂z", "∂L/∂z", "∂L/∂w", "∂L/∂b"):
        assert key in r.stdout


def test_swap_into_model_checks_and_trains():
    r = run_example("swap_into_model.py")
    assert r.returncode == 0, r.stderr
    assert "left alone" in r.stdout and "torch.Conv2d -> manualgrad.Conv2d" in r.stdout
    assert "PASS" in r.stdout and "FAIL" not in r.stdout
    bias = next(line for line in r.stdout.splitlines() if "grad param 0.bias" in line)  # before BatchNorm: ≈ 0
    assert "rounding noise" in bias
    losses = [float(line.split("loss ")[1].split()[0]) for line in r.stdout.splitlines() if line.startswith("step ")]
    assert len(losses) >= 5 and losses[-1] < losses[0]


def test_train_digits_mlp_runs(tmp_path):
    r = run_example("train_digits_mlp.py", "--epochs", "3", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    acc = float(r.stdout.split("test/acc ")[1].split()[0])
    assert acc > 0.85 and (tmp_path / "tb_logs" / "digits_mlp_example" / "version_0" / "checkpoints" / "last.pt").is_file()


def test_train_digits_cnn_runs(tmp_path):
    r = run_example("train_digits_cnn.py", "--epochs", "2", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert float(r.stdout.split("test/acc ")[1].split()[0]) > 0.8


def test_vanishing_gradients_shows_sigmoid_vanishing(tmp_path):
    r = run_example("vanishing_gradients.py", "--epochs", "2", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = table(r.stdout, ["sigmoid", "tanh", "relu", "relu+batchnorm", "relu+clip (lr x5)"])
    ratio = {name: nums[2] for name, nums in rows.items()}
    assert ratio["sigmoid"] < 1e-3 and all(ratio[v] > 1e-1 for v in ("tanh", "relu", "relu+batchnorm"))
    assert rows["relu+batchnorm"][3] > rows["sigmoid"][3]
    assert len(list((tmp_path / "tb_logs" / "vanishing").iterdir())) == 5


def test_overfitting_regularisers_lower_the_validation_loss(tmp_path):
    r = run_example("overfitting.py", "--epochs", "50", cwd=tmp_path)  # memorised by then
    assert r.returncode == 0, r.stderr
    rows = table(r.stdout, ["none", "L2 1e-2", "L1 1e-3", "dropout 0.5", "early stopping 20"])
    val_loss = {name: nums[2] for name, nums in rows.items()}
    assert rows["none"][1] < 0.01  # memorised
    for name in ("L2 1e-2", "L1 1e-3", "early stopping 20"):
        assert val_loss[name] < val_loss["none"], name
    confidence = {name: nums[6] for name, nums in rows.items()}
    assert confidence["L2 1e-2"] < confidence["none"] and "Why L1/L2 can lower the validation loss" in r.stdout


def test_optimizers_compares_every_rule(tmp_path):
    r = run_example("optimizers.py", "--epochs", "5", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = table(r.stdout, ["full-batch GD", "mini-batch SGD", "momentum", "RMSprop", "Adam"])
    assert rows["full-batch GD"][0] == 5 and rows["momentum"][0] == 5 * 40
    assert rows["momentum"][2] < rows["full-batch GD"][2]  # many steps beat one exact step per epoch


def test_per_sample_gradients_match_a_loop_and_dp_sgd_learns():
    r = run_example("per_sample_gradients.py")
    assert r.returncode == 0, r.stderr
    diff = float(r.stdout.split("max |diff| ")[1].split()[0])
    assert diff < 1e-12  # float64: vmap(grad) through our backward = single-example backward passes
    acc = {line.split(" test accuracy ")[0].split()[0]: float(line.split()[-1])
           for line in r.stdout.splitlines() if " test accuracy " in line}
    assert acc["SGD"] > 0.9 and 0.6 < acc["DP-SGD"] < acc["SGD"]  # the noise costs accuracy, not learning


def test_vanishing_gradients_rnn_shows_the_tanh_rnn_vanishing(tmp_path):
    r = run_example("vanishing_gradients_rnn.py", "--steps", "60", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = table(r.stdout, ["rnn", "lstm"])
    (rnn_first, rnn_last, rnn_factor, _), (lstm_first, lstm_last, lstm_factor, _) = rows["rnn"], rows["lstm"]
    assert rnn_first < 1e-5 * rnn_last and rnn_factor < 0.8   # geometric decay towards t = 0
    assert lstm_first > 1e-2 * lstm_last and lstm_factor > 0.9
    assert {p.name for p in (tmp_path / "tb_logs" / "vanishing_rnn").iterdir()} == {"rnn", "lstm"}
