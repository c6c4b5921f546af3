"""DDP and FSDP2 with two processes on CPU (gloo), launched here with torch.multiprocessing (bounded
in time, killed on failure) and through ``torchrun -m manualgrad train``: gradients, two epochs with
a resume in between, checkpoints and run folders, evaluation and the non-finite stop, against one
process on the same global batches."""

import datetime
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest
import torch
import torch.multiprocessing as mp
from torch.utils.data import DataLoader, Subset, TensorDataset

import manualgrad
import manualgrad.nn as mnn
import manualgrad.optim as mopt
import manualgrad.train.trainer as trainer_module
from manualgrad.cli import main
from manualgrad.train import EarlyStopping, NonFiniteError, Trainer, checkpoint, distributed, models
from manualgrad.train.health import full_tensor

WORLD, BATCH, SEED = 2, 16, 3
REPO = pathlib.Path(manualgrad.__file__).resolve().parent.parent


def datasets():
    g = torch.Generator().manual_seed(0)
    make = lambda n: TensorDataset(torch.randn(n, 4, generator=g, dtype=torch.float64),  # noqa: E731
                                   torch.randint(0, 3, (n,), generator=g))
    return make(64), make(24)


def model():
    torch.manual_seed(0)
    return models.mlp((4,), 3, (8, 8), "tanh", batch_norm=False).double()  # BN: per-rank statistics


def trainer(log_dir, kind=None):
    net = model()
    return Trainer(net, mopt.Adam(net.parameters(), lr=0.05), mnn.CrossEntropyLoss(), device="cpu", quiet=True,
                   log_dir=log_dir, name="run", distributed=kind, grad_clip=0.5, log_every=2, hist_every=3,
                   early_stopping=EarlyStopping(patience=5))


def worker(rank, tmp, kind):
    """One rank: the gradients of its half of one batch, one epoch, a resume to two, a sharded
    evaluation, and a non-finite gradient seen by rank 1 only."""
    tmp = pathlib.Path(tmp)
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(WORLD), LOCAL_RANK=str(rank))
    train, val = datasets()
    out = {"pid": os.getpid()}
    with distributed.process_group(torch.device("cpu"), init_method=f"file://{tmp}/store",
                                   timeout=datetime.timedelta(seconds=60)):
        first = trainer(tmp / "logs", kind)
        x, y = train.tensors
        half = slice(rank * BATCH // WORLD, (rank + 1) * BATCH // WORLD)
        mnn.CrossEntropyLoss()(first.trained(x[half]), y[half]).backward()
        out["grads"] = [full_tensor(p.grad).clone() for p in first.model.parameters()]
        first.optimizer.zero_grad()
        first.fit(distributed.train_loader(train, BATCH, seed=SEED), DataLoader(val, batch_size=8), epochs=1)
        last = first.run_dir / "checkpoints" / "last.pt"
        resumed = trainer(tmp / "logs", kind)
        loader = distributed.train_loader(train, BATCH, seed=SEED)
        resumed.fit(loader, DataLoader(val, batch_size=8), epochs=2, resume=last)
        out["params"] = {n: full_tensor(p.detach()).clone() for n, p in resumed.model.named_parameters()}
        out["run_dir"] = str(resumed.run_dir)
        out["eval"] = resumed.evaluate(DataLoader(Subset(val, range(rank, len(val), WORLD)), batch_size=5))
        if rank == 1:
            trainer_module.first_non_finite = lambda named: "the gradient of parameter '1.weight'"
        try:
            resumed.fit(loader, None, epochs=3, resume=last)
        except NonFiniteError as e:
            out["non_finite"] = str(e)
        if kind == "fsdp":
            with pytest.raises(ValueError, match="check_grads_every is not supported"):
                Trainer(model(), mopt.SGD(model().parameters()), mnn.CrossEntropyLoss(), distributed="fsdp",
                        check_grads_every=1)
    torch.save(out, tmp / f"out{rank}.pt")


def spawn(fn, *args, timeout=120):
    """``fn(rank, *args)`` in WORLD fresh processes; a failure re-raises here, a hang is killed."""
    ctx = mp.start_processes(fn, args=args, nprocs=WORLD, join=False, start_method="spawn")
    deadline = time.monotonic() + timeout
    try:
        while not ctx.join(timeout=1):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{WORLD} processes still running after {timeout} s")
    finally:
        for p in ctx.processes:
            if p.is_alive():
                p.kill()
            p.join()


class EpochPermutations(torch.utils.data.Sampler):
    """``randperm(n)`` seeded with SEED + epoch, epoch counted here (as DistributedSampler shuffles
    after ``set_epoch``): rank r of W takes every W-th index of it, so global batch k of the
    distributed run is slice k of this order."""

    def __init__(self, n):
        self.n, self.epoch = n, 0

    def __iter__(self):
        order = torch.randperm(self.n, generator=torch.Generator().manual_seed(SEED + self.epoch)).tolist()
        self.epoch += 1
        return iter(order)

    def __len__(self):
        return self.n


@pytest.mark.parametrize("kind", ["ddp", "fsdp"])
def test_two_processes_train_as_one_on_the_same_global_batches(tmp_path, kind):
    spawn(worker, str(tmp_path), kind)
    outs = [torch.load(tmp_path / f"out{r}.pt", weights_only=False) for r in range(WORLD)]
    train, val = datasets()

    net = model()  # one process, the whole first batch: DDP averages the two half-batch means
    x, y = train.tensors
    mnn.CrossEntropyLoss()(net(x[:BATCH]), y[:BATCH]).backward()
    for out in outs:
        for got, p in zip(out["grads"], net.parameters(), strict=True):
            torch.testing.assert_close(got, p.grad, rtol=1e-12, atol=1e-15)

    # one process, 2 epochs, the same global batches: DistributedSampler's permutation of each epoch
    ref = trainer(tmp_path / "ref")
    ref.fit(DataLoader(train, batch_size=BATCH, sampler=EpochPermutations(len(train))), DataLoader(val, batch_size=8),
            epochs=2)
    run_dir = pathlib.Path(outs[0]["run_dir"])
    got, want = (checkpoint.load(d / "checkpoints" / "last.pt") for d in (run_dir, ref.run_dir))
    assert got["step"] == want["step"] == 2 * len(train) // BATCH
    for out in outs:  # the best epoch's weights restored by early stopping, on every rank
        for name, p in ref.model.named_parameters():
            torch.testing.assert_close(out["params"][name], p.detach(), rtol=1e-10, atol=1e-12)
    for k, v in want["model"].items():  # the single-process checkpoint format, also for FSDP
        torch.testing.assert_close(got["model"][k], v, rtol=1e-10, atol=1e-12)
    assert got["optimizer"]["param_groups"] == want["optimizer"]["param_groups"]
    for i, s in want["optimizer"]["state"].items():
        for k, v in s.items():
            torch.testing.assert_close(got["optimizer"]["state"][i][k], v, rtol=1e-9, atol=1e-12)
    mopt.Adam(model().parameters()).load_state_dict(got["optimizer"])
    assert got["early_stopping"]["best_epoch"] == want["early_stopping"]["best_epoch"]
    assert set(got["early_stopping"]["best_state"]) == set(want["model"])

    # rank 0 alone wrote the run folder; every rank knows it
    assert outs[1]["run_dir"] == str(run_dir) and [p.name for p in run_dir.parent.iterdir()] == ["version_0"]
    events = [p.name for p in run_dir.glob("events.out.tfevents.*")]
    assert events and all(name.split(".")[-2] == str(outs[0]["pid"]) for name in events)
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["best.pt", "last.pt"]

    # evaluation over the two halves of the validation set = one process over all of it
    for out in outs:
        assert out["eval"] == pytest.approx(ref.evaluate(DataLoader(val, batch_size=8)), rel=1e-12)
    # rank 1 alone saw a non-finite gradient: both stopped at the same step, the checkpoint kept
    assert "'1.weight' is not finite" in outs[1]["non_finite"]
    assert "on another rank is not finite" in outs[0]["non_finite"]
    assert checkpoint.load(run_dir / "checkpoints" / "last.pt")["step"] == got["step"]


def run_bounded(cmd, timeout=180):
    """``cmd`` in its own session; on timeout the whole group (torchrun and its workers) is killed."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    return proc.returncode, out, err


def torchrun(tmp_path, nproc, *flags):
    return run_bounded([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
                        "-m", "manualgrad", "train", "--dataset", "spirals", "--epochs", "1", "--hidden", "8",
                        "--batch-size", "64", "--log-dir", str(tmp_path), "--quiet", "--hist-every", "0", *flags])


def test_torchrun_cli_trains_with_ddp_and_rank_0_writes(tmp_path):
    code, out, err = torchrun(tmp_path, 2)
    assert code == 0, err[-3000:]
    assert out.count("test/acc") == 1 and "(DDP, 2 processes)" in out
    run_dir = tmp_path / "spirals_mlp" / "version_0"
    assert [p.name for p in run_dir.parent.iterdir()] == ["version_0"]
    assert checkpoint.load(run_dir / "checkpoints" / "last.pt")["epoch"] == 1


def test_cli_errors_without_a_process_group(tmp_path, monkeypatch, capsys):
    for key in distributed.TORCHRUN_ENV:
        monkeypatch.delenv(key, raising=False)
    assert main(["train", "--fsdp", "--log-dir", str(tmp_path)]) == 2
    assert "--fsdp needs torchrun" in capsys.readouterr().err
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["train", "--batch-size", "33", "--log-dir", str(tmp_path)]) == 2
    assert "--batch-size 33 is the global batch: it must be divisible by the 2 processes" in capsys.readouterr().err
    with pytest.raises(ValueError, match="global batch size 33 is not divisible by the world size 2"):
        distributed.train_loader(datasets()[0], 33)
    with pytest.raises(RuntimeError, match="needs an initialized process group"):
        trainer(tmp_path, "ddp")
    with pytest.raises(ValueError, match="distributed must be one of"):
        trainer(tmp_path, "zero")
    assert not list(tmp_path.iterdir())


@pytest.mark.cuda
@pytest.mark.parametrize("flags", [(), ("--fsdp",)])
def test_torchrun_cuda_world_size_one(tmp_path, flags):
    code, out, err = torchrun(tmp_path, 1, "--device", "cuda", *flags)
    assert code == 0, err[-3000:]
    assert f"on cuda:0 ({'FSDP' if flags else 'DDP'}, 1 process)" in out


def bn_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(mnn.Linear(4, 6), mnn.BatchNorm1d(6), mnn.ReLU(), mnn.Linear(6, 3)).double()


def bn_worker(rank, tmp):
    """Each child sharded on its own, BatchNorm too, resharded after forward (FSDP2's default):
    the ReLU and Linear after the BatchNorm recompute its output in their backward, while its
    gathered parameters are freed (they once read that freed memory: a crash)."""
    from torch.distributed.fsdp import fully_shard

    os.environ.update(RANK=str(rank), WORLD_SIZE=str(WORLD), LOCAL_RANK=str(rank))
    x, y = datasets()[0].tensors
    with distributed.process_group(torch.device("cpu"), init_method=f"file://{tmp}/store",
                                   timeout=datetime.timedelta(seconds=60)):
        net = bn_model()
        for child in net:
            if any(True for _ in child.parameters()):
                fully_shard(child, reshard_after_forward=True)
        fully_shard(net)
        half = slice(rank * BATCH // WORLD, (rank + 1) * BATCH // WORLD)
        mnn.CrossEntropyLoss()(net(x[half]), y[half]).backward()
        grads = [full_tensor(p.grad).clone() for p in net.parameters()]
    torch.save(grads, pathlib.Path(tmp) / f"bn{rank}.pt")


def test_fsdp2_shards_a_manualgrad_batch_norm_on_its_own(tmp_path):
    spawn(bn_worker, str(tmp_path))
    x, y = datasets()[0].tensors
    want = []  # FSDP2 averages the ranks' gradients; BatchNorm uses each rank's own batch statistics
    for rank in range(WORLD):
        net = bn_model()
        half = slice(rank * BATCH // WORLD, (rank + 1) * BATCH // WORLD)
        mnn.CrossEntropyLoss()(net(x[half]), y[half]).backward()
        want.append([p.grad for p in net.parameters()])
    for rank in range(WORLD):
        got = torch.load(tmp_path / f"bn{rank}.pt")
        for g, *per_rank in zip(got, *want, strict=True):
            torch.testing.assert_close(g, sum(per_rank) / WORLD, rtol=1e-12, atol=1e-14)
