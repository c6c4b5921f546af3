"""Loss reductions shared by every loss Function: the forward reduce, its backward, and the
weighted variants, so that no Function repeats them.

Notation: ℓ is the elementwise loss (any shape), w an optional weight broadcast into it, and

    y = R(ℓ ⊙ w),   R = identity ('none') | Σ ('sum') | Σ / D ('mean')

with D = numel(ℓ ⊙ w) (torch's plain mean) or, for ``by_weight``, D = Σ w summed over w's own
elements (torch's weighted mean of ``mse_loss``/``l1_loss``: ``sum(ℓ * w) / sum(w)``).

    ∂y/∂ℓ = dy                                        'none'
          = dy  (broadcast to ℓ's shape)             'sum'
          = dy / D  (broadcast)                      'mean'
    dℓ = ∂y/∂ℓ ⊙ w
    dw = Σ→w (∂y/∂ℓ ⊙ ℓ)  − [by_weight, 'mean'] dy · y / D     (D = Σ w depends on w too)

Every helper is written with differentiable torch ops, so a backward built from them can be
differentiated again (double backward).
"""

from __future__ import annotations

import torch

REDUCTIONS = ("none", "mean", "sum")


def reduce(loss: torch.Tensor, reduction: str, divisor=None) -> torch.Tensor:
    """Forward: ``loss`` ('none'), ``Σ loss`` ('sum') or ``Σ loss / divisor`` ('mean'; the plain
    ``loss.mean()`` when ``divisor`` is None)."""
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.mean() if divisor is None else loss.sum() / divisor


def unreduce(dy: torch.Tensor, reduction: str, shape: torch.Size, divisor=None) -> torch.Tensor:
    """Backward of :func:`reduce`: ∂y/∂loss · dy as a tensor of ``shape`` (a broadcast view for
    'sum'/'mean', ``dy`` itself for 'none'; ``dy`` is never modified). An empty loss is not
    scaled: there is nothing to scale, and dy / 0 would put NaN into the double backward."""
    if reduction == "none":
        return dy
    if reduction == "mean" and shape.numel():
        dy = dy / (shape.numel() if divisor is None else divisor)
    return dy.expand(shape)


def _divisor(weight, reduction: str, by_weight: bool):
    """D of a 'mean': Σ w for torch's weighted mean by weight, else None (numel)."""
    return weight.sum() if by_weight and weight is not None and reduction == "mean" else None


def weighted_reduce(loss: torch.Tensor, weight, reduction: str, by_weight: bool = False) -> torch.Tensor:
    """Forward: y = R(ℓ ⊙ w) (w None: y = R(ℓ)); ``by_weight``: a 'mean' divides by Σ w."""
    weighted = loss if weight is None else loss * weight
    return reduce(weighted, reduction, _divisor(weight, reduction, by_weight))


def grad_loss(dy: torch.Tensor, shape: torch.Size, weight, reduction: str,
              by_weight: bool = False) -> torch.Tensor:
    """dℓ = ∂y/∂ℓ ⊙ w for y = :func:`weighted_reduce` of an ℓ of ``shape`` (the ℓ ⊙ w shape)."""
    g = unreduce(dy, reduction, shape, _divisor(weight, reduction, by_weight))
    return g if weight is None else g * weight


def grad_weight(dy: torch.Tensor, loss: torch.Tensor, weight: torch.Tensor, reduction: str,
                by_weight: bool = False) -> torch.Tensor:
    """dw = Σ→w (∂y/∂ℓ ⊙ ℓ) − [by_weight, 'mean'] dy · y / Σ w, in w's shape and dtype."""
    divisor = _divisor(weight, reduction, by_weight)
    shape = torch.broadcast_shapes(loss.shape, weight.shape)
    dw = unreduce(dy, reduction, shape, divisor) * loss
    if divisor is not None and weight.numel():  # D = Σ w is a function of w: ∂y/∂D = −y / D
        y = (loss * weight).sum() / divisor
        return sum_to(dw, weight) - (dy * y / divisor).to(weight.dtype)
    return sum_to(dw, weight)


def sum_to(grad: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """The gradient of an input that was broadcast into the loss: ``grad`` summed back to the
    input's shape, in the input's dtype (autograd would cast silently; we do it explicitly). A
    real input of a complex computation gets the real part, as autograd gives it."""
    grad = grad.sum_to_size(like.shape)
    if grad.is_complex() and not like.is_complex():
        grad = grad.real
    return grad.to(like.dtype)
