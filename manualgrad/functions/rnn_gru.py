"""One GRU layer in one direction over a whole sequence: ``GRUFunction`` (also GRUCell: T = 1)."""

from __future__ import annotations

import torch

from ._base import Function
from ._rnn import (at, carry_rows, output, plus, projection, reverse_walk, rounded, rows, save, state, steps, up,
                   weight_grads)


class GRUFunction(Function):
    """One layer, one direction, every time step (packed rows, see ``_rnn.py``), H hidden. Per
    step t, on its n_t rows, h_{t−1} the rows' state, torch's convention (r multiplies W_hn h + b_hn):

      gx = x_t W_ihᵀ + b_ih = [gx_r gx_z gx_n]   (ONE matmul for all t) ;  gh = h_{t−1} W_hhᵀ + b_hh
      r = σ(gx_r + gh_r),  z = σ(gx_z + gh_z),  n = tanh(gx_n + r⊙gh_n)
      h_t = y_t = (1 − z)⊙n + z⊙h_{t−1}

    Backward, walking t in reverse with the carried dh (rows that did not move pass through):
      dh_t = dh + dy_t ;  dn = dh_t⊙(1 − z) ;  dz = dh_t⊙(h_{t−1} − n)
      dq = dn⊙(1 − n²)   (q = gx_n + r⊙gh_n) ;  dr = dq⊙gh_n ;  dgh_n = dq⊙r
      dgx = [dr⊙r(1−r), dz⊙z(1−z), dq] ;  dgh = [dr⊙r(1−r), dz⊙z(1−z), dgh_n]
      dh_{t−1} = dgh W_hh + dh_t⊙z
    (the factors that multiply dh_t are formed for every step before the walk, so a step is a
    few small ops and one matmul), then, each one matmul over all steps: dx = dGx W_ih,
    dW_ih = dGxᵀ x, dW_hh = dGhᵀ H_prev,
    db_ih = Σ dGx, db_hh = Σ dGh ; dh0 = the final carry.

    Returns (y, h_n, A, GH_n, H_prev): A = [r z n] (N, 3H), GH_n = gh_n (N, H), H_prev the state
    each row started its step from; the last three are internal outputs, saved as outputs so a
    double backward differentiates through them (their gradients, nonzero only then, add to dr,
    dz, dn, dgh_n and dh_{t−1}). Saves A, GH_n, H_prev (5H floats a row), x only for dW_ih, W_ih
    only for dx, and W_hh: torch's CPU path saves 1.3× as many bytes (tests/test_rnn.py). Not y:
    the caller may modify it in place. h0: (B, H) or a layer's (1, B, H) slice; h_n alike.
    """

    @staticmethod
    def forward(x, h0, w_ih, w_hh, b_ih, b_hh, batch_sizes, reverse):
        x2, bs = rows(x)
        x2, h0, w_ih, w_hh, b_ih, b_hh = up(x2, h0, w_ih, w_hh, b_ih, b_hh)
        bs = batch_sizes or bs
        gx = projection(x2, w_ih, b_ih)
        hidden = h0.shape[-1]
        a, ghn = gx.new_empty(gx.shape), gx.new_empty(x2.shape[0], hidden)
        hprev = gx.new_empty(x2.shape[0], hidden)
        out, y = output(x, hidden, gx)
        h_n, h = state(h0)
        for s, n in steps(bs, reverse):
            r = slice(s, s + n)
            hprev[r] = h[:n]
            gh = projection(h[:n], w_hh, b_hh)
            gx_r, gx_z, gx_n = gx[r].chunk(3, 1)
            gh_r, gh_z, gh_n = gh.chunk(3, 1)
            reset, update = (gx_r + gh_r).sigmoid(), (gx_z + gh_z).sigmoid()
            new = (gx_n + reset * gh_n).tanh()
            a[r], ghn[r] = torch.cat([reset, update, new], 1), gh_n
            h[:n] = y[r] = new + update * (h[:n] - new)
        return out.to(x.dtype), h_n.to(x.dtype), a, ghn, hprev

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, h0, w_ih, w_hh, b_ih, b_hh, batch_sizes, reverse = inputs
        save(ctx, inputs, 2, w_hh, *output[2:])
        ctx.set_materialize_grads(False)
        ctx.h_shape = h0.shape
        ctx.x_shape, ctx.batch_sizes, ctx.reverse = x.shape, batch_sizes or rows(x)[1], reverse

    @staticmethod
    def backward(ctx, dy, dh_n, da_out, dghn_out, dhprev_out):
        x, w_ih, w_hh, a, ghn, hprev = ctx.saved_tensors
        x, w_ih, w_hh, dy, dh_n = up(x, w_ih, w_hh, dy, dh_n)
        r, z, n = a.chunk(3, 1)
        # the step's derivative factors, every step at once (none needs the carried dh):
        #   dq = dh_t⊙k_q, k_q = (1 − z)(1 − n²) ;  dgx = [dh_t dh_t dh_t]⊙k_x ;  dgh = [dh_t dh_t dh_t]⊙k_h
        k_q = (1 - z) * (1 - n * n)
        k_rz = torch.cat([k_q * ghn * r * (1 - r), (hprev - n) * z * (1 - z)], 1)
        k_x, k_h = torch.cat([k_rz, k_q], 1), torch.cat([k_rz, k_q * r], 1)
        e_x, e_h = _external(r, z, n, ghn, da_out, dghn_out)
        dy = None if dy is None else rows(dy)[0]

        def step(rows_t, _, carry):
            (dh,) = carry
            dh_t = plus(dh, at(dy, rows_t))
            dh3 = torch.cat([dh_t, dh_t, dh_t], 1)
            dgx, dgh = plus(dh3 * k_x[rows_t], at(e_x, rows_t)), plus(dh3 * k_h[rows_t], at(e_h, rows_t))
            dh_prev = plus(dgh @ w_hh + dh_t * z[rows_t], at(dhprev_out, rows_t))
            return (dh_prev,), (dgx, dgh)

        carry = (carry_rows(dh_n, hprev[:ctx.batch_sizes[0]]),)
        (dh0,), (dgx, dgh) = reverse_walk(ctx.batch_sizes, ctx.reverse, carry, step)
        need = ctx.needs_input_grad
        dx, dw_ih, dw_hh, db_ih, db_hh = weight_grads(need, 2, dgx, dgh, x, w_ih, hprev, ctx.x_shape)
        dh0 = dh0.view(ctx.h_shape) if need[1] else None
        return rounded(ctx, (dx, dh0, dw_ih, dw_hh, db_ih, db_hh, None, None))


def _external(r, z, n, ghn, da_out, dghn_out):
    """What the internal outputs' gradients (a double backward's only) add to dgx and dgh, every
    step at once: dA = [dr dz dn] and dgh_n enter the step's chain before the σ', tanh'."""
    if da_out is None and dghn_out is None:
        return None, None
    ext_r, ext_z, ext_n = (torch.zeros_like(r),) * 3 if da_out is None else da_out.chunk(3, 1)
    e_q = ext_n * (1 - n * n)
    e_rz = torch.cat([(e_q * ghn + ext_r) * r * (1 - r), ext_z * z * (1 - z)], 1)
    return torch.cat([e_rz, e_q], 1), torch.cat([e_rz, plus(e_q * r, dghn_out)], 1)
