"""torch's int and int-list arguments (stride, padding, dilation, kernel_size, output_padding):
what its argument parser reads as an int, a Python int or anything with ``__index__`` (a numpy
integer, a one-element integer tensor), alone (n copies) or in a list of 1 or n."""

from __future__ import annotations

import operator


def as_int(v):
    """``v`` as a Python int where torch's parser reads it as one (``__index__``), else ``v`` as
    it is (torch's own kernel refuses it, with its message)."""
    if isinstance(v, int):
        return v
    try:
        return operator.index(v)
    except TypeError:
        return v


def _listed(value) -> tuple:
    """``value`` as a tuple, each int-like entry (and a lone int-like) as a Python int."""
    value = as_int(value)
    return (value,) if isinstance(value, int) else tuple(as_int(v) for v in value)


def expand(value, n: int) -> tuple:
    """An int, or a list of 1 or ``n`` ints, as ``n`` ints (torch's ``expand_param_if_needed``)."""
    values = _listed(value)
    return values * n if len(values) == 1 else values


def ints(value, n: int) -> tuple | None:
    """:func:`expand` where ``value`` is plainly one of torch's int lists (int-likes, 1 or ``n`` of
    them, no bool); None for anything else, for torch's own kernel to check in its words."""
    if not isinstance(as_int(value), int) and not isinstance(value, (tuple, list)):
        return None
    values = _listed(value)
    if len(values) not in (1, n) or any(type(v) is not int for v in values):
        return None
    return values * n if len(values) == 1 else values
