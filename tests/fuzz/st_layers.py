"""Strategies for linear, bilinear, conv1d/2d/3d, conv_transpose1d/2d/3d, fold/unfold, embedding and
embedding_bag: batched, unbatched and empty inputs, stride/padding/dilation/groups/'same'/'valid',
output_padding, padding_idx, max_norm, bags; sizes that make an empty or negative output (torch's
errors) drawn now and then. The poolings are in st_pooling.py."""

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


_SPATIAL = {1: 7, 2: 7, 3: 4}  # largest spatial size drawn per dim


def _conv(name, n, dtypes, transposed=False):
    """conv{n}d, or conv_transpose{n}d (``transposed``), cases with input dtypes from ``dtypes``:
    weight (out, in/groups, *k), transposed (in, out/groups, *k); output_padding below the
    stride or the dilation, and now and then not (torch's error)."""

    @st.composite
    def cases(draw):
        dtype = draw(st.sampled_from(dtypes))
        groups = draw(st.sampled_from([1, 1, 2, 3]))
        cin, cout = groups * draw(dims(1, 2)), groups * draw(dims(1, 2))
        k = draw(st.tuples(*[st.integers(1, 3)] * n))
        batch = draw(st.sampled_from([(), (0,), (1,), (2,), (3,)]))
        size = draw(st.tuples(*[st.integers(1, _SPATIAL[n])] * n))
        x = draw(tensor((*batch, cin, *size), dtype, grad=draw(grads)))
        wshape = (cin, cout // groups, *k) if transposed else (cout, cin // groups, *k)
        w = draw(tensor(wshape, other(draw, dtype), grad=draw(grads)))
        kw = {}
        if draw(st.booleans()):
            kw["bias"] = draw(tensor((cout,), other(draw, dtype), grad=draw(grads)))
        if draw(st.booleans()):
            kw["stride"] = draw(_ints(n, 1, 3))
        if draw(st.booleans()):
            strings = st.nothing() if transposed else st.sampled_from(["same", "valid"])
            kw["padding"] = draw(st.one_of(_ints(n, 0, 2), strings))
        if draw(st.booleans()):
            kw["dilation"] = draw(_ints(n, 1, 3))
        if transposed and draw(st.booleans()):
            kw["output_padding"] = draw(_ints(n, 0, 2))
        if groups > 1:
            kw["groups"] = groups
        return Case(name, (x, w), kw)

    return cases()


@st.composite
def _image(draw):
    """(N, C, H, W) or unbatched (C, H, W)."""
    batch = draw(st.sampled_from([(), (0,), (1,), (2,)]))
    shape = (*batch, draw(st.sampled_from([1, 2, 3] * 5 + [0])), draw(dims(1, 7)), draw(dims(1, 7)))
    return draw(tensor(shape, draw(any_dtypes), grad=draw(grads)))


@st.composite
def _unfold(draw):
    x = draw(_image())
    kw = {}
    for key, lo in (("dilation", 1), ("padding", 0), ("stride", 1)):
        if draw(st.booleans()):
            kw[key] = draw(_ints(2, lo, lo + 2))
    return Case("unfold", (x, draw(_ints(2, 1, 3))), kw)


@st.composite
def _fold(draw):
    """Columns sized to the blocks of a drawn layout; an output size too small for one block, a
    block or a channel off now and then (torch's errors)."""
    one = lambda lo, hi: draw(st.tuples(st.integers(lo, hi), st.integers(lo, hi)))  # noqa: E731
    k, d, p, s = one(1, 3), one(1, 2), one(0, 2), one(1, 3)
    reach = [di * (ki - 1) + 1 - 2 * pi for ki, di, pi in zip(k, d, p)]  # the smallest size with a block
    size = tuple(max(1, r + draw(st.sampled_from([0, 1, 2, 3, 4] * 3 + [-1]))) for r in reach)
    blocks = 1
    for n, ki, di, pi, si in zip(size, k, d, p, s):
        blocks *= max(0, (n + 2 * pi - di * (ki - 1) - 1) // si + 1)
    off = draw(st.sampled_from([0] * 9 + [1]))
    channels = draw(st.sampled_from([1, 2, 3] * 5 + [0])) * k[0] * k[1] + off
    batch = draw(st.sampled_from([(), (0,), (1,), (2,)]))
    x = draw(tensor((*batch, channels, blocks + draw(st.sampled_from([0] * 9 + [1]))), draw(any_dtypes),
                    grad=draw(grads)))
    return Case("fold", (x, size, k), dict(dilation=d, padding=p, stride=s))


# Half-precision conv runs in a subprocess (see tests/test_fuzz.py): a crash there must not
# take the suite down.
WHOLE = FLOATS * 3 + ("int64", "bool")
FULL = tuple(d for d in WHOLE if d not in LOW)
CASES = {"linear": _linear(), "bilinear": _bilinear()}
for _n in (1, 2, 3):
    for _name, _transposed in ((f"conv{_n}d", False), (f"conv_transpose{_n}d", True)):
        CASES[_name] = _conv(_name, _n, FULL, _transposed)
        CASES[f"{_name}[half]"] = _conv(_name, _n, LOW, _transposed)


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


CASES.update(unfold=_unfold(), fold=_fold(), embedding=_embedding(), embedding_bag=_embedding_bag())
