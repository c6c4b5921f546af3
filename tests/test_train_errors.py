"""What goes wrong around training: bad checkpoints, a run folder in use, a read-only log dir, a
full disk and a second Ctrl-C are one-line errors (``manualgrad train`` exits 2, or 130), and the
non-finite guard stops a run before anything NaN/inf is kept: data, loss, gradients, BatchNorm
buffers (restored), weights after the update, validation data."""

import errno
import os
import pathlib
import signal

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import manualgrad.nn as mnn
import manualgrad.optim as mopt
from manualgrad import cli
from manualgrad.train import NonFiniteError, Trainer, checkpoint, models
from manualgrad.train.runs import RunLock

BASE = ["train", "--dataset", "spirals", "--epochs", "1", "--hidden", "8", "--quiet", "--hist-every", "0"]


def train(log_dir, *argv):
    """``manualgrad train`` on the spirals in this process: its exit status."""
    try:
        code = cli.main([*BASE, "--log-dir", str(log_dir), *argv])
    except SystemExit as e:
        code = e.code
    return code


def one_line_error(capsys, code, message):
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err and message in err, (code, err)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A finished one-epoch run: its log dir and last.pt."""
    log_dir = tmp_path_factory.mktemp("logs")
    assert train(log_dir) == 0
    return log_dir, log_dir / "spirals_mlp" / "version_0" / "checkpoints" / "last.pt"


@pytest.mark.parametrize("damage, message", [
    (lambda b: b"", "not a readable checkpoint"),
    (lambda b: b[: len(b) // 2], "not a readable checkpoint"),
    (lambda b: b[:100] + bytes(200) + b[300:], "not a readable checkpoint"),
])  # fmt: skip
def test_an_empty_truncated_or_corrupted_checkpoint(run, tmp_path, capsys, damage, message):
    bad = tmp_path / "last.pt"
    bad.write_bytes(damage(run[1].read_bytes()))
    one_line_error(capsys, train(tmp_path, "--resume", str(bad)), message)


@pytest.mark.parametrize("argv, message", [
    (["--hidden", "16"], "does not fit this model or optimizer: Error(s) in loading state_dict"),
    (["--no-batch-norm"], "does not fit this model or optimizer: Error(s) in loading state_dict"),
    (["--optimizer", "sgd"], "is another run's: it was written with optimizer Adam (this run: SGD)"),
    (["--weight-decay", "0.1"], "param group 0 weight_decay=0.0 (this run: 0.1)"),
    (["--lr-schedule", "cosine"], "scheduler None (this run: CosineAnnealingLR)"),
])  # fmt: skip
def test_a_checkpoint_of_another_run(run, capsys, argv, message):
    one_line_error(capsys, train(run[0], "--resume", str(run[1]), *argv), message)


def test_a_checkpoint_without_training_state(run, tmp_path, capsys):
    torch.save({"model": checkpoint.load(run[1])["model"]}, tmp_path / "weights.pt")
    one_line_error(capsys, train(tmp_path, "--resume", str(tmp_path / "weights.pt")),
                   "cannot be resumed from: it has no optimizer, epoch")


def test_a_run_in_use_by_another_process(run, capsys):
    lock = RunLock(run[1].parent.parent)  # flock conflicts across open files, also in one process
    try:
        one_line_error(capsys, train(run[0], "--resume", "auto", "--epochs", "2"), "is in use by another training")
    finally:
        lock.release()


def test_a_read_only_log_dir(tmp_path, capsys, monkeypatch):
    real = pathlib.Path.mkdir

    def read_only(self, *a, **kw):  # as a read-only file system answers (chmod does not stop root)
        if str(self).startswith(str(tmp_path)):
            raise PermissionError(errno.EROFS, os.strerror(errno.EROFS), str(self))
        return real(self, *a, **kw)

    monkeypatch.setattr(pathlib.Path, "mkdir", read_only)
    one_line_error(capsys, train(tmp_path), "Read-only file system")


def test_a_full_disk_keeps_the_previous_checkpoint(tmp_path, capsys, monkeypatch):
    real, calls = checkpoint.torch.save, []

    def full_after_one(obj, f):
        calls.append(1)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(obj, f)

    monkeypatch.setattr(checkpoint.torch, "save", full_after_one)
    one_line_error(capsys, train(tmp_path, "--epochs", "3"), "No space left on device")
    folder = tmp_path / "spirals_mlp" / "version_0" / "checkpoints"
    assert checkpoint.load(folder / "last.pt")["epoch"] == 1
    assert sorted(os.listdir(folder)) == ["best.pt", "last.pt"]


def test_a_second_ctrl_c_stops_at_once_with_a_message(tmp_path, capsys, monkeypatch):
    pressed = []

    def press_twice(module, inputs):  # both during the first step: the second one cannot wait for its end
        if not pressed:
            pressed.append(1)
            signal.raise_signal(signal.SIGINT)
            signal.raise_signal(signal.SIGINT)

    real_init = Trainer.__init__

    def init(self, model, *a, **kw):
        real_init(self, model, *a, **kw)
        model[1].register_forward_pre_hook(press_twice)

    monkeypatch.setattr(Trainer, "__init__", init)
    assert train(tmp_path) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "interrupted twice: stopped at once at step 0 without saving" in err, err
    assert "no checkpoint was written yet" in err


# ---------------------------------------------------------------- the non-finite guard
def guarded(tmp_path, lr=0.1, val_x=None):
    torch.manual_seed(0)
    x, y = torch.randn(64, 4), torch.randint(0, 3, (64,))
    model = models.mlp((4,), 3, (8,), batch_norm=True)
    trainer = Trainer(model, mopt.SGD(model.parameters(), lr=lr), mnn.CrossEntropyLoss(), log_dir=tmp_path,
                      quiet=True, device="cpu", hist_every=1)
    val = TensorDataset(x if val_x is None else val_x, y)
    return trainer, DataLoader(TensorDataset(x, y), batch_size=16), DataLoader(val, batch_size=32)


def all_finite(state):
    return all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


def test_an_infinite_update_is_caught_and_never_saved(tmp_path):
    trainer, loader, val = guarded(tmp_path, lr=float("inf"))
    with pytest.raises(NonFiniteError, match=r"the update at step 0, epoch 0 made parameter '1.weight' not "
                                             r"finite .* nothing was saved; no checkpoint was written yet"):
        trainer.fit(loader, val, epochs=1)
    assert not (trainer.run_dir / "checkpoints" / "last.pt").exists()


def test_the_last_good_checkpoint_named_is_good(tmp_path):
    trainer, loader, val = guarded(tmp_path)
    trainer.fit(loader, val, epochs=1)
    trainer.optimizer.param_groups[0]["lr"] = 1e30  # the weights overflow, then the running variance
    last = trainer.run_dir / "checkpoints" / "last.pt"
    with pytest.raises(NonFiniteError, match=f"the last good checkpoint is {last}"):
        trainer.fit(loader, val, epochs=3)
    assert all_finite(checkpoint.load(last)["model"]) and checkpoint.load(last)["epoch"] == 1


def test_non_finite_data_leaves_batchnorm_buffers_as_they_were(tmp_path):
    trainer, loader, val = guarded(tmp_path)
    trainer.fit(loader, val, epochs=1)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    x, y = loader.dataset.tensors
    poisoned = DataLoader(TensorDataset(torch.cat([x[:1] * float("nan"), x[1:]]), y), batch_size=16)
    with pytest.raises(NonFiniteError, match="the input batch is not finite .* no update was applied"):
        trainer.fit(poisoned, val, epochs=2)
    for k, v in trainer.model.state_dict().items():  # running_mean/var would be NaN without the restore
        assert torch.equal(v, before[k]), k


def test_non_finite_validation_data_is_an_error(tmp_path):
    trainer, loader, val = guarded(tmp_path, val_x=torch.full((64, 4), float("nan")))
    with pytest.raises(NonFiniteError, match=r"evaluation loss is not finite .* 2 batch\(es\) of its data hold NaN"):
        trainer.fit(loader, val, epochs=1)
    assert not (trainer.run_dir / "checkpoints" / "last.pt").exists()


def test_empty_parameters_do_not_break_histograms(tmp_path):
    trainer, loader, val = guarded(tmp_path)
    trainer.model[1].register_parameter("unused", torch.nn.Parameter(torch.empty(0)))  # no data, no grad
    trainer.fit(loader, val, epochs=1)
    assert trainer.step == len(loader)


def test_cli_exit_status_for_a_non_finite_run(tmp_path, capsys):
    code = train(tmp_path, "--lr", "1e30", "--optimizer", "sgd", "--batch-size", "full", "--epochs", "3")
    err = capsys.readouterr().err
    assert code == 1 and "not finite" in err and err.count("\n") == 1, err
