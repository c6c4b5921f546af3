"""Samples and torch references for the channel-wise dropouts and alpha dropout (the op table
seeds both sides alike). The references are torch autograd ops drawing the mask as ours does;
tests/test_dropout.py holds them (and ours) equal to ``F.dropout1d``, ``F.alpha_dropout``, ... on CPU."""

from __future__ import annotations

import warnings

import torch

from .. import functional as MF
from ..functions.dropout import AlphaDropoutFunction, DropoutFunction, alpha_coefficients
from ..opspec import OpSpec
from . import ErrorSample, Sample, make, noncontiguous


def _mask(x, p, lead):
    shape = (*x.shape[:lead], *(1,) * (x.dim() - lead)) if lead else x.shape
    if p == 1.0:
        return x.new_zeros(shape)
    noise = torch.empty(shape, dtype=torch.bool, device=x.device) if lead else torch.empty_like(x, dtype=torch.bool)
    return noise.bernoulli_(1 - p).to(x.dtype)


def reference(name):
    """torch's formula for ``name`` written with autograd ops; errors and the identity cases are
    torch's own (its function is called for them)."""
    theirs = getattr(torch.nn.functional, name)
    alpha = "alpha" in name

    def ref(input, p=0.5, training=not alpha, inplace=False):
        with warnings.catch_warnings():  # torch's own checks (dims, p), without dropping anything
            warnings.simplefilter("ignore")
            theirs(input.detach(), p, False, False)
        if not training or p == 0 or input.numel() == 0 or not input.is_floating_point() or not 0 <= p <= 1:
            return theirs(input, p, training, inplace)
        lead = {"dropout1d": 2 if input.dim() == 3 else 1, "dropout2d": 2, "dropout3d": 2 if input.dim() == 5 else 1,
                "alpha_dropout": 0, "feature_alpha_dropout": 2}[name]
        m = _mask(input, p, lead)
        if alpha and p < 1:
            a, c = alpha_coefficients(p)
            return input * (m * a) + ((m - 1) * c + c * p)
        return input * (m / (1 - p) if p < 1 else m)
    return ref


def feature(dims):
    def samples(device, dtype):
        kw = dict(device=device, dtype=dtype)
        yield Sample((make(2, 3, *dims, **kw),), name="batched, default p")
        yield Sample((make(3, *dims, **kw), 0.3), name="unbatched")
        yield Sample((make(4, 5, *dims, **kw), 0.9), name="p=0.9")
        yield Sample((make(2, 3, *dims, **kw), 1.0), name="p=1 drops all")
        yield Sample((make(2, 3, *dims, **kw), 0.5, False), name="eval is identity", node=False)
        yield Sample((make(0, 3, *dims, **kw), 0.5), name="empty", node=False)
        yield Sample((noncontiguous(2, 3, *dims, **kw), 0.5), name="non-contiguous")
        yield Sample((make(2, 3, *dims, **kw), 0.5, True, True), name="inplace", clone_input=True)
    return samples


def alpha(lead):
    def samples(device, dtype):
        kw = dict(device=device, dtype=dtype)
        shape = (2, 3, 4) if lead else (5, 4)
        yield Sample((make(*shape, **kw), 0.5, True), name="training")
        yield Sample((make(*shape, **kw), 0.2, True), name="p=0.2")
        yield Sample((make(*shape, **kw), 1.0, True), name="p=1: input·0, as torch", node=False)
        yield Sample((make(*shape, **kw),), name="default: eval, identity", node=False)
        yield Sample((noncontiguous(*shape, **kw), 0.5, True), name="non-contiguous")
        yield Sample((make(*shape, **kw), 0.5, True, True), name="inplace", clone_input=True)
    return samples


def errors(device):
    x = make(2, 3, 4, device=device, dtype=None, requires_grad=False)
    yield ErrorSample((x, 1.5), name="p > 1", error=ValueError)
    yield ErrorSample((x, -0.1), name="p < 0", error=ValueError)


def dropout1d_errors(device):
    yield from errors(device)
    yield ErrorSample((make(2, 3, 4, 5, device=device, dtype=None, requires_grad=False), 0.5), name="4-d input")


# op-table entries, collected by manualgrad/ops.py
# channel-wise and alpha dropout
OPS = [
    OpSpec("dropout1d", MF.dropout1d, reference("dropout1d"), DropoutFunction, feature((5,)), dropout1d_errors,
           seeded=True),
    OpSpec("dropout2d", MF.dropout2d, reference("dropout2d"), DropoutFunction, feature((4, 3)), errors, seeded=True),
    OpSpec("dropout3d", MF.dropout3d, reference("dropout3d"), DropoutFunction, feature((2, 3, 2)), errors,
           seeded=True),
    OpSpec("alpha_dropout", MF.alpha_dropout, reference("alpha_dropout"), AlphaDropoutFunction, alpha(0), errors,
           seeded=True),
    OpSpec("feature_alpha_dropout", MF.feature_alpha_dropout, reference("feature_alpha_dropout"),
           AlphaDropoutFunction, alpha(2), errors, seeded=True),
]
