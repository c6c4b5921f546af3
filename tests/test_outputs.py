"""What an op hands back behaves as torch's does: an output torch lets you modify in place (no
view of an intermediate) can be modified in place here too, with the same gradients. Found by
``Conv → BatchNorm → ReLU(inplace=True)``, torchvision's ResNet pattern, which once raised
"Output 0 of BatchNormFunction is a view and is being modified inplace"."""

import warnings

import pytest
import torch

import manualgrad as mg
from manualgrad import ops, verify


def _same_memory(t, a) -> bool:
    return t is a or (isinstance(a, torch.Tensor) and a.numel() > 0
                      and t.untyped_storage().data_ptr() == a.untyped_storage().data_ptr())


def doubled_in_place(fn):
    """``fn`` whose (first) output is then doubled in place, as a user's in-place op would."""
    def run(*args, **kwargs):
        out = fn(*args, **kwargs)
        first = out[0] if isinstance(out, tuple) else out
        if any(_same_memory(first, a) for a in args) or not (first.requires_grad and first.is_floating_point()):
            return first  # the input itself (in-place variants, dropout in eval) or nothing to modify
        return first.mul_(2)
    return run


def _specs():
    return [pytest.param(spec, id=spec.name) for spec in ops.OPS]


@pytest.mark.parametrize("spec", _specs())
def test_outputs_are_modifiable_in_place_where_torchs_are(spec):
    tol = spec.tolerance(torch.float64)
    for sample in spec.samples(torch.device("cpu"), torch.float64):
        if sample.clone_input:  # an in-place variant: its output is its input, modified already
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                theirs = verify.run(doubled_in_place(spec.ref), sample.args, sample.kwargs, seed=0,
                                    clone_input=sample.clone_input)
            except RuntimeError:  # torch's own output is one it refuses to modify in place
                continue
            ours = verify.run(doubled_in_place(spec.op), sample.args, sample.kwargs, dy=theirs.dy, seed=0,
                              clone_input=sample.clone_input)
        diffs = [verify.compare(ours.out, theirs.out, **tol)]
        diffs += [verify.compare(g, h, **tol) for g, h in zip(ours.grads, theirs.grads, strict=True)]
        assert all(d.ok for d in diffs), f"{sample}: {[d.why for d in diffs if not d.ok]}"


def _block(inplace: bool):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1, bias=False), torch.nn.BatchNorm2d(4),
                               torch.nn.ReLU(inplace=inplace), torch.nn.Conv2d(4, 2, 1),
                               torch.nn.GroupNorm(2, 2), torch.nn.ReLU(inplace=inplace)).double()


@pytest.mark.parametrize("train", [True, False])
def test_resnet_style_block_with_in_place_relu_after_the_norms(train):
    x = torch.randn(2, 3, 5, 5, dtype=torch.float64, requires_grad=True)
    ref, ours = _block(True).train(train), _block(True).train(train)
    assert not mg.swap(ours).skipped
    result = mg.check(ours, ref, x)
    assert result.ok, result
    assert len(result.grads) == 1 + len(list(ref.parameters()))  # dx and every parameter compared
