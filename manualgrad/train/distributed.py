"""Training on several processes with ``torch.distributed``: DDP or FSDP2 around a manualgrad model.

The hand-derived backwards run unchanged: they are plain autograd Functions, so DDP's reducer
(hooked on each parameter's AccumulateGrad) and FSDP2's reduce-scatter see their gradients like any
other. :class:`Trainer` holds one *engine*: :class:`Local` (one process, every method a no-op) or
:class:`Distributed` (``distributed="ddp"|"fsdp"``), so the fit loop is the same code on every rank:

- every rank computes the same things in the same order (collectives match); rank 0 alone writes
  the run folder (the others get a writer that drops everything and wait at a barrier after each
  checkpoint); the run folder's path is rank 0's, broadcast;
- per step one all-reduce agrees on the non-finite flag and the mean loss, so all ranks stop
  together; logged batch statistics (accuracy, activation fractions) are averaged over ranks;
- evaluation sums (loss·n, correct, n) are all-reduced, so validation metrics, the scheduler and
  early stopping are identical on all ranks;
- checkpoints are in the single-process format (FSDP2: the full state dicts, gathered with
  ``torch.distributed.checkpoint.state_dict``), so a run resumes on any world size.

>>> with process_group(torch.device("cpu")) as device:        # under torchrun
...     loader = train_loader(dataset, global_batch=64, seed=0)
...     Trainer(model, optimizer, loss_fn, device=device, distributed="ddp").fit(loader, val_loader)
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler

from . import checkpoint as ckpt

KINDS = ("ddp", "fsdp")
TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


def launched() -> bool:
    """True in a process started by torchrun (its ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` are set)."""
    return all(k in os.environ for k in TORCHRUN_ENV)


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else \
        int(os.environ.get("WORLD_SIZE", 1))


@contextlib.contextmanager
def process_group(device: torch.device, init_method=None, timeout=None):
    """Join torchrun's process group (gloo on CPU, nccl on CUDA with the device ``cuda:LOCAL_RANK``)
    and yield this rank's device; the group is destroyed on exit, also on error. A group that is
    already initialized is used as it is (and left alone).

    A DDP wrapper sits in reference cycles (its hooks hold it) and keeps its backend alive after
    the group is destroyed; left to the collector's last pass at interpreter teardown, the gloo
    backend's threads die with "terminate called without an active exception" (SIGABRT) in about
    a third of runs. So the cycles are collected at exit while the interpreter is still whole."""
    if not launched():
        raise RuntimeError(f"not started by torchrun: {', '.join(TORCHRUN_ENV)} are not all set")
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
    if dist.is_initialized():
        yield device
        return
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", init_method=init_method,
                            rank=int(os.environ["RANK"]), world_size=int(os.environ["WORLD_SIZE"]),
                            **({"timeout": timeout} if timeout else {}))
    atexit.unregister(gc.collect)  # once per process, however many groups it joins
    atexit.register(gc.collect)
    try:
        yield device
    finally:
        dist.destroy_process_group()


def train_loader(dataset, global_batch: int, seed: int = 0, **kw) -> DataLoader:
    """A DataLoader over this rank's share of ``dataset``: a :class:`DistributedSampler` (shuffled
    with ``seed + epoch``; the Trainer calls ``set_epoch``) and ``global_batch / world_size``
    samples per rank, so that one step sees ``global_batch`` samples in all."""
    world = world_size()
    if global_batch % world:
        raise ValueError(f"the global batch size {global_batch} is not divisible by the world size {world}")
    return DataLoader(dataset, batch_size=global_batch // world, sampler=DistributedSampler(dataset, seed=seed), **kw)


class _NoWriter:
    """What ranks other than 0 get instead of a SummaryWriter: every call does nothing."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


class Local:
    """One process: nothing to agree on, the model trains as it is."""

    kind, world, rank, is_main = None, 1, 0, True

    def device(self, device: torch.device) -> torch.device:
        return device

    def wrap(self, model, optimizer):
        """(the module to call in training steps, the module the state lives in)."""
        return model

    def sum(self, values: list[float]) -> list[float]:
        return values

    def mean(self, scalars: dict[str, float]) -> dict[str, float]:
        return scalars

    def average(self, grads):
        return grads

    def shared(self, make):
        """``make()`` on rank 0, its result on every rank."""
        return make()

    def writer(self, run_dir, purge_step):
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter(str(run_dir), purge_step=purge_step) if self.is_main else _NoWriter()

    def save(self, make, path) -> None:
        """``make()`` on every rank (it may gather), written by rank 0; the others wait."""
        obj = make()
        if self.is_main:
            ckpt.save_atomic(obj, path)
        self.barrier()

    def barrier(self) -> None:
        pass

    def sync_buffers(self, model) -> None:
        pass

    def state_view(self, model):
        """What holds the model's full state (``state_dict``/``load_state_dict``)."""
        return model

    def optim_state(self, model, optimizer) -> dict:
        return optimizer.state_dict()

    def load_optim_state(self, model, optimizer, state: dict) -> None:
        optimizer.load_state_dict(state)


class Distributed(Local):
    """``kind`` 'ddp' (DistributedDataParallel) or 'fsdp' (FSDP2 ``fully_shard``) in the current
    process group."""

    def __init__(self, kind: str):
        if kind not in KINDS:
            raise ValueError(f"distributed must be one of {KINDS} or None, got {kind!r}")
        if not (dist.is_available() and dist.is_initialized()):
            raise RuntimeError(f"distributed={kind!r} needs an initialized process group: launch with torchrun "
                               "and train inside `with manualgrad.train.distributed.process_group(device):`")
        self.kind, self.world, self.rank = kind, dist.get_world_size(), dist.get_rank()
        self.is_main = self.rank == 0

    def device(self, device):
        if device.type == "cuda" and device.index is None:
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", torch.cuda.current_device())))
        return device

    def wrap(self, model, optimizer):
        if self.kind == "ddp":
            from torch.nn.parallel import DistributedDataParallel

            on_cuda = next(model.parameters()).is_cuda
            return DistributedDataParallel(model, device_ids=[torch.cuda.current_device()] if on_cuda else None)
        _shard(model, optimizer)
        return model

    def _reduce(self, t: torch.Tensor) -> torch.Tensor:
        dist.all_reduce(t)
        return t

    def sum(self, values):
        device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else "cpu"
        return self._reduce(torch.tensor(values, dtype=torch.float64, device=device)).tolist()

    def mean(self, scalars):
        return dict(zip(scalars, (v / self.world for v in self.sum(list(scalars.values())))))

    def average(self, grads):
        return [g if g is None else self._reduce(g.clone()) / self.world for g in grads]

    def shared(self, make):
        box = [make() if self.is_main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self):
        dist.barrier()

    def sync_buffers(self, model):
        """Rank 0's BatchNorm running statistics on every rank (each rank updated its own from its
        own batches)."""
        for b in model.buffers():
            dist.broadcast(b, src=0)

    def state_view(self, model):
        return _FullState(model) if self.kind == "fsdp" else model

    def optim_state(self, model, optimizer):
        if self.kind != "fsdp":
            return optimizer.state_dict()
        from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

        state = get_optimizer_state_dict(model, optimizer, options=_options(gather=True))
        if not state:  # ranks other than 0
            return state
        ids = {n: i for i, n in enumerate(n for g in state["param_groups"] for n in g["params"])}
        return {"state": {ids[n]: s for n, s in state["state"].items()},  # optimizer.state_dict()'s format
                "param_groups": optimizer.state_dict()["param_groups"]}

    def load_optim_state(self, model, optimizer, state):
        if self.kind != "fsdp":
            return optimizer.load_state_dict(state)
        from torch.distributed.checkpoint.state_dict import set_optimizer_state_dict

        fqn = {id(p): n for n, p in model.named_parameters()}
        names = [fqn[id(p)] for g in optimizer.param_groups for p in g["params"]]
        by_name = {"state": {names[i]: s for i, s in state["state"].items()},
                   "param_groups": [dict(g, params=[names[i] for i in g["params"]]) for g in state["param_groups"]]}
        set_optimizer_state_dict(model, optimizer, by_name, options=_options(gather=False))
        for group, saved in zip(optimizer.param_groups, state["param_groups"]):  # as saved (betas a tuple)
            group.update((k, v) for k, v in saved.items() if k != "params")


def _options(gather: bool):
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    return StateDictOptions(full_state_dict=True, cpu_offload=gather, broadcast_from_rank0=not gather)


class _FullState:
    """An FSDP2 model's full (unsharded) state dict: gathered to rank 0's CPU (the other ranks get
    ``{}``) and loaded from rank 0's copy, broadcast."""

    def __init__(self, model):
        self.model = model

    def state_dict(self) -> dict:
        from torch.distributed.checkpoint.state_dict import get_model_state_dict

        return get_model_state_dict(self.model, options=_options(gather=True))

    def load_state_dict(self, state: dict) -> None:
        from torch.distributed.checkpoint.state_dict import set_model_state_dict

        set_model_state_dict(self.model, state, options=_options(gather=False))


def _shard(model, optimizer) -> None:
    """``fully_shard`` each child that holds parameters, then the root; ``optimizer`` (built on
    the unsharded parameters, not stepped yet) is pointed at the sharded ones, in the same order.
    (A manualgrad BatchNorm may be sharded on its own: the layers after it, which recompute its
    output in their backward, read copies of its weight and bias, never the parameters FSDP2
    frees after forward.)"""
    try:
        from torch.distributed.fsdp import fully_shard
    except ImportError as e:  # torch < 2.6
        raise RuntimeError(f"FSDP2 needs torch.distributed.fsdp.fully_shard (torch {torch.__version__}: {e})") from e
    if optimizer.state:
        raise ValueError("distributed='fsdp': the optimizer has already taken steps; give the Trainer a fresh "
                         "one (resume from a checkpoint to continue a run)")
    before = list(model.parameters())
    for child in model.children():
        if any(True for _ in child.parameters()):
            fully_shard(child)
    fully_shard(model)
    sharded = {id(old): new for old, new in zip(before, model.parameters())}
    for group in optimizer.param_groups:
        group["params"] = [sharded[id(p)] for p in group["params"]]


def describe(engine: Local) -> str:
    return "" if engine.kind is None else \
        f" ({engine.kind.upper()}, {engine.world} process{'es' if engine.world > 1 else ''})"


__all__ = ["launched", "process_group", "train_loader", "Local", "Distributed", "KINDS", "describe"]
