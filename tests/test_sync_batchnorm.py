"""SyncBatchNorm: in one process it is torch's SyncBatchNorm (BatchNorm's forward, backward and
running stats); across two gloo processes on CPU each rank's output and input gradient are those of
one BatchNorm over the ranks' batches concatenated, the running stats too, and the parameter
gradients are torch's local sums (DDP averages them)."""

import datetime
import os
import pathlib

import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

import manualgrad as mg
import manualgrad.nn as mnn
from test_distributed import WORLD, spawn

CONFIGS = [({}, (6, 3)), ({"affine": False}, (4, 3, 5)), ({"track_running_stats": False}, (4, 3, 2, 2)),
           ({"momentum": None, "eps": 1e-3}, (2, 3, 2, 2, 2)), ({"bias": False}, (5, 3, 4))]


def twins(kwargs, dtype=torch.float64):
    torch.manual_seed(0)
    theirs = torch.nn.SyncBatchNorm(3, **kwargs, dtype=dtype)
    ours = mnn.SyncBatchNorm(3, **kwargs, dtype=dtype)
    ours.load_state_dict(theirs.state_dict())
    if theirs.weight is not None:
        with torch.no_grad():
            for p in (theirs.weight, theirs.bias):
                if p is not None:
                    p.uniform_(-2, 2)
        ours.load_state_dict(theirs.state_dict())
    return ours, theirs


@pytest.mark.parametrize("kwargs,shape", CONFIGS)
def test_one_process_is_torchs_sync_batch_norm(kwargs, shape):
    ours, theirs = twins(kwargs)
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    for step, training in enumerate([True, True, False, True]):
        ours.train(training), theirs.train(training)
        x = torch.randn(shape, dtype=torch.float64).mul_(3).add_(step).requires_grad_()
        dy = torch.randn(shape, dtype=torch.float64)
        got, want = ours(x), theirs(x)
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
        grads = [x] + [p for p in theirs.parameters()]
        mine = [x] + [p for p in ours.parameters()]
        for g, w in zip(torch.autograd.grad(got, mine, dy), torch.autograd.grad(want, grads, dy), strict=True):
            torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-12)
        for k, v in theirs.state_dict().items():
            torch.testing.assert_close(ours.state_dict()[k], v, rtol=1e-12, atol=0)


def test_input_checks_are_torchs():
    for shape in [(3,), (2, 0, 4)]:
        with pytest.raises(ValueError) as want:
            torch.nn.SyncBatchNorm(3)(torch.randn(shape))
        with pytest.raises(ValueError) as got:
            mnn.SyncBatchNorm(3)(torch.randn(shape))
        assert str(got.value) == str(want.value)


def test_convert_sync_batchnorm_builds_the_class_it_is_called_on():
    net = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 1), torch.nn.BatchNorm2d(3),
                              torch.nn.Sequential(torch.nn.BatchNorm1d(4, affine=False, momentum=None).eval()))
    ours = mnn.SyncBatchNorm.convert_sync_batchnorm(net)
    assert type(ours[1]) is mnn.SyncBatchNorm and type(ours[2][0]) is mnn.SyncBatchNorm
    assert ours[1].weight is net[1].weight and ours[1].running_var is net[1].running_var
    assert not ours[2][0].training and ours[2][0].momentum is None and ours[2][0].weight is None
    theirs = torch.nn.SyncBatchNorm.convert_sync_batchnorm(torch.nn.BatchNorm1d(4, bias=False))
    assert type(theirs) is torch.nn.SyncBatchNorm
    assert repr(mnn.SyncBatchNorm.convert_sync_batchnorm(torch.nn.BatchNorm1d(4, bias=False))) == repr(theirs)


def test_swap_replaces_torchs_sync_batch_norm():
    net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.SyncBatchNorm(3))
    mg.swap(net)
    assert type(net[1]) is mnn.SyncBatchNorm
    mg.revert(net)
    assert type(net[1]) is torch.nn.SyncBatchNorm


# Each case: the rows of one global batch per rank (unequal, one rank empty, all empty) and its shape.
CASES = [((5, 3), (8, 3, 4)), ((4, 0), (4, 3)), ((1, 6), (7, 3, 2, 2)), ((0, 0), (0, 3, 2))]
# (case, dtype, mean of x): float64 (momentum=None), bfloat16, and float32 far from 0, where sums of x²
# would cancel (a variance of 9 under a mean² of 1e8): the ranks send centred sums instead
RUNS = ([(c, torch.float64, 2.0) for c in CASES] + [(CASES[0], torch.bfloat16, 2.0)]
        + [(((3, 5), (8, 3, 3)), torch.float32, 1e4)])
# float32 at 1e4: one ulp of x (or μ) is 1e-3, 3e-4 of σ, in every x̂ (sums of x² would be off by ~10 in σ²)
TOL = {torch.float64: {"rtol": 1e-12, "atol": 1e-12}, torch.float32: {"rtol": 1e-3, "atol": 2e-3},
       torch.bfloat16: {"rtol": 2e-2, "atol": 2e-2}}


def batches(rows, shape, dtype=torch.float64, offset=2.0):
    g = torch.Generator().manual_seed(sum(rows) + len(shape))
    x = (torch.randn(shape, generator=g, dtype=torch.float64) * 3 + offset).to(dtype)
    dy = torch.randn(shape, generator=g, dtype=torch.float64).to(dtype)
    bounds = [0, rows[0], rows[0] + rows[1]]
    return x, dy, [slice(bounds[r], bounds[r + 1]) for r in range(WORLD)]


def make_bn(dtype=torch.float64, cls=mnn.SyncBatchNorm, **kwargs):
    torch.manual_seed(1)
    bn = cls(3, dtype=dtype, **kwargs)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 2), bn.bias.uniform_(-1, 1)
    return bn


def reference(dim, **kwargs):
    """A BatchNorm of the same parameters for a ``dim``-d input, in one process."""
    return make_bn(cls={2: mnn.BatchNorm1d, 3: mnn.BatchNorm1d, 4: mnn.BatchNorm2d, 5: mnn.BatchNorm3d}[dim], **kwargs)


def ddp_model():
    torch.manual_seed(2)
    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3), torch.nn.ReLU(),
                               torch.nn.Linear(3, 2)).double()


def worker(rank, tmp):
    os.environ.pop("MASTER_ADDR", None)
    dist.init_process_group("gloo", init_method=f"file://{tmp}/store", rank=rank, world_size=WORLD,
                            timeout=datetime.timedelta(seconds=30))
    out = {"cases": []}
    try:
        for (rows, shape), dtype, offset in RUNS:
            x, dy, part = batches(rows, shape, dtype, offset)
            bn = make_bn(dtype, momentum=None if dtype == torch.float64 else 0.1)
            xr = x[part[rank]].clone().requires_grad_()
            y = bn(xr)
            dx, dw, db = torch.autograd.grad(y, (xr, bn.weight, bn.bias), dy[part[rank]])
            out["cases"].append((y.detach(), dx, dw, db, {k: v.clone() for k, v in bn.state_dict().items()}))
        x, dy, part = batches(*CASES[0])
        # DDP over our SyncBatchNorm, the loss of each rank's rows. torch's DDP refuses any SyncBatchNorm on
        # CPU when it is built; the layers converted in place after wrapping keep its parameters and hooks
        with pytest.raises(ValueError, match="SyncBatchNorm layers only work with GPU modules"):
            DistributedDataParallel(mnn.SyncBatchNorm.convert_sync_batchnorm(ddp_model()))
        net = DistributedDataParallel(ddp_model())
        assert mnn.SyncBatchNorm.convert_sync_batchnorm(net.module) is net.module
        assert type(net.module[1]) is mnn.SyncBatchNorm
        inp = x.reshape(8, 12)[part[rank], :4]
        (net(inp) * dy.reshape(8, 12)[part[rank], :2]).sum().backward()
        out["ddp"] = [p.grad.clone() for p in net.module.parameters()]
        out["ddp_buffers"] = {k: v.clone() for k, v in net.module.state_dict().items()}
        # a group of one rank, eval, and the recording backward
        alone = dist.new_group([0]), dist.new_group([1])
        bn = make_bn(process_group=alone[rank])
        out["alone"] = bn(x[part[rank]]).detach()
        out["eval"] = make_bn(track_running_stats=False).eval()(x[part[rank]]).detach()  # not synchronised, as torch's
        xr = x[part[rank]].clone().requires_grad_()
        y = make_bn()(xr)
        with pytest.raises(RuntimeError, match="double backward across processes is not supported"):
            torch.autograd.grad(y, xr, dy[part[rank]], create_graph=True)
        with pytest.raises(ValueError, match="SyncBatchNorm expected input tensor to be on GPU"):
            torch.nn.SyncBatchNorm(3)(x)  # torch's: no CPU; ours syncs over gloo on CPU
    finally:
        dist.destroy_process_group()
    torch.save(out, pathlib.Path(tmp) / f"out{rank}.pt")


def test_two_processes_normalise_as_one_batch_norm_over_both_batches(tmp_path):
    spawn(worker, str(tmp_path), timeout=60)
    outs = [torch.load(tmp_path / f"out{r}.pt") for r in range(WORLD)]
    for i, ((rows, shape), dtype, offset) in enumerate(RUNS):
        x, dy, part = batches(rows, shape, dtype, offset)
        bn = reference(x.dim(), dtype=dtype, momentum=None if dtype == torch.float64 else 0.1)
        xf = x.clone().requires_grad_()
        y = bn(xf)
        dx, = torch.autograd.grad(y, xf, dy) if x.numel() else (torch.zeros_like(x),)
        xhat = F.batch_norm(x.double(), None, None, training=True, eps=bn.eps) if x.numel() else x.double()
        tol = TOL[dtype]
        for rank, out in enumerate(outs):
            got_y, got_dx, got_dw, got_db, state = out["cases"][i]
            p = part[rank]
            torch.testing.assert_close(got_y, y.detach()[p], **tol)
            torch.testing.assert_close(got_dx, dx[p], **tol)
            dims = [0, *range(2, x.dim())]  # torch's (and ours): this rank's sums; DDP averages them
            torch.testing.assert_close(got_dw, (dy[p].double() * xhat[p]).sum(dims).to(dtype), **tol)
            torch.testing.assert_close(got_db, dy[p].double().sum(dims).to(dtype), **tol)
            for k, v in bn.state_dict().items():
                torch.testing.assert_close(state[k], v, **tol)

    x, dy, part = batches(*CASES[0])
    net = ddp_model()  # one process, both ranks' rows: the sum of the two losses
    (net(x.reshape(8, 12)[:, :4]) * dy.reshape(8, 12)[:, :2]).sum().backward()
    for out in outs:
        for got, p in zip(out["ddp"], net.parameters(), strict=True):
            torch.testing.assert_close(got, p.grad / WORLD, rtol=1e-10, atol=1e-12)
        for k, v in net.state_dict().items():
            torch.testing.assert_close(out["ddp_buffers"][k], v, rtol=1e-12, atol=1e-12)
    for rank, out in enumerate(outs):  # a group of one rank: BatchNorm over this rank's rows only
        torch.testing.assert_close(out["alone"], reference(x.dim())(x[part[rank]]), rtol=1e-12,
                                   atol=1e-12)
        want = reference(x.dim(), track_running_stats=False).eval()(x[part[rank]])
        torch.testing.assert_close(out["eval"], want, rtol=1e-12, atol=1e-12)
