"""timm's ViT block (attention written as q @ kᵀ · scale, softmax, @ v) and MobileViT-V2 block
(GroupNorm1, separable linear self-attention), re-implemented from timm's published code (see
``zoo_blocks.py``)."""

import torch
import torch.nn.functional as F
from torch import nn

from zoo_blocks import DropPath


class Attention(nn.Module):
    """timm.models.vision_transformer.Attention, fused_attn off (the explicit path)."""

    def __init__(self, dim, num_heads=2, qkv_bias=True, qk_norm=True, attn_drop=0.1, proj_drop=0.1):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.fused_attn = False
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.q_norm = nn.LayerNorm(self.head_dim) if qk_norm else nn.Identity()
        self.k_norm = nn.LayerNorm(self.head_dim) if qk_norm else nn.Identity()
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        q, k = self.q_norm(q), self.k_norm(k)
        q = q * self.scale
        attn = q @ k.transpose(-2, -1)
        attn = attn.softmax(dim=-1)
        attn = self.attn_drop(attn)
        x = attn @ v
        x = x.transpose(1, 2).reshape(B, N, C)
        return self.proj_drop(self.proj(x))


class LayerScale(nn.Module):
    def __init__(self, dim, init_values=1e-5, inplace=False):
        super().__init__()
        self.inplace = inplace
        self.gamma = nn.Parameter(init_values * torch.ones(dim))

    def forward(self, x):
        return x.mul_(self.gamma) if self.inplace else x * self.gamma


class Mlp(nn.Module):
    def __init__(self, dim, hidden, act_layer=nn.GELU, drop=0.1):
        super().__init__()
        self.fc1, self.act, self.drop1 = nn.Linear(dim, hidden), act_layer(), nn.Dropout(drop)
        self.norm, self.fc2, self.drop2 = nn.Identity(), nn.Linear(hidden, dim), nn.Dropout(drop)

    def forward(self, x):
        return self.drop2(self.fc2(self.norm(self.drop1(self.act(self.fc1(x))))))


class ViTBlock(nn.Module):
    """timm.models.vision_transformer.Block (qk_norm, layer scale 0.5, drop path 0.2)."""

    def __init__(self, dim=8, num_heads=2, init_values=0.5, drop_path=0.2):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim), Attention(dim, num_heads)
        self.ls1, self.drop_path1 = LayerScale(dim, init_values), DropPath(drop_path)
        self.norm2, self.mlp = nn.LayerNorm(dim), Mlp(dim, 4 * dim)
        self.ls2, self.drop_path2 = LayerScale(dim, init_values), DropPath(drop_path)

    def forward(self, x):
        x = x + self.drop_path1(self.ls1(self.attn(self.norm1(x))))
        return x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))


class GroupNorm1(nn.GroupNorm):
    """timm.layers.GroupNorm1: one group, forward written with F.group_norm (fast-norm off)."""

    def __init__(self, num_channels, **kwargs):
        super().__init__(1, num_channels, **kwargs)
        self.fast_norm = False

    def forward(self, x):
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)


class LinearSelfAttention(nn.Module):
    """timm.models.mobilevit.LinearSelfAttention (MobileViT-V2's separable self-attention), on
    [B, C, P, N] (pixels within a patch, patches)."""

    def __init__(self, embed_dim, attn_drop=0.1, proj_drop=0.1, bias=True):
        super().__init__()
        self.embed_dim = embed_dim
        self.qkv_proj = nn.Conv2d(embed_dim, 1 + (2 * embed_dim), bias=bias, kernel_size=1)
        self.attn_drop = nn.Dropout(attn_drop)
        self.out_proj = nn.Conv2d(embed_dim, embed_dim, bias=bias, kernel_size=1)
        self.out_drop = nn.Dropout(proj_drop)

    def _forward_self_attn(self, x):
        qkv = self.qkv_proj(x)
        query, key, value = qkv.split([1, self.embed_dim, self.embed_dim], dim=1)
        context_scores = F.softmax(query, dim=-1)
        context_scores = self.attn_drop(context_scores)
        context_vector = (key * context_scores).sum(dim=-1, keepdim=True)
        out = F.relu(value) * context_vector.expand_as(value)
        out = self.out_proj(out)
        return self.out_drop(out)

    def forward(self, x, x_prev=None):
        if x_prev is None:
            return self._forward_self_attn(x)
        raise NotImplementedError("cross-attention form not used here")


class ConvMlp(nn.Module):
    def __init__(self, dim, hidden, act_layer=nn.SiLU, drop=0.1):
        super().__init__()
        self.fc1, self.norm, self.act = nn.Conv2d(dim, hidden, 1), nn.Identity(), act_layer()
        self.drop, self.fc2 = nn.Dropout(drop), nn.Conv2d(hidden, dim, 1)

    def forward(self, x):
        return self.fc2(self.drop(self.act(self.norm(self.fc1(x)))))


class LinearTransformerBlock(nn.Module):
    """timm.models.mobilevit.LinearTransformerBlock (MobileViT-V2)."""

    def __init__(self, embed_dim=8, mlp_ratio=2.0, drop_path=0.2):
        super().__init__()
        self.norm1 = GroupNorm1(embed_dim)
        self.attn = LinearSelfAttention(embed_dim)
        self.drop_path1 = DropPath(drop_path)
        self.norm2 = GroupNorm1(embed_dim)
        self.mlp = ConvMlp(embed_dim, int(embed_dim * mlp_ratio))
        self.drop_path2 = DropPath(drop_path)

    def forward(self, x, x_prev=None):
        x = x + self.drop_path1(self.attn(self.norm1(x)))
        return x + self.drop_path2(self.mlp(self.norm2(x)))
