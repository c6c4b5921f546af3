"""Samples for ``ctc_loss``.

torch's CTC gradient (and so ours) is exp(log_probs) − γ, which assumes the log-probabilities
are normalised: it is the gradient of the loss as a function of the logits once it goes through
log_softmax, not of free log_probs. So the op table runs ``ctc_loss(log_softmax(logits))``
(:func:`of_logits`, ours with our log_softmax, torch's with torch's), and the samples hold logits;
gradcheck then checks the hand-derived α/β gradient end to end. The fuzzer (tests/fuzz) calls
``ctc_loss`` itself on normalised log-probabilities.
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F

from .. import functional as MF
from ..functions.ctc import CTCLossFunction
from ..opspec import OpSpec
from . import ErrorSample, Sample, make

T, C = 6, 5
PADDED = [[1, 2, 2], [1, 1, 0], [3, 0, 0], [4, 4, 4]]  # the second needs 3 frames, the fourth 5
TARGET_LENGTHS = [3, 2, 0, 3]


def of_logits(ctc_loss, log_softmax):
    """``ctc_loss`` of ``log_softmax(logits, -1)``: what the table checks (module docstring)."""
    def op(logits, *args, **kwargs):
        return ctc_loss(log_softmax(logits, -1), *args, **kwargs)
    op.__name__ = op.__qualname__ = "ctc_loss_of_logits"
    return op


def samples(device, dtype):
    if dtype in (torch.float16, torch.bfloat16):  # torch has no CPU kernel for them (an error sample)
        return
    z = partial(make, device=device, dtype=dtype)
    padded = torch.tensor(PADDED, device=device)
    tl = torch.tensor(TARGET_LENGTHS, device=device)
    il = torch.tensor([6, 4, 3, 6], device=device)
    concatenated = torch.cat([padded[n, :k] for n, k in enumerate(TARGET_LENGTHS)])
    for red in ("mean", "sum", "none", "elementwise_mean"):
        yield Sample((z(T, 4, C), padded, il, tl), {"reduction": red}, name=f"padded targets {red}")
        yield Sample((z(T, 4, C), concatenated, il, tl), {"reduction": red}, name=f"concatenated targets {red}")
    yield Sample((z(T, 4, C), padded, tuple(il.tolist()), tuple(tl.tolist())), name="lengths as tuples")
    yield Sample((z(T, 4, C), padded.int(), il.int(), tl.int()), {"reduction": "sum"}, name="int32 targets and lengths")
    yield Sample((z(T, 4, C), torch.where(padded == 4, 0, padded), il, tl), {"blank": 4}, name="blank=4")
    yield Sample((z(T, 4, C), padded, il, tl, 0, "sum", True), name="positional blank, reduction, zero_infinity")
    short = torch.tensor([6, 2, 3, 6], device=device)  # sample 1 has no path: inf
    for red in ("none", "mean"):
        yield Sample((z(T, 4, C), padded, short, tl), {"zero_infinity": True, "reduction": red},
                     name=f"impossible sample, zero_infinity {red}")
        yield Sample((z(T, 4, C), padded, short, tl), {"reduction": red},
                     name=f"impossible sample: inf, NaN gradient {red}", gradcheck=False)
    yield Sample((z(T, 4, C), padded, torch.tensor([0, 4, 0, 6], device=device),
                  torch.tensor([0, 2, 0, 3], device=device)), {"reduction": "none"}, name="input length 0")
    yield Sample((z(T, C), padded[0], torch.tensor(6, device=device), torch.tensor(3, device=device)),
                 name="unbatched")
    yield Sample((z(T, C), padded[0], (5,), (3,)), {"reduction": "none"}, name="unbatched, tuples")
    yield Sample((z(T, 2, C), torch.zeros(2, 0, dtype=torch.long, device=device), torch.tensor([6, 3], device=device),
                  torch.tensor([0, 0], device=device)), name="empty targets")


def errors(device):
    z = partial(make, device=device, dtype=None, requires_grad=False)
    padded = torch.tensor(PADDED, device=device)
    il, tl = torch.tensor([6, 4, 3, 6], device=device), torch.tensor(TARGET_LENGTHS, device=device)
    yield ErrorSample((z(T, 4, C), padded, il, tl), {"reduction": "foo"}, name="bad reduction")
    yield ErrorSample((z(T, 4, C), padded, il + 1, tl), name="input length beyond T")
    yield ErrorSample((z(T, 4, C), padded, il, tl + 1), name="target length beyond the padded targets")
    yield ErrorSample((z(T, 4, C), padded, il, tl), {"blank": C}, name="blank out of range")
    yield ErrorSample((z(T, 4, C), padded, il[:3], tl), name="too few input lengths")
    yield ErrorSample((z(T, 4, C).bfloat16(), padded, il, tl), name="bfloat16 (no CPU kernel)")


# op-table entries, collected by manualgrad/ops.py
OPS = [OpSpec("ctc_loss", of_logits(MF.ctc_loss, MF.log_softmax), of_logits(F.ctc_loss, F.log_softmax),
              CTCLossFunction, samples, errors)]
