"""Strategies for the poolings over n = 1, 2, 3 dims: max/avg (kernel, stride, padding, dilation,
ceil_mode, count_include_pad, divisor_override, return_indices), adaptive avg/max (None sizes,
sizes above the input's), lp_pool (norm types incl. ±inf) and max_unpool (indices drawn into the
output, repeats allowed), fractional max pool (2-d, 3-d: seeded window placement, output_size or
output_ratio). Batched, unbatched and empty inputs; now and then a size that makes an
empty or negative output or a padding above half the kernel (torch's errors)."""

from __future__ import annotations

import math

import hypothesis.strategies as st

from .compare import Case
from .st_layers import _ints
from .tensors import any_dtypes, dims, grads, index, tensor


@st.composite
def _input(draw, n, values=None):
    """(N, C, *space) or unbatched (C, *space) with n space dims."""
    batch = draw(st.sampled_from([(), (0,), (1,), (2,)]))
    space = [draw(dims(1, 7 if n < 3 else 4)) for _ in range(n)]
    shape = (*batch, draw(st.sampled_from([1, 2, 3] * 5 + [0])), *space)
    return draw(tensor(shape, draw(any_dtypes), values=values, grad=draw(grads)))


def _options(draw, n, kw, keys):
    if draw(st.booleans()):
        kw["stride"] = draw(st.one_of(st.none(), _ints(n, 1, 3)))
    if draw(st.booleans()):
        kw["padding"] = draw(st.one_of(st.sampled_from([0, 0, 1, 1, 2]), _ints(n, 0, 1)))
    for key in keys:
        if draw(st.booleans()):
            kw[key] = draw(st.booleans())
    return kw


def _max_pool(n):
    @st.composite
    def cases(draw):
        # integer values make ties: the gradient goes to the first maximum, as torch's does
        x = draw(_input(n, draw(st.sampled_from([None, "ints"]))))
        kw = _options(draw, n, {"kernel_size": draw(_ints(n, 1, 4))}, ("ceil_mode", "return_indices"))
        if draw(st.booleans()):
            kw["dilation"] = draw(_ints(n, 1, 2))
        return Case(f"max_pool{n}d", (x,), kw)
    return cases()


def _avg_pool(n):
    @st.composite
    def cases(draw):
        kw = _options(draw, n, {"kernel_size": draw(_ints(n, 1, 3))}, ("ceil_mode", "count_include_pad"))
        if n > 1 and draw(st.booleans()):
            kw["divisor_override"] = draw(st.sampled_from([None, 1, 3, 3, 0]))
        return Case(f"avg_pool{n}d", (draw(_input(n)),), kw)
    return cases()


def _adaptive(name, n):
    one = st.integers(0, 5)
    size = st.one_of(one, st.tuples(*[st.one_of(st.none(), st.integers(1, 5))] * n)) if n > 1 else one

    @st.composite
    def cases(draw):
        args = (draw(_input(n)), draw(size))
        if name.startswith("adaptive_max") and draw(st.booleans()):
            args += (draw(st.booleans()),)
        return Case(f"{name}{n}d", args)
    return cases()


def _lp_pool(n):
    @st.composite
    def cases(draw):
        p = draw(st.sampled_from([1, 2, 2, 3, 1.5, float("inf"), -float("inf")]))
        kw = {"ceil_mode": draw(st.booleans())} if draw(st.booleans()) else {}
        if draw(st.booleans()):
            kw["stride"] = draw(_ints(n, 1, 3))
        return Case(f"lp_pool{n}d", (draw(_input(n)), p, draw(_ints(n, 1, 3))), kw)
    return cases()


def _max_unpool(n):
    @st.composite
    def cases(draw):
        x = draw(_input(n))
        k = draw(st.integers(1, 3))
        volume = math.prod(s * k for s in x.shape[-n:])  # the default output size with stride = kernel
        idx = draw(index(x.shape, volume + draw(st.sampled_from([0] * 9 + [1]))))  # out of range now and then
        return Case(f"max_unpool{n}d", (x, idx, k))
    return cases()


def _fractional_max_pool(n):
    @st.composite
    def cases(draw):
        """Windows placed by torch.rand (both sides from the case's seed); output_size or
        output_ratio (n floats, or one for 3-d), now and then one too large (torch's error)."""
        x = draw(_input(n, draw(st.sampled_from([None, "ints"]))))
        top = 2 if n == 3 else 3  # the 3-d input is at most 4 wide: torch needs output + kernel − 1 < input
        kw = {"kernel_size": draw(_ints(n, 1, top)), "return_indices": draw(st.booleans())}
        if draw(st.booleans()):
            kw["output_size"] = draw(_ints(n, 1, top + 1))
        else:
            ratio = st.floats(0.1, 1.0)
            kw["output_ratio"] = draw(ratio) if n == 3 and draw(st.booleans()) else tuple(draw(ratio) for _ in range(n))
        return Case(f"fractional_max_pool{n}d", (x,), kw, seed=draw(st.integers(0, 2**16)))
    return cases()


CASES = {f"fractional_max_pool{_n}d": _fractional_max_pool(_n) for _n in (2, 3)}
for _n in (1, 2, 3):
    CASES.update({f"max_pool{_n}d": _max_pool(_n), f"avg_pool{_n}d": _avg_pool(_n),
                  f"adaptive_avg_pool{_n}d": _adaptive("adaptive_avg_pool", _n),
                  f"adaptive_max_pool{_n}d": _adaptive("adaptive_max_pool", _n),
                  f"lp_pool{_n}d": _lp_pool(_n), f"max_unpool{_n}d": _max_unpool(_n)})
