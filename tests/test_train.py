"""The trainer: TensorBoard tags read back, checkpoints, bit-exact resume (also mid-epoch after
Ctrl-C), crash-safe writes, non-finite guard, early stopping, gradient parity."""

import signal

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.utils.data import DataLoader

import manualgrad.nn as mnn
import manualgrad.optim as mopt
from manualgrad import data
from manualgrad.functions.linear import LinearFunction
from manualgrad.train import EarlyStopping, NonFiniteError, ParityError, Trainer, checkpoint, models


def setup(tmp_path, activation="relu", dropout=0.2, seed=0, **kw):
    torch.manual_seed(seed)
    train, val, _ = data.get_dataset("spirals")
    model = models.mlp((2,), 2, (16, 16), activation, dropout)
    loader = DataLoader(train, batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(seed))
    opt = mopt.SGD(model.parameters(), lr=0.1, momentum=0.9)
    kw.setdefault("hist_every", 5)
    kw.setdefault("device", "cpu")
    trainer = Trainer(model, opt, mnn.CrossEntropyLoss(), log_dir=tmp_path, name="t", quiet=True,
                      log_every=2, hparams={"lr": 0.1, "note": "x"}, **kw)
    return trainer, loader, DataLoader(val, batch_size=256)


def events(run_dir):
    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "histograms": 0})
    acc.Reload()
    return acc


def test_tensorboard_tags_and_values(tmp_path):
    trainer, loader, val = setup(tmp_path, activation="relu")
    trainer.fit(loader, val, epochs=2)
    ev = events(trainer.run_dir)
    tags = set(ev.Tags()["scalars"])
    for tag in ("loss/train", "accuracy/train", "loss/val", "accuracy/val", "schedule/lr", "schedule/epoch",
                "params/grad_norm/total", "params/grad_norm/1.Linear.weight", "params/update_ratio/1.Linear.weight",
                "units/dead_frac/2.ReLU"):
        assert tag in tags, tag
    hist = set(ev.Tags()["histograms"])
    assert {"weights/1.Linear.weight", "weights/1.Linear.weight/grad"} <= hist
    loss = [e.value for e in ev.Scalars("loss/train")]
    assert all(0 < v < 10 for v in loss) and len(loss) == 2 * len(loader) // 2
    assert all(0 <= e.value <= 1 for e in ev.Scalars("accuracy/val") + ev.Scalars("units/dead_frac/2.ReLU"))
    assert all(-8 < e.value < 1 for e in ev.Scalars("params/update_ratio/1.Linear.weight"))
    assert ev.Scalars("schedule/lr")[0].value == pytest.approx(0.1)
    assert (trainer.run_dir / "hparams.yaml").read_text() == (
        'lr: 0.1\nnote: "x"\noptimizer: "sgd"\nweight_decay: 0\nbatch_size: 64\nl1: 0.0\nl2: 0.0\ngrad_clip: null\n')
    for name in ("last.pt", "best.pt"):
        state = checkpoint.load(trainer.run_dir / "checkpoints" / name)
        assert set(state["model"]) == set(trainer.model.state_dict())


def test_saturation_is_logged_for_tanh(tmp_path):
    trainer, loader, val = setup(tmp_path, activation="tanh")
    trainer.fit(loader, val, epochs=1)
    assert "units/saturated_frac/2.Tanh" in events(trainer.run_dir).Tags()["scalars"]


def test_runs_get_the_next_version(tmp_path):
    for n in range(2):
        trainer, loader, val = setup(tmp_path)
        trainer.fit(loader, val, epochs=1)
        assert trainer.run_dir.name == f"version_{n}"


def final_params(trainer):
    return {k: v.clone() for k, v in trainer.model.state_dict().items()}


def test_resume_is_bit_exact_and_steps_are_not_duplicated(tmp_path):
    straight, loader, val = setup(tmp_path / "a")
    straight.fit(loader, val, epochs=4)
    first, loader, val = setup(tmp_path / "b")
    first.fit(loader, val, epochs=2)
    resumed, loader, val = setup(tmp_path / "b", seed=5)  # a different seed: the checkpoint rules
    resumed.fit(loader, val, epochs=4, resume=first.run_dir / "checkpoints" / "last.pt")
    assert resumed.run_dir == first.run_dir and resumed.step == straight.step
    for k, v in final_params(straight).items():
        assert torch.equal(v, final_params(resumed)[k]), k
    steps = [e.step for e in events(resumed.run_dir).Scalars("loss/train")]
    assert steps == sorted(set(steps)) and len(steps) == len(events(straight.run_dir).Scalars("loss/train"))


def test_ctrl_c_mid_epoch_saves_and_resumes_bit_exact(tmp_path):
    straight, loader, val = setup(tmp_path / "a")
    straight.fit(loader, val, epochs=2)
    interrupted, loader, val = setup(tmp_path / "b", check_grads_every=0)  # the hook counts forwards: no twin
    calls = []

    def press_ctrl_c(module, inputs):
        calls.append(1)
        if len(calls) == 15:  # in the middle of the second epoch's forward
            signal.raise_signal(signal.SIGINT)

    handle = interrupted.model[1].register_forward_pre_hook(press_ctrl_c)
    with pytest.raises(KeyboardInterrupt, match="resume with"):
        interrupted.fit(loader, val, epochs=2)
    handle.remove()
    state = checkpoint.load(interrupted.run_dir / "checkpoints" / "last.pt")
    # call 15: the third batch of epoch 1 (calls 1-11 trained epoch 0, call 12 evaluated it)
    assert (state["epoch"], state["batch"], state["step"]) == (1, 3, len(loader) + 3)
    resumed, loader, val = setup(tmp_path / "b")
    resumed.fit(loader, val, epochs=2, resume=interrupted.run_dir / "checkpoints" / "last.pt")
    for k, v in final_params(straight).items():
        assert torch.equal(v, final_params(resumed)[k]), k


def test_crash_during_checkpoint_write_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    checkpoint.save_atomic({"step": 1, "w": torch.ones(3)}, path)

    def dying_save(obj, f):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint.torch, "save", dying_save)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save_atomic({"step": 2, "w": torch.zeros(3)}, path)
    assert checkpoint.load(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temp file left behind


def test_non_finite_gradient_stops_before_the_update_and_names_it(tmp_path):
    trainer, loader, val = setup(tmp_path)
    trainer.fit(loader, val, epochs=1)
    good = checkpoint.load(trainer.run_dir / "checkpoints" / "last.pt")
    poison = trainer.model[4].weight.register_hook(lambda g: g * float("nan"))
    before = final_params(trainer)
    with pytest.raises(NonFiniteError, match=rf"gradient of parameter '4.weight' .* at step {len(loader)}, epoch 1"):
        trainer.fit(loader, val, epochs=2, resume=trainer.run_dir / "checkpoints" / "last.pt")
    poison.remove()
    assert all(torch.equal(v, final_params(trainer)[k]) for k, v in good["model"].items())
    assert all(torch.equal(v, before[k]) for k, v in good["model"].items())
    assert checkpoint.load(trainer.run_dir / "checkpoints" / "last.pt")["step"] == good["step"]


def test_early_stopping_restores_the_best_weights(tmp_path):
    torch.manual_seed(0)
    x = torch.randn(64, 2)
    train = torch.utils.data.TensorDataset(x, torch.randint(0, 2, (64,)))
    val = torch.utils.data.TensorDataset(torch.randn(64, 2), torch.randint(0, 2, (64,)))  # noise: val rises
    model = models.mlp((2,), 2, (64,))
    stopper = EarlyStopping(patience=2)
    trainer = Trainer(model, mopt.Adam(model.parameters(), lr=0.05), mnn.CrossEntropyLoss(), log_dir=tmp_path,
                      quiet=True, early_stopping=stopper, device="cpu")
    metrics = trainer.fit(DataLoader(train, batch_size=64), DataLoader(val, batch_size=64), epochs=50)
    assert trainer.epoch < 50 and trainer.epoch == stopper.best_epoch + 3
    assert metrics["restored_best_epoch"] == stopper.best_epoch
    best = checkpoint.load(trainer.run_dir / "checkpoints" / "best.pt")
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in best["model"].items())
    assert trainer.evaluate(DataLoader(val, batch_size=64))["loss"] == pytest.approx(stopper.best)


def test_gradient_parity_passes_and_catches_a_wrong_backward(tmp_path, monkeypatch):
    trainer, loader, val = setup(tmp_path, check_grads_every=3, l1=1e-3, l2=1e-3)
    trainer.fit(loader, val, epochs=1)
    diffs = events(trainer.run_dir).Scalars("parity/max_abs_diff")
    assert len(diffs) == -(-len(loader) // 3) and max(e.value for e in diffs) < 1e-5
    wrong = LinearFunction.backward

    def scaled(ctx, dy):
        dx, dw, db = wrong(ctx, dy)
        return dx, None if dw is None else dw * 1.01, db

    monkeypatch.setattr(LinearFunction, "backward", staticmethod(scaled))
    trainer, loader, val = setup(tmp_path, check_grads_every=3)
    with pytest.raises(ParityError, match="parameter 1.weight: manualgrad's gradient differs"):
        trainer.fit(loader, val, epochs=1)


def test_explicit_l2_penalty_equals_sgd_weight_decay(tmp_path):
    trajectories = []
    for kw, wd in (({"l2": 0.01}, 0.0), ({}, 0.01)):
        torch.manual_seed(0)
        model = models.mlp((2,), 2, (8,)).double()
        weights = [p for p in model.parameters() if p.dim() > 1]
        biases = [p for p in model.parameters() if p.dim() == 1]
        opt = mopt.SGD([{"params": weights, "weight_decay": wd}, {"params": biases}], lr=0.1)
        x, y = torch.randn(32, 2, dtype=torch.float64), torch.randint(0, 2, (32,))
        trainer = Trainer(model, opt, mnn.CrossEntropyLoss(), log_dir=tmp_path, quiet=True, device="cpu", **kw)
        trainer.fit(DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=32), epochs=3)
        trajectories.append([p.detach() for p in model.parameters()])
    for a, b in zip(*trajectories):  # the penalty, like this weight_decay, leaves biases alone
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.cuda
def test_trains_on_cuda_with_parity_and_resume(tmp_path):
    trainer, loader, val = setup(tmp_path, check_grads_every=5, device="cuda")
    trainer.fit(loader, val, epochs=1)
    assert next(trainer.model.parameters()).is_cuda
    assert max(e.value for e in events(trainer.run_dir).Scalars("parity/max_abs_diff")) < 1e-4
    again, loader, val = setup(tmp_path, device="cuda")
    again.fit(loader, val, epochs=2, resume=trainer.run_dir / "checkpoints" / "last.pt")
    assert again.epoch == 2 and again.evaluate(val)["acc"] > 0.5
