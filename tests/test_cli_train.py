"""What `manualgrad train` tells a person: --version, defaults in --help, a misspelt flag's
suggestion, the per-epoch lines (mean train loss, epoch k/N, time left, also off a terminal),
resume messages, the resume history and the schedule rule for a different --epochs."""

import re
import subprocess
import sys

import pytest

from manualgrad import __version__, cli

BASE = ["train", "--dataset", "spirals", "--hidden", "8", "--hist-every", "0"]


def run(capsys, log_dir, *argv):
    """``manualgrad train`` in this process: (exit status, stdout, stderr)."""
    try:
        code = cli.main([*BASE, "--log-dir", str(log_dir), *argv])
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 0 and f"manualgrad {__version__} (torch " in capsys.readouterr().out


def test_train_help_shows_every_default(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    options = capsys.readouterr().out.split("\noptions:\n")[1]
    entries = [" ".join(e.split()) for e in re.split(r"\n  (?=-)", "\n" + options) if e.strip()]
    assert len(entries) > 30
    for entry in entries[1:]:  # after -h/--help
        assert "(default: " in entry, entry
    assert any(e.startswith("--epochs EPOCHS") and e.endswith("(default: 30)") for e in entries)


def test_a_misspelt_flag_names_the_right_one(capsys, tmp_path):
    code, _, err = run(capsys, tmp_path, "--hiden", "4")
    assert code == 2 and err.count("\n") == 1 and "--hiden: did you mean --hidden?" in err


def test_epoch_lines_show_the_mean_train_loss_and_time_left_off_a_terminal(tmp_path):
    r = subprocess.run([sys.executable, "-m", "manualgrad", *BASE, "--epochs", "3", "--log-every", "1",
                        "--log-dir", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()  # not a terminal: no progress bar, one line per epoch
    assert [line.split(":")[0] for line in lines] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"], lines
    assert " left)" in lines[0] and "no time left" in lines[-1]
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ev = EventAccumulator(str(tmp_path / "spirals_mlp" / "version_0"), size_guidance={"scalars": 0})
    ev.Reload()
    losses = [e.value for e in ev.Scalars("loss/train")]
    per_epoch = len(losses) // 3
    mean = sum(losses[-per_epoch:]) / per_epoch  # the last epoch's batches
    shown = float(lines[-1].split("train/loss ")[1].split()[0])
    assert shown == pytest.approx(mean, abs=1e-4) and shown != pytest.approx(losses[-1], abs=1e-4)


def test_resume_says_where_it_continues_keeps_hparams_and_records_the_history(capsys, tmp_path):
    assert run(capsys, tmp_path, "--epochs", "1", "--quiet")[0] == 0
    folder = tmp_path / "spirals_mlp" / "version_0"
    first = (folder / "hparams.yaml").read_text()
    code, _, err = run(capsys, tmp_path, "--epochs", "2", "--resume", "auto")
    assert code == 0 and f"resuming run {folder.resolve()} from epoch 2 of 2 (step " in err
    assert (folder / "hparams.yaml").read_text() == first and "epochs: 1\n" in first
    history = (folder / "resume_history.yaml").read_text()
    assert history.startswith("- time: ") and "  epoch: 1\n" in history and "  changed.epochs: 2\n" in history
    code, _, err = run(capsys, tmp_path, "--epochs", "2", "--resume", "auto")
    assert code == 0 and "is complete (2 of 2 epochs done): nothing to train" in err
    assert (folder / "resume_history.yaml").read_text().count("- time: ") == 2


def test_resume_with_other_epochs_keeps_a_length_bound_schedule(capsys, tmp_path):
    assert run(capsys, tmp_path, "--epochs", "1", "--quiet", "--lr-schedule", "cosine")[0] == 0
    code, _, err = run(capsys, tmp_path, "--epochs", "3", "--resume", "auto", "--lr-schedule", "cosine")
    assert code == 2 and "the run was started with --epochs 1 and --lr-schedule cosine" in err
    assert run(capsys, tmp_path / "b", "--epochs", "1", "--quiet", "--lr-schedule", "exponential")[0] == 0
    code, _, err = run(capsys, tmp_path / "b", "--epochs", "2", "--resume", "auto", "--lr-schedule", "exponential")
    assert code == 0 and "from epoch 2 of 2" in err
