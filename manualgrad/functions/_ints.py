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


def expand(value, n: int) -> tuple:
    """An int, or a list of 1 or ``n`` ints, as ``n`` ints (torch's ``expand_param_if_needed``)."""
    value = as_int(value)
    if isinstance(value, int):
        return (value,) * n
    value = tuple(as_int(v) for v in value)
    return value * n if len(value) == 1 else value
