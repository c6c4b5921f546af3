"""Matrix products: ``matmul`` (and ``mm``, ``bmm``, its fixed-rank cases) and ``addmm``/``baddbmm``.

Every rank case of torch.matmul reduces to one batched product of matrices: a 1-d ``a`` (k,) is the
row (1, k), a 1-d ``b`` (k,) the column (k, 1), and the dims so added are dropped from y; leading
(batch) dims broadcast. With A, B, dY those matrix views,

    Y = A · B          dA = dY · Bᵀ,   dB = Aᵀ · dY

each summed back over the batch dims its input was broadcast along. The products run in torch's
matmul kernels in the inputs' dtype, so half precision accumulates as torch's own backward does
(in float32 inside the kernel).
"""

from __future__ import annotations

import torch

from ._base import Function, owned

_PRODUCTS = {"matmul": torch.matmul, "mm": torch.mm, "bmm": torch.bmm}


def _matrix(t: torch.Tensor, is_a: bool) -> torch.Tensor:
    """``t`` as a matrix (stack): a 1-d a is the row (1, k), a 1-d b the column (k, 1)."""
    if t.dim() != 1:
        return t
    return t.unsqueeze(0) if is_a else t.unsqueeze(-1)


def _matrix_shape(shape: torch.Size, is_a: bool) -> tuple:
    if len(shape) != 1:
        return tuple(shape)
    return (1, shape[0]) if is_a else (shape[0], 1)


def _dy_matrix(dy: torch.Tensor, a_dim: int, b_dim: int) -> torch.Tensor:
    """dy with the dims y dropped for 1-d operands given back: (…, m, n)."""
    if b_dim == 1:
        dy = dy.unsqueeze(-1)
    if a_dim == 1:
        dy = dy.unsqueeze(-2)
    return dy


def _sum_to(g: torch.Tensor, shape: torch.Size, is_a: bool) -> torch.Tensor:
    """A matrix-view gradient summed over the batch dims its input was broadcast along (leading
    dims it lacks, and its size-1 dims), in the input's own shape (a 1-d input loses its added dim)."""
    return g.sum_to_size(_matrix_shape(shape, is_a)).reshape(shape)


class MatmulFunction(Function):
    """y = a @ b   (torch.matmul's rank cases; ``product`` 'mm' and 'bmm' are its 2-d and 3-d
    cases, with those functions' own checks and messages)

    a (…, m, k), b (…, k, n) with 1-d a as (1, k), 1-d b as (k, 1) and batch dims broadcast:
    da = Σ_broadcast dy · bᵀ
    db = Σ_broadcast aᵀ · dy    (a 2-d b under a batched a: one product with the rows flattened,
                                (k, N) @ (N, n), instead of a batch of products summed)
    Saves b only when a needs a gradient and a only when b does (what each gradient reads).
    No jvp (forward mode raises the clear NotImplementedError).
    """

    @staticmethod
    def forward(a, b, product):
        return owned(_PRODUCTS[product](a, b))  # matmul of a 1-d operand returns a view

    @staticmethod
    def setup_context(ctx, inputs, output):
        a, b, _ = inputs
        need_a, need_b, _ = ctx.needs_input_grad
        ctx.save_for_backward(a if need_b else None, b if need_a else None)
        ctx.a_shape, ctx.b_shape = a.shape, b.shape

    @staticmethod
    def backward(ctx, dy):
        a, b = ctx.saved_tensors
        need_a, need_b, _ = ctx.needs_input_grad
        a_shape, b_shape = ctx.a_shape, ctx.b_shape
        dy2 = _dy_matrix(dy, len(a_shape), len(b_shape))
        da = db = None
        if need_a:
            da = _sum_to(dy2 @ _matrix(b, False).mT, a_shape, True)
        if need_b:
            if len(b_shape) == 2 and len(a_shape) > 2:  # b shared by every batch: one folded product
                k, n = b_shape
                db = a.reshape(-1, k).mT @ dy2.reshape(-1, n)
            else:
                db = _sum_to(_matrix(a, True).mT @ dy2, b_shape, False)
        return da, db, None


class AddmmFunction(Function):
    """y = β·input + α·(m1 @ m2)   (addmm: m1 (m, k), m2 (k, n); baddbmm: batches (B, m, k), (B, k, n);
    input broadcast to y's shape; β = 0 ignores input's values, NaN included, as torch)

    dinput = Σ_broadcast β·dy
    dm1 = α·dy · m2ᵀ
    dm2 = α·m1ᵀ · dy
    Saves m2 only when m1 needs a gradient and m1 only when m2 does.
    """

    @staticmethod
    def forward(input, m1, m2, beta, alpha, batched):
        if beta == 0:  # input's values are ignored (torch's kernel); so they stay under vmap, whose rule would not
            input = torch.zeros_like(input)
        return (torch.baddbmm if batched else torch.addmm)(input, m1, m2, beta=beta, alpha=alpha)

    @staticmethod
    def setup_context(ctx, inputs, output):
        input, m1, m2, beta, alpha, _ = inputs
        _, need_m1, need_m2, *_ = ctx.needs_input_grad
        ctx.save_for_backward(m1 if need_m2 else None, m2 if need_m1 else None)
        ctx.input_shape, ctx.input_dtype = input.shape, input.dtype
        ctx.beta, ctx.alpha = beta, alpha

    @staticmethod
    def backward(ctx, dy):
        m1, m2 = ctx.saved_tensors
        need_input, need_m1, need_m2, *_ = ctx.needs_input_grad
        dinput = dm1 = dm2 = None
        if need_input:
            dinput = _scaled(dy, ctx.beta).sum_to_size(ctx.input_shape).to(ctx.input_dtype)
        if need_m1:
            dm1 = _scaled(dy @ m2.mT, ctx.alpha)
        if need_m2:
            dm2 = _scaled(m1.mT @ dy, ctx.alpha)
        return dinput, dm1, dm2, None, None, None


def _scaled(t: torch.Tensor, factor) -> torch.Tensor:
    """t·factor, skipping the multiplication by 1 (torch's maybe_multiply)."""
    return t if factor == 1 else t * factor
