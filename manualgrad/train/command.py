"""``manualgrad train``: the main job. Defaults train an MLP of manualgrad modules on the bundled
digits to ≥ 97 % test accuracy in well under a minute on two CPU cores."""

from __future__ import annotations

import argparse
import math
import os
import random
import sys

import torch
from torch.utils.data import DataLoader

from .. import data
from .. import nn as mnn
from .. import optim as mopt
from ..cli_base import CliError, seed
from . import distributed, models
from .checkpoint import CheckpointError, load, one_line
from .guard import NonFiniteError
from .parity import ParityError
from .runs import EarlyStopping, RunInUseError, check_name, latest_checkpoint
from .trainer import PARITY_EVERY, Trainer, pick_device

OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw")
SCHEDULES = ("none", "step", "exponential", "cosine", "plateau", "warmup")


def add_parser(sub) -> None:
    t = sub.add_parser("train", help="train on bundled data with hand-derived backprop, logging to TensorBoard",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    a = t.add_argument
    a("--model", default="mlp", choices=["mlp", "cnn"], help="a multi-layer perceptron or a small CNN")
    a("--hidden", default="128,64", help="MLP hidden sizes / CNN channels, comma-separated")
    a("--activation", default="relu", choices=sorted(models.ACTIVATIONS), help="after each hidden layer")
    a("--batch-norm", action=argparse.BooleanOptionalAction, default=True,
      help="BatchNorm after each hidden linear layer (the cnn always has it)")
    a("--dropout", type=float, default=0.0, help="dropout probability after each hidden layer")
    a("--dataset", default="digits", choices=data.DATASETS, help="bundled data, or mnist from --data-dir")
    a("--data-dir", default=None, help="folder with MNIST's IDX files (for --dataset mnist)")
    a("--epochs", type=int, default=30, help="epochs in total (a resumed run counts those done)")
    a("--batch-size", default="32", help="an integer, or 'full' for full-batch gradient descent")
    a("--optimizer", default="adam", choices=OPTIMIZERS, help="hand-written manualgrad.optim optimizer")
    a("--lr", type=float, default=None, help="learning rate (None: 0.1 for the sgd family, 1e-3 otherwise)")
    a("--momentum", type=float, default=0.9, help="for momentum, nesterov and rmsprop")
    a("--weight-decay", type=float, default=0.0, help="L2 through the optimizer (decoupled for adamw)")
    a("--l1", type=float, default=0.0, help="explicit L1 penalty on the weights")
    a("--l2", type=float, default=0.0, help="explicit L2 penalty ½·l2·Σw² on the weights")
    a("--lr-schedule", default="none", choices=SCHEDULES,
      help="per-epoch schedule (warmup: linear warm-up, then cosine)")
    a("--warmup-epochs", type=int, default=3, help="linear warm-up length for --lr-schedule warmup")
    a("--grad-clip", type=float, default=None, help="clip the global gradient norm to this")
    a("--grad-clip-value", type=float, default=None, help="clip every gradient element to ±this")
    a("--early-stopping", type=int, default=None, metavar="PATIENCE",
      help="stop after PATIENCE epochs without val/loss improvement and restore the best weights")
    a("--device", default="auto", choices=["auto", "cpu", "cuda"], help="auto: cuda when available")
    a("--fsdp", action="store_true",
      help="under torchrun: shard the model with FSDP2 (fully_shard) instead of DistributedDataParallel")
    a("--seed", type=seed, default=0, help="initialisation, shuffling and dropout")
    a("--deterministic", action="store_true",
      help="torch.use_deterministic_algorithms(True) (and CUBLAS_WORKSPACE_CONFIG on CUDA): bit-identical reruns")
    a("--log-dir", default="tb_logs", help="runs go to LOG_DIR/NAME/version_N/")
    a("--name", default=None, help="run name (None: <dataset>_<model>)")
    a("--resume", default=None, metavar="PATH|auto", help="continue from a last.pt, or the latest run of --name")
    a("--check-grads-every", type=int, default=None, metavar="K",
      help="recompute gradients with torch autograd at step 0 and every K steps; stop if they differ "
           f"(None: {PARITY_EVERY}, or 0 with --fsdp; 0: never)")
    a("--log-every", type=int, default=10, help="scalars every N steps")
    a("--hist-every", type=int, default=100, help="weight/gradient histograms every N steps (0: never)")
    a("--quiet", action="store_true", help="no progress bar or per-epoch lines")
    t.set_defaults(func=cmd_train)


def error(message: str):
    raise CliError(message)


def _validate(args) -> None:
    for flag in ("lr", "momentum", "weight_decay", "l1", "l2", "dropout", "grad_clip", "grad_clip_value"):
        if getattr(args, flag) is not None and not math.isfinite(getattr(args, flag)):
            error(f"--{flag.replace('_', '-')} must be a finite number, got {getattr(args, flag)}")
    for flag in ("lr", "grad_clip", "grad_clip_value"):  # grad-clip < 0 would flip the gradient
        if getattr(args, flag) is not None and not getattr(args, flag) > 0:
            error(f"--{flag.replace('_', '-')} must be > 0, got {getattr(args, flag)}")
    for flag in ("epochs", "log_every"):
        if getattr(args, flag) < 1:
            error(f"--{flag.replace('_', '-')} must be >= 1, got {getattr(args, flag)}")
    for flag in ("momentum", "weight_decay", "l1", "l2", "check_grads_every", "hist_every"):
        if getattr(args, flag) is not None and getattr(args, flag) < 0:
            error(f"--{flag.replace('_', '-')} must be >= 0, got {getattr(args, flag)}")
    if not 0 <= args.dropout < 1:
        error(f"--dropout must be in [0, 1), got {args.dropout}")
    if args.batch_size != "full" and not (args.batch_size.isdigit() and int(args.batch_size) > 0):
        error(f"--batch-size must be a positive integer or 'full', got {args.batch_size!r}")
    try:
        sizes = [int(h) for h in args.hidden.split(",") if h.strip()]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        error(f"--hidden must be positive integers separated by commas, got {args.hidden!r}")
    args.hidden = tuple(sizes)
    try:
        args.name = check_name(args.name or f"{args.dataset}_{args.model}")
    except ValueError as e:
        error(f"--name: {e}")


def use_deterministic_algorithms(device) -> None:
    """Every op deterministic for the rest of the process (an op without a deterministic kernel
    raises); cuBLAS needs a fixed workspace on CUDA, set before its first use."""
    if torch.device(device).type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)


def make_optimizer(name, params, lr, momentum, weight_decay):
    if name in ("sgd", "momentum", "nesterov"):
        m = 0.0 if name == "sgd" else momentum
        return mopt.SGD(params, lr=lr or 0.1, momentum=m, nesterov=name == "nesterov", weight_decay=weight_decay)
    if name == "rmsprop":
        return mopt.RMSprop(params, lr=lr or 1e-3, momentum=momentum if momentum < 1 else 0.0,
                            weight_decay=weight_decay)
    cls = mopt.Adam if name == "adam" else mopt.AdamW
    return cls(params, lr=lr or 1e-3, weight_decay=weight_decay)


def make_scheduler(name, optimizer, epochs, warmup):
    S = torch.optim.lr_scheduler
    if name == "step":
        return S.StepLR(optimizer, step_size=max(1, epochs // 3), gamma=0.3)
    if name == "exponential":
        return S.ExponentialLR(optimizer, gamma=0.95)
    if name == "cosine":
        return S.CosineAnnealingLR(optimizer, T_max=epochs)
    if name == "plateau":
        return S.ReduceLROnPlateau(optimizer, factor=0.5, patience=2)
    if name == "warmup":
        warm = S.LinearLR(optimizer, start_factor=0.1, total_iters=max(1, warmup))
        rest = S.CosineAnnealingLR(optimizer, T_max=max(1, epochs - warmup))
        return S.SequentialLR(optimizer, [warm, rest], milestones=[max(1, warmup)])
    return None


EPOCH_SCHEDULES = ("step", "cosine", "warmup")  # their shape is fixed by --epochs when the run starts


def check_resume_epochs(args, resume) -> None:
    """A resumed run keeps its learning-rate schedule as it was saved (the scheduler's state,
    e.g. cosine's T_max, comes from the checkpoint). A different --epochs is fine for schedules
    that do not depend on the length (none, exponential, plateau); for step, cosine and warmup it
    is refused: past the saved length cosine would climb back up."""
    if resume is None or args.lr_schedule not in EPOCH_SCHEDULES:
        return
    try:
        planned = load(resume).get("epochs")
    except CheckpointError as e:
        error(str(e))
    if planned is not None and planned != args.epochs:
        error(f"--epochs {args.epochs}: the run was started with --epochs {planned} and --lr-schedule "
              f"{args.lr_schedule}, whose shape that length fixes; resume with --epochs {planned} (a schedule "
              "none, exponential or plateau can be extended)")


def cmd_train(args) -> int:
    _validate(args)
    try:
        device = pick_device(args.device)
        splits = data.get_dataset(args.dataset, data_dir=args.data_dir)
        resume = latest_checkpoint(args.log_dir, args.name) if args.resume == "auto" else args.resume
    except (RuntimeError, FileNotFoundError, ValueError) as e:
        error(str(e))
    if args.fsdp and args.check_grads_every:  # given explicitly (the default is off under --fsdp)
        error("--check-grads-every is not supported with --fsdp (the parameters are sharded); use DDP")
    check_resume_epochs(args, resume)
    if not distributed.launched():
        if args.fsdp:
            error("--fsdp needs torchrun: torchrun --nproc-per-node=N -m manualgrad train --fsdp ...")
        return _train(args, device, splits, resume)
    batch, world = len(splits[0]) if args.batch_size == "full" else int(args.batch_size), distributed.world_size()
    if batch % world:
        error(f"--batch-size {batch} is the global batch: it must be divisible by the {world} processes")
    with distributed.process_group(device) as device:
        return _train(args, device, splits, resume, "fsdp" if args.fsdp else "ddp")


def _train(args, device, splits, resume, kind=None) -> int:
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    if args.deterministic:
        use_deterministic_algorithms(device)
    train, val, test = splits
    classify = data.is_classification(args.dataset)
    x0, _ = train[0]
    out = int(train.tensors[1].max()) + 1 if classify else 1
    if args.model == "cnn" and x0.dim() != 3:
        error(f"--model cnn needs image data; {args.dataset} samples have shape {tuple(x0.shape)}")
    config = models.config(args.model, tuple(x0.shape), out, hidden=list(args.hidden), activation=args.activation,
                           dropout=args.dropout, **({"batch_norm": args.batch_norm} if args.model == "mlp" else {}))
    model = models.build(config)
    optimizer = make_optimizer(args.optimizer, model.parameters(), args.lr, args.momentum, args.weight_decay)
    batch = len(train) if args.batch_size == "full" else int(args.batch_size)
    if kind:  # every rank gets batch / world samples of each global batch
        loader = distributed.train_loader(train, batch, seed=args.seed)
    else:
        loader = DataLoader(train, batch_size=batch, shuffle=True, generator=torch.Generator().manual_seed(args.seed))
    val_loader, test_loader = (DataLoader(s, batch_size=1024) for s in (val, test))
    hparams = dict(run_hparams(args, optimizer), batch_size=batch)
    trainer = Trainer(
        model, optimizer, mnn.CrossEntropyLoss() if classify else mnn.MSELoss(),
        scheduler=make_scheduler(args.lr_schedule, optimizer, args.epochs, args.warmup_epochs),
        task="classification" if classify else "regression", device=device, log_dir=args.log_dir,
        name=args.name, hparams=hparams, l1=args.l1, l2=args.l2,
        grad_clip=args.grad_clip, grad_clip_value=args.grad_clip_value,
        early_stopping=EarlyStopping(args.early_stopping) if args.early_stopping else None,
        check_grads_every=args.check_grads_every, log_every=args.log_every, hist_every=args.hist_every,
        quiet=args.quiet, distributed=kind, model_config=config)
    try:
        metrics = trainer.fit(loader, val_loader, epochs=args.epochs, resume=resume, test_loader=test_loader)
    except KeyboardInterrupt as e:
        print(f"manualgrad train: {str(e) or 'interrupted'}", file=sys.stderr)
        return 130
    except (NonFiniteError, ParityError) as e:
        print(f"manualgrad train: error: {e}", file=sys.stderr)
        return 1
    except (CheckpointError, RunInUseError) as e:
        error(str(e))
    except OSError as e:  # a read-only log dir, a full disk: what was written before is intact
        error(f"{one_line(e)} (writing the run under {trainer.run_dir or args.log_dir}; the checkpoints "
              "written before are intact)")
    if not trainer.dist.is_main:
        return 0
    shown = "  ".join(f"{k} {v:.4f}" for k, v in metrics.items() if k.startswith("test/"))
    print(f"{shown}  ({trainer.step} steps, {trainer.epoch} epochs on {device}"
          f"{distributed.describe(trainer.dist)})")
    print(f"run folder: {trainer.run_dir}")
    print(f"open TensorBoard: tensorboard --logdir {args.log_dir}")
    return 0


HPARAMS = ("model", "hidden", "activation", "batch_norm", "dropout", "dataset", "epochs", "batch_size", "optimizer",
           "lr", "momentum", "weight_decay", "l1", "l2", "lr_schedule", "grad_clip", "grad_clip_value",
           "early_stopping", "seed", "deterministic")


def run_hparams(args, optimizer) -> dict:
    """The options that shape the result, with their resolved values (the lr the optimizer got,
    the batch size for 'full'); not those that only say where or how to report (log dir, quiet)."""
    values = {k: getattr(args, k) for k in HPARAMS}
    values["hidden"] = ",".join(map(str, args.hidden))
    values["lr"] = optimizer.param_groups[0]["lr"]
    if args.optimizer not in ("momentum", "nesterov", "rmsprop"):
        del values["momentum"]
    if args.model == "cnn":
        del values["batch_norm"]
    return values
