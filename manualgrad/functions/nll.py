"""Negative log-likelihood over class indices: ``nll_loss``, plus what ``cross_entropy`` shares
with it: the class dim, picking a value per position, the per-position weight and torch's checks
on a class-index target (same order, same exception types and messages as torch 2.13).

Layout: input x is (C) or (N, C, d1, ..., dk) with the classes on dim c (0 or 1); a class-index
target t has x's shape without dim c, and each of its positions i picks x[i, t_i].
"""

from __future__ import annotations

import torch

from ._base import Function
from ._recompute import active
from ._reduction import reduce, unreduce
from ._precision import dtype_name
from ._transform import save_for_forward, values_hidden


def class_dim(x: torch.Tensor) -> int:
    """The class dim c: 0 for an unbatched (C) input, 1 otherwise."""
    return 0 if x.dim() == 1 else 1


def pick(v: torch.Tensor, index: torch.Tensor, dim: int) -> torch.Tensor:
    """v[i, index_i] along ``dim`` (``index`` has v's shape without ``dim``). With no classes
    (size 0 along ``dim``) every target is ignored, and the picks are zeros."""
    if v.shape[dim] == 0:
        return v.new_zeros(index.shape)
    return v.gather(dim, index.unsqueeze(dim)).squeeze(dim)


def add_at_(base: torch.Tensor, index: torch.Tensor, src: torch.Tensor, dim: int) -> torch.Tensor:
    """base[i, index_i] += src_i along ``dim``, in place on a ``base`` the backward has just made
    (autograd records it, and scatter_add_ keeps no value of base, so a double backward through
    it is exact). Returns base."""
    if base.shape[dim] == 0:
        return base
    return base.scatter_add_(dim, index.unsqueeze(dim), src.unsqueeze(dim).to(base.dtype))


def broadcast_weight(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The per-class weight w (C) viewed to broadcast along x's class dim: (C, 1, ..., 1)."""
    return w.reshape((-1,) + (1,) * (x.dim() - class_dim(x) - 1))


def target_weights(t: torch.Tensor, w: torch.Tensor | None, ignore_index: int, like: torch.Tensor):
    """(keep, t̂, ω): keep_i = [t_i ≠ k]; t̂ = t with the ignored positions sent to class 0 (a
    safe index); ω_i = keep_i · w[t̂_i] (keep_i without weight) in ``like``'s dtype, so that
    D = Σ ω is the divisor of torch's weighted 'mean'."""
    keep = t != ignore_index
    safe = t.masked_fill(~keep, 0)
    if w is None:
        return keep, safe, keep.to(like.dtype)
    if w.numel() == 0:  # no classes: every position is ignored
        return keep, safe, like.new_zeros(t.shape)
    return keep, safe, torch.where(keep, w.take(safe), 0).to(like.dtype)


def nothing_ignored(t: torch.Tensor, ignore_index: int) -> bool:
    """Surely no t_i = k (a sufficient test: k outside [min t, max t]); eager CPU only, where the
    answer is one cheap pass that buys a shorter backward. False when unsure."""
    if t.device.type != "cpu" or t.numel() == 0 or not active():
        return False
    lo, hi = t.aminmax()
    return not int(lo) <= ignore_index <= int(hi)


def grad_scale(dy: torch.Tensor, reduction: str, omega: torch.Tensor) -> torch.Tensor:
    """g = ∂y/∂ℓ per position: dy ('none'), dy ('sum'), dy / D with D = Σ ω ('mean')."""
    divisor = omega.sum() if reduction == "mean" else None
    return unreduce(dy, reduction, omega.shape, divisor)


class NLLLossFunction(Function):
    """y = R(ℓ),  ℓ_i = −ω_i x[i, t_i],  ω_i = [t_i ≠ k] w[t_i]   (k = ignore_index; w ≡ 1 if None)
    R: 'none' ℓ;  'sum' Σ_i ℓ_i;  'mean' Σ_i ℓ_i / D,  D = Σ_i ω_i  (every target ignored: 0/0 = NaN)

    dx[i, c] = −g_i ω_i [c = t_i],   g = dy ('none' and 'sum'), dy / D ('mean')
    (ignored positions get 0, also when D = 0, as torch.) t is an index and w a constant (torch
    refuses a weight that requires grad), so dx is the only gradient.
    jvp: dy = R(−ω_i dx[i, t_i])   (ℓ is linear in x: the forward applied to the tangent)
    Saves t and w only (inputs): ℓ is linear in x, so dx never reads x (only its shape, kept as
    an attribute); ω and D are recomputed from t and w in the backward (one pass over t).
    """

    @staticmethod
    def forward(x, t, w, ignore_index, reduction):
        xf = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x  # accumulate as torch
        keep, safe, omega = target_weights(t, w, ignore_index, xf)
        loss = torch.where(keep, -pick(xf, safe, class_dim(x)) * omega, 0)
        return reduce(loss, reduction, omega.sum() if reduction == "mean" else None).to(x.dtype)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, t, w, ignore_index, reduction = inputs
        ctx.save_for_backward(t, w)
        save_for_forward(ctx, t, w)
        ctx.x_shape, ctx.dim = x.shape, class_dim(x)
        ctx.ignore_index, ctx.reduction = ignore_index, reduction

    @staticmethod
    def backward(ctx, dy):
        if not ctx.needs_input_grad[0]:
            return None, None, None, None, None
        t, w = ctx.saved_tensors
        keep, safe, omega = target_weights(t, w, ctx.ignore_index, dy)
        g = grad_scale(dy, ctx.reduction, omega)
        dx = add_at_(dy.new_zeros(ctx.x_shape), safe, torch.where(keep, -g * omega, 0), ctx.dim)
        return dx, None, None, None, None

    @staticmethod
    def jvp(ctx, dx, *_):
        t, w = ctx.saved_tensors
        return NLLLossFunction.forward(dx, t, w, ctx.ignore_index, ctx.reduction)


# ---------------------------------------------------------------- torch's checks, in its order


def check_bounds(t: torch.Tensor, ignore_index: int, n_classes: int) -> bool:
    """IndexError "Target 7 is out of bounds." for the first t_i ∉ [0, C) other than k, as torch's
    CPU kernel (on CUDA torch would hit a device assert instead). Data-dependent, so skipped while
    torch.compile traces and under torch.func transforms. Returns whether every t_i is surely a
    class in [0, C) (False when unsure): then none equals an ignore_index outside [0, C)."""
    if values_hidden() or t.numel() == 0:
        return False
    lo, hi = t.aminmax()  # one pass for the common case: every target a class
    if 0 <= int(lo) and int(hi) < n_classes:
        return True
    bad = (t != ignore_index) & ((t < 0) | (t >= n_classes))
    if bool(bad.any()):
        raise IndexError(f"Target {int(t[bad][0])} is out of bounds.")
    return False


def refuse_weight_grad(w: torch.Tensor | None, op: str) -> None:
    """torch's error for a class weight that requires grad (grad mode only, as torch)."""
    if w is not None and w.requires_grad and torch.is_grad_enabled():
        raise RuntimeError(f"The function '{op}' is not differentiable with respect to argument "
                           "'weight'. This input cannot have requires_grad True.")


def _views_2d(x, t) -> tuple:
    """The shapes ``nll_loss_nd`` hands ``nll_loss2d``: x, t themselves for a 4-d x, else x as
    (N, C, 1, −1) and t as (N, 1, −1), each (N, C, 0, 0) / (N, 0, 0) when empty."""
    if x.dim() == 4:
        return tuple(x.shape), tuple(t.shape)
    n, c = x.shape[:2]
    xs = (n, c, 1, x.numel() // (n * c)) if x.numel() else (n, c, 0, 0)
    return xs, ((n, 1, t.numel() // n) if t.numel() else (n, 0, 0))


def _check_shapes(x, t, w) -> None:
    """The shape checks of torch's ``nll_loss`` (1-D/2-D x) or ``nll_loss2d`` (higher rank)."""
    xd, td, n_classes = x.dim(), t.dim(), x.shape[class_dim(x)]
    if xd > 2:
        if w is not None and w.numel() != n_classes:
            raise RuntimeError("weight tensor should be defined either for all or no classes")
        xs, ts = _views_2d(x, t)  # differ only for a 4-d x, or an empty x (C = 0) with targets
        if ts != (xs[0], *xs[2:]):
            raise RuntimeError(f"size mismatch (got input: {list(xs)} , target: {list(ts)}")
        return
    if xd == 1 and td == 1 and t.shape[0] != 1:
        raise ValueError(f"For 1D input, 1D target must have size 1, but got target size: {t.shape[0]}")
    if xd == 2 and td == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    if w is not None and (w.dim() != 1 or w.numel() != n_classes):
        raise RuntimeError(f"weight tensor should be defined either for all {n_classes} classes or no "
                           f"classes but got weight tensor of shape: {list(w.shape)}")


def check_class_target(x: torch.Tensor, t: torch.Tensor, w: torch.Tensor | None, ignore_index: int,
                       reduction: str = "none"):
    """torch's checks of ``nll_loss_nd`` in torch's order; returns (t, w, classes) ready for the
    Functions: t as int64 (a (1) target of a (C) input as 0-d, as torch reads it), w flattened to
    (C), ``classes``: every target is surely a class (:func:`check_bounds`). ``reduction``: an
    empty spatial target reduced to 'mean' or 'sum' passes with uint8 (torch's nll_loss2d
    returns before its dtype dispatch)."""
    xd, td = x.dim(), t.dim()  # read once: this runs on every loss call
    if xd < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {xd})")
    if xd != 1 and x.shape[0] != (t.shape[0] if td else 0):
        raise ValueError(f"Expected input batch_size ({x.shape[0]}) to match target batch_size "
                         f"({t.shape[0] if td else 0}).")
    spatial = xd > 2
    if spatial and xd != 4 and t.shape[1:] != x.shape[2:]:
        raise RuntimeError(f"Expected target size {[x.shape[0], *x.shape[2:]]}, got {list(t.shape)}")
    refuse_weight_grad(w, "nll_loss2d_forward" if spatial else "nll_loss_forward")
    if xd == 4 and td != 3:
        raise RuntimeError("only batches of spatial targets supported (3D tensors) but got targets "
                           f"of dimension: {td}")
    if not spatial and td > 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if t.dtype not in (torch.long, torch.uint8):
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got {dtype_name(t.dtype)}")
    _check_shapes(x, t, w)
    if not x.is_floating_point():
        kernel = "nll_loss2d_forward_out_frame" if spatial else "nll_loss_out_frame"
        raise NotImplementedError(f'"{kernel}" not implemented for \'{dtype_name(x.dtype)}\'')
    if w is not None and w.dtype != x.dtype:
        raise RuntimeError(f"expected scalar type {dtype_name(x.dtype)} but found {dtype_name(w.dtype)}")
    if spatial and t.dtype == torch.uint8 and not (t.numel() == 0 and reduction != "none"):
        raise RuntimeError("expected scalar type Long but found Byte")
    t = t.long()
    classes = check_bounds(t, ignore_index, x.shape[class_dim(x)])
    return t.reshape(()) if xd == 1 else t, None if w is None else w.reshape(-1), classes
