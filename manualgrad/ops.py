"""THE op table: one entry per op, which drives ``tests/test_ops.py``, ``manualgrad verify`` and
``manualgrad bench``.

Each family's entries (``OpSpec``, in ``manualgrad/opspec.py``) live beside its sample generators,
as the list ``OPS`` of ``manualgrad/samples/<family>.py``; this module only collects them. Adding
an op means an entry in its family's ``OPS`` (a new family: its module appended to ``_FAMILIES``).

The order below is the table's order (test ids, ``verify``'s rows): the first block, then
``MATH_OPS`` and ``REDUCTION_OPS``, then the families in the order they joined the table. It is
fixed; append, never reorder. conv3d joined after conv1d/conv2d, so ``samples/conv.py`` keeps it in
a list of its own (``OPS_3D``).
"""

from __future__ import annotations

from .opspec import OpSpec
from .samples import activations, activations_more, arithmetic, attention, bilinear, conv, conv_transpose
from .samples import cross_entropy, ctc, distances, dropout, dropout_more, elementwise, embedding, embedding_bag, fold
from .samples import linear, linear_cross_entropy, losses, margin_losses, matmul, norm, norm_more, padding
from .samples import pooling, pooling_fractional, pooling_nd, probabilistic_losses, reductions, regularization
from .samples import resample, rnn

__all__ = ["OpSpec", "OPS", "OPS_BY_NAME", "MATH_OPS", "REDUCTION_OPS", "get"]

MATH_OPS: list[OpSpec] = [*matmul.OPS, *elementwise.OPS]
REDUCTION_OPS: list[OpSpec] = list(reductions.OPS)

_FAMILIES = [
    linear.OPS, dropout.OPS, activations.OPS, losses.OPS, cross_entropy.OPS, regularization.OPS, conv.OPS,
    pooling.OPS, norm.OPS, embedding.OPS, linear_cross_entropy.OPS, attention.OPS,
    MATH_OPS, REDUCTION_OPS,
    pooling_nd.OPS, norm_more.OPS, bilinear.OPS, embedding_bag.OPS, activations_more.OPS, dropout_more.OPS,
    resample.OPS, padding.OPS,
    conv.OPS_3D, conv_transpose.OPS, fold.OPS,
    distances.OPS, margin_losses.OPS, probabilistic_losses.OPS, ctc.OPS,
    rnn.OPS,
    pooling_fractional.OPS,
    arithmetic.OPS,  # what strict routing sends to manualgrad
]
OPS: list[OpSpec] = [spec for family in _FAMILIES for spec in family]

OPS_BY_NAME = {spec.name: spec for spec in OPS}
assert len(OPS_BY_NAME) == len(OPS), "duplicate op names in the table"


def get(name: str) -> OpSpec:
    """The spec of the op called ``name`` (as in ``torch.nn.functional``)."""
    try:
        return OPS_BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown op {name!r}; known ops: {', '.join(OPS_BY_NAME)}") from None
