"""Strategies for the distances (pairwise_distance, cosine_similarity, normalize), the margin
losses, the likelihood losses (kl_div, poisson/gaussian nll, multilabel_soft_margin) and ctc_loss:
every option, reduction (the deprecated alias, an unknown one and the size_average/reduce pairs where
the op takes them), ±1 targets with the hinge points at the margin, broadcast targets and var shapes."""

from __future__ import annotations

import hypothesis.strategies as st
import torch

from .compare import Case
from .st_losses import _target_shape, reductions, target_dtypes
from .tensors import T, any_dtypes, dims, float_dtypes, grads, index, other, rare_grads, seeds, shapes, tensor

CASES = {}
margins = st.sampled_from([0.0, 1.0, 0.5, -0.5, 2.0])
norms = st.sampled_from([2.0, 2.0, 1.0, 3.0, float("inf"), 0.5, 0.0, -1.0])


def _signs(draw, shape, dtype, grad=False):
    """±1 targets ('kinks' values with kinks (−1, 1): now and then a real number instead)."""
    return draw(tensor(shape, dtype, values="kinks", kinks=(-1.0, 1.0), grad=grad))


def _maybe(draw, kw, key, values):
    if draw(st.booleans()):
        kw[key] = draw(values)


@st.composite
def _pairwise(draw, name):
    shape, dtype = draw(shapes(0, 3)), draw(any_dtypes)
    kw = {}
    if name == "pairwise_distance":
        _maybe(draw, kw, "p", norms)
        _maybe(draw, kw, "eps", st.sampled_from([1e-6, 0.0, 0.1]))
        _maybe(draw, kw, "keepdim", st.booleans())
    else:
        _maybe(draw, kw, "dim", st.sampled_from([1, 0, -1]))
        _maybe(draw, kw, "eps", st.sampled_from([1e-8, 0.5]))
    x1 = draw(tensor(shape, dtype, grad=draw(grads)))
    x2 = draw(tensor(_target_shape(draw, shape), other(draw, dtype), grad=draw(grads)))
    return Case(name, (x1, x2), kw)


@st.composite
def _normalize(draw):
    shape, dtype = draw(shapes(0, 3)), draw(any_dtypes)
    kw = {}
    _maybe(draw, kw, "p", st.sampled_from([2.0, 1.0, 3.0, float("inf")]))
    _maybe(draw, kw, "dim", st.sampled_from([1, 0, -1]))
    _maybe(draw, kw, "eps", st.sampled_from([1e-12, 0.5]))
    return Case("normalize", (draw(tensor(shape, dtype, grad=draw(grads))),), kw)


def _legacy(draw, kw, alias=True):
    """A reduction (the deprecated alias and an unknown one too) or a size_average/reduce pair."""
    kind = draw(st.integers(0, 4))
    if kind <= 2:
        red = draw(reductions)
        kw["reduction"] = "mean" if red == "elementwise_mean" and not alias else red
    elif kind == 3:
        kw["size_average"], kw["reduce"] = draw(st.sampled_from([(False, None), (None, False), (True, True)]))


@st.composite
def _pointwise_margin(draw, name):
    """margin_ranking (x1, x2, t), hinge_embedding and soft_margin (x, t): ±1 targets."""
    shape, dtype = draw(shapes(0, 3)), draw(any_dtypes)
    kw = {}
    _legacy(draw, kw)
    if name != "soft_margin_loss":
        _maybe(draw, kw, "margin", margins)
    kinks = (0.0, kw.get("margin", 1.0 if name == "hinge_embedding_loss" else 0.0))
    x = draw(tensor(shape, dtype, kinks=kinks, grad=draw(grads)))
    t_shape = shape if name == "soft_margin_loss" else _target_shape(draw, shape)
    t = _signs(draw, t_shape, other(draw, dtype), grad=name == "margin_ranking_loss" and draw(grads))
    if name == "margin_ranking_loss":
        return Case(name, (x, draw(tensor(shape, dtype, kinks=kinks, grad=draw(grads))), t), kw)
    return Case(name, (x, t), kw)


@st.composite
def _cosine_embedding(draw):
    dtype, batched = draw(any_dtypes), draw(st.integers(0, 3)) > 0
    D = draw(dims(1, 5))
    shape = (draw(dims()), D) if batched else (D,)
    kw = {}
    _legacy(draw, kw)
    _maybe(draw, kw, "margin", st.sampled_from([0.0, 0.5, -0.5]))
    x1, x2 = (draw(tensor(shape, dtype, grad=draw(grads))) for _ in range(2))
    return Case("cosine_embedding_loss", (x1, x2, _signs(draw, shape[:-1], other(draw, dtype))), kw)


@st.composite
def _multi_class(draw, name):
    dtype, C = draw(any_dtypes), draw(dims(1, 5))
    batch = () if draw(st.integers(0, 4)) == 0 else (draw(dims()),)
    x = draw(tensor((*batch, C), dtype, values=draw(st.sampled_from(["normal", "ints", "kinks"])), grad=draw(grads)))
    kw = {}
    _legacy(draw, kw)
    if name == "multi_margin_loss":
        _maybe(draw, kw, "p", st.sampled_from([1, 2]))
        _maybe(draw, kw, "margin", margins)
        if draw(st.booleans()):
            kw["weight"] = draw(tensor((C,), other(draw, dtype), values="unit", grad=draw(rare_grads)))
        return Case(name, (x, draw(index(batch, C, 0, draw(target_dtypes)))), kw)
    y = draw(index((*batch, C), C, -1, "int64"))  # −1 ends a row's list of classes
    return Case(name, (x, y), kw)


@st.composite
def _triplet(draw, name):
    dtype = draw(any_dtypes)
    shape = draw(st.sampled_from([(draw(dims()), draw(dims(1, 5))), (draw(dims(1, 5)),)]))
    kw = {}
    if name == "triplet_margin_loss":
        _legacy(draw, kw)
        _maybe(draw, kw, "p", norms)
        _maybe(draw, kw, "eps", st.sampled_from([1e-6, 0.0]))
    else:
        _maybe(draw, kw, "reduction", st.sampled_from(["mean", "sum", "none", "elementwise_mean"]))
    _maybe(draw, kw, "margin", st.sampled_from([1.0, 0.5, 2.0, 0.0]))
    _maybe(draw, kw, "swap", st.booleans())
    a, p, n = (draw(tensor(shape, dtype, grad=draw(grads))) for _ in range(3))
    return Case(name, (a, p, n), kw)


@st.composite
def _likelihood(draw, name):
    shape, dtype = draw(shapes(0, 3)), draw(any_dtypes)
    kw = {}
    _legacy(draw, kw, alias=name == "kl_div")
    if name == "kl_div":
        if draw(st.booleans()):
            kw["reduction"] = "batchmean"
        _maybe(draw, kw, "log_target", st.booleans())
        t_values = "normal" if kw.get("log_target") else "unit"
    else:
        _maybe(draw, kw, "log_input", st.booleans())
        _maybe(draw, kw, "full", st.booleans())
        _maybe(draw, kw, "eps", st.sampled_from([1e-8, 0.5]))
        t_values = draw(st.sampled_from(["ints", "unit", "kinks"]))
    values = "unit" if name == "poisson_nll_loss" and not kw.get("log_input", True) else None
    x = draw(tensor(shape, dtype, values=values, grad=draw(grads)))
    t = draw(tensor(_target_shape(draw, shape), other(draw, dtype), values=t_values, kinks=(0.0, 1.0, 2.0),
                    grad=draw(grads)))
    return Case(name, (x, t), kw)


@st.composite
def _gaussian(draw):
    shape, dtype = draw(shapes(1, 3)), draw(float_dtypes)
    kw = {}
    _maybe(draw, kw, "full", st.booleans())
    _maybe(draw, kw, "eps", st.sampled_from([1e-6, 0.1]))
    _maybe(draw, kw, "reduction", st.sampled_from(["mean", "sum", "none", "elementwise_mean"]))
    v_shape = draw(st.sampled_from([shape, shape[:-1], (*shape[:-1], 1), (1,) * len(shape)]))
    x, t = (draw(tensor(shape, dtype, grad=draw(grads))) for _ in range(2))
    var = draw(tensor(v_shape, other(draw, dtype), values="unit", grad=draw(grads)))
    return Case("gaussian_nll_loss", (x, t, var), kw)


@st.composite
def _multilabel_soft_margin(draw):
    shape, dtype = draw(shapes(1, 3)), draw(any_dtypes)
    kw = {}
    _legacy(draw, kw, alias=False)
    if draw(st.booleans()):
        kw["weight"] = draw(tensor(shape[-1:], other(draw, dtype), values="unit", grad=draw(rare_grads)))
    x = draw(tensor(shape, dtype, grad=draw(grads)))
    return Case("multilabel_soft_margin_loss", (x, draw(tensor(shape, other(draw, dtype), values="unit",
                                                                 grad=draw(grads)))), kw)


CASES.update(
    pairwise_distance=_pairwise("pairwise_distance"), cosine_similarity=_pairwise("cosine_similarity"),
    normalize=_normalize(),
    margin_ranking_loss=_pointwise_margin("margin_ranking_loss"),
    hinge_embedding_loss=_pointwise_margin("hinge_embedding_loss"),
    soft_margin_loss=_pointwise_margin("soft_margin_loss"),
    cosine_embedding_loss=_cosine_embedding(),
    multi_margin_loss=_multi_class("multi_margin_loss"), multilabel_margin_loss=_multi_class("multilabel_margin_loss"),
    triplet_margin_loss=_triplet("triplet_margin_loss"),
    triplet_margin_with_distance_loss=_triplet("triplet_margin_with_distance_loss"),
    kl_div=_likelihood("kl_div"), poisson_nll_loss=_likelihood("poisson_nll_loss"),
    gaussian_nll_loss=_gaussian(), multilabel_soft_margin_loss=_multilabel_soft_margin(),
)


@st.composite
def _ctc(draw):
    """ctc_loss on raw log-probabilities (torch's gradient, and ours, is exp(x) − γ for any x):
    padded or concatenated targets of labels ≠ blank, lengths as tuples or tensors, unbatched."""
    steps, C, N = draw(dims(0, 6)), draw(dims(2, 5)), draw(dims(1, 4))
    dtype = draw(st.sampled_from(["float32", "float64", "float64", "bfloat16"]))
    blank = draw(st.sampled_from([0, 0, C - 1]))
    low, high = (1, C) if blank == 0 else (0, C - 1)
    unbatched = draw(st.integers(0, 4)) == 0
    N = 1 if unbatched else N
    S = draw(dims(0, 4))
    il = [draw(st.integers(0, steps)) for _ in range(N)]
    tl = [draw(st.integers(0, S)) for _ in range(N)]
    x = draw(tensor((steps, C) if unbatched else (steps, N, C), dtype, grad=draw(grads)))
    if not unbatched and draw(st.booleans()):
        # not stride 0: torch's CPU kernel segfaults on expanded concatenated targets (ours copies them)
        layout = draw(st.sampled_from(["contiguous", "strided"]))
        targets = T((sum(tl),), draw(st.sampled_from(["int64", "int32"])), layout, "index", draw(seeds), False, low, high)
    else:
        targets = draw(index((S,) if unbatched else (N, S), high, low, draw(st.sampled_from(["int64", "int32"]))))
    as_tensor = draw(st.booleans())
    # plain tensors (not recipes): a length must hold exactly the drawn value; both sides read them only
    lengths = [(torch.tensor(v[0] if unbatched else v) if as_tensor else tuple(v)) for v in (il, tl)]
    kw = {}
    _maybe(draw, kw, "reduction", reductions)
    _maybe(draw, kw, "zero_infinity", st.booleans())
    return Case("ctc_loss", (x, targets, *lengths), {**kw, "blank": blank})


CASES["ctc_loss"] = _ctc()
