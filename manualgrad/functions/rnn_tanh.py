"""One Elman RNN layer (tanh or relu) in one direction over a whole sequence: ``RNNFunction``
(also RNNCell: T = 1)."""

from __future__ import annotations

import torch

from ._base import Function
from ._rnn import at, plus, rounded, up, projection, reverse_walk, rows, save, output, steps, weight_grads, zeros_if_none


def _derivative(q: torch.Tensor, nonlinearity: str) -> torch.Tensor:
    """act'(q): 1 − tanh²(q), or 1 where q > 0 for relu (relu'(0) = 0, as torch)."""
    if nonlinearity == "tanh":
        t = q.tanh()
        return 1 - t * t
    return (q > 0).to(q.dtype)


class RNNFunction(Function):
    """One layer, one direction, every time step (packed rows, see ``_rnn.py``), H hidden; act =
    tanh or relu. Per step t, on its n_t rows, h_{t−1} the rows' state:

      q_t = x_t W_ihᵀ + b_ih + b_hh + h_{t−1} W_hhᵀ   (x W_ihᵀ: ONE matmul for all t)
      h_t = y_t = act(q_t)

    Backward, walking t in reverse with the carried dh (rows that did not move pass through):
      dh_t = dh + dy_t ;  dq_t = dh_t⊙act'(q_t) ;  dh_{t−1} = dq_t W_hh
    then, each one matmul over all steps: dx = dQ W_ih, dW_ih = dQᵀ x, dW_hh = dQᵀ H_prev,
    db_ih = db_hh = Σ dQ ; dh0 = the final carry.

    Returns (y, h_n, Q, H_prev): Q the pre-activations, H_prev the state each row started its
    step from; internal outputs, saved as outputs so a double backward differentiates through
    them (their gradients, nonzero only then, add to dq_t and dh_{t−1}). Saves Q and H_prev
    (2H floats a row; act'(q) is one elementwise pass), x only for dW_ih, W_ih only for dx, and
    W_hh. torch's CPU path saves h_{t−1} and act's output per step (the same). Not y: the caller
    may modify it in place.
    """

    @staticmethod
    def forward(x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity, batch_sizes, reverse):
        x2, bs = rows(x)
        x2, h0, w_ih, w_hh, b_ih, b_hh = up(x2, h0, w_ih, w_hh, b_ih, b_hh)
        bs = batch_sizes or bs
        gx = projection(x2, w_ih, b_ih, b_hh)
        act = torch.tanh if nonlinearity == "tanh" else torch.relu
        q, hprev = gx.new_empty(gx.shape), gx.new_empty(gx.shape)
        out, y = output(x, gx.shape[1], gx)
        h = h0.clone()
        for s, n in steps(bs, reverse):
            r = slice(s, s + n)
            hprev[r] = h[:n]
            q[r] = torch.addmm(gx[r], h[:n], w_hh.t())
            h[:n] = y[r] = act(q[r])
        return out.to(x.dtype), h.to(x.dtype), q, hprev

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity, batch_sizes, reverse = inputs
        save(ctx, inputs, 2, w_hh, *output[2:])
        ctx.set_materialize_grads(False)
        ctx.x_shape, ctx.batch_sizes, ctx.reverse = x.shape, batch_sizes or rows(x)[1], reverse
        ctx.nonlinearity = nonlinearity

    @staticmethod
    def backward(ctx, dy, dh_n, dq_out, dhprev_out):
        x, w_ih, w_hh, q, hprev = ctx.saved_tensors
        x, w_ih, w_hh, dy, dh_n = up(x, w_ih, w_hh, dy, dh_n)
        dact = _derivative(q, ctx.nonlinearity)
        dy = None if dy is None else rows(dy)[0]

        def step(r, n, carry):
            (dh,) = carry
            dq = plus(plus(dh, at(dy, r)) * dact[r], at(dq_out, r))
            return (plus(dq @ w_hh, at(dhprev_out, r)),), (dq,)

        carry = (zeros_if_none(dh_n, (ctx.batch_sizes[0], hprev.shape[1]), hprev),)
        (dh0,), (dq,) = reverse_walk(ctx.batch_sizes, ctx.reverse, carry, step)
        need = ctx.needs_input_grad
        dx, dw_ih, dw_hh, db_ih, db_hh = weight_grads(need, 2, dq, dq, x, w_ih, hprev, ctx.x_shape)
        return rounded(ctx, (dx, dh0 if need[1] else None, dw_ih, dw_hh, db_ih, db_hh, None, None, None))
