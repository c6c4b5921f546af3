"""Strategies for linear, conv1d/conv2d and embedding: batched, unbatched and empty inputs,
stride/padding/dilation/groups/'same'/'valid', padding_idx, max_norm; sizes that make an empty or
negative output (torch's errors) drawn now and then. The poolings are in st_pooling.py."""

from __future__ import annotations

import hypothesis.strategies as st

from .compare import Case
from .tensors import FLOATS, LOW, T, any_dtypes, dims, grads, index, other, seeds, shapes, tensor


@st.composite
def _linear(draw):
    dtype, d, out = draw(any_dtypes), draw(dims(0, 6)), draw(dims(0, 6))
    x = draw(tensor((*draw(shapes(0, 3)), d), dtype, grad=draw(grads)))
    wshape = draw(st.sampled_from([(out, d)] * 4 + [(d,)]))
    w = draw(tensor(wshape, other(draw, dtype), grad=draw(grads)))
    args = (x, w)
    if draw(st.booleans()):
        bshape = draw(st.sampled_from([(out,), (out,), (), (1, out)])) if len(wshape) == 2 else ()
        args += (draw(tensor(bshape, other(draw, dtype), grad=draw(grads))),)
    return Case("linear", args)


@st.composite
def _bilinear(draw):
    dtype, i, j, out = draw(any_dtypes), draw(dims(0, 4)), draw(dims(0, 4)), draw(dims(0, 4))
    batch = draw(shapes(0, 2))
    batch2 = draw(st.sampled_from([batch] * 9 + [(*batch, 2)]))  # batch dims that differ (torch's error) now and then
    x1 = draw(tensor((*batch, i), dtype, grad=draw(grads)))
    x2 = draw(tensor((*batch2, j), other(draw, dtype), grad=draw(grads)))
    w = draw(tensor((out, i, j), other(draw, dtype), grad=draw(grads)))
    args = (x1, x2, w)
    if draw(st.booleans()):
        args += (draw(tensor(draw(st.sampled_from([(out,), (out,), (1,)])), other(draw, dtype), grad=draw(grads))),)
    return Case("bilinear", args)


def _ints(n, lo, hi):
    """An int, or an n-tuple of ints (torch accepts either)."""
    one = st.integers(lo, hi)
    return st.one_of(one, st.tuples(*[one] * n)) if n > 1 else one


def _conv(name, n, dtypes):
    """conv1d (n=1) / conv2d (n=2) cases with input dtypes from ``dtypes``."""

    @st.composite
    def cases(draw):
        dtype = draw(st.sampled_from(dtypes))
        groups = draw(st.sampled_from([1, 1, 2, 3]))
        cin, cout = groups * draw(dims(1, 2)), groups * draw(dims(1, 2))
        k = draw(st.tuples(*[st.integers(1, 3)] * n))
        batch = draw(st.sampled_from([(), (0,), (1,), (2,), (3,)]))
        x = draw(tensor((*batch, cin, *draw(st.tuples(*[st.integers(1, 7)] * n))), dtype, grad=draw(grads)))
        w = draw(tensor((cout, cin // groups, *k), other(draw, dtype), grad=draw(grads)))
        kw = {}
        if draw(st.booleans()):
            kw["bias"] = draw(tensor((cout,), other(draw, dtype), grad=draw(grads)))
        if draw(st.booleans()):
            kw["stride"] = draw(_ints(n, 1, 3))
        if draw(st.booleans()):
            kw["padding"] = draw(st.one_of(_ints(n, 0, 2), st.sampled_from(["same", "valid"])))
        if draw(st.booleans()):
            kw["dilation"] = draw(_ints(n, 1, 3))
        if groups > 1:
            kw["groups"] = groups
        return Case(name, (x, w), kw)

    return cases()


# Half-precision conv runs in a subprocess (see tests/test_fuzz.py): a crash there must not
# take the suite down.
WHOLE = FLOATS * 3 + ("int64", "bool")
FULL = tuple(d for d in WHOLE if d not in LOW)
CASES = {
    "linear": _linear(), "bilinear": _bilinear(),
    "conv1d": _conv("conv1d", 1, FULL), "conv2d": _conv("conv2d", 2, FULL),
    "conv1d[half]": _conv("conv1d", 1, LOW), "conv2d[half]": _conv("conv2d", 2, LOW),
}


@st.composite
def _embedding(draw):
    V, D = draw(dims(0, 6)), draw(dims(0, 4))
    w = draw(tensor((V, D), draw(st.sampled_from(FLOATS)), grad=draw(grads)))
    idx = draw(index(draw(shapes(0, 3)), V + draw(st.sampled_from([0] * 9 + [1])),
                     dtype=draw(st.sampled_from(["int64", "int64", "int32", "uint8"]))))
    kw = {}
    if draw(st.booleans()):
        kw["padding_idx"] = draw(st.sampled_from([None, 0, 1, -1, V]))
    if draw(st.booleans()):
        kw["max_norm"] = draw(st.sampled_from([None, 1.0, 0.5, 1e-3]))
        kw["norm_type"] = draw(st.sampled_from([2.0, 1.0, 3.0]))
    if draw(st.booleans()):
        kw["scale_grad_by_freq"] = draw(st.booleans())
    return Case("embedding", (idx, w), kw)


@st.composite
def _embedding_bag(draw):
    V, D, n = draw(dims(0, 6)), draw(dims(0, 4)), draw(dims(0, 8))
    w = draw(tensor((V, D), draw(st.sampled_from(FLOATS)), grad=draw(grads)))
    mode = draw(st.sampled_from(["sum", "mean", "max", "sum"]))
    kw = {"mode": mode}
    if draw(st.booleans()):  # 1-d input and offsets (now and then unsorted or past the input: torch's errors)
        idx = draw(index((n,), V + draw(st.sampled_from([0] * 9 + [1]))))
        kind = draw(st.sampled_from(["offsets"] * 9 + ["index"]))
        n_off = draw(st.integers(0 if kind == "index" else 1, 4))
        kw["include_last_offset"] = draw(st.booleans())
        offsets = T((n_off,), "int64", "contiguous", kind, draw(seeds), False, 0, n + draw(st.sampled_from([1] * 9 + [3])))
        args, shape = (idx, w, offsets), (n,)
    else:
        shape = (draw(dims(0, 3)), draw(dims(0, 3)))
        args = (draw(index(shape, V)), w)
    if draw(st.booleans()):
        kw["padding_idx"] = draw(st.sampled_from([None, 0, 1, -1]))
    if draw(st.booleans()):
        kw["scale_grad_by_freq"] = draw(st.booleans())
    if draw(st.integers(0, 3)) == 0 and (mode == "sum" or draw(st.integers(0, 5)) == 0):
        kw["per_sample_weights"] = draw(tensor(shape, w.dtype, grad=draw(grads)))
    if draw(st.integers(0, 5)) == 0:
        kw["max_norm"] = draw(st.sampled_from([1.0, 0.5]))
    return Case("embedding_bag", args, kw)


CASES.update(embedding=_embedding(), embedding_bag=_embedding_bag())
