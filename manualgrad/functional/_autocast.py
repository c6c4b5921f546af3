"""Automatic mixed precision: every functional wrapper runs under ``torch.autocast`` as its
torch twin does.

``autograd.Function.apply`` is not intercepted by autocast, and the torch primitives inside a
Function's forward would each be autocast on their own (a loss computed half in bf16). So each
wrapper carries one decoration, ``@autocast_policy(policy, *functions, cpu=...)``, which does
at the wrapper level what ``torch.amp.custom_fwd(cast_inputs=...)``/``custom_bwd`` do for
old-style Functions. When autocast is on for the inputs' device type it

1. casts the floating tensor arguments by torch's policy for that op on that device type:
   ``"lower"`` (autocast's dtype: linear, conv), ``"fp32"`` (losses, softmax on CUDA, ...),
   ``"promote"`` (the widest: float32 if one of them is, else autocast's dtype), ``None`` (as given: the op runs in its
   inputs' dtypes) or ``"banned"`` (torch raises: binary_cross_entropy on CUDA). As torch:
   float64 tensors, tensors on another device type and calls with an explicit ``dtype=`` are
   left alone. A cast is a differentiable ``.to``, so each input's gradient comes back in that
   input's own dtype (fp32 parameters get fp32 gradients);
2. calls the wrapper with autocast off for that device type, so the forward's primitives run in
   exactly the dtypes chosen;
3. has the backward of ``functions`` (the Functions the wrapper applies) run with autocast off
   too: the engine runs a backward under the autocast state of the ``.backward()`` call
   (``custom_bwd`` instead restores the forward's, which here is "off").

``policy`` holds for CUDA and every other accelerator; ``cpu`` overrides it for the CPU, whose
lists differ (torch's "Autocast Op Reference"). Without autocast the wrapper is called as is.
"""

from __future__ import annotations

import functools
import inspect

import torch

LOWER, FP32, PROMOTE, BANNED = "lower", "fp32", "promote", "banned"
_POLICIES = (LOWER, FP32, PROMOTE, BANNED, None)
_SAME = object()
# one C call that is False outside every autocast region: the wrappers' fast path (private: guarded)
_any_autocast = getattr(torch._C, "_is_any_autocast_enabled", lambda: True)

# torch >= 2.12 runs rms_norm in float32 under CUDA autocast (before: in its inputs' dtypes)
_TORCH_2_12 = tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2]) >= (2, 12)
RMS_NORM_CUDA = FP32 if _TORCH_2_12 else None

_BANNED_MESSAGES = {
    "binary_cross_entropy": (
        "torch.nn.functional.binary_cross_entropy and torch.nn.BCELoss are unsafe to autocast.\n"
        "Many models use a sigmoid layer right before the binary cross entropy layer.\n"
        "In this case, combine the two layers using torch.nn.functional.binary_cross_entropy_with_logits\n"
        "or torch.nn.BCEWithLogitsLoss.  binary_cross_entropy_with_logits and BCEWithLogits are\n"
        "safe to autocast."),
}


def autocast_policy(policy, *functions, cpu=_SAME):
    """Decorate a functional wrapper with its autocast policy (see the module docstring)."""
    cpu = policy if cpu is _SAME else cpu
    if policy not in _POLICIES or cpu not in _POLICIES:
        raise ValueError(f"unknown autocast policy {policy!r} / {cpu!r}; expected one of {_POLICIES}")
    for function in functions:
        _backward_without_autocast(function)

    def decorate(fn):
        has_dtype = "dtype" in inspect.signature(fn).parameters
        signature = inspect.signature(fn) if has_dtype else None

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if not _any_autocast():
                return fn(*args, **kwargs)
            device_type = _device_type(args, kwargs)
            if not _autocast_on(device_type):
                return fn(*args, **kwargs)
            rule = cpu if device_type == "cpu" else policy
            if rule == BANNED:
                raise RuntimeError(_BANNED_MESSAGES[fn.__name__])
            explicit_dtype = has_dtype and signature.bind(*args, **kwargs).arguments.get("dtype") is not None
            if rule is not None and not explicit_dtype:
                dtype = _target_dtype(rule, device_type, args, kwargs)
                if dtype is not None:
                    args = tuple(_cast(a, device_type, dtype) for a in args)
                    kwargs = {k: _cast(v, device_type, dtype) for k, v in kwargs.items()}
            with torch.autocast(device_type, enabled=False):
                return fn(*args, **kwargs)

        return wrapper

    return decorate


def _device_type(args, kwargs) -> str | None:
    """The device type of the first tensor argument (None: no tensor, nothing to autocast)."""
    for a in (*args, *kwargs.values()):
        if isinstance(a, torch.Tensor):
            return a.device.type
    return None


def _autocast_on(device_type: str | None) -> bool:
    """Autocast is enabled for ``device_type`` (which has one: not 'meta', for instance)."""
    return (device_type is not None and torch.amp.is_autocast_available(device_type)
            and torch.is_autocast_enabled(device_type))


def _eligible(a, device_type: str) -> bool:
    """Autocast touches floating tensors of the autocast device type, never float64."""
    return (isinstance(a, torch.Tensor) and a.is_floating_point() and a.dtype != torch.float64
            and a.device.type == device_type)


def _target_dtype(rule: str, device_type: str, args, kwargs) -> torch.dtype | None:
    if rule == LOWER:
        return torch.get_autocast_dtype(device_type)
    if rule == FP32:
        return torch.float32
    # PROMOTE, as torch's: float32 if any eligible argument is float32, else autocast's dtype
    widest = any(_eligible(a, device_type) and a.dtype == torch.float32 for a in (*args, *kwargs.values()))
    return torch.float32 if widest else torch.get_autocast_dtype(device_type)


def _cast(a, device_type: str, dtype: torch.dtype):
    return a.to(dtype) if _eligible(a, device_type) and a.dtype != dtype else a


def _backward_without_autocast(function: type) -> None:
    """Wrap the ``backward`` that ``function`` uses (once, where it is defined: a shared base
    class covers its subclasses) so that it runs with autocast off for its gradients' device
    type, whatever the state of the ``.backward()`` call. Static- and classmethods both."""
    owner = next((c for c in function.__mro__ if "backward" in c.__dict__), None)
    raw = None if owner is None or owner is torch.autograd.Function else owner.__dict__["backward"]
    if not isinstance(raw, (staticmethod, classmethod)):
        raise TypeError(f"{function.__name__} has no static or class method backward of its own")
    plain = raw.__func__
    if getattr(plain, "_autocast_off", False):
        return
    first = 2 if isinstance(raw, classmethod) else 1  # the gradients follow (cls,) ctx

    @functools.wraps(plain)
    def backward(*args):
        if not _any_autocast():  # the common case: one C call
            return plain(*args)
        device_type = _device_type(args[first:], {})
        if not _autocast_on(device_type):
            return plain(*args)
        with torch.autocast(device_type, enabled=False):
            return plain(*args)

    backward._autocast_off = True
    setattr(owner, "backward", type(raw)(backward))
