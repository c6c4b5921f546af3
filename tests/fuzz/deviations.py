"""The deliberate differences from torch that README.md documents ("Deliberate differences from
torch"), as predicates on a drawn case: the fuzzer accepts exactly these and nothing else."""

from __future__ import annotations


def _windows_of_padding_only(size: int, k: int, s: int, p: int, d: int, ceil: bool) -> bool:
    """Does some max-pool window along one dim hold padding only (rows outside [0, size))?"""
    span = d * (k - 1) + 1
    n = (size + 2 * p - span + (s - 1 if ceil else 0)) // s + 1
    if ceil and (n - 1) * s >= size + p:
        n -= 1
    return any(all(not 0 <= o * s - p + d * j < size for j in range(k)) for o in range(n))


def _pair(v, default):
    v = default if v is None else v
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def torch_backward_skipped(case) -> str | None:
    """Why torch's backward must not run on ``case`` (it would write out of bounds), or None."""
    if case.op != "max_pool2d":
        return None
    kw = case.kwargs
    k = _pair(kw["kernel_size"], None)
    s, p = _pair(kw.get("stride"), k), _pair(kw.get("padding"), 0)
    d = _pair(kw.get("dilation"), 1)
    hw = case.args[0].shape[-2:]
    if any(_windows_of_padding_only(hw[i], k[i], s[i], p[i], d[i], kw.get("ceil_mode", False)) for i in (0, 1)):
        return "max_pool2d windows that hold only padding get no gradient (torch's CPU backward writes out of bounds)"
    return None


def accepted(case, ours_error, theirs_error) -> str | None:
    """The README's reason when ours raising or returning differently from torch on ``case`` is a
    documented deliberate difference, else None. Errors are ``(phase, type, message)`` or None."""
    kw = case.kwargs
    if ours_error and not theirs_error:
        if kw.get("label_smoothing", 0.0) < 0 and ours_error[1] is RuntimeError:
            return "label_smoothing < 0 raises (torch checks only > 1)"
        slope = case.args[1] if len(case.args) > 1 else kw.get("negative_slope", kw.get("alpha", 1.0))
        if case.op in ("leaky_relu", "elu") and case.inplace and slope < 0 and ours_error[1] is RuntimeError:
            return "in-place leaky_relu/elu with a negative slope raise at the call (torch: at backward)"
    if theirs_error and not ours_error and theirs_error[0] == "backward" and case.op == "adaptive_avg_pool2d":
        if "non-zero size for non-batch dimensions" in theirs_error[2]:
            return "adaptive_avg_pool2d to a 0 output size has a zero gradient (torch's backward raises)"
    return None

