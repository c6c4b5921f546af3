"""Strategies for the losses: regression, binary, nll/cross-entropy and linear_cross_entropy. Every
reduction (the deprecated 'elementwise_mean' and an unknown one included), weights, ignore_index,
label smoothing, class-index and probability targets, broadcast targets, values at the kinks."""

from __future__ import annotations

import hypothesis.strategies as st

from .compare import Case
from .tensors import any_dtypes, dims, float_dtypes, grads, index, other, rare_grads, shapes, tensor

reductions = st.sampled_from(["mean", "sum", "none"] * 3 + ["elementwise_mean", "elementwise_mean", "max"])
def _target_shape(draw, shape):
    """The input's shape, or one that broadcasts against it (torch warns, both sides alike)."""
    kind = draw(st.sampled_from(["same"] * 4 + ["drop", "ones"]))
    if kind == "drop" and shape:
        return shape[1:]
    if kind == "ones" and shape:
        return (1,) + shape[1:]
    return shape


def _regression(name, extra=None):
    @st.composite
    def cases(draw):
        shape, dtype = draw(shapes(0, 4)), draw(any_dtypes)
        kw = {"reduction": draw(reductions)} if draw(st.booleans()) else {}
        kinks = (0.0,)
        if extra:
            key, values = extra
            if draw(st.booleans()):
                kw[key] = draw(values)
            k = kw.get(key, 1.0)
            kinks = (0.0, k, -k)
        x = draw(tensor(shape, dtype, kinks=kinks, grad=draw(grads)))
        y = draw(tensor(_target_shape(draw, shape), other(draw, dtype), grad=draw(grads)))
        return Case(name, (x, y), kw)
    return cases()


CASES = {
    "mse_loss": _regression("mse_loss"),
    "l1_loss": _regression("l1_loss"),
    "smooth_l1_loss": _regression("smooth_l1_loss", ("beta", st.sampled_from([1.0, 0.5, 0.0, 2.0, -1.0]))),
    "huber_loss": _regression("huber_loss", ("delta", st.sampled_from([1.0, 0.5, 2.0, 0.0, -1.0]))),
}


def _binary(name):
    logits = name.endswith("logits")

    @st.composite
    def cases(draw):
        shape, dtype = draw(shapes(0, 4)), draw(any_dtypes)
        values = None if logits else draw(st.sampled_from(["unit"] * 5 + ["kinks", "kinks", "special", "normal"]))
        x = draw(tensor(shape, dtype, values=values, kinks=(0.0, 1.0, 0.5), grad=draw(grads)))
        y = draw(tensor(_target_shape(draw, shape), other(draw, dtype), kinks=(0.0, 1.0),
                        values=draw(st.sampled_from(["unit"] * 4 + ["kinks"] * 3 + ["normal"])), grad=draw(grads)))
        kw = {"reduction": draw(reductions)} if draw(st.booleans()) else {}
        if draw(st.booleans()):
            wshape = draw(st.sampled_from([shape, shape[-1:], ()]))
            kw["weight"] = draw(tensor(wshape, other(draw, dtype), values="unit", grad=draw(rare_grads)))
        if logits and draw(st.booleans()):
            kw["pos_weight"] = draw(tensor(shape[-1:], other(draw, dtype), values="unit", grad=draw(rare_grads)))
        return Case(name, (x, y), kw)
    return cases()


CASES.update(binary_cross_entropy=_binary("binary_cross_entropy"),
             binary_cross_entropy_with_logits=_binary("binary_cross_entropy_with_logits"))

target_dtypes = st.sampled_from(["int64"] * 6 + ["int32", "uint8", "float32"])


@st.composite
def _class_options(draw, C, dtype, smoothing=True):
    """weight, ignore_index, reduction and (cross-entropy) label_smoothing keywords."""
    kw = {}
    if draw(st.booleans()):
        kw["weight"] = draw(tensor((C,), other(draw, dtype), values="unit", grad=draw(rare_grads)))
    if draw(st.booleans()):
        kw["ignore_index"] = draw(st.sampled_from([-100, 0, 1, 1, -1]))
    if draw(st.booleans()):
        kw["reduction"] = draw(reductions)
    if smoothing and draw(st.booleans()):
        kw["label_smoothing"] = draw(st.sampled_from([0.0, 0.1, 0.1, 0.5, 1.0, 1.0, 1.5, -0.1]))
    return kw


def _classification(name):
    """nll_loss (log-probabilities) and cross_entropy: (C), (N, C) or (N, C, d1, ...) inputs,
    class targets in [0, C) with ignore_index and the odd out-of-range class, or probabilities."""

    @st.composite
    def cases(draw):
        dtype, C = draw(any_dtypes), draw(dims(0, 5))
        unbatched = draw(st.integers(0, 4)) == 0
        batch = () if unbatched else (draw(dims()),)
        spatial = () if unbatched else draw(shapes(0, 2))
        shape = (*batch, C, *spatial)
        x = draw(tensor(shape, dtype, grad=draw(grads)))
        kw = draw(_class_options(C, dtype, smoothing=name == "cross_entropy"))
        if name == "cross_entropy" and draw(st.integers(0, 3)) == 0:
            y = draw(tensor(shape, other(draw, dtype), values="unit", grad=draw(grads)))
        else:
            low = -1 if kw.get("ignore_index") == -1 else 0
            high = C + draw(st.sampled_from([0] * 9 + [1]))  # now and then a class out of range
            y = draw(index((*batch, *spatial), high, low, draw(target_dtypes)))
        return Case(name, (x, y), kw)
    return cases()


CASES.update(nll_loss=_classification("nll_loss"), cross_entropy=_classification("cross_entropy"))


@st.composite
def _linear_cross_entropy(draw):
    dtype = draw(float_dtypes)
    batch, d, C = draw(shapes(0, 1)), draw(dims(0, 6)), draw(dims(0, 6))
    x = draw(tensor((*batch, d), dtype, grad=draw(grads)))
    w = draw(tensor((C, d), other(draw, dtype), grad=draw(grads)))
    kw = draw(_class_options(C, dtype))
    if kw.get("ignore_index") == -100:
        kw["ignore_index"] = None
    if draw(st.booleans()):
        kw["linear_bias"] = draw(tensor((C,), other(draw, dtype), grad=draw(grads)))
    if draw(st.integers(0, 3)) == 0:
        y = draw(tensor((*batch, C), dtype, values="unit", grad=draw(grads)))
    else:
        y = draw(index(batch, C, -1 if kw.get("ignore_index") == -1 else 0, draw(target_dtypes)))
    return Case("linear_cross_entropy", (x, w, y), kw)


CASES["linear_cross_entropy"] = _linear_cross_entropy()
