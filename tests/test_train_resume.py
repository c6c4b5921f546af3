"""Resume is exact whatever point a run was stopped at: a kill before or in the middle of each
checkpoint write, Ctrl-C on an epoch's last batch, a kill after early stopping fired; ``--resume
auto`` never continues another run; a killed writer's temporary files are removed."""

import os
import signal

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import manualgrad.nn as mnn
import manualgrad.optim as mopt
from manualgrad.train import EarlyStopping, Trainer, checkpoint, models
from manualgrad.train.runs import latest_checkpoint


class Killed(BaseException):
    """A kill -9 stand-in: nothing in the trainer catches it."""


def make(tmp_path, early_stopping=None):
    """A small model with BatchNorm and dropout (so the RNG and buffers must resume too); no parity
    check (its torch twin is a deep copy, hooks included: the tests count the model's forwards)."""
    torch.manual_seed(0)
    x, y = torch.randn(96, 4), torch.randint(0, 3, (96,))
    train, val = TensorDataset(x[:64], y[:64]), TensorDataset(x[64:], y[64:])
    model = models.mlp((4,), 3, (8,), dropout=0.3, batch_norm=True)
    trainer = Trainer(model, mopt.Adam(model.parameters(), lr=0.02), mnn.CrossEntropyLoss(), log_dir=tmp_path,
                      name="r", quiet=True, device="cpu", log_every=1, hist_every=0, early_stopping=early_stopping,
                      check_grads_every=0)
    loader = DataLoader(train, batch_size=16, shuffle=True, generator=torch.Generator().manual_seed(0))
    return trainer, loader, DataLoader(val, batch_size=32)


def weights(trainer_or_state):
    state = trainer_or_state if isinstance(trainer_or_state, dict) else trainer_or_state.model.state_dict()
    return {k: v.clone() for k, v in state.get("model", state).items()}


def assert_equal(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


EPOCHS = 3


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    trainer, loader, val = make(tmp_path_factory.mktemp("straight"))
    writes = []
    real_save, real_copy = checkpoint.save_atomic, checkpoint.copy_atomic
    checkpoint.save_atomic = lambda obj, path: (writes.append(path.name), real_save(obj, path))
    checkpoint.copy_atomic = lambda src, path: (writes.append(path.name), real_copy(src, path))
    try:
        trainer.fit(loader, val, epochs=EPOCHS)
    finally:
        checkpoint.save_atomic, checkpoint.copy_atomic = real_save, real_copy
    assert writes.count("last.pt") == EPOCHS and "best.pt" in writes
    best = checkpoint.load(trainer.run_dir / "checkpoints" / "best.pt")
    return weights(trainer), best, writes


def kill_at(monkeypatch, n, midway):
    """The n-th checkpoint write (save or link) dies: before anything is written, or (``midway``)
    with its temporary file written in full but not yet moved over the checkpoint."""
    count = [0]
    for name in ("save_atomic", "copy_atomic"):
        real = getattr(checkpoint, name)

        def dying(a, path, real=real):
            count[0] += 1
            if count[0] == n:
                if midway:
                    (path.parent / f".{path.name}.k1ll3d.tmp").write_bytes(b"half")
                raise Killed
            return real(a, path)

        monkeypatch.setattr(checkpoint, name, dying)


@pytest.mark.parametrize("midway", [False, True], ids=["before", "midway"])
@pytest.mark.parametrize("n", range(1, 2 * EPOCHS + 1))
def test_kill_at_each_write_then_resume_auto_equals_a_straight_run(tmp_path, monkeypatch, straight, n, midway):
    want, best, writes = straight
    if n > len(writes):
        pytest.skip(f"the straight run makes {len(writes)} writes")
    trainer, loader, val = make(tmp_path)
    with monkeypatch.context() as m:
        kill_at(m, n, midway)
        with pytest.raises(Killed):
            trainer.fit(loader, val, epochs=EPOCHS)
    try:
        resume = latest_checkpoint(tmp_path, "r")
    except FileNotFoundError as e:  # killed before the first last.pt: there is nothing to resume
        assert n == 1 and "start it again without --resume" in str(e)
        resume = None
    resumed, loader, val = make(tmp_path)
    resumed.fit(loader, val, epochs=EPOCHS, resume=resume)
    assert_equal(weights(resumed), want)
    got_best = checkpoint.load(resumed.run_dir / "checkpoints" / "best.pt")
    assert got_best["step"] == best["step"]
    assert_equal(weights(got_best), weights(best))
    assert sorted(p.name for p in (resumed.run_dir / "checkpoints").iterdir()) == ["best.pt", "last.pt"]


def test_ctrl_c_on_the_last_batch_of_an_epoch_resumes_exactly(tmp_path, straight):
    """The RNG state saved with the interruption is put back also when no batch of the epoch is
    left to train (dropout in the next epoch would otherwise replay this epoch's masks)."""
    trainer, loader, val = make(tmp_path)
    calls = []

    def press_ctrl_c(module, inputs):
        if module.training:
            calls.append(1)
            if len(calls) == len(loader):  # the last batch of epoch 0
                signal.raise_signal(signal.SIGINT)

    handle = trainer.model[1].register_forward_pre_hook(press_ctrl_c)
    with pytest.raises(KeyboardInterrupt, match="resume with"):
        trainer.fit(loader, val, epochs=EPOCHS)
    handle.remove()
    last = trainer.run_dir / "checkpoints" / "last.pt"
    assert (checkpoint.load(last)["epoch"], checkpoint.load(last)["batch"]) == (0, len(loader))
    resumed, loader, val = make(tmp_path)
    resumed.fit(loader, val, epochs=EPOCHS, resume=last)
    assert_equal(weights(resumed), straight[0])


def test_a_run_killed_after_early_stopping_fired_does_not_train_on(tmp_path, monkeypatch):
    stopper = dict(patience=1, restore_best=False)
    trainer, loader, val = make(tmp_path / "a", EarlyStopping(**stopper))
    trainer.fit(loader, val, epochs=50)
    assert trainer.epoch < 50
    killed, loader, val = make(tmp_path / "b", EarlyStopping(**stopper))
    monkeypatch.setattr(EarlyStopping, "restore", lambda self, model: (_ for _ in ()).throw(Killed()))
    with pytest.raises(Killed):  # dies right after the last checkpoint of the epoch that fired
        killed.fit(loader, val, epochs=50)
    monkeypatch.undo()
    resumed, loader, val = make(tmp_path / "b", EarlyStopping(**stopper))
    resumed.fit(loader, val, epochs=50, resume=killed.run_dir / "checkpoints" / "last.pt")
    assert resumed.epoch == trainer.epoch and resumed.step == trainer.step
    assert_equal(weights(resumed), weights(trainer))


def test_resume_auto_never_falls_back_to_an_older_run(tmp_path):
    trainer, loader, val = make(tmp_path)
    trainer.fit(loader, val, epochs=1)
    (tmp_path / "r" / "version_1" / "checkpoints").mkdir(parents=True)  # a run killed in its first epoch
    with pytest.raises(FileNotFoundError, match="version_1 has no checkpoints/last.pt"):
        latest_checkpoint(tmp_path, "r")


def test_stale_temporary_files_are_removed_on_resume(tmp_path):
    trainer, loader, val = make(tmp_path)
    trainer.fit(loader, val, epochs=1)
    folder = trainer.run_dir / "checkpoints"
    for name in (".last.pt.abc123.tmp", ".best.pt.x_y.tmp", "notes.tmp"):
        (folder / name).write_bytes(b"x")
    again, loader, val = make(tmp_path)
    again.fit(loader, val, epochs=2, resume=folder / "last.pt")
    assert sorted(os.listdir(folder)) == ["best.pt", "last.pt", "notes.tmp"]  # only our own pattern


def test_best_is_a_copy_where_hard_links_are_refused(tmp_path, monkeypatch):
    src, dst = tmp_path / "last.pt", tmp_path / "best.pt"
    checkpoint.save_atomic({"step": 1}, src)

    def no_links(*args):
        raise OSError("hard links not supported")

    monkeypatch.setattr(os, "link", no_links)
    checkpoint.copy_atomic(src, dst)
    checkpoint.save_atomic({"step": 2}, src)  # the next epoch's last.pt leaves best.pt as it was
    assert checkpoint.load(dst)["step"] == 1 and sorted(os.listdir(tmp_path)) == ["best.pt", "last.pt"]


def test_a_checkpoint_outside_a_run_folder_resumes_into_a_new_version(tmp_path):
    trainer, loader, val = make(tmp_path)
    trainer.fit(loader, val, epochs=1)
    moved = tmp_path / "elsewhere.pt"
    moved.write_bytes((trainer.run_dir / "checkpoints" / "last.pt").read_bytes())
    again, loader, val = make(tmp_path)
    again.fit(loader, val, epochs=2, resume=moved)
    assert again.run_dir == tmp_path / "r" / "version_1" and again.epoch == 2
    assert checkpoint.load(again.run_dir / "checkpoints" / "best.pt")["step"] == again.best_step
