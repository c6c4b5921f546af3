"""``fractional_max_pool2d`` / ``fractional_max_pool3d``: torch's signature (a dispatch on
``return_indices``, so ``(*args, **kwargs)``), its ``output_ratio`` rounding and its errors; the
random window starts are drawn exactly as torch draws them (``torch.rand(N or 1, C, nd)`` in the
input's dtype and device, at the same point of the call), so a seeded run picks torch's windows."""

from __future__ import annotations

import torch
from torch.nn.modules.utils import _pair, _triple

from ..functions.pooling_fractional import FractionalMaxPoolFunction
from ._autocast import FP32, autocast_policy

_EXPAND = {2: _pair, 3: _triple}


def _output_size(nd, name, input, output_size, output_ratio):
    if output_size is None and output_ratio is None:
        raise ValueError(f"{name} requires specifying either an output_size or an output_ratio")
    if output_size is not None:
        return output_size
    if nd == 2 and len(output_ratio) > 2:
        raise ValueError(f"{name} requires output_ratio to either be a single Int or tuple of Ints.")
    ratio = _EXPAND[nd](output_ratio)
    return [int(input.size(d - nd) * ratio[d]) for d in range(nd)]


@autocast_policy(None, FractionalMaxPoolFunction, cpu=FP32)  # torch's CPU autocast fp32 list
def _pool(input, nd, kernel_size, output_size, samples):
    return FractionalMaxPoolFunction.apply(input, nd, kernel_size, output_size, samples)


def _fractional_max_pool(nd, name, input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                         _random_samples=None):
    output_size = _output_size(nd, name, input, output_size, output_ratio)
    if _random_samples is None:  # in the input's own dtype: drawn before autocast's cast, as torch does
        n_batch = 1 if input.dim() == nd + 1 else input.size(0)
        _random_samples = torch.rand(n_batch, input.size(-nd - 1), nd, dtype=input.dtype, device=input.device)
    y, indices = _pool(input, nd, kernel_size, output_size, _random_samples)
    return (y, indices) if return_indices else y


def _dispatching(nd):
    name = f"fractional_max_pool{nd}d"

    def pool(*args, **kwargs):
        return _fractional_max_pool(nd, name, *args, **kwargs)

    pool.__name__ = pool.__qualname__ = name
    pool.__doc__ = (f"{name}(input, kernel_size, output_size=None, output_ratio=None, return_indices=False, "
                    "_random_samples=None)\n\nMax over pseudo-randomly placed windows of the last "
                    f"{nd} dims; see :mod:`manualgrad.functions.pooling_fractional`.")
    return pool


fractional_max_pool2d = _dispatching(2)
fractional_max_pool3d = _dispatching(3)
