"""Tensors the fuzzer draws, as small reproducible recipes (``T``) built afresh for each side.

A drawn case holds recipes, not tensors: ours, torch and the float64 reference each build their
own copy (an in-place op cannot leak into the other side), and a failing case prints as code that
rebuilds it exactly (``T((3, 4), 'bfloat16', 'strided', 'kinks', seed=5)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import hypothesis.strategies as st
import torch

FLOATS = ("float64", "float32", "bfloat16", "float16")
LOW = ("bfloat16", "float16")
INF, NAN = float("inf"), float("nan")
# What the values look like: each is a function of a float64 normal sample z and the kinks.
VALUES = ("normal", "wide", "tiny", "ints", "kinks", "special")


@dataclass(frozen=True)
class T:
    """A tensor recipe: logical ``shape``, ``dtype`` name, memory ``layout``, ``values`` class,
    ``seed``; ``grad`` marks a differentiable input. Index tensors: ``values='index'`` draws
    integers in [``low``, ``high``), ``values='offsets'`` the same sorted with the first one ``low``;
    ``values='unit'`` draws from (0, 1) (probabilities).
    ``kinks``: the op's exact kink/threshold values that ``'kinks'`` (and ``'special'``) hit."""

    shape: tuple
    dtype: str = "float32"
    layout: str = "contiguous"
    values: str = "normal"
    seed: int = 0
    grad: bool = True
    low: int = 0
    high: int = 2
    kinks: tuple = field(default=(0.0,), compare=False)

    def __repr__(self) -> str:
        defaults = T(())
        extra = [f"{f.name}={getattr(self, f.name)!r}" for f in fields(self)[1:]
                 if getattr(self, f.name) != getattr(defaults, f.name) or f.name == "dtype"]
        return f"T({self.shape!r}, {', '.join(extra)})"

    @property
    def floating(self) -> bool:
        return self.dtype in FLOATS


def _physical(shape: tuple, layout: str) -> tuple:
    """The shape to allocate so that ``_view(layout)`` gives ``shape``."""
    s = list(shape)
    if layout == "transposed":
        s[-1], s[-2] = s[-2], s[-1]
    elif layout == "strided":
        s[-1] = 2 * s[-1]
    elif layout == "expanded":
        s[0] = 1
    return tuple(s)


def _view(t: torch.Tensor, shape: tuple, layout: str) -> torch.Tensor:
    if layout == "transposed":
        return t.transpose(-1, -2)
    if layout == "strided":
        return t[..., ::2]
    if layout == "expanded":
        return t.expand(shape)
    if layout == "channels_last":
        return t.contiguous(memory_format=torch.channels_last)
    return t


def _values(spec: T, shape: tuple) -> torch.Tensor:
    """float64 values of ``spec``'s class, drawn from its seed."""
    gen = torch.Generator().manual_seed(spec.seed)
    if spec.values in ("index", "offsets"):
        v = torch.randint(spec.low, max(spec.high, spec.low + 1), shape, generator=gen)
        if spec.values == "offsets" and v.numel():  # embedding_bag's bag starts: sorted, the first one low
            v = v.flatten().sort().values
            v[0] = spec.low
        return v.reshape(shape).double()
    z = torch.randn(shape, generator=gen, dtype=torch.float64)
    if spec.values == "unit":
        return torch.sigmoid(2 * z)
    if spec.values == "wide":
        return z * 30
    if spec.values == "tiny":
        return z * 1e-39  # float32 subnormals; 0 in bfloat16/float16
    if spec.values == "ints":
        return z.mul(2).round()
    if spec.values in ("kinks", "special"):
        pool = list(spec.kinks) + ([INF, -INF, NAN, 1e30, -1e30] if spec.values == "special" else [])
        pool = torch.tensor(pool or [0.0], dtype=torch.float64)
        pick = torch.randint(0, len(pool), shape, generator=gen)
        keep = torch.rand(shape, generator=gen) < 0.4
        return torch.where(keep, z, pool[pick])
    return z


def build(spec: T, dtype: str | None = None, mutable: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(x, leaf)``: the input tensor and the leaf its gradient is taken with respect to (None when
    it needs none). ``dtype`` overrides a floating spec's dtype (values are first rounded to the
    spec's own dtype, so the float64 reference sees the same numbers). ``mutable``: ``x`` will be
    written in place, so it is a view of a non-leaf copy of the leaf."""
    phys = _physical(spec.shape, spec.layout) if spec.layout not in ("contiguous", "channels_last") else spec.shape
    v = _values(spec, phys)
    own = getattr(torch, spec.dtype)
    if spec.dtype == "bool":
        t = v > 0
    elif not spec.floating:
        t = v.round().clamp(torch.iinfo(own).min, torch.iinfo(own).max).to(own)
    else:
        t = v.to(own)
        if dtype is not None:
            t = t.to(getattr(torch, dtype))
    leaf = t.requires_grad_() if spec.grad and t.is_floating_point() else None
    src = t.clone() if mutable and leaf is not None else t
    return _view(src, spec.shape, spec.layout), leaf


# ---------------------------------------------------------------- strategies for recipes


def layouts(ndim: int) -> list[str]:
    """The layouts a tensor of rank ``ndim`` can have."""
    out = ["contiguous"]
    if ndim >= 1:
        out += ["strided", "expanded"]
    if ndim >= 2:
        out.append("transposed")
    if ndim == 4:
        out.append("channels_last")
    return out


seeds = st.integers(0, 2**16)


@st.composite
def tensor(draw, shape, dtype, *, values=None, grad=True, kinks=(0.0,), layout=None):
    """A recipe of ``shape`` and ``dtype``: layout and values class drawn unless given."""
    shape = tuple(shape)
    lay = layout or draw(st.sampled_from(layouts(len(shape))))
    if lay == "strided" and not shape:
        lay = "contiguous"
    val = values or draw(st.sampled_from(VALUES))
    return T(shape, dtype, lay, val, draw(seeds), grad, kinks=tuple(kinks))


@st.composite
def index(draw, shape, high, low=0, dtype="int64"):
    """An index tensor (no gradient) with values in [low, high)."""
    shape = tuple(shape)
    lay = draw(st.sampled_from(layouts(len(shape))))
    return T(shape, dtype, lay, "index", draw(seeds), False, low, high)


def dims(min_size=0, max_size=5):
    """One dimension's size: small sizes (0 and 1 included) mostly, now and then a larger one."""
    return st.sampled_from(list(range(min_size, max_size + 1)) * 4 + [max(max_size, 17)])


def shapes(min_dims=0, max_dims=4, min_size=0, max_size=5):
    return st.lists(dims(min_size, max_size), min_size=min_dims, max_size=max_dims).map(tuple)


float_dtypes = st.sampled_from(FLOATS)
# floating mostly; integers/bool now and then, where torch decides whether it accepts them
any_dtypes = st.sampled_from(FLOATS * 6 + ("int64", "int32", "uint8", "bool"))
grads = st.sampled_from([True, True, True, False])  # does this input need a gradient
rare_grads = st.sampled_from([False] * 7 + [True])  # for inputs torch seldom differentiates (weights)
# a second tensor (target, weight) usually has the input's dtype; sometimes another (torch
# promotes or refuses)
_mixed = st.sampled_from([None] * 15 + ["float32", "float64", "int64"])


def other(draw, dtype: str) -> str:
    return draw(_mixed) or dtype
