"""Pooling wrappers, 1-d to 3-d: max_pool, avg_pool, adaptive_avg_pool, adaptive_max_pool,
lp_pool and max_unpool.

Arguments go to torch's own forward kernels untouched, so every shape rule (ceil_mode, padding,
dilation, None in output_size) and every error (type and message) is torch's. ``max_pool`` and
``adaptive_max_pool`` take ``(*args, **kwargs)`` as torch's do (a dispatch on ``return_indices``).
"""

from __future__ import annotations

import torch
from torch.nn.modules.utils import _pair, _triple

from ..functions import elementwise as _e
from ..functions import elementwise_binary as _b
from ..functions.pooling import MAX_POOL, AvgPoolFunction, MaxPoolFunction
from ..functions.pooling_adaptive import AdaptiveAvgPoolFunction, AdaptiveMaxPoolFunction, MaxUnpoolFunction
from ._activations import relu
from ._autocast import FP32, autocast_policy


def _max_pool(nd, input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    if not return_indices and isinstance(input, torch.Tensor) and not input.is_floating_point():
        # nothing to differentiate; torch's kernel without indices takes (or refuses) other dtypes than
        # the one with indices (max_pool1d of int64 raises): its answer is the answer
        return MAX_POOL[nd](input, kernel_size, stride, padding, dilation, ceil_mode=ceil_mode)
    try:
        y, indices = MaxPoolFunction.apply(input, nd, kernel_size, stride, padding, dilation, ceil_mode)
    except RuntimeError:
        if not return_indices:  # torch's kernel without indices words some errors differently: raise its
            MAX_POOL[nd](input, kernel_size, stride, padding, dilation, ceil_mode=ceil_mode)
        raise
    return (y, indices) if return_indices else y


def _adaptive_max_pool(nd, input, output_size, return_indices=False):
    y, indices = AdaptiveMaxPoolFunction.apply(input, nd, output_size)
    return (y, indices) if return_indices else y


def _dispatching(nd, impl, signature):
    """``F.<name>(*args, **kwargs)`` for pooled dims ``nd`` (torch's boolean-dispatch form); CPU
    autocast runs the 3-d ones in float32, as torch's list does."""
    @autocast_policy(None, MaxPoolFunction, AdaptiveMaxPoolFunction, cpu=FP32 if nd == 3 else None)
    def pool(*args, **kwargs):
        return impl(nd, *args, **kwargs)

    name = signature.split("(")[0]
    pool.__name__ = pool.__qualname__ = name
    pool.__doc__ = (f"{signature}\n\nMax over each window of the last {nd} dim(s); with ``return_indices`` also "
                    "the flat argmax. See :mod:`manualgrad.functions.pooling`.")
    return pool


_WINDOW = "kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False"
max_pool1d = _dispatching(1, _max_pool, f"max_pool1d(input, {_WINDOW})")
max_pool2d = _dispatching(2, _max_pool, f"max_pool2d(input, {_WINDOW})")
max_pool3d = _dispatching(3, _max_pool, f"max_pool3d(input, {_WINDOW})")
adaptive_max_pool1d = _dispatching(1, _adaptive_max_pool, "adaptive_max_pool1d(input, output_size, return_indices=False)")
adaptive_max_pool2d = _dispatching(2, _adaptive_max_pool, "adaptive_max_pool2d(input, output_size, return_indices=False)")
adaptive_max_pool3d = _dispatching(3, _adaptive_max_pool, "adaptive_max_pool3d(input, output_size, return_indices=False)")


@autocast_policy(None, AvgPoolFunction)
def avg_pool1d(input: torch.Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> torch.Tensor:
    """Mean over each window. See :class:`~manualgrad.functions.pooling.AvgPoolFunction`."""
    return AvgPoolFunction.apply(input, 1, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


@autocast_policy(None, AvgPoolFunction)
def avg_pool2d(input: torch.Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> torch.Tensor:
    """Mean over each window. See :class:`~manualgrad.functions.pooling.AvgPoolFunction`."""
    return AvgPoolFunction.apply(input, 2, kernel_size, stride, padding, ceil_mode, count_include_pad,
                                 divisor_override)


@autocast_policy(None, AvgPoolFunction, cpu=FP32)  # torch's CPU autocast list runs it in float32
def avg_pool3d(input: torch.Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> torch.Tensor:
    """Mean over each window. See :class:`~manualgrad.functions.pooling.AvgPoolFunction`."""
    return AvgPoolFunction.apply(input, 3, kernel_size, stride, padding, ceil_mode, count_include_pad,
                                 divisor_override)


@autocast_policy(None, AdaptiveAvgPoolFunction)
def adaptive_avg_pool1d(input: torch.Tensor, output_size) -> torch.Tensor:
    """Mean over windows that tile the last dim into ``output_size``.
    See :class:`~manualgrad.functions.pooling_adaptive.AdaptiveAvgPoolFunction`."""
    return AdaptiveAvgPoolFunction.apply(input, 1, output_size)


@autocast_policy(None, AdaptiveAvgPoolFunction)
def adaptive_avg_pool2d(input: torch.Tensor, output_size) -> torch.Tensor:
    """Mean over windows that tile the plane into ``output_size`` (None keeps that dim).
    See :class:`~manualgrad.functions.pooling_adaptive.AdaptiveAvgPoolFunction`."""
    return AdaptiveAvgPoolFunction.apply(input, 2, output_size)


@autocast_policy(None, AdaptiveAvgPoolFunction, cpu=FP32)  # torch's CPU autocast list runs it in float32
def adaptive_avg_pool3d(input: torch.Tensor, output_size) -> torch.Tensor:
    """Mean over windows that tile the volume into ``output_size`` (None keeps that dim).
    See :class:`~manualgrad.functions.pooling_adaptive.AdaptiveAvgPoolFunction`."""
    return AdaptiveAvgPoolFunction.apply(input, 3, output_size)


def _unpool(nd):
    @autocast_policy(None, MaxUnpoolFunction, cpu=FP32)  # torch's CPU autocast list runs it in float32
    def max_unpool(input: torch.Tensor, indices: torch.Tensor, kernel_size, stride=None, padding=0,
                   output_size=None) -> torch.Tensor:
        return MaxUnpoolFunction.apply(input, indices, nd, kernel_size, stride, padding, output_size)

    max_unpool.__name__ = max_unpool.__qualname__ = f"max_unpool{nd}d"
    max_unpool.__doc__ = ("The partial inverse of max_pool: ``input`` written at the flat ``indices`` into zeros. "
                          "See :class:`~manualgrad.functions.pooling_adaptive.MaxUnpoolFunction`.")
    return max_unpool


max_unpool1d, max_unpool2d, max_unpool3d = _unpool(1), _unpool(2), _unpool(3)


def _lp_pool(nd, max_pool, avg_pool, window):
    """``lp_pool{nd}d`` as torch's composite, with every step one of manualgrad's Functions:
    y = (K · avg(x^p))^(1/p) = (Σ_window x^p)^(1/p) (K: the window's size), with sign(s)·relu(|s|)
    in between as torch (derivative 1 off s = 0, 0 at it); p = ±inf: max of |x| (−max of −|x|).
    The gradient follows by the chain rule through pow, avg_pool, abs and relu."""
    def lp_pool(input: torch.Tensor, norm_type: int | float, kernel_size, stride=None,
                ceil_mode: bool = False) -> torch.Tensor:
        k = window(kernel_size)  # first, as torch (a bad kernel_size raises what torch's unpacking raises)
        if isinstance(norm_type, (int, float)) and abs(norm_type) == float("inf"):
            x = _e.AbsFunction.apply(input)
            if norm_type > 0:
                return max_pool(x, kernel_size, stride, 0, 1, ceil_mode)
            return -max_pool(-x, kernel_size, stride, 0, 1, ceil_mode)
        if stride is not None:
            s = avg_pool(_b.PowFunction.apply(input, norm_type), kernel_size, stride, 0, ceil_mode)
        else:
            s = avg_pool(_b.PowFunction.apply(input, norm_type), kernel_size, padding=0, ceil_mode=ceil_mode)
        s = torch.sign(s.detach()) * relu(_e.AbsFunction.apply(s))  # sign's derivative is 0
        return _b.PowFunction.apply(s * k, 1.0 / norm_type)

    lp_pool.__name__ = lp_pool.__qualname__ = f"lp_pool{nd}d"
    lp_pool.__doc__ = _lp_pool.__doc__.replace("{nd}", str(nd))
    return lp_pool


def _area2(kernel_size):
    kw, kh = _pair(kernel_size)
    return kw * kh


def _area3(kernel_size):
    kd, kw, kh = _triple(kernel_size)
    return kd * kw * kh


lp_pool1d = _lp_pool(1, max_pool1d, avg_pool1d, lambda kernel_size: kernel_size)  # torch multiplies by it as given
lp_pool2d = _lp_pool(2, max_pool2d, avg_pool2d, _area2)
lp_pool3d = _lp_pool(3, max_pool3d, avg_pool3d, _area3)
