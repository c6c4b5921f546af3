"""``MultiheadAttention``: torch.nn.MultiheadAttention with the hand-derived backward."""

from __future__ import annotations

import torch

from ..functional._attention import multi_head_attention_forward


class MultiheadAttention(torch.nn.MultiheadAttention):
    """Same constructor, parameters (``in_proj_weight`` / ``q_proj_weight``, ``k_proj_weight``,
    ``v_proj_weight`` when kdim/vdim differ, ``in_proj_bias``, ``out_proj``), initialisation,
    ``state_dict`` and ``repr`` as :class:`torch.nn.MultiheadAttention`; ``forward`` runs
    :func:`manualgrad.functional._attention.multi_head_attention_forward` (torch's slow path, with
    our linear and attention Functions), ``add_bias_kv`` and ``add_zero_attn`` included. In eval
    mode with grad off (inference: nothing to differentiate) torch's own forward runs, its fused
    fast path where torch takes it, so outputs are torch's bit for bit, inside an ``nn.Transformer``
    too."""

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                key_padding_mask: torch.Tensor | None = None, need_weights: bool = True,
                attn_mask: torch.Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        if not (self.training or torch.is_grad_enabled()):
            # inference: torch's own. A train-mode forward under no_grad (reentrant checkpointing's
            # first pass) stays ours, bit for bit the recompute's
            return super().forward(query, key, value, key_padding_mask, need_weights, attn_mask,
                                   average_attn_weights, is_causal)
        batched = query.dim() == 3
        if self.batch_first and batched:  # to (L, N, E), keeping query is key is value where it holds
            same_qk, same_kv = query is key, key is value
            query, key, value = (x.transpose(1, 0) for x in (query, key, value))
            key = query if same_qk else key
            value = key if same_kv else value
        out, weights = multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight, self.in_proj_bias,
            self.bias_k, self.bias_v, self.add_zero_attn, self.dropout, self.out_proj.weight, self.out_proj.bias,
            training=self.training, key_padding_mask=key_padding_mask, need_weights=need_weights,
            attn_mask=attn_mask, use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight, k_proj_weight=self.k_proj_weight, v_proj_weight=self.v_proj_weight,
            average_attn_weights=average_attn_weights, is_causal=is_causal)
        return (out.transpose(1, 0) if self.batch_first and batched else out), weights
