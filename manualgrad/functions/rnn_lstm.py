"""One LSTM layer in one direction over a whole sequence: ``LSTMFunction`` (also LSTMCell: T = 1)."""

from __future__ import annotations

import torch

from ._base import Function, owned
from ._recompute import active
from ._rnn import (at, carried, carry_rows, output, plus, previous, projection, reverse_walk, rounded, rows, save,
                   state, step_views, steps, tanh, up, weight_grads)


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
    Forward of a padded batch on CPU (eager, no projection): y, h_n, c_n from torch's fused kernel
    (:func:`_fused_walk`), then A, H_prev, C_prev from y (:func:`_gates`: one matmul for every
    step's gates, one addcmul a step for c_t); else the walk below, step by step.
    """

    @staticmethod
    def forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, batch_sizes, reverse):
        x2, bs = rows(x)
        x2, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr = up(x2, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr)
        bs = batch_sizes or bs
        gx = projection(x2, w_ih, b_ih, b_hh)  # every step's x_t W_ihᵀ + b_ih + b_hh
        fused = _fused_walk(x2, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, bs, reverse)
        if fused is not None:
            y, h_n, c_n = fused  # (T, B, P), (1, B, ·)
            a, hprev, cprev = _gates(gx, y.view(-1, y.shape[-1]), h0, c0, w_hh, bs, reverse)
            y, h_n, c_n = _shaped(y, (*x.shape[:-1], y.shape[-1])), _shaped(h_n, h0.shape), _shaped(c_n, c0.shape)
            return y.to(x.dtype), h_n.to(x.dtype), c_n.to(x.dtype), a, hprev, cprev
        a, cs = gx.new_empty(gx.shape), gx.new_empty(x2.shape[0], c0.shape[-1])  # [i f g o], c_t per row
        out, y = output(x, h0.shape[-1], gx)
        (h_n, h_state), (c_n, c_state) = state(h0), state(c0)
        h, c, hidden = h_state, c_state, c0.shape[-1]
        uniform = len(set(bs)) <= 1  # every step moves every row: the state is the last step's rows
        into = _out if active() else _copied
        for s, n in steps(bs, reverse):
            r = slice(s, s + n)
            z = torch.addmm(gx[r], h[:n], w_hh.t())
            a_r = into(a[r], torch.sigmoid, z)              # [σ(z_i) σ(z_f) · σ(z_o)]
            a_r[:, 2 * hidden:3 * hidden] = z[:, 2 * hidden:3 * hidden].tanh()  # g = tanh(z_g)
            i, f, g, o = a_r.chunk(4, 1)
            c_t = into(cs[r], torch.mul, f, c[:n]).addcmul_(i, g)  # c_t = f⊙c_{t−1} + i⊙g
            tc = c_t.tanh()                                 # h_t = m_t = o⊙tanh(c_t) (or m_t W_hrᵀ)
            h_t = into(y[r], torch.mul, o, tc) if w_hr is None else into(y[r], torch.mm, o * tc, w_hr.t())
            if uniform:
                h, c = h_t, c_t
            else:
                h_state[:n], c_state[:n] = h_t, c_t
        if uniform and bs:
            h_state.copy_(h), c_state.copy_(c)
        hprev = previous(y, h0.reshape(-1, h0.shape[-1]), bs, reverse)
        cprev = previous(cs, c0.reshape(-1, hidden), bs, reverse)
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
        hidden = i.shape[1]
        c = torch.addcmul(i * g, f, cprev)           # c_t, every step at once
        tc = tanh(c)
        # the step's derivative factors, every step at once (none needs the carried dh, dc):
        #   dc_t = dc + dm⊙k_c,  k_c = o⊙(1 − tanh²c_t)
        #   dz = [dc_t dc_t dc_t dm] ⊙ k,  k = [g, c_{t−1}, i, tanh c_t] ⊙ s,
        #   s = [i(1−i), f(1−f), 1−g², o(1−o)], the activations' slopes
        k_c = torch.addcmul(o, o * tc, tc, value=-1)
        s = torch.addcmul(a, a, a, value=-1)         # a(1 − a): σ′ in the i, f, o slots
        s[:, 2 * hidden:3 * hidden] = torch.addcmul(torch.ones_like(g), g, g, value=-1)  # tanh′ = 1 − g²
        k = s * torch.cat([g, cprev, i, tc], 1)
        ext = None if da_out is None else da_out * s
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
        if da_out is None and dhprev_out is None and dcprev_out is None and not torch.is_grad_enabled() and active():
            if w_hr is None and len(set(ctx.batch_sizes)) == 1:
                ((dh0, dc0), dz), dh_all = _padded_walk(ctx, carry, dy, k, k_c, f, w_hh), None
            else:
                (dh0, dc0), dz, dh_all = _first_order_walk(ctx, carry, dy, k, k_c, f, w_hh, w_hr)
        else:
            (dh0, dc0), (dz, dh_all) = reverse_walk(ctx.batch_sizes, ctx.reverse, carry, step)
        need = ctx.needs_input_grad
        dx, dw_ih, dw_hh, db_ih, db_hh = weight_grads(need, 3, dz, dz, x, w_ih, hprev, ctx.x_shape)
        dw_hr = dh_all.t() @ (o * tc) if need[7] else None
        dh0 = dh0.view(ctx.h_shape) if need[1] else None
        dc0 = dc0.view(ctx.c_shape) if need[2] else None
        return rounded(ctx, (dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh, dw_hr, None, None))


def _out(dst: torch.Tensor, op, *args) -> torch.Tensor:
    """``op(*args)`` written into ``dst`` through ``out=`` (eager: no temporary)."""
    return op(*args, out=dst)


def _copied(dst: torch.Tensor, op, *args) -> torch.Tensor:
    """``op(*args)`` copied into ``dst``: under torch.compile and torch.func, whose tracing and
    batching rules take no ``out=``."""
    return dst.copy_(op(*args))


def _first_order_walk(ctx, carry, dy, k, k_c, f, w_hh, w_hr):
    """The walk of :meth:`LSTMFunction.backward` for a first-order backward (grad mode off, no
    gradient on the internal outputs): the same step, with dc_t one addcmul and dz written
    straight into its rows of one (N, 4H) buffer (no per-step cat, no join afterwards).
    Returns ((dh0, dc0), dz, dh_t of every row or None without w_hr)."""
    n_rows, hidden = k_c.shape
    dz = k.new_empty(k.shape)
    dh_all = None if w_hr is None else dz.new_empty(n_rows, w_hr.shape[0])
    bs = ctx.batch_sizes  # each tensor's rows split by step once: no slicing inside the walk
    k3, dz3 = k[:, :3 * hidden].view(n_rows, 3, hidden), dz[:, :3 * hidden].view(n_rows, 3, hidden)
    per_step = [None if t is None else t.split(bs) for t in (dy, k_c, k3, k[:, 3 * hidden:], dz3, dz[:, 3 * hidden:],
                                                             dz, f, dh_all)]
    dh, dc = carry
    for t in (range(len(bs)) if ctx.reverse else reversed(range(len(bs)))):
        dy_t, kc_t, k3_t, ko_t, dz3_t, dzo_t, dz_t, f_t, dh_all_t = (None if p is None else p[t] for p in per_step)
        n = bs[t]
        dh_t = (dh if n == dh.shape[0] else dh[:n]) if dy_t is None else dh[:n] + dy_t
        if dh_all_t is not None:
            dh_all_t.copy_(dh_t)
        dm = dh_t if w_hr is None else dh_t @ w_hr
        dc_t = torch.addcmul(dc[:n], dm, kc_t)                 # dc + dm⊙k_c
        torch.mul(k3_t, dc_t.unsqueeze(1), out=dz3_t)          # [di df dg] = dc_t ⊙ k
        torch.mul(ko_t, dm, out=dzo_t)                         # do = dm ⊙ k_o
        dh, dc = carried(dz_t @ w_hh, dh), carried(dc_t.mul_(f_t), dc)
    return (dh, dc), dz, dh_all


def _padded_walk(ctx, carry, dy, k, k_c, f, w_hh):
    """:func:`_first_order_walk` of a padded batch without projection (every step moves all B
    rows, dm = dh_t): each tensor split into its steps' (B, ·) views once, then a step is four
    elementwise ops writing preallocated rows and one matmul that also adds the next step's dy,
    dh_{t−1} + dy_{t−1} = dy_{t−1} + dz_t W_hh (addmm); no slicing, carry or cat in the walk
    (the bench's 2-layer LSTM, T 32, B 8, H 128: 1280 → 960 µs a layer). Returns ((dh0, dc0), dz)."""
    t_max, b = len(ctx.batch_sizes), ctx.batch_sizes[0]
    hidden = k_c.shape[1]
    dz, dc_rows = k.new_empty(k.shape), k_c.new_empty(k_c.shape)

    k3, dz3 = (step_views(t[:, :3 * hidden].unflatten(1, (3, hidden)), t_max, b) for t in (k, dz))
    k_o, dz_o, k_c, f, dz_t, dc_t, dc_t3 = (step_views(t, t_max, b) for t in (
        k[:, 3 * hidden:], dz[:, 3 * hidden:], k_c, f, dz, dc_rows, dc_rows.unsqueeze(1)))
    dy = None if dy is None else step_views(dy, t_max, b)
    order = range(t_max) if ctx.reverse else range(t_max - 1, -1, -1)
    dh, dc = carry
    dh = dh if dy is None else dh + dy[order[0]]
    dc_next = dc.new_empty(dc.shape)
    for i, t in enumerate(order):
        torch.addcmul(dc, dh, k_c[t], out=dc_t[t])        # dc_t = dc + dh_t ⊙ k_c
        torch.mul(k3[t], dc_t3[t], out=dz3[t])            # [di df dg] = dc_t ⊙ k
        torch.mul(k_o[t], dh, out=dz_o[t])                # do = dh_t ⊙ k_o
        dc = torch.mul(dc_t[t], f[t], out=dc_next)        # dc_{t−1} = dc_t ⊙ f
        last = i + 1 == t_max
        dh = torch.mm(dz_t[t], w_hh) if dy is None or last else torch.addmm(dy[order[i + 1]], dz_t[t], w_hh)
    return (dh, dc), dz


def _fused_walk(x2, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, bs, reverse):
    """(y, h_n, c_n) as (T, B, P), (1, B, P), (1, B, H) from torch's own LSTM kernel (oneDNN on
    CPU: the whole walk in one call, its per-step matmuls without a dispatch each; the forward may
    use it, the backward is ours), where it runs the same walk: every step moves every row (a
    padded batch, T ≥ 2), no projection, float32/64 on CPU, eager. None otherwise (the Python
    walk). Its gates are not returned: :func:`_gates` recomputes them."""
    if (w_hr is not None or len(bs) < 2 or len(set(bs)) != 1 or not bs[0] or x2.device.type != "cpu"
            or x2.dtype not in (torch.float32, torch.float64) or not active()):
        return None
    t, b = len(bs), bs[0]
    x3 = x2.view(t, b, x2.shape[-1])
    params = [w_ih, w_hh] + ([] if b_ih is None else [b_ih, b_hh])
    hx = (h0.reshape(1, b, h0.shape[-1]), c0.reshape(1, b, c0.shape[-1]))
    y, h_n, c_n = torch._VF.lstm(x3.flip(0) if reverse else x3, hx, params, b_ih is not None,
                                 1, 0.0, False, False, False)  # 1 layer, no dropout, eval, 1 direction, (T, B, ·)
    return (y.flip(0) if reverse else y), h_n, c_n


def _shaped(t: torch.Tensor, shape) -> torch.Tensor:
    """``t`` in ``shape``, never a view (an output: the caller may modify it in place)."""
    return owned(t if t.shape == shape else t.reshape(shape))


def _gates(gx, y, h0, c0, w_hh, bs, reverse):
    """(A, H_prev, C_prev) of a padded walk whose outputs y (every h_t) are known: H_prev is y a
    step back (h0 first), so every pre-activation is one matmul, Z = gx + H_prev W_hhᵀ, and
    A = [σ(z_i) σ(z_f) tanh(z_g) σ(z_o)]; c_t = f⊙c_{t−1} + i⊙g is walked, one addcmul a step."""
    hidden = c0.shape[-1]
    hprev = previous(y, h0.reshape(-1, h0.shape[-1]), bs, reverse)
    a = gx.addmm_(hprev, w_hh.t())  # gx is the forward's own temporary
    a[:, 2 * hidden:3 * hidden].mul_(2)  # tanh z_g = 2σ(2z_g) − 1, inside a's one sigmoid pass (see tanh)
    a = a.sigmoid_()
    a[:, 2 * hidden:3 * hidden].mul_(2).sub_(1)
    i, f, g, _ = a.chunk(4, 1)
    cs, c = i * g, c0.reshape(-1, hidden)
    t_max, b = len(bs), bs[0]
    c_steps, f_steps = (step_views(t, t_max, b) for t in (cs, f))  # every step moves all b rows
    for t in (range(t_max - 1, -1, -1) if reverse else range(t_max)):
        c = c_steps[t].addcmul_(f_steps[t], c)
    return a, hprev, previous(cs, c0.reshape(-1, hidden), bs, reverse)
