"""One LSTM layer in one direction over a whole sequence: ``LSTMFunction`` (also LSTMCell: T = 1)."""

from __future__ import annotations

import torch

from ._base import Function
from ._rnn import (at, carry_rows, output, plus, projection, reverse_walk, rounded, rows, save, state, steps, up,
                   weight_grads)


class LSTMFunction(Function):
    """One layer, one direction, every time step (packed rows, see ``_rnn.py``); H hidden, P = proj
    size (P = H without w_hr). Per step t, on its n_t rows, h_{t−1}, c_{t−1} the rows' state:

      z = x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh = [z_i z_f z_g z_o]   (x W_ihᵀ: ONE matmul, all t)
      i = σ(z_i), f = σ(z_f), g = tanh(z_g), o = σ(z_o)
      c_t = f⊙c_{t−1} + i⊙g ;  m_t = o⊙tanh(c_t) ;  h_t = y_t = m_t W_hrᵀ  (or m_t)

    Backward, walking t in reverse with the carried dh, dc (rows that did not move pass through):
      dh_t = dh + dy_t ;  dm = dh_t W_hr (or dh_t) ;  dc_t = dc + dm⊙o⊙(1 − tanh²c_t)
      di = dc_t⊙g ;  df = dc_t⊙c_{t−1} ;  dg = dc_t⊙i ;  do = dm⊙tanh(c_t)
      dz = [di⊙i(1−i), df⊙f(1−f), dg⊙(1−g²), do⊙o(1−o)]
      dh_{t−1} = dz W_hh ;  dc_{t−1} = dc_t⊙f
    (the factors that multiply dc_t and dm are formed for every step before the walk, so a step
    is five small ops and one matmul)
    then, each one matmul over all steps: dx = dZ W_ih, dW_ih = dZᵀ x, dW_hh = dZᵀ H_prev,
    db_ih = db_hh = Σ dZ, dW_hr = dHᵀ M ; dh0, dc0 = the final carry.

    Returns (y, h_n, c_n, A, H_prev, C_prev): A = [i f g o] (N, 4H), H_prev, C_prev the state
    each row started its step from. The last three are internal outputs, saved as outputs so a
    double backward differentiates through them (their gradients, nonzero only then, enter the
    walk: dA adds to [di df dg do], dH_prev to dh_{t−1}, dC_prev to dc_{t−1}).
    Saves A, H_prev, C_prev (6H + P floats a row; c_t and tanh c_t are recomputed in one
    elementwise pass), x only for dW_ih, W_ih only for dx, W_hh, W_hr: torch's CPU path saves
    2.3× as many bytes (tests/test_rnn.py); cuDNN keeps a reserve of the gates and states. Not
    y: the caller may modify it in place. h0, c0: (B, ·) or a layer's (1, B, ·) slice of the
    stacked states; h_n, c_n come back in the same shape.
    """

    @staticmethod
    def forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, batch_sizes, reverse):
        x2, bs = rows(x)
        x2, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr = up(x2, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr)
        bs = batch_sizes or bs
        gx = projection(x2, w_ih, b_ih, b_hh)
        a = gx.new_empty(gx.shape)
        hprev, cprev = gx.new_empty(x2.shape[0], h0.shape[-1]), gx.new_empty(x2.shape[0], c0.shape[-1])
        out, y = output(x, h0.shape[-1], gx)
        (h_n, h), (c_n, c) = state(h0), state(c0)
        hidden = c0.shape[-1]
        for s, n in steps(bs, reverse):
            r = slice(s, s + n)
            hprev[r], cprev[r] = h[:n], c[:n]
            z = torch.addmm(gx[r], h[:n], w_hh.t())
            a[r] = z.sigmoid()                              # [σ(z_i) σ(z_f) tanh(z_g) σ(z_o)]
            a[r, 2 * hidden:3 * hidden] = z[:, 2 * hidden:3 * hidden].tanh()
            i, f, g, o = a[r].chunk(4, 1)
            c_t = c[:n].mul_(f).addcmul_(i, g)              # c_t = f⊙c_{t−1} + i⊙g
            m = o * c_t.tanh()
            h[:n] = y[r] = m if w_hr is None else m @ w_hr.t()
        return out.to(x.dtype), h_n.to(x.dtype), c_n.to(x.dtype), a, hprev, cprev

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, batch_sizes, reverse = inputs
        save(ctx, inputs, 3, w_hh, w_hr, *output[3:])
        ctx.set_materialize_grads(False)
        ctx.h_shape, ctx.c_shape = h0.shape, c0.shape
        ctx.x_shape, ctx.batch_sizes, ctx.reverse = x.shape, batch_sizes or rows(x)[1], reverse

    @staticmethod
    def backward(ctx, dy, dh_n, dc_n, da_out, dhprev_out, dcprev_out):
        x, w_ih, w_hh, w_hr, a, hprev, cprev = ctx.saved_tensors
        x, w_ih, w_hh, w_hr, dy, dh_n, dc_n = up(x, w_ih, w_hh, w_hr, dy, dh_n, dc_n)
        i, f, g, o = a.chunk(4, 1)
        c = f * cprev + i * g                        # c_t, every step at once
        tc = c.tanh()
        # the step's derivative factors, every step at once (none needs the carried dh, dc):
        #   dc_t = dc + dm⊙k_c,  k_c = o⊙(1 − tanh²c_t)
        #   dz = [dc_t dc_t dc_t dm] ⊙ k,
        #   k = [g⊙i(1−i), c_{t−1}⊙f(1−f), i⊙(1−g²), tanh c_t⊙o(1−o)]
        k_c = o * (1 - tc * tc)
        k = torch.cat([g * i * (1 - i), cprev * f * (1 - f), i * (1 - g * g), tc * o * (1 - o)], 1)
        ext = None if da_out is None else da_out * torch.cat([i * (1 - i), f * (1 - f), 1 - g * g, o * (1 - o)], 1)
        dy = None if dy is None else rows(dy)[0]

        def step(r, n, carry):
            dh, dc = carry
            dh_t = plus(dh, at(dy, r))
            dm = dh_t if w_hr is None else dh_t @ w_hr
            dc_t = dc + dm * k_c[r]
            dz = plus(torch.cat([dc_t, dc_t, dc_t, dm], 1) * k[r], at(ext, r))
            dh_prev = plus(dz @ w_hh, at(dhprev_out, r))
            dc_prev = plus(dc_t * f[r], at(dcprev_out, r))
            return (dh_prev, dc_prev), (dz, dh_t)

        b = ctx.batch_sizes[0]
        carry = (carry_rows(dh_n, hprev[:b]), carry_rows(dc_n, cprev[:b]))
        (dh0, dc0), (dz, dh_all) = reverse_walk(ctx.batch_sizes, ctx.reverse, carry, step)
        need = ctx.needs_input_grad
        dx, dw_ih, dw_hh, db_ih, db_hh = weight_grads(need, 3, dz, dz, x, w_ih, hprev, ctx.x_shape)
        dw_hr = dh_all.t() @ (o * tc) if need[7] else None
        dh0 = dh0.view(ctx.h_shape) if need[1] else None
        dc0 = dc0.view(ctx.c_shape) if need[2] else None
        return rounded(ctx, (dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh, dw_hr, None, None))
