"""Normalisation layers: the modules are torch's twins (init, state_dict, repr, forward and
backward), BatchNorm's and InstanceNorm's running statistics and modes follow torch step for step.
What each backward saves, its first-order path and its limits: tests/test_norm_backward.py."""

import inspect

import pytest
import torch

import manualgrad.functional as MF
import manualgrad.nn as mnn
from conftest import DEVICES, assert_module_matches

F = torch.nn.functional

# (class name, constructor args, constructor kwargs, input shape)
MODULES = [
    ("BatchNorm1d", (3,), {}, (4, 3)),
    ("BatchNorm1d", (3,), {"affine": False}, (4, 3, 5)),
    ("BatchNorm1d", (3,), {"track_running_stats": False}, (4, 3, 5)),
    ("BatchNorm2d", (3,), {"momentum": None, "eps": 1e-3}, (2, 3, 2, 2)),
    ("LayerNorm", ((3, 4),), {}, (2, 3, 4)),
    ("LayerNorm", (4,), {"elementwise_affine": False}, (2, 3, 4)),
    ("LayerNorm", (4,), {"bias": False}, (3, 4)),
    ("GroupNorm", (2, 4), {}, (3, 4, 5)),
    ("GroupNorm", (2, 4), {"affine": False}, (3, 4, 2, 2)),
    ("RMSNorm", (4,), {}, (3, 4)),
    ("RMSNorm", ([3, 4],), {"eps": 1e-3, "elementwise_affine": False}, (2, 3, 4)),
    ("BatchNorm3d", (3,), {}, (2, 3, 2, 2, 2)),
    ("InstanceNorm1d", (3,), {}, (2, 3, 5)),
    ("InstanceNorm1d", (3,), {"affine": True, "track_running_stats": True}, (3, 5)),
    ("InstanceNorm2d", (3,), {"affine": True, "track_running_stats": True, "momentum": None}, (2, 3, 4, 3)),
    ("InstanceNorm2d", (3,), {"track_running_stats": True}, (3, 4, 3)),
    ("InstanceNorm3d", (3,), {"affine": True}, (2, 3, 2, 3, 2)),
    ("LocalResponseNorm", (3,), {}, (2, 5, 4)),
    ("LocalResponseNorm", (2,), {"alpha": 0.1, "beta": 1.0, "k": 2.0}, (2, 4, 3, 2, 2)),
]


IDS = [f"{name}-{kw}" for name, _, kw, _ in MODULES]


def _twins(name, args, kwargs, **factory):
    """(ours, torch's), built from the same seed, with random affine parameters (torch's init is
    ones/zeros, which would hide a transposed or missing weight)."""
    pair = []
    for cls in (getattr(mnn, name), getattr(torch.nn, name)):
        torch.manual_seed(7)
        takes_factory = "device" in inspect.signature(cls.__init__).parameters  # LocalResponseNorm does not
        module = cls(*args, **kwargs, **factory) if takes_factory else cls(*args, **kwargs).to(**factory)
        with torch.no_grad():
            for p in module.parameters():
                p.uniform_(-2, 2)
        pair.append(module)
    return pair


@pytest.mark.parametrize("name,args,kwargs,shape", MODULES, ids=IDS)
def test_same_init_state_dict_and_repr_as_torch(name, args, kwargs, shape):
    torch.manual_seed(3)
    ours = getattr(mnn, name)(*args, **kwargs)
    torch.manual_seed(3)
    theirs = getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for (k, a), (j, b) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        assert k == j and torch.equal(a, b)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name,args,kwargs,shape", MODULES, ids=IDS)
def test_module_train_steps_then_eval_equal_torch(name, args, kwargs, shape, device):
    """Three training steps (forward, backward, buffers) then one eval step, ours vs torch."""
    ours, theirs = _twins(name, args, kwargs, device=device, dtype=torch.float64)
    for step in range(4):
        if step == 3:
            ours.eval(), theirs.eval()
        x = torch.randn(shape, device=device, dtype=torch.float64, requires_grad=True)
        dy = torch.randn(shape, device=device, dtype=torch.float64)
        assert_module_matches(ours, theirs, x, dy)
        for (k, u), (_, v) in zip(ours.state_dict().items(), theirs.state_dict().items()):
            torch.testing.assert_close(u, v, msg=f"step {step}: buffer {k}")


@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm_running_stats_follow_torch(momentum):
    ours, theirs = _twins("BatchNorm2d", (3,), {"momentum": momentum}, dtype=torch.float64)
    for _ in range(5):
        x = 3 * torch.randn(4, 3, 2, 2, dtype=torch.float64) + 1
        ours(x), theirs(x)
    assert ours.num_batches_tracked.item() == theirs.num_batches_tracked.item() == 5
    torch.testing.assert_close(ours.running_mean, theirs.running_mean, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(ours.running_var, theirs.running_var, rtol=1e-12, atol=1e-12)
    if momentum is None:  # the cumulative average of the batch statistics: not the initial 0 / 1
        assert not torch.allclose(ours.running_mean, torch.zeros(3, dtype=torch.float64))


def test_running_var_is_unbiased_and_normalisation_biased():
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    rm, rv = torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64)
    y = MF.batch_norm(x, rm, rv, training=True, momentum=1.0)
    torch.testing.assert_close(rm, x.mean((0, 2)))
    torch.testing.assert_close(rv, x.var((0, 2), correction=1))
    biased = x.var((0, 2), correction=0, keepdim=True)
    torch.testing.assert_close(y, (x - x.mean((0, 2), keepdim=True)) / (biased + 1e-5).sqrt())


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5), (0, 3, 2)], ids=str)
def test_functional_running_stats_equal_torch(shape, dtype):
    x = torch.randn(shape, dtype=dtype)
    stats = [torch.randn(3, dtype=dtype), torch.rand(3, dtype=dtype) + 0.5]
    ours, theirs = [t.clone() for t in stats], [t.clone() for t in stats]
    MF.batch_norm(x, *ours, training=True, momentum=0.3)
    F.batch_norm(x, *theirs, training=True, momentum=0.3)
    for u, v, before in zip(ours, theirs, stats):
        torch.testing.assert_close(u, v)
        assert torch.equal(u, before) == (x.numel() == 0)  # an empty batch leaves them alone


def test_batchnorm_eval_uses_running_stats_and_does_not_update_them():
    ours, theirs = _twins("BatchNorm1d", (3,), {}, dtype=torch.float64)
    ours.running_mean.uniform_(-1, 1), ours.running_var.uniform_(0.5, 2)
    theirs.load_state_dict(ours.state_dict())
    ours.eval(), theirs.eval()
    before = {k: v.clone() for k, v in ours.state_dict().items()}
    x = torch.randn(1, 3, dtype=torch.float64)  # a batch of one is fine in eval mode
    torch.testing.assert_close(ours(x), theirs(x))
    for k, v in ours.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_batchnorm_without_running_stats_uses_batch_stats_in_eval():
    ours, theirs = _twins("BatchNorm1d", (3,), {"track_running_stats": False, "affine": False},
                          dtype=torch.float64)
    assert ours.running_mean is None and ours.num_batches_tracked is None
    ours.eval(), theirs.eval()
    x = torch.randn(4, 3, 2, dtype=torch.float64)
    torch.testing.assert_close(ours(x), theirs(x))
    torch.testing.assert_close(ours(x).mean((0, 2)), torch.zeros(3, dtype=torch.float64))


@pytest.mark.parametrize("name,shape", [("BatchNorm1d", (1, 3)), ("BatchNorm1d", (1, 3, 1)),
                                        ("BatchNorm2d", (1, 3, 1, 1)), ("GroupNorm", (1, 2))])
def test_one_value_per_channel_raises_in_training(name, shape):
    args = (2, 2) if name == "GroupNorm" else (shape[1],)
    ours, theirs = _twins(name, args, {})
    x = torch.randn(shape)
    with pytest.raises(ValueError) as want:
        theirs(x)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training") as got:
        ours(x)
    assert str(got.value) == str(want.value)


@pytest.mark.parametrize("name,shape", [("BatchNorm1d", (2, 3, 4, 5)), ("BatchNorm1d", (3,)),
                                        ("BatchNorm2d", (4, 3, 5))])
def test_batchnorm_input_dim_errors_are_torchs(name, shape):
    ours, theirs = _twins(name, (3,), {})
    x = torch.randn(shape)
    with pytest.raises(ValueError) as want:
        theirs(x)
    with pytest.raises(ValueError) as got:
        ours(x)
    assert str(got.value) == str(want.value)


@pytest.mark.parametrize("dtype,w_dtype", [(torch.bool, None), (torch.int64, torch.float32),
                                           (torch.float32, torch.float64), (torch.bfloat16, torch.float32)])
def test_batch_norm_of_an_empty_input_is_torchs_plain_result(dtype, w_dtype):
    """torch returns input·w[0] + b[0] for an empty input before checking the running stats
    (here absent in eval): the same dtype (promoted as there), shape and no error."""
    x = torch.zeros(0, 3, dtype=dtype)
    w = None if w_dtype is None else torch.ones(3, dtype=w_dtype)
    for training in (False, True):
        ours = MF.batch_norm(x, None, None, w, w, training=training)
        theirs = torch.nn.functional.batch_norm(x, None, None, w, w, training=training)
        assert (ours.dtype, ours.shape) == (theirs.dtype, theirs.shape)


@pytest.mark.parametrize("n", [3, 0], ids=["batch", "empty batch"])
@pytest.mark.parametrize("use_input_stats", [True, False])
def test_instance_norm_running_stats_equal_torch(n, use_input_stats):
    """aten averages the per-instance statistics over N (an empty batch makes them NaN): ours too."""
    x = torch.randn(n, 3, 5, dtype=torch.float64)
    start = (torch.randn(3, dtype=torch.float64), torch.rand(3, dtype=torch.float64) + 0.5)
    stats = [tuple(t.clone() for t in start) for _ in range(2)]
    for fn, (rm, rv) in zip((MF.instance_norm, F.instance_norm), stats):
        fn(x, rm, rv, use_input_stats=use_input_stats, momentum=0.3)
    torch.testing.assert_close(stats[0], stats[1], equal_nan=True)
