"""Compare a hand-derived op with torch autograd: the engine behind ``manualgrad.check``,
``manualgrad verify`` and ``tests/test_ops.py``.

Both sides run on the same inputs; one random upstream gradient ``dy`` (not ones, which hides
transposes) is shared; the gradients of every input that requires grad are compared, with their
dtype, shape and device. Float64 ``gradcheck``/``gradgradcheck`` run separately.
"""

from __future__ import annotations

import contextlib
import math
import re
import warnings
from dataclasses import dataclass, field
from typing import Callable

import torch

LOW_PRECISION = (torch.bfloat16, torch.float16)


@dataclass
class Run:
    """Output, shared upstream gradient and input gradients of one forward/backward."""

    out: torch.Tensor
    dy: torch.Tensor | None
    grads: list  # one per differentiable input, in ``grad_inputs`` order (None if unused)


def grad_inputs(args: tuple, kwargs: dict) -> list[torch.Tensor]:
    """The tensors among ``args`` and ``kwargs`` values that require grad, in call order."""
    vals = list(args) + list(kwargs.values())
    return [a for a in vals if isinstance(a, torch.Tensor) and a.requires_grad]


@contextlib.contextmanager
def seeded(seed: int | None):
    """Run with torch's global RNG at ``seed`` (restored afterwards); no-op for ``None``."""
    if seed is None:
        yield
        return
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def run(fn: Callable, args: tuple, kwargs: dict, dy: torch.Tensor | None = None,
        seed: int | None = None, clone_input: bool = False, dy_seed: int = 1234,
        params: tuple = ()) -> Run:
    """``fn(*args, **kwargs)`` then its gradients for a random ``dy`` (or the one given), with
    respect to the inputs that require grad and then to ``params``."""
    call_args = (args[0].clone(), *args[1:]) if clone_input else args
    with seeded(seed):
        out = fn(*call_args, **kwargs)
    leaves = grad_inputs(args, kwargs) + list(params)
    if not leaves or not out.requires_grad:
        return Run(out, dy, [None] * len(leaves))
    if dy is None or dy.shape != out.shape:  # a shape mismatch fails the forward check anyway
        gen = torch.Generator(device=out.device).manual_seed(dy_seed)
        dy = torch.randn(out.shape, generator=gen, device=out.device, dtype=out.dtype)
    grads = torch.autograd.grad(out, leaves, dy, allow_unused=True)
    return Run(out, dy, list(grads))


@dataclass
class Diff:
    """How far ``got`` is from ``want``: max abs and rel error and the assert_close verdict.
    ``max_err`` mixes them: |got − want| / max(1, |want|), abs for small values, rel for big."""

    max_abs: float
    max_rel: float
    ok: bool
    why: str = ""
    max_err: float = 0.0
    scale: float = math.nan  # max |want|: what max_abs is small or large against


def compare(got, want, exact=None, rtol=None, atol=None) -> Diff:
    """``torch.testing.assert_close(got, want)`` as data (NaN equal NaN). In low precision, where
    torch is no ground truth either, ``got`` also passes when its error against the float64
    ``exact`` is at most twice torch's."""
    if got is None or want is None:
        same = got is None and want is None
        return Diff(0.0, 0.0, same, "" if same else f"gradient is None on one side ({got is None}, {want is None})")
    for attr in ("dtype", "shape", "device"):
        if getattr(got, attr) != getattr(want, attr):
            return Diff(math.inf, math.inf, False, f"{attr} {getattr(got, attr)} != {getattr(want, attr)}")
    errs = _errors(got, want)
    finite = want.detach()[torch.isfinite(want.detach())] if want.is_floating_point() else want.detach()
    scale = finite.abs().max().item() if finite.numel() else 0.0
    try:
        kw = {} if rtol is None else {"rtol": rtol, "atol": atol}
        torch.testing.assert_close(got, want, equal_nan=True, **kw)
        return Diff(*errs[:2], True, max_err=errs[2], scale=scale)
    except AssertionError as e:
        if exact is not None and _errors(got, exact)[2] <= 2 * _errors(want, exact)[2] + 1e-6:
            return Diff(*errs[:2], True, max_err=errs[2], scale=scale)
        return Diff(*errs[:2], False, str(e).strip().splitlines()[0], max_err=errs[2], scale=scale)


def _errors(got, want) -> tuple[float, float, float]:
    """Max abs, max rel and max mixed error (NaN equals NaN, equal infinities agree)."""
    if got.numel() == 0:
        return 0.0, 0.0, 0.0
    g, w = got.detach().double(), want.detach().to(got.device).double()
    agree = (g.isnan() & w.isnan()) | ((g == w) & g.isinf())
    diff = (g - w).abs().masked_fill(agree, 0).nan_to_num(nan=math.inf)
    scale = w.abs().masked_fill(agree, 1)
    rel = diff / scale.clamp_min(1e-12)
    mixed = diff / scale.clamp_min(1.0)
    return diff.max().item(), rel.max().item(), mixed.max().item()


# ---------------------------------------------------------------- the op table, op by op


@dataclass
class OpReport:
    """One op of the table verified on one device and dtype (a row of ``manualgrad verify``)."""

    name: str
    samples: int = 0
    forward_err: float = 0.0
    grad_err: float = 0.0
    gradcheck: str = "n/a"
    gradgradcheck: str = "n/a"
    errors: str = "n/a"
    failures: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def _upcast(args: tuple, kwargs: dict):
    def up(a):
        if isinstance(a, torch.Tensor) and a.is_floating_point():
            return a.detach().double().requires_grad_(a.requires_grad)
        return a
    return tuple(map(up, args)), {k: up(v) for k, v in kwargs.items()}


def compare_sample(spec, sample, dtype: torch.dtype):
    """Ours vs torch on one sample: ``(ours, theirs, forward Diff, [grad Diff])``."""
    seed = 0 if spec.seeded else None
    ours = run(spec.op, sample.args, sample.kwargs, seed=seed, clone_input=sample.clone_input)
    theirs = run(spec.ref, sample.args, sample.kwargs, dy=ours.dy, seed=seed, clone_input=sample.clone_input)
    exact = None
    if dtype in LOW_PRECISION:
        args64, kwargs64 = _upcast(sample.args, sample.kwargs)
        dy64 = None if ours.dy is None else ours.dy.double()
        exact = run(spec.ref, args64, kwargs64, dy=dy64, seed=seed, clone_input=sample.clone_input)
    tol = spec.tolerance(dtype)
    fwd = compare(ours.out, theirs.out, exact and exact.out, **tol)
    grads = [compare(g, h, exact and exact.grads[i], **tol)
             for i, (g, h) in enumerate(zip(ours.grads, theirs.grads))]
    return ours, theirs, fwd, grads


def as_function_of_grad_inputs(fn: Callable, sample, seed):
    """``f(*tensors)`` = ``fn`` on the sample with its differentiable tensors replaced, plus
    float64 leaf copies of those tensors, ready for gradcheck."""
    vals = list(sample.args) + list(sample.kwargs.values())
    slots = [i for i, a in enumerate(vals) if isinstance(a, torch.Tensor) and a.requires_grad]
    n_args = len(sample.args)
    keys = list(sample.kwargs)

    def f(*ts):
        new = list(vals)
        for i, t in zip(slots, ts):
            new[i] = t
        args = new[:n_args]
        if sample.clone_input:
            args[0] = args[0].clone()
        with seeded(seed):
            return fn(*args, **dict(zip(keys, new[n_args:])))

    return f, [vals[i].detach().clone().requires_grad_() for i in slots]


def gradchecks(spec, sample, second: bool = True, fast_first: bool = False) -> tuple[bool, bool]:
    """float64 ``gradcheck`` and (``second``) ``gradgradcheck`` of ``spec.op`` on ``sample``;
    ``fast_first``: the first-order check in torch's fast mode (one random projection of the
    Jacobian, against the numerical one), for callers that compare every input's gradient with
    torch's for a random dy besides (tests/test_ops.py)."""
    f, inputs = as_function_of_grad_inputs(spec.op, sample, 0 if spec.seeded else None)
    if not inputs:
        return True, True
    fast = fast_first and all(t.numel() for t in inputs)  # torch's fast mode fails on an empty input
    first = torch.autograd.gradcheck(f, inputs, raise_exception=False, fast_mode=fast)
    second = (not second or "gradgradcheck" in spec.skips
              or torch.autograd.gradgradcheck(f, inputs, raise_exception=False))
    return first, second


def error_matches(spec, bad, device) -> str:
    """'' when ``spec.op`` rejects ``bad`` as it should, else what went wrong."""
    try:
        spec.op(*bad.args, **bad.kwargs)
    except Exception as ours:  # noqa: BLE001 - the exception is what is being checked
        if bad.match is not None:
            if isinstance(ours, bad.error) and re.search(bad.match, str(ours)):
                return ""
            return f"raised {type(ours).__name__}: {ours}; want {bad.error.__name__} matching {bad.match!r}"
        cpu = lambda a: a.cpu() if isinstance(a, torch.Tensor) else a  # noqa: E731
        try:
            spec.ref(*map(cpu, bad.args), **{k: cpu(v) for k, v in bad.kwargs.items()})
        except Exception as theirs:  # noqa: BLE001
            want = str(theirs).strip().splitlines()[0]
            if type(ours) is type(theirs) and want in str(ours):
                return ""
            return f"raised {type(ours).__name__}: {ours}; torch raises {type(theirs).__name__}: {want}"
        return f"raised {type(ours).__name__} but torch accepts it"
    return "no error raised"


def verify_op(spec, device="cpu", dtype=torch.float64, gradcheck: bool = True) -> OpReport:
    """Every sample of ``spec`` on ``device``/``dtype``, gradchecks in float64, bad inputs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # samples replay torch's deprecation warnings on purpose
        return _verify_op(spec, torch.device(device), dtype, gradcheck)


def _verify_op(spec, device, dtype, gradcheck) -> OpReport:
    rep = OpReport(spec.name)
    for sample in spec.samples(device, dtype):
        rep.samples += 1
        try:
            ours, _, fwd, grads = compare_sample(spec, sample, dtype)
        except Exception as e:  # noqa: BLE001 - a crash is a failure to report, not to hide
            rep.failures.append(f"{sample!r}: {type(e).__name__}: {e}")
            continue
        rep.forward_err = max(rep.forward_err, fwd.max_err)
        rep.grad_err = max([rep.grad_err] + [d.max_err for d in grads])
        for what, d in [("forward", fwd)] + [(f"grad {i}", d) for i, d in enumerate(grads)]:
            if not d.ok:
                rep.failures.append(f"{sample!r}: {what}: {d.why}")
        node = type(ours.out.grad_fn).__name__ if ours.out.grad_fn is not None else None
        if sample.node and ours.out.requires_grad and node != spec.function.__name__ + "Backward":
            rep.failures.append(f"{sample!r}: grad_fn is {node}, not {spec.function.__name__}")
    if gradcheck:
        rep.gradcheck = rep.gradgradcheck = "pass"
        if "gradgradcheck" in spec.skips:
            rep.gradgradcheck = "skip"
        for sample in spec.samples(device, torch.float64):
            if not sample.gradcheck:
                continue
            first, second = gradchecks(spec, sample)
            if not first:
                rep.gradcheck = "FAIL"
                rep.failures.append(f"{sample!r}: gradcheck failed")
            if not second:
                rep.gradgradcheck = "FAIL"
                rep.failures.append(f"{sample!r}: gradgradcheck failed")
    bad = [error_matches(spec, b, device) for b in spec.errors(device)]
    if bad:
        rep.errors = "pass" if not any(bad) else "FAIL"
        rep.failures += [m for m in bad if m]
    return rep
