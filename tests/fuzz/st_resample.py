"""Strategies for interpolate and pad: every mode at ranks it takes and now and then one it does
not, size int/tuple (0 and wrong lengths now and then), scale_factor float/tuple, recompute,
align_corners, antialias; pads of every length (odd, negative, longer than the dim) in every mode,
value for constant (and for the others: torch's error)."""

from __future__ import annotations

import hypothesis.strategies as st

from .compare import Case
from .tensors import any_dtypes, dims, grads, tensor

_INTERPOLATING = ("linear", "bilinear", "bicubic", "trilinear")
_MODES = ("nearest", "nearest-exact", "area", *_INTERPOLATING, "lanczos")
_RANK = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3, "lanczos": 2}
# growing factors mostly: shrinking a size-1 dim rounds it to 0 (torch's error)
_FACTORS = [1.0, 1.1, 4 / 3, 1.5, 2.0, 2.1, 2.5, 3.0] * 2 + [0.3, 0.5, 0.6, 0.75, 0.0]


def _maybe_tuple(draw, one, n):
    """One value or an n-tuple of them (a wrong length now and then: torch's error)."""
    if draw(st.booleans()):
        return draw(one)
    k = draw(st.sampled_from([n] * 9 + [n + 1]))
    return tuple(draw(one) for _ in range(k))


@st.composite
def _interpolate(draw):
    mode = draw(st.sampled_from(_MODES))
    n = _RANK[mode] if mode in _RANK and draw(st.integers(0, 9)) else draw(st.integers(1, 3))
    batch = (draw(st.sampled_from([0, 1, 2, 2])), draw(st.sampled_from([1, 2, 3])))
    x = draw(tensor((*batch, *(draw(dims(1, 6)) for _ in range(n))), draw(any_dtypes), grad=draw(grads)))
    kw = {"mode": mode}
    if draw(st.booleans()):
        kw["size"] = _maybe_tuple(draw, st.sampled_from(list(range(1, 10)) * 3 + [0]), n)
    else:
        kw["scale_factor"] = _maybe_tuple(draw, st.sampled_from(_FACTORS), n)
        if draw(st.booleans()):
            kw["recompute_scale_factor"] = draw(st.sampled_from([None, False, True]))
    if mode in _INTERPOLATING or draw(st.integers(0, 9)) == 0:  # align_corners with others: an error
        kw["align_corners"] = draw(st.sampled_from([None, False, True]))
    if mode == "lanczos" or (mode in ("bilinear", "bicubic") and draw(st.booleans())) or draw(st.integers(0, 19)) == 0:
        kw["antialias"] = mode != "lanczos" or draw(st.integers(0, 9)) > 0
    return Case("interpolate", (x,), kw)


@st.composite
def _pad(draw):
    mode = draw(st.sampled_from(["constant", "constant", "reflect", "replicate", "circular"]))
    k = draw(st.integers(1, 3))
    rank = draw(st.sampled_from([k + 1, k + 2, k + 2, k + 2] + ([0, 1, k] if mode == "constant" else [k + 3])))
    shape = tuple(draw(dims(0 if mode == "constant" else 1, 5)) for _ in range(rank))
    x = draw(tensor(shape, draw(any_dtypes), grad=draw(grads)))
    # reflect takes pads below the dim, circular up to it: 6 is mostly torch's error
    one = st.integers(-2, 4) if mode == "constant" else st.sampled_from([0, 1, 1, 1, 2, -1] * 3 + [6])
    length = 2 * k if draw(st.integers(0, 19)) else 2 * k - 1  # odd now and then: torch's error
    pad = tuple(draw(one) for _ in range(length))
    args, kw = (x, pad), {}
    if mode != "constant" or draw(st.booleans()):
        kw["mode"] = mode
    if (mode == "constant" and draw(st.booleans())) or draw(st.integers(0, 19)) == 0:
        kw["value"] = draw(st.sampled_from([0.0, 1.5, -2.0]))
    return Case("pad", args, kw)


CASES = {"interpolate": _interpolate(), "pad": _pad()}
