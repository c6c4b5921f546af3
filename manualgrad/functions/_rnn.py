"""The time walk shared by the recurrent Functions (``rnn_tanh``, ``rnn_lstm``, ``rnn_gru``).

Layout. A layer runs over rows in torch's *packed* layout: the rows of time step t are
``rows_t = [s_t, s_t + n_t)`` of a 2-D ``(N, features)`` tensor, ``n_t = batch_sizes[t]``
non-increasing, ``s_t = n_0 + … + n_{t−1}``; the n_t rows of step t belong to the first n_t
sequences (sorted longest first). A padded ``(T, B, features)`` input is the same layout with
every ``n_t = B``. The state has B = n_0 rows; at step t only its first n_t rows move:

- forward direction (t = 0 … T−1): sequence b stops at its own end, its row keeps its last
  state, so h_n[b] is the state after step len_b − 1;
- reverse direction (t = T−1 … 0): sequence b starts at its own end t = len_b − 1, while its row
  still holds h0[b].

The same rule, ``state[:n_t] ← step(state[:n_t])`` in the direction's order, does both. The
backward walks the same steps in the opposite order with the carried gradient ``dstate``: rows
[0, n_t) go through the step's derivative, the others pass unchanged (their state did not move),
so each sequence's backward starts at its own end.
"""

from __future__ import annotations

import itertools

import torch

from ._recompute import active

_LOW = (torch.float16, torch.bfloat16)


def up(*ts):
    """Half/bfloat16 tensors in float32 (the walk runs in float32 and rounds its results once,
    as torch's kernels accumulate; a bf16 state would round at every step); others as they are."""
    return tuple(t.float() if t is not None and t.dtype in _LOW else t for t in ts)


def rounded(ctx, grads: tuple) -> tuple:
    """Each input's gradient in that input's dtype (``ctx.dtypes``, recorded by :func:`save`)."""
    return tuple(g if g is None or g.dtype == d else g.to(d) for g, d in zip(grads, ctx.dtypes))


def steps(batch_sizes: tuple, reverse: bool) -> list[tuple[int, int]]:
    """``(s_t, n_t)`` per time step, in the order the forward visits them."""
    out = list(zip(itertools.accumulate(batch_sizes, initial=0), batch_sizes))
    return out[::-1] if reverse else out


def step_views(t: torch.Tensor, t_max: int, b: int) -> tuple:
    """The (b, …) views of a padded walk's T = ``t_max`` steps in ``t`` (N = T·b rows, any strides),
    split once so a walk indexes them instead of slicing rows at every step."""
    return t.unflatten(0, (t_max, b)).unbind(0)


def previous(states: torch.Tensor, h0: torch.Tensor, batch_sizes: tuple, reverse: bool) -> torch.Tensor:
    """The state each row started its step from, given the state each row ended it with
    (``states``) and h0: step t's rows [0, n_t) start where the same sequences ended the step
    before (t − 1 forwards, t + 1 in reverse), rows the step before did not have from h0."""
    t_max, b = len(batch_sizes), batch_sizes[0] if batch_sizes else 0
    if all(n == b for n in batch_sizes):  # padded: one shift by a step
        return torch.cat([states[b:], h0]) if reverse else torch.cat([h0, states[:(t_max - 1) * b]])
    order = steps(batch_sizes, False)
    pieces = []
    for t, (s, n) in enumerate(order):
        p = t + 1 if reverse else t - 1
        m = min(n, order[p][1]) if 0 <= p < t_max else 0
        pieces += [states[order[p][0]:order[p][0] + m]] if m else []
        pieces.append(h0[m:n])
    return torch.cat(pieces)


def tanh(x: torch.Tensor) -> torch.Tensor:
    """tanh x, as 2σ(2x) − 1 where nothing records it (grad mode off) and x is a float32/64 CPU
    tensor in eager mode: torch's CPU tanh kernel costs about 4× its sigmoid (256×128 floats: 61
    against 14 µs; these three passes 29). Its error is absolute, about an ulp of 1 (σ rounds near
    ½), not relative: right for the walks, which add tanh's values into sums of O(1) gate
    products, not for a tanh activation's own output. Else torch.tanh."""
    fast = not torch.is_grad_enabled() and x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64)
    return torch.mul(x, 2).sigmoid_().mul_(2).sub_(1) if fast and active() else torch.tanh(x)


def rows(x: torch.Tensor) -> tuple[torch.Tensor, tuple]:
    """``x`` as 2-D rows (packed data as is, a padded (T, B, F) tensor flattened) and the batch
    sizes of its steps (``(B,) * T`` for a padded tensor)."""
    if x.dim() == 2:
        return x, ()
    return x.reshape(-1, x.shape[-1]), (x.shape[1],) * x.shape[0]


def output(x: torch.Tensor, width: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The layer's output y, (*x's lead dims, width), and its rows (a view to write each step into;
    y itself is returned, never a view of an intermediate)."""
    y = like.new_empty(*x.shape[:-1], width)
    return y, y.view(-1, width)


def projection(x: torch.Tensor, w: torch.Tensor, *biases) -> torch.Tensor:
    """``x wᵀ + Σ biases`` for every time step at once: one matmul over all N rows, not T small ones
    (the biases summed first and added by the matmul itself)."""
    present = [b for b in biases if b is not None]
    if not present:
        return x @ w.t()
    return torch.addmm(present[0] if len(present) == 1 else present[0] + present[1], x, w.t())


def carried(new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    """The state after a step that moved rows [0, n) to ``new``: the other rows of ``old`` kept
    (out of place: the backward may be recorded)."""
    n = new.shape[0]
    return new if n == old.shape[0] else torch.cat([new, old[n:]])


def reverse_walk(batch_sizes: tuple, reverse: bool, carry: tuple, step):
    """Run ``step(r, n, carry_rows) -> (new carry rows, pieces)`` over the forward's steps in the
    opposite order, ``carry_rows`` being each carried tensor's first n rows. Returns the final
    carry and, for each piece, the per-step pieces concatenated in row (data) order."""
    found = []
    for s, n in reversed(steps(batch_sizes, reverse)):
        new, pieces = step(slice(s, s + n), n, tuple(c[:n] for c in carry))
        carry = tuple(carried(a, c) for a, c in zip(new, carry))
        found.append((s, pieces))
    found.sort(key=lambda q: q[0])
    joined = tuple(torch.cat([p[k] for _, p in found]) for k in range(len(found[0][1]))) if found else ()
    return carry, joined


def weight_grads(need, first: int, dgx, dgh, x, w_ih, hprev, x_shape):
    """The gradients that need no walk, each one matmul or sum over all N rows, after it:
    dx = dgx W_ih, dW_ih = dgxᵀ x, dW_hh = dghᵀ h_prev, db_ih = Σ dgx, db_hh = Σ dgh
    (dgx, dgh: the gradients of the input and hidden pre-activations, every step stacked).
    ``need``: ctx.needs_input_grad; ``first``: the position of w_ih among the Function's inputs
    (x is input 0, of shape ``x_shape``; then w_ih, w_hh, b_ih, b_hh)."""
    dx = (dgx @ w_ih).view(x_shape) if need[0] else None
    dw_ih = dgx.t() @ rows(x)[0] if need[first] else None
    dw_hh = dgh.t() @ hprev if need[first + 1] else None
    db_ih = dgx.sum(0) if need[first + 2] else None
    if need[first + 3]:  # the same sum when both biases meet the same pre-activation (RNN, LSTM): a copy
        db_hh = db_ih.clone() if dgh is dgx and db_ih is not None else dgh.sum(0)
    else:
        db_hh = None
    return dx, dw_ih, dw_hh, db_ih, db_hh


def save(ctx, inputs, first: int, *rest):
    """Save x only for dW_ih and W_ih only for dx (the walk needs neither), then ``rest``;
    record the inputs' dtypes for :func:`rounded`."""
    need = ctx.needs_input_grad
    x, w_ih = inputs[0], inputs[first]
    ctx.dtypes = tuple(getattr(t, "dtype", None) for t in inputs)
    ctx.save_for_backward(x if need[first] else None, w_ih if need[0] else None, *rest)


def state(h0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The running state, a copy of h0 in h0's shape ((B, W) or (1, B, W): a layer's slice of
    the stacked states, so a one-layer h_n is the Function's own output), and its (B, W) rows."""
    h = h0.clone(memory_format=torch.contiguous_format)
    return h, h.view(-1, h0.shape[-1])


def carry_rows(g, like: torch.Tensor) -> torch.Tensor:
    """A final state's incoming gradient as (B, W) rows, zeros like ``like`` where autograd passed
    None (the output was unused)."""
    return like.new_zeros(like.shape) if g is None else g.reshape(like.shape)


def at(t, r: slice):
    """Rows ``r`` of an optional gradient (None stays None)."""
    return None if t is None else t[r]


def plus(a: torch.Tensor, b) -> torch.Tensor:
    """``a + b``, or ``a`` when the extra gradient ``b`` is None."""
    return a if b is None else a + b
