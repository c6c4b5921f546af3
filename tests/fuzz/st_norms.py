"""Strategies for batch/layer/group/rms/instance/local-response norm and scaled_dot_product_attention: affine or not,
running statistics or not, training flag, momentum, eps (0 included), mixed parameter dtypes;
attention with bool/float masks, is_causal, scale, GQA and seeded dropout."""

from __future__ import annotations

import hypothesis.strategies as st

from .compare import Case
from .tensors import any_dtypes, dims, float_dtypes, grads, other, seeds, shapes, tensor

eps = st.sampled_from([1e-5, 1e-3, 0.0, 1e-12])


@st.composite
def _affine(draw, shape, dtype, bias=True):
    """weight (and bias) keywords of ``shape``, each present or not."""
    kw = {}
    if draw(st.booleans()):
        kw["weight"] = draw(tensor(shape, other(draw, dtype), grad=draw(grads)))
    if bias and draw(st.booleans()):
        kw["bias"] = draw(tensor(shape, other(draw, dtype), grad=draw(grads)))
    return kw


@st.composite
def _batch_norm(draw):
    dtype, C = draw(any_dtypes), draw(dims(0, 4))
    shape = (draw(dims(0, 4)), C, *draw(shapes(0, 2)))
    x = draw(tensor(shape, dtype, grad=draw(grads)))
    stats = [None, None]
    if draw(st.integers(0, 3)):
        sd = draw(st.sampled_from([dtype, dtype, "float32"]))
        stats = [draw(tensor((C,), sd, values=v, grad=False)) for v in ("normal", "unit")]
    kw = draw(_affine((C,), dtype))
    kw["training"] = draw(st.booleans())
    if draw(st.booleans()):
        kw["momentum"] = draw(st.sampled_from([0.1, 0.0, 1.0, None]))
    if draw(st.booleans()):
        kw["eps"] = draw(eps)
    return Case("batch_norm", (x, *stats), kw)


@st.composite
def _layer_norm(draw, name="layer_norm"):
    dtype, shape = draw(any_dtypes), draw(shapes(1, 4))
    k = draw(st.integers(1, len(shape)))
    normalized = list(shape[-k:]) if draw(st.integers(0, 9)) else [s + 1 for s in shape[-k:]]
    x = draw(tensor(shape, dtype, grad=draw(grads)))
    kw = draw(_affine(tuple(normalized), dtype, bias=name == "layer_norm"))
    if draw(st.booleans()):
        kw["eps"] = draw(eps if name == "layer_norm" else st.one_of(st.none(), eps))
    return Case(name, (x, normalized), kw)


@st.composite
def _group_norm(draw):
    dtype, g = draw(any_dtypes), draw(st.integers(1, 3))
    C = g * draw(dims(0, 2)) + draw(st.sampled_from([0] * 9 + [1]))  # now and then not divisible
    x = draw(tensor((draw(dims(0, 3)), C, *draw(shapes(0, 2))), dtype, grad=draw(grads)))
    kw = draw(_affine((C,), dtype))
    if draw(st.booleans()):
        kw["eps"] = draw(eps)
    return Case("group_norm", (x, g), kw)


@st.composite
def _instance_norm(draw):
    dtype, C = draw(any_dtypes), draw(dims(0, 4))
    x = draw(tensor((draw(dims(0, 3)), C, *draw(shapes(0, 2))), dtype, grad=draw(grads)))
    stats = {}
    if draw(st.integers(0, 2)):
        sd = draw(st.sampled_from([dtype, dtype, "float32"]))
        stats = {"running_mean": draw(tensor((C,), sd, values="normal", grad=False)),
                 "running_var": draw(tensor((C,), sd, values="unit", grad=False))}
    kw = {**stats, **draw(_affine((C,), dtype))}
    if draw(st.booleans()):
        kw["use_input_stats"] = draw(st.booleans())
    if draw(st.booleans()):
        kw["momentum"] = draw(st.sampled_from([0.1, 0.0, 1.0]))
    if draw(st.booleans()):
        kw["eps"] = draw(eps)
    return Case("instance_norm", (x,), kw)


@st.composite
def _local_response_norm(draw):
    x = draw(tensor((draw(dims(0, 3)), draw(dims(0, 6)), *draw(shapes(0, 3))), draw(any_dtypes), grad=draw(grads)))
    kw = {}
    for key, values in (("alpha", [1e-4, 1.0, 0.0]), ("beta", [0.75, 1.0, 0.5, 2.0]), ("k", [1.0, 2.0, 0.5])):
        if draw(st.booleans()):
            kw[key] = draw(st.sampled_from(values))
    return Case("local_response_norm", (x, draw(st.sampled_from([1, 2, 3, 5, 8, 0]))), kw)


CASES = {"batch_norm": _batch_norm(), "layer_norm": _layer_norm(), "group_norm": _group_norm(),
         "rms_norm": _layer_norm("rms_norm"), "instance_norm": _instance_norm(),
         "local_response_norm": _local_response_norm()}


@st.composite
def _sdpa(draw):
    dtype = draw(float_dtypes)
    batch = draw(st.sampled_from([(), (2,), (1, 2), (2, 3)]))
    hkv, gqa = (batch[-1] if len(batch) == 2 else None), False
    kv_batch = batch
    if hkv and draw(st.booleans()):  # grouped-query attention: fewer key/value heads
        gqa, kv_batch = True, (batch[0], 1)
    L, S, E, Ev = draw(dims(0, 4)), draw(dims(0, 4)), draw(dims(1, 4)), draw(dims(1, 4))
    q = draw(tensor((*batch, L, E), dtype, grad=draw(grads)))
    k = draw(tensor((*kv_batch, S, E), dtype, grad=draw(grads)))
    v = draw(tensor((*kv_batch, S, Ev), other(draw, dtype), grad=draw(grads)))
    kw = {}
    if draw(st.booleans()):
        mshape = draw(st.sampled_from([(L, S), (*batch, L, S), (1, S)]))
        mdtype = draw(st.sampled_from(["bool", "bool", dtype, "float32"]))
        kw["attn_mask"] = draw(tensor(mshape, mdtype, values=draw(st.sampled_from(["normal", "special"])),
                                      grad=draw(grads)))
    if draw(st.booleans()):
        kw["dropout_p"] = draw(st.sampled_from([0.0, 0.3, 1.0]))
    if draw(st.booleans()):
        kw["is_causal"] = draw(st.booleans())
    if draw(st.booleans()):
        kw["scale"] = draw(st.sampled_from([None, 0.5, 2.0, 0.0]))
    if gqa or draw(st.integers(0, 5)) == 0:
        kw["enable_gqa"] = gqa
    return Case("scaled_dot_product_attention", (q, k, v), kw, seed=draw(seeds))


CASES["scaled_dot_product_attention"] = _sdpa()
