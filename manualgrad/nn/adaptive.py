"""``AdaptiveLogSoftmaxWithLoss`` (Grave et al., 2017): torch's constructor, parameters and
``state_dict`` (``head`` and ``tail.i.0/1`` Linears); ``forward``, ``log_prob`` and ``predict``
run manualgrad's ``linear``, ``log_softmax`` and ``nll_loss`` (the gather −nll_loss(lp, t) =
lp[t]), so every gradient is hand-derived; rows are routed to their cluster by indexing and
``cat``, which autograd only copies back.

For a row x with target t in cluster c (c = 0: the head's shortlist [0, cutoffs[0])):
  head = log_softmax(x·W_headᵀ + b),  out = head[t] for c = 0,
  out = head[shortlist + c − 1] + log_softmax(x·A_cᵀ·B_cᵀ)[t − cutoffs[c − 1]] otherwise,
  loss = mean(−out).
"""

from __future__ import annotations

import torch
from torch.nn.modules.adaptive import _ASMoutput

from .. import functional as MF
from .. import math as _math


def _check(input_: torch.Tensor, target_: torch.Tensor) -> None:
    """torch's shape checks and messages."""
    if target_.dim() == 1:
        if input_.size(0) != target_.size(0):
            raise RuntimeError("Input and target should have the same size in the batch dimension.")
        if input_.dim() != 2:
            raise RuntimeError(f"1D target tensor expects 2D input tensors, but found inputs with size {input_.size()}")
    elif target_.dim() == 0:
        if input_.dim() != 1:
            raise RuntimeError(f"0D target tensor expects 1D input tensors, but found inputs with size {input_.size()}")
    else:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")


class AdaptiveLogSoftmaxWithLoss(torch.nn.AdaptiveLogSoftmaxWithLoss):
    """:class:`torch.nn.AdaptiveLogSoftmaxWithLoss` whose forward, ``log_prob`` and ``predict``
    run manualgrad's functional ops (formulas in the module docstring)."""

    def _head(self, input: torch.Tensor) -> torch.Tensor:
        return MF.linear(input, self.head.weight, self.head.bias)

    def _tail_logprob(self, i: int, input: torch.Tensor) -> torch.Tensor:
        i2h, h2o = self.tail[i]
        return MF.log_softmax(MF.linear(MF.linear(input, i2h.weight), h2o.weight), dim=1)

    def forward(self, input_: torch.Tensor, target_: torch.Tensor) -> _ASMoutput:
        _check(input_, target_)
        batched = target_.dim() > 0
        input = input_ if batched else input_.unsqueeze(0)
        target = target_ if batched else target_.unsqueeze(0)
        if ((target < 0) | (target >= self.n_classes)).any():
            raise RuntimeError(f"Target values should be in [0, {self.n_classes - 1}], but values in range "
                               f"[{target.min().item()}, {target.max().item()}] were found. ")
        bounds = torch.tensor(self.cutoffs[:-1], device=target.device, dtype=target.dtype)
        cluster = torch.bucketize(target, bounds, right=True)  # 0: the shortlist, c: tail c − 1
        head_target = torch.where(cluster == 0, target, self.shortlist_size + cluster - 1)
        head_lp = MF.log_softmax(self._head(input), dim=1)
        output = -MF.nll_loss(head_lp, head_target, reduction="none")
        rows = [(cluster == c).nonzero().squeeze(1) for c in range(self.n_clusters + 1)]
        if any(r.numel() for r in rows[1:]):
            parts = [head_lp.new_zeros(rows[0].numel())]
            for c, r in enumerate(rows[1:], start=1):
                lp = self._tail_logprob(c - 1, input[r])
                parts.append(-MF.nll_loss(lp, target[r] - self.cutoffs[c - 1], reduction="none"))
            order = torch.cat(rows)
            output = output + torch.cat(parts)[torch.argsort(order)]  # each row's tail term, in row order
        loss = _math.mean(-output)
        return _ASMoutput(output if batched else output.squeeze(0), loss)

    def _get_full_log_prob(self, input: torch.Tensor, head_output: torch.Tensor) -> torch.Tensor:
        """[head's shortlist | tail c's log_softmax + head's cluster c column, for each c]."""
        head_lp = MF.log_softmax(head_output, dim=1)
        parts = [head_lp[:, :self.shortlist_size]]
        for i in range(self.n_clusters):
            parts.append(self._tail_logprob(i, input) + head_lp[:, self.shortlist_size + i].unsqueeze(1))
        return torch.cat(parts, dim=1)

    def log_prob(self, input: torch.Tensor) -> torch.Tensor:
        return self._get_full_log_prob(input, self._head(input))

    def predict(self, input: torch.Tensor) -> torch.Tensor:
        head_output = self._head(input)
        output = torch.argmax(head_output, dim=1)
        rest = output >= self.shortlist_size  # a cluster won the head: look inside the clusters
        if rest.any():
            output[rest] = torch.argmax(self._get_full_log_prob(input[rest], head_output[rest]), dim=1)
        return output
