"""One Elman RNN layer (tanh or relu) in one direction over a whole sequence: ``RNNFunction``
(also RNNCell: T = 1)."""

from __future__ import annotations

import torch

from ._base import Function
from ._rnn import (at, carry_rows, plus, previous, projection, reverse_walk, rounded, rows, save, state, steps, up,
                   weight_grads)


def _derivative(h: torch.Tensor, nonlinearity: str) -> torch.Tensor:
    """act'(q) from h = act(q): 1 − h², or 1 where h > 0 for relu (relu'(0) = 0, as torch)."""
    if nonlinearity == "tanh":
        return 1 - h * h
    return (h > 0).to(h.dtype)


class RNNFunction(Function):
    """One layer, one direction, every time step (packed rows, see ``_rnn.py``), H hidden; act =
    tanh or relu. Per step t, on its n_t rows, h_{t−1} the rows' state:

      q_t = x_t W_ihᵀ + b_ih + b_hh + h_{t−1} W_hhᵀ   (x W_ihᵀ: ONE matmul for all t)
      h_t = y_t = act(q_t)

    Backward, walking t in reverse with the carried dh (rows that did not move pass through):
      dh_t = dh + dy_t ;  dq_t = dh_t⊙act'(q_t) ;  dh_{t−1} = dq_t W_hh
    then, each one matmul over all steps: dx = dQ W_ih, dW_ih = dQᵀ x, dW_hh = dQᵀ H_prev,
    db_ih = db_hh = Σ dQ ; dh0 = the final carry.

    Returns (y, h_n, H): H a copy of y (the state each row ended its step with), an internal
    output saved as an output so a double backward differentiates through it (its gradient,
    nonzero only then, adds to dh_t). Saves H and h0 (H floats a row): act'(q_t) is read from
    h_t (1 − h_t², or h_t > 0) and H_prev is H shifted by a step (``_rnn.previous``); x only for
    dW_ih, W_ih only for dx, and W_hh. torch's CPU path saves the h_t that is both act's output
    and the next step's matmul input (the same). Not y: the caller may modify it in place.
    """

    @staticmethod
    def forward(x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity, batch_sizes, reverse):
        x2, bs = rows(x)
        x2, h0, w_ih, w_hh, b_ih, b_hh = up(x2, h0, w_ih, w_hh, b_ih, b_hh)
        bs = batch_sizes or bs
        gx = projection(x2, w_ih, b_ih, b_hh)
        act = torch.tanh if nonlinearity == "tanh" else torch.relu
        states = gx.new_empty(gx.shape)
        h_n, h = state(h0)
        for s, n in steps(bs, reverse):
            r = slice(s, s + n)
            h[:n] = states[r] = act(torch.addmm(gx[r], h[:n], w_hh.t()))
        return states.view(*x.shape[:-1], states.shape[1]).to(x.dtype, copy=True), h_n.to(x.dtype), states

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity, batch_sizes, reverse = inputs
        save(ctx, inputs, 2, w_hh, h0, output[2])
        ctx.set_materialize_grads(False)
        ctx.h_shape = h0.shape
        ctx.x_shape, ctx.batch_sizes, ctx.reverse = x.shape, batch_sizes or rows(x)[1], reverse
        ctx.nonlinearity = nonlinearity

    @staticmethod
    def backward(ctx, dy, dh_n, dstates_out):
        x, w_ih, w_hh, h0, states = ctx.saved_tensors
        x, w_ih, w_hh, h0, dy, dh_n = up(x, w_ih, w_hh, h0, dy, dh_n)
        h0 = h0.reshape(-1, h0.shape[-1])
        dact = _derivative(states, ctx.nonlinearity)     # act'(q_t), from h_t
        dy = None if dy is None else rows(dy)[0]

        def step(r, n, carry):
            (dh,) = carry
            dq = plus(plus(dh, at(dy, r)), at(dstates_out, r)) * dact[r]
            return (dq @ w_hh,), (dq,)

        carry = (carry_rows(dh_n, h0),)
        (dh0,), (dq,) = reverse_walk(ctx.batch_sizes, ctx.reverse, carry, step)
        need = ctx.needs_input_grad
        hprev = previous(states, h0, ctx.batch_sizes, ctx.reverse) if need[3] else None
        dx, dw_ih, dw_hh, db_ih, db_hh = weight_grads(need, 2, dq, dq, x, w_ih, hprev, ctx.x_shape)
        dh0 = dh0.view(ctx.h_shape) if need[1] else None
        return rounded(ctx, (dx, dh0, dw_ih, dw_hh, db_ih, db_hh, None, None, None))
