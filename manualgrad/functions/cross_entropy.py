"""Cross-entropy on logits: ``cross_entropy``, one fused Function for class-index and
class-probability targets, with weight, ignore_index and label smoothing folded into the classic
softmax − target gradient. The class-index helpers and checks are shared with ``nll_loss``
(``nll.py``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ._base import Function, owned
from ._reduction import reduce, sum_to, unreduce
from ._precision import dtype_name
from ._transform import add_tangents, save_for_forward
from .nll import (add_at_, broadcast_weight, check_class_target, class_dim, grad_scale, nothing_ignored, pick,
                  target_weights)


def _opmath(v: torch.Tensor | None) -> torch.Tensor | None:
    """Half and bfloat16 computed in float32, as torch's softmax kernels compute internally."""
    return v.float() if v is not None and v.dtype in (torch.float16, torch.bfloat16) else v


def _share(eps: float, n_classes: int) -> float:
    """ε/C, the smoothing mass of one class (∞ with no classes, as torch's double division)."""
    return eps / n_classes if n_classes else math.inf


def _smoothed(t: torch.Tensor, eps: float, n_classes: int) -> torch.Tensor:
    """T = (1 − ε) t + ε/C (t itself for ε = 0)."""
    return t * (1 - eps) + _share(eps, n_classes) if eps > 0 else t


def _positions(z: torch.Tensor) -> torch.Size:
    """The shape of ℓ: z's shape without the class dim."""
    shape = list(z.shape)
    del shape[class_dim(z)]
    return torch.Size(shape)


def _prob_divisor(z: torch.Tensor):
    """D of a probability-target 'mean': the number of positions (None: ℓ.mean()), but NaN when
    the input is empty, as torch (which divides numel by C)."""
    return None if z.numel() else math.nan


class CrossEntropyFunction(Function):
    """z = log_softmax(x) along the class dim c (size C),  p = exp(z) = softmax(x);  y = R(ℓ),
    ℓ_i = −Σ_c q_ic z_ic  with the weighted target q  (w ≡ 1 if None, ε = label_smoothing):
        class indices t:  q_ic = [t_i ≠ k] ((1 − ε) w[t_i] [c = t_i] + ε/C · w_c)   (k = ignore_index)
        probabilities t:  q_ic = w_c T_ic,   T = (1 − ε) t + ε/C
    R: 'none' ℓ;  'sum' Σ ℓ;  'mean' Σ ℓ / D,  D = Σ_i [t_i ≠ k] w[t_i] for indices (torch's
    weighted mean; 0/0 = NaN when every target is ignored), the number of positions for
    probabilities.

    dx_i = g_i (p_i Q_i − q_i),  Q_i = Σ_c q_ic     (p − onehot(t) when w ≡ 1, ε = 0)
    dt_ic = −g_i (1 − ε) w_c z_ic                    (probabilities; an index target has none)
    dw_c = −Σ_i g_i T_ic z_ic                         (probabilities; for indices torch refuses a
                                                     weight with requires_grad)
    jvp: dy = L(dz),  dz = dx − Σ_c p ⊙ dx  (+ L with T → (1 − ε) dt, w → dw for probabilities),
    L the loss as a (linear) function of z: y = L(z)
    g = dy ('none', 'sum'), dy / D ('mean'). A gradient dz reaching the saved z (only in double
    backward) adds dx += dz − p Σ_c dz, the backward of log_softmax. Half and bfloat16 are
    differentiated in float32 (torch's kernels do the same in registers).
    ``classes`` (from the checks): every target is a class in [0, C); with k outside [0, C) the
    backward then knows that nothing is ignored without another pass over t.
    Saves z, t, w. z is the second output (N·C, what torch's log_softmax + nll_loss keep as well):
    p = exp(z) is one op, dt and dw read z, and x itself is not kept, so the logits can be freed.
    Logits + per-row logsumexp would cost as much (x is N·C) unless x lives on anyway, and
    exp(x − lse) rounds at the scale of |x| (≈1e-3 at |x| = 1e4 in float32) where z is exact.
    z is a differentiable output so that the double backward differentiates through it.
    """

    @staticmethod
    def forward(x, t, w, ignore_index, reduction, label_smoothing, classes):
        z = torch.log_softmax(x, class_dim(x))
        if label_smoothing == 0 and not t.is_floating_point():  # ℓ_i = −ω_i z[i, t_i]: torch's nll_loss kernel on z
            return owned(F.nll_loss(z, t, w, ignore_index=ignore_index, reduction=reduction)), z
        return _loss(z, t, w, ignore_index, reduction, label_smoothing), z

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, t, w, ignore_index, reduction, label_smoothing, classes = inputs
        ctx.save_for_backward(output[1], t, w)
        save_for_forward(ctx, output[1], t, w)
        ctx.set_materialize_grads(False)  # dz is None unless a double backward reaches z
        ctx.x_dtype, ctx.ignore_index, ctx.reduction, ctx.eps = x.dtype, ignore_index, reduction, label_smoothing
        # every target a class and none the ignore_index: nothing ignored, known without a pass
        ctx.all_kept = classes and not 0 <= ignore_index < x.shape[class_dim(x)]
        ctx.plain = (ctx.all_kept and ctx.needs_input_grad[0] and label_smoothing == 0 and w is None
                     and reduction != "none" and x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64))

    @staticmethod
    def backward(ctx, dy, dz):
        if ctx.plain and dz is None and dy is not None and not torch.is_grad_enabled():
            return _plain_grad(ctx, dy), None, None, None, None, None, None
        z, t, w = ctx.saved_tensors
        z, dy, dz = _opmath(z), _opmath(dy), _opmath(dz)
        need_x, dim = ctx.needs_input_grad[0], class_dim(z)
        p = z.exp() if need_x else None
        dx = dt = dw = None
        if dy is not None and t.is_floating_point():
            dx, dt, dw = _prob_grads(ctx, dy, z, p, t, w)
        elif dy is not None and need_x:
            dx = _index_grad(ctx, dy, z, p, t, w)
        if dz is not None and need_x:
            back = dz - p * dz.sum(dim, keepdim=True)
            dx = back if dx is None else dx + back
        if dx is not None and dx.dtype != ctx.x_dtype:
            dx = dx.to(ctx.x_dtype)
        return dx, None if dt is None else dt.to(t.dtype), dw, None, None, None, None

    @staticmethod
    def jvp(ctx, dx, dt, dw, *_):
        z, t, w = ctx.saved_tensors
        dz = None if dx is None else dx - (torch.exp(z) * dx).sum(class_dim(z), keepdim=True)
        args = (ctx.ignore_index, ctx.reduction)
        dy = None if dz is None else _loss(dz, t, w, *args, ctx.eps)  # ℓ is linear in z
        if t.is_floating_point():  # and linear in T and in w for a probability target
            if dt is not None:
                dy = add_tangents(dy, _loss(z, (1 - ctx.eps) * dt, w, *args, 0.0))
            if dw is not None and w is not None:
                dy = add_tangents(dy, _loss(z, t, dw, *args, ctx.eps))
        return dy, torch.zeros_like(z) if dz is None else dz  # (torch.func wants a tangent for z)


def _loss(z, t, w, ignore_index, reduction, eps):
    """y from the log-probabilities z (the forward after log_softmax; linear in z)."""
    dim, n_classes = class_dim(z), z.shape[class_dim(z)]
    if t.is_floating_point():
        q = _smoothed(t, eps, n_classes)
        q = q if w is None else q * broadcast_weight(w, z)
        return reduce(-(z * q).sum(dim), reduction, _prob_divisor(z))
    keep, safe, omega = target_weights(t, w, ignore_index, z)
    loss = torch.where(keep, -pick(z, safe, dim) * omega, 0)
    if eps > 0:
        zw = z if w is None else z * broadcast_weight(w, z)
        smooth = torch.where(keep, -zw.sum(dim), 0)
        if reduction == "sum" and not n_classes:  # torch scales the summed term by ε/C = ∞: NaN, even for no rows
            return (1 - eps) * loss.sum() + _share(eps, n_classes) * smooth.sum()
        loss = (1 - eps) * loss + _share(eps, n_classes) * smooth
    return reduce(loss, reduction, omega.sum() if reduction == "mean" else None)


def _index_grad(ctx, dy, z, p, t, w):
    """dx = g (p Q − q) for a class-index target: p · gQ, minus ε/C · g w_c everywhere, minus
    (1 − ε) g ω at class t_i; g is 0 at the ignored positions (also when D = 0, as torch). The
    common case (ε = 0, no weight, nothing ignored on CPU) is just p · g minus g at class t_i.
    One N·C tensor besides p: the product p · gQ, updated in place (autograd-safe: mul keeps its
    inputs, not its output)."""
    eps, dim, n_classes = ctx.eps, class_dim(z), z.shape[class_dim(z)]
    if eps == 0 and w is None and (ctx.all_kept or nothing_ignored(t, ctx.ignore_index)):  # q = onehot(t), D = N
        if ctx.reduction != "none":  # one g for every position (a 0-d dy): p·g, then −g at t_i
            g, index = (dy / t.numel() if ctx.reduction == "mean" else dy), t.unsqueeze(dim)
            return (p * g).scatter_add_(dim, index, (-g).expand(index.shape))
        g = unreduce(dy, ctx.reduction, t.shape)
        return add_at_(p * g.unsqueeze(dim), t, -g, dim)
    keep, safe, omega = target_weights(t, w, ctx.ignore_index, z)
    g = torch.where(keep, grad_scale(dy, ctx.reduction, omega), 0)
    if eps > 0:
        total = n_classes if w is None else w.sum()  # Σ_c w_c
        dx = p * (g * ((1 - eps) * omega + _share(eps, n_classes) * total)).unsqueeze(dim)
        smooth = (_share(eps, n_classes) * g).unsqueeze(dim)
        # the weighted share rounded before it is subtracted, as the term it cancels was (an addcmul's
        # FMA left that rounding's residue where the two are equal: ε = 1 with one class gave ~1e-8·g)
        dx = dx.sub_(smooth) if w is None else dx.sub_(smooth * broadcast_weight(w, z))
    else:
        dx = p * (g * omega).unsqueeze(dim)
    return add_at_(dx, safe, -(1 - eps) * g * omega, dim)


def _plain_grad(ctx, dy):
    """dx = g (p − onehot(t)) of _index_grad's common case on CPU in a first-order backward (no
    graph to record: grad mode off, float dy), with g = dy ('sum') or dy / N ('mean') read once as
    a number: three ops on one buffer (exp, scale, subtract g at each t_i)."""
    z, t, _ = ctx.saved_tensors
    g = dy.item() / (t.numel() if ctx.reduction == "mean" else 1)
    dim = class_dim(z)
    return z.exp().mul_(g).scatter_(dim, t.unsqueeze(dim), -g, reduce="add")


def _prob_grads(ctx, dy, z, p, t, w):
    """(dx, dt, dw) for a probability target, each only where needed."""
    need_x, need_t, need_w = ctx.needs_input_grad[:3]
    eps, dim = ctx.eps, class_dim(z)
    g = unreduce(dy, ctx.reduction, _positions(z), _prob_divisor(z)).unsqueeze(dim)
    wb = None if w is None else broadcast_weight(w, z)
    big_t = _smoothed(t, eps, z.shape[dim])
    dx = dt = dw = None
    if need_x:
        gq = g * big_t if wb is None else g * wb * big_t  # torch's composite rounds g·w first, then ·t
        dx = (p * gq.sum(dim, keepdim=True)).sub_(gq)  # in place on the fresh product, as above
    if need_t:
        dt = -(1 - eps) * g * z if wb is None else -(1 - eps) * g * z * wb
    if need_w:
        dw = sum_to(-g * big_t * z, wb).reshape(w.shape)
    return dx, dt, dw


# ---------------------------------------------------------------- torch's checks, in its order


def _check_smoothing(label_smoothing: float, negative: bool = False) -> None:
    """torch's error for ε > 1 (``negative``: for ε < 0 instead, which torch silently ignores;
    ours refuses it after all of torch's checks, so that where torch raises, ours raises alike)."""
    if label_smoothing < 0.0 if negative else label_smoothing > 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing:g}")


def _log_softmax_errors(x: torch.Tensor) -> None:
    """torch's log_softmax errors (0-d or integer input), raised where torch raises them."""
    if x.dim() == 0 or not x.is_floating_point():
        torch.log_softmax(x.detach(), class_dim(x))


def check_cross_entropy(x: torch.Tensor, t: torch.Tensor, w: torch.Tensor | None, ignore_index: int,
                        label_smoothing: float, reduction: str = "none"):
    """torch's checks of ``cross_entropy_loss`` in its order (a target of x's shape holds class
    probabilities); returns (t, w, classes) ready for :class:`CrossEntropyFunction` (``classes``:
    a class-index target whose every entry is surely a class, see ``nll.check_bounds``)."""
    if x.shape != t.shape:
        _check_smoothing(label_smoothing)
        _log_softmax_errors(x)
        checked = check_class_target(x, t, w, ignore_index, reduction)
        _check_smoothing(label_smoothing, negative=True)
        return checked
    if not t.is_floating_point():
        raise RuntimeError(f"Expected floating point type for target with class probabilities, "
                           f"got {dtype_name(t.dtype)}")
    if ignore_index >= 0:
        raise RuntimeError("ignore_index is not supported for floating point target")
    if x.dim() == 0:
        raise IndexError("Dimension specified as 1 but tensor has no dimensions")
    n_classes = x.shape[class_dim(x)]
    if w is not None and (w.dim() != 1 or w.numel() != n_classes):
        raise RuntimeError(f"cross_entropy: weight tensor should be defined either for all {n_classes} "
                           f"classes or no classes but got weight tensor of shape: {list(w.shape)}")
    _log_softmax_errors(x)
    _check_smoothing(label_smoothing)
    _check_smoothing(label_smoothing, negative=True)
    return t, w, False
