"""Classification losses: ``nll_loss`` and ``cross_entropy`` (class indices or probabilities).

Layout, as torch: input x is (C), (N, C) or (N, C, d1, …, dk), classes along ``cd`` (0 for an
unbatched input, else 1); class-index targets t drop that dim. Position i is one (n, d…) entry.
Class weights w (C) are constants (torch does not differentiate them either).
"""

from __future__ import annotations

import torch

_DTYPE_NAMES = {torch.float64: "Double", torch.float32: "Float", torch.float16: "Half",
                torch.bfloat16: "BFloat16", torch.int32: "Int", torch.int16: "Short",
                torch.int8: "Char", torch.bool: "Bool", torch.long: "Long", torch.uint8: "Byte"}


def dtype_name(dtype: torch.dtype) -> str:
    """torch's C++ name of a dtype, as its error messages spell it."""
    return _DTYPE_NAMES.get(dtype, str(dtype))


def class_dim(x: torch.Tensor) -> int:
    return 0 if x.dim() == 1 else 1


def _picks(target, weight, ignore_index, dtype):
    """valid_i = t_i ≠ ignore_index; a safe index (0 where ignored); w_{t_i} (0 where ignored)."""
    valid = target != ignore_index
    t = torch.where(valid, target, 0).long()
    w_t = valid.to(dtype) if weight is None else torch.where(valid, weight[t], 0).to(dtype)
    return valid, t, w_t


def _class_view(w, x):
    """Class weights shaped to broadcast along x's class dim (1 where there are none)."""
    if w is None:
        return 1.0
    shape = [1] * x.dim()
    shape[class_dim(x)] = -1
    return w.view(shape)


def _reduce(loss, reduction, norm):
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.sum() / norm


def _coefficient(dy, shape, reduction, norm):
    """∂y/∂loss_i for every position i: dy itself, dy broadcast, or dy / norm."""
    if reduction == "none":
        return dy
    return (dy if reduction == "sum" else dy / norm).expand(shape)


class NLLLossFunction(torch.autograd.Function):
    """loss_i = −w_{t_i} x_{i,t_i}   (0 where t_i = ignore_index)
    y = loss (none) | Σ loss (sum) | Σ loss / Σ_i w_{t_i} (mean; NaN when every target is ignored)

    dx_{i,c} = −c_i w_{t_i} [c = t_i],   c_i = ∂y/∂loss_i (dy, or dy / Σ w_{t_i} for mean)
    Saves only the targets (and w): the gradient does not depend on x, only on its shape.
    """

    @staticmethod
    def forward(x, target, weight, reduction, ignore_index):
        valid, t, w_t = _picks(target, weight, ignore_index, x.dtype)
        cd = class_dim(x)
        picked = x.gather(cd, t.unsqueeze(cd)).squeeze(cd)
        return _reduce(torch.where(valid, -picked * w_t, 0), reduction, w_t.sum())

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, target, weight, reduction, ignore_index = inputs
        ctx.save_for_backward(target, weight)
        ctx.x_shape, ctx.x_dtype, ctx.reduction, ctx.ignore_index = x.shape, x.dtype, reduction, ignore_index

    @staticmethod
    def backward(ctx, dy):
        if not ctx.needs_input_grad[0]:
            return None, None, None, None, None
        target, weight = ctx.saved_tensors
        valid, t, w_t = _picks(target, weight, ctx.ignore_index, ctx.x_dtype)
        c = _coefficient(dy, t.shape, ctx.reduction, w_t.sum())
        cd = 0 if len(ctx.x_shape) == 1 else 1
        src = torch.where(valid, -c * w_t, 0).unsqueeze(cd)
        dx = torch.zeros(ctx.x_shape, dtype=dy.dtype, device=dy.device).scatter(cd, t.unsqueeze(cd), src)
        return dx, None, None, None, None


class CrossEntropyFunction(torch.autograd.Function):
    """ℓ = log_softmax(x) along the class dim, p = exp(ℓ), ε = label_smoothing, C classes.

    Class indices:  loss_i = (1−ε)·(−w_{t_i} ℓ_{i,t_i}) + (ε/C)·(−Σ_c w_c ℓ_{i,c})   (0 if ignored)
        mean divides both parts by Σ_i w_{t_i}, as torch.
        dx_i = a_i (p_i − e_{t_i}) + b_i (W p_i − w),   W = Σ_c w_c,
        a_i = (1−ε) c_i w_{t_i},  b_i = (ε/C) c_i [t_i not ignored],  c_i = ∂y/∂loss_i
    Probabilities:  q = w ⊙ ((1−ε) t + ε/C),  loss_i = −Σ_c q_{i,c} ℓ_{i,c};  mean divides by the
        number of positions.
        dx_i = c_i (p_i Σ_c q_{i,c} − q_i) ;  dt_i = −(1−ε) c_i w ⊙ ℓ_i
    Saves the logits x (as many bytes as torch's saved log-probabilities) and recomputes ℓ with
    one stable logsumexp in backward, so logits of ±1e4 stay finite.
    """

    @staticmethod
    def forward(x, target, weight, reduction, ignore_index, label_smoothing):
        logp = torch.log_softmax(x, class_dim(x))
        return _ce_forward(logp, x, target, weight, reduction, ignore_index, label_smoothing)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, target, weight, reduction, ignore_index, eps = inputs
        ctx.save_for_backward(x, target, weight)
        ctx.reduction, ctx.ignore_index, ctx.eps = reduction, ignore_index, eps

    @staticmethod
    def backward(ctx, dy):
        x, target, weight = ctx.saved_tensors
        need_x, need_t = ctx.needs_input_grad[:2]
        if not (need_x or need_t):
            return None, None, None, None, None, None
        cd, C, eps = class_dim(x), x.shape[class_dim(x)], ctx.eps
        logp = x - x.logsumexp(cd, keepdim=True)
        p = logp.exp()
        wv = _class_view(weight, x)
        dx = dt = None
        if x.shape == target.shape:  # class probabilities
            c = _coefficient(dy, logp.sum(cd).shape, ctx.reduction, logp.numel() / max(C, 1)).unsqueeze(cd)
            q = (target * (1 - eps) + eps / C) * wv if need_x else None
            dx = c * (p * q.sum(cd, keepdim=True) - q) if need_x else None
            dt = (-(1 - eps) * c * wv * logp).to(target.dtype) if need_t else None
            return dx, dt, None, None, None, None
        valid, t, w_t = _picks(target, weight, ctx.ignore_index, x.dtype)
        c = _coefficient(dy, t.shape, ctx.reduction, w_t.sum())
        a = torch.where(valid, (1 - eps) * c * w_t, 0).unsqueeze(cd)  # 0, not NaN, if all are ignored
        dx = p * a - torch.zeros_like(p).scatter(cd, t.unsqueeze(cd), a)
        if eps > 0:
            b = torch.where(valid, (eps / C) * c, 0).unsqueeze(cd)
            W = C if weight is None else weight.sum()
            dx = dx + b * (W * p - wv)
        return dx, None, None, None, None, None


def _ce_forward(logp, x, target, weight, reduction, ignore_index, eps):
    cd, C = class_dim(x), x.shape[class_dim(x)]
    wv = _class_view(weight, x)
    if x.shape == target.shape:  # class probabilities
        q = target * (1 - eps) + eps / C if eps > 0 else target
        loss = -(logp * q * wv).sum(cd)
        return _reduce(loss, reduction, loss.numel())
    valid, t, w_t = _picks(target, weight, ignore_index, x.dtype)
    loss = -logp.gather(cd, t.unsqueeze(cd)).squeeze(cd) * w_t
    if eps > 0:
        loss = (1 - eps) * loss + (eps / C) * -(logp * wv).sum(cd)
    return _reduce(torch.where(valid, loss, 0), reduction, w_t.sum())


def check_targets(x, target, weight, ignore_index, label_smoothing, name):
    """torch's checks and messages for class-index / class-probability targets."""
    if label_smoothing < 0.0 or label_smoothing > 1.0:  # torch only checks > 1
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    C = x.shape[class_dim(x)] if x.dim() > 0 else 1
    probs = name == "cross_entropy" and x.shape == target.shape
    if probs:
        if not target.is_floating_point():
            raise RuntimeError(f"Expected floating point type for target with class probabilities, "
                               f"got {dtype_name(target.dtype)}")
        if ignore_index >= 0:
            raise RuntimeError("ignore_index is not supported for floating point target")
    else:
        if target.dtype not in (torch.long, torch.uint8):
            raise RuntimeError(f"expected target dtype to be Long or Byte, but got {dtype_name(target.dtype)}")
        if target.dim() > 0 and x.dim() > 0 and x.shape[0] != target.shape[0]:
            raise ValueError(f"Expected input batch_size ({x.shape[0]}) to match target batch_size "
                             f"({target.shape[0]}).")
        if x.dim() >= 3 and target.shape != x.shape[:1] + x.shape[2:]:
            raise RuntimeError(f"size mismatch (got input: {list(x.shape)} , target: {list(target.shape)}")
    if weight is not None:
        if weight.dim() != 1 or weight.numel() != C:
            raise RuntimeError(f"weight tensor should be defined either for all {C} classes or no classes "
                               f"but got weight tensor of shape: {list(weight.shape)}")
        if weight.dtype != x.dtype:
            raise RuntimeError(f"expected scalar type {dtype_name(x.dtype)} but found {dtype_name(weight.dtype)}")
        if weight.requires_grad and torch.is_grad_enabled():
            raise RuntimeError("The function 'nll_loss_forward' is not differentiable with respect to "
                               "argument 'weight'. This input cannot have requires_grad True.")
    if not probs and not torch.compiler.is_compiling():
        bad = (target != ignore_index) & ((target < 0) | (target >= C))
        if bad.any():  # one host sync; a clear error instead of a CUDA device assert
            raise IndexError(f"Target {target[bad].flatten()[0].item()} is out of bounds.")
