"""Connectionist temporal classification: ``ctc_loss``, with the forward-backward gradient.

Notation, per sample n (the batch runs side by side): x_t(c) = log_probs[t, n, c], T = its input
length, l the target of length S, l' the extended target of length L = 2S + 1 with a blank before,
between and after the labels (l'_{2k} = blank, l'_{2k+1} = l_k). A path may, from state s, stay,
move to s + 1, or skip to s + 2 when l'_{s+2} is a label different from l'_s (``skip``).

    α_0(0) = x_0(blank),  α_0(1) = x_0(l'_1),  α_0(s) = −∞ otherwise
    α_t(s) = x_t(l'_s) + lse(α_{t−1}(s), α_{t−1}(s − 1), [skip into s] α_{t−1}(s − 2))
    β_{T−1}(L − 1) = x_{T−1}(blank),  β_{T−1}(L − 2) = x_{T−1}(l'_{L−2}),  −∞ otherwise
    β_t(s) = x_t(l'_s) + lse(β_{t+1}(s), β_{t+1}(s + 1), [skip out of s] β_{t+1}(s + 2))
    nll = −lse(α_{T−1}(L − 1), α_{T−1}(L − 2))      (lse = log Σ exp; both α and β hold x_t(l'_s))

The occupancy of label c at time t is γ_t(c) = exp(lse_{s: l'_s = c}(α_t(s) + β_t(s)) + nll − x_t(c)),
and Σ_c γ_t(c) = 1. torch's gradient (which ours equals) is

    dx_t(c) = ḡ · (exp(x_t(c)) − γ_t(c))  for t < T,  0 for t ≥ T

with ḡ the sample's upstream gradient (R's: dy, dy / N, or for 'mean' dy / (N · max(S, 1))). The
exp(x) term assumes x is normalised (a log_softmax): −γ alone is ∂nll/∂x, and log_softmax's
backward maps both to the same logit gradient, since Σ_c exp(x_t(c)) = Σ_c γ_t(c) = 1. A sample
with no path (nll = ∞) gets NaN for t < T, as torch, or 0 with ``zero_infinity``.

The forward value is torch's ``ctc_loss`` (same checks and messages); the backward runs α and β
over the time steps, each step vectorised over the batch and the L states, in log space. Its lse
(:func:`_lse`) gives −∞ for a sum of nothing without differentiating log 0, so the backward is
itself differentiable (double backward) with no NaN from the unreachable states; −∞, ∞ and NaN
log-probabilities give torch's numbers.
"""

from __future__ import annotations

import torch

from ._base import Function
from ._transform import transforms_active

NEG = -float("inf")  # log 0
_ENUM = {"none": 0, "mean": 1, "sum": 2}


def _lengths(lengths, device) -> torch.Tensor:
    """A tuple/list or a tensor of lengths as a 1-d int64 tensor on ``device``."""
    return torch.as_tensor(lengths, device=device).reshape(-1).long()


def _width(labels: torch.Tensor, S_n: torch.Tensor) -> int:
    """S, the label slots per sample: a padded (N, S) target's width; for concatenated targets the
    longest length (one host sync), or under torch.func, which cannot read it, their total."""
    if labels.dim() == 2:
        return labels.shape[1]
    if transforms_active():
        return labels.shape[0]
    return int(S_n.max()) if S_n.numel() else 0


def _padded(targets: torch.Tensor, tl: torch.Tensor, S: int, blank: int) -> torch.Tensor:
    """The targets as (N, S), padding (and anything past a sample's length) set to blank: from a
    padded (N, S') tensor, or from the 1-d concatenation of the samples' targets."""
    N, k = tl.shape[0], torch.arange(S, device=tl.device)
    inside = k < tl[:, None]
    if targets.dim() == 2:
        labels = targets[:, :S].long()
    elif targets.numel() == 0:
        labels = torch.full((N, S), blank, dtype=torch.long, device=tl.device)
    else:  # concatenated: sample n's labels start at Σ_{m<n} S_m
        start = torch.cumsum(tl, 0) - tl
        labels = targets.long()[(start[:, None] + k).clamp(max=targets.numel() - 1)]
    return torch.where(inside, labels, blank)


def _lse(v: torch.Tensor, dim: int) -> torch.Tensor:
    """log Σ exp(v) along ``dim``: −∞ for a sum of only −∞ (where's constant branch, so the double
    backward does not meet 1/0 · 0); ∞ and NaN as they come. The shift m is a constant (the
    derivative does not depend on it)."""
    m = v.detach().amax(dim, keepdim=True)
    m = torch.where(torch.isfinite(m), m, 0.0)
    total = torch.exp(v - m).sum(dim, keepdim=True)
    empty = total == 0
    return torch.where(empty, NEG, torch.log(torch.where(empty, 1.0, total)) + m).squeeze(dim)


def _lse3(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    return _lse(torch.stack((a, b, c)), 0)


def _shift(v: torch.Tensor, k: int) -> torch.Tensor:
    """v moved k states along the last dim (k > 0: v(s − k) at s; k < 0: v(s + |k|)), NEG filled."""
    if abs(k) >= v.shape[-1]:
        return torch.full_like(v, NEG)
    pad = v.new_full((*v.shape[:-1], abs(k)), NEG)
    return torch.cat((pad, v[..., :-k]), -1) if k > 0 else torch.cat((v[..., -k:], pad), -1)


def alpha_beta(x_ext, skip, valid, T):
    """α and β (both (T_max, N, L)) of the module docstring. ``x_ext``[t, n, s] = x_t(l'_s);
    ``skip``[n, s]: the move s − 2 → s is allowed; ``valid``[n, s]: s < L_n; ``T``: input lengths."""
    steps = x_ext.shape[0]
    s = torch.arange(x_ext.shape[2], device=x_ext.device)
    neg = x_ext.new_full((), NEG)
    alpha = [torch.where((s <= 1) & valid, x_ext[0], neg)]
    for t in range(1, steps):
        a = alpha[-1]
        alpha.append(torch.where(valid, x_ext[t] + _lse3(a, _shift(a, 1), torch.where(skip, _shift(a, 2), neg)), neg))
    L_n = valid.sum(1, keepdim=True)  # 2 S_n + 1
    last = ((s == L_n - 1) | (s == L_n - 2)) & valid
    skip_out = _shift(skip.to(x_ext.dtype), -2) > 0  # the move s → s + 2
    beta = [None] * steps
    b = x_ext.new_full(x_ext.shape[1:], NEG)
    for t in range(steps - 1, -1, -1):
        start, inside = (T == t + 1)[:, None], (T > t + 1)[:, None]
        rec = x_ext[t] + _lse3(b, _shift(b, -1), torch.where(skip_out, _shift(b, -2), neg))
        b = torch.where(start & last, x_ext[t], torch.where(inside & valid, rec, neg))
        beta[t] = b
    return torch.stack(alpha), torch.stack(beta)


class CTCLossFunction(Function):
    """y = R(nll) of the module docstring's nll per sample: 'none' (N,), 'sum' Σ_n nll_n,
    'mean' mean_n nll_n / max(S_n, 1); torch's forward.

    dx_t(c) = ḡ_n · (exp(x_t(c)) − γ_t(c)) for t < T_n (α/β recursion: module docstring)
    targets and lengths are integers (no gradient).
    Saves log_probs, targets (inputs) and the lengths as tensors; α and β are recomputed in
    backward (torch's kernel keeps log_alpha from the forward).
    """

    @staticmethod
    def forward(log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity):
        return torch.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank, _ENUM[reduction],
                              zero_infinity)

    @staticmethod
    def setup_context(ctx, inputs, output):
        log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity = inputs
        il, tl = (_lengths(v, log_probs.device) for v in (input_lengths, target_lengths))
        ctx.save_for_backward(log_probs, targets, il, tl)
        ctx.blank, ctx.reduction, ctx.zero_infinity = blank, reduction, zero_infinity

    @staticmethod
    def backward(ctx, dy):
        log_probs, targets, T, S_n = ctx.saved_tensors
        batched = log_probs.dim() == 3
        x = log_probs if batched else log_probs.unsqueeze(1)
        labels = (targets if batched else targets.unsqueeze(0)).to(log_probs.device)  # cuDNN's may sit on the CPU
        x = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
        gamma, nll = _occupancy(x, labels, T, S_n, ctx.blank)
        g = _sample_grads(dy, ctx.reduction, S_n).to(x.dtype)
        dx = torch.exp(x) - gamma
        impossible = (nll == float("inf"))[None, :, None]  # no path: torch's NaN, or 0 with zero_infinity
        dx = torch.where(impossible, 0.0 if ctx.zero_infinity else float("nan"), dx)
        times = torch.arange(x.shape[0], device=x.device)[:, None, None]
        dx = torch.where(times < T[None, :, None], dx * g[None, :, None], 0.0)
        dx = dx if batched else dx.squeeze(1)
        return dx.to(log_probs.dtype), None, None, None, None, None, None


def _occupancy(x, labels, T, S_n, blank):
    """γ_t(c) (as (T_max, N, C)) and nll (N,) of the module docstring, from α and β."""
    S = _width(labels, S_n)
    padded = _padded(labels, S_n, S, blank)
    blanks = torch.full_like(padded, blank)
    last = torch.full((padded.shape[0], 1), blank, dtype=padded.dtype, device=padded.device)
    ext = torch.cat((torch.stack((blanks, padded), 2).flatten(1), last), 1)  # l' (N, 2S + 1)
    valid = torch.arange(2 * S + 1, device=x.device) < 2 * S_n[:, None] + 1
    before = torch.cat((ext.new_full((ext.shape[0], 2), blank), ext), 1)[:, :-2]  # l'_{s−2}
    skip = (ext != blank) & (ext != before) & (torch.arange(2 * S + 1, device=x.device) >= 2)
    x_ext = x.gather(2, ext[None].expand(x.shape[0], -1, -1))
    alpha, beta = alpha_beta(x_ext, skip, valid, T)
    final = alpha[(T - 1).clamp_min(0), torch.arange(T.shape[0], device=x.device)]  # α_{T−1}, (N, L)
    L_n = 2 * S_n[:, None] + 1
    s = torch.arange(2 * S + 1, device=x.device)
    ends = torch.where((s == L_n - 1) | (s == L_n - 2), final, final.new_full((), NEG))
    nll = -_lse(ends, 1)
    nll = torch.where(T == 0, torch.where(S_n == 0, 0.0, float("inf")), nll)  # no time steps: 0 for an empty target
    # lse over the states of each label c: one shift m per (t, n), then a scatter-sum per label
    both = alpha + beta
    m = both.detach().amax(2, keepdim=True)
    m = torch.where(torch.isfinite(m), m, 0.0)
    total = torch.zeros_like(x).scatter_add(2, ext[None].expand(x.shape[0], -1, -1), torch.exp(both - m))
    empty = total == 0  # a label no state holds, or none reachable: −∞ (torch's lcab), constant
    lcab = torch.where(empty, NEG, torch.log(torch.where(empty, 1.0, total)) + m)
    finite = torch.where(nll == float("inf"), 0.0, nll)  # no path: γ is replaced (and NaN-free in double backward)
    return torch.exp(lcab + finite[None, :, None] - x), nll


def _sample_grads(dy: torch.Tensor, reduction: str, S_n: torch.Tensor) -> torch.Tensor:
    """ḡ_n = ∂y/∂nll_n · dy for each sample (N,)."""
    N = S_n.shape[0]
    if reduction == "none":
        return dy.reshape(-1).expand(N)
    if reduction == "sum":
        return dy.expand(N)
    return dy / N / S_n.clamp_min(1).to(dy.dtype)
