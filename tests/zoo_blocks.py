"""Faithful re-implementations of torchvision / timm blocks (the torchvision wheel on this package
index does not load with CPU torch, and timm is not installed), written from the papers and the
libraries' published code: same module structure, same functional calls, same in-place ops.
Small widths, float64. The factories (``ZOO`` in ``zoo.py``) return ``(model, input)``.
EfficientNet, ResNet, MobileNetV3 and DeepLabV3 blocks: ``zoo_cnn.py``; ViT and MobileViT
attention blocks: ``zoo_attention.py``."""

from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

# ---------------------------------------------------------------- torchvision.ops


def stochastic_depth(input, p: float, mode: str, training: bool = True):
    """torchvision.ops.stochastic_depth: drop whole rows (samples) with probability p."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"drop probability has to be between 0 and 1, but got {p}")
    if mode not in ["batch", "row"]:
        raise ValueError(f"mode has to be either 'batch' or 'row', but got {mode}")
    if not training or p == 0.0:
        return input
    survival_rate = 1.0 - p
    size = [input.shape[0]] + [1] * (input.ndim - 1) if mode == "row" else [1] * input.ndim
    noise = torch.empty(size, dtype=input.dtype, device=input.device)
    noise = noise.bernoulli_(survival_rate)
    if survival_rate > 0.0:
        noise.div_(survival_rate)
    return input * noise


class StochasticDepth(nn.Module):
    def __init__(self, p: float, mode: str) -> None:
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, input):
        return stochastic_depth(input, self.p, self.mode, self.training)


class Permute(nn.Module):
    def __init__(self, dims):
        super().__init__()
        self.dims = dims

    def forward(self, x):
        return torch.permute(x, self.dims)


class Conv2dNormActivation(nn.Sequential):
    def __init__(self, cin, cout, kernel_size=3, stride=1, padding=None, groups=1, norm_layer=nn.BatchNorm2d,
                 activation_layer=nn.ReLU, dilation=1, inplace=True, bias=None):
        padding = (kernel_size - 1) // 2 * dilation if padding is None else padding
        layers = [nn.Conv2d(cin, cout, kernel_size, stride, padding, dilation=dilation, groups=groups,
                            bias=norm_layer is None if bias is None else bias)]
        if norm_layer is not None:
            layers.append(norm_layer(cout))
        if activation_layer is not None:
            layers.append(activation_layer(inplace=inplace))
        super().__init__(*layers)


class SqueezeExcitation(nn.Module):
    def __init__(self, input_channels, squeeze_channels, activation=nn.ReLU, scale_activation=nn.Sigmoid):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def _scale(self, input):
        return self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(input)))))

    def forward(self, input):
        return self._scale(input) * input


# ---------------------------------------------------------------- torchvision ConvNeXt


class LayerNorm2d(nn.LayerNorm):
    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class CNBlock(nn.Module):
    def __init__(self, dim, layer_scale, stochastic_depth_prob):
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim, bias=True), Permute([0, 2, 3, 1]),
            nn.LayerNorm(dim, eps=1e-6), nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim),
            Permute([0, 3, 1, 2]))
        self.layer_scale = nn.Parameter(torch.ones(dim, 1, 1) * layer_scale)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")

    def forward(self, input):
        result = self.layer_scale * self.block(input)
        result = self.stochastic_depth(result)
        result += input
        return result


class ConvNeXt(nn.Module):
    """torchvision.models.ConvNeXt with two stages (dims 8, 16), one block each (stochastic depth
    raised so that both blocks drop rows: torchvision's first block has rate 0)."""

    def __init__(self, dims=(8, 16), classes=5, sd_prob=0.5):
        super().__init__()
        norm = partial(LayerNorm2d, eps=1e-6)
        layers = [Conv2dNormActivation(3, dims[0], kernel_size=4, stride=4, padding=0, norm_layer=norm,
                                       activation_layer=None, bias=True)]
        for i, dim in enumerate(dims):
            layers.append(nn.Sequential(CNBlock(dim, 0.1, sd_prob * (i + 1) / len(dims))))
            if i + 1 < len(dims):
                layers.append(nn.Sequential(norm(dim), nn.Conv2d(dim, dims[i + 1], kernel_size=2, stride=2)))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(norm(dims[-1]), nn.Flatten(1), nn.Linear(dims[-1], classes))

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)))


# ---------------------------------------------------------------- timm ConvNeXt-V2


def drop_path(x, drop_prob: float = 0., training: bool = False, scale_by_keep: bool = True):
    """timm.layers.drop_path."""
    if drop_prob == 0. or not training:
        return x
    keep_prob = 1 - drop_prob
    shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    random_tensor = x.new_empty(shape).bernoulli_(keep_prob)
    if keep_prob > 0.0 and scale_by_keep:
        random_tensor.div_(keep_prob)
    return x * random_tensor


class DropPath(nn.Module):
    def __init__(self, drop_prob: float = 0., scale_by_keep: bool = True):
        super().__init__()
        self.drop_prob, self.scale_by_keep = drop_prob, scale_by_keep

    def forward(self, x):
        return drop_path(x, self.drop_prob, self.training, self.scale_by_keep)


class TimmLayerNorm(nn.LayerNorm):
    """timm.layers.LayerNorm (channels last), fast-norm off."""

    def __init__(self, num_channels, eps=1e-6, affine=True):
        super().__init__(num_channels, eps=eps, elementwise_affine=affine)

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)


class GlobalResponseNorm(nn.Module):
    """timm.layers.GlobalResponseNorm (ConvNeXt-V2), channels last:
    y = x + (β + γ·(x·Nx)), Gx = ‖x‖₂ over H, W, Nx = Gx / (mean_c Gx + eps)."""

    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.eps, self.spatial_dim, self.channel_dim, self.wb_shape = eps, (1, 2), -1, (1, 1, 1, -1)
        self.weight = nn.Parameter(torch.zeros(dim))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x):
        x_g = x.norm(p=2, dim=self.spatial_dim, keepdim=True)
        x_n = x_g / (x_g.mean(dim=self.channel_dim, keepdim=True) + self.eps)
        return x + torch.addcmul(self.bias.view(self.wb_shape), self.weight.view(self.wb_shape), x * x_n)


class GlobalResponseNormMlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1, self.act, self.drop1 = nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(0.1)
        self.grn, self.fc2, self.drop2 = GlobalResponseNorm(hidden), nn.Linear(hidden, dim), nn.Dropout(0.1)

    def forward(self, x):
        return self.drop2(self.fc2(self.grn(self.drop1(self.act(self.fc1(x))))))


class ConvNeXtV2Block(nn.Module):
    """timm.models.convnext.ConvNeXtBlock(use_grn=True, ls_init_value=None, conv_mlp=False)."""

    def __init__(self, dim=8, drop_path_prob=0.3):
        super().__init__()
        self.conv_dw = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = TimmLayerNorm(dim)
        self.mlp = GlobalResponseNormMlp(dim, 4 * dim)
        self.drop_path = DropPath(drop_path_prob)
        with torch.no_grad():  # timm initialises γ, β to 0 (then GRN is the identity): make it count
            self.mlp.grn.weight.normal_(), self.mlp.grn.bias.normal_()

    def forward(self, x):
        shortcut = x
        x = self.conv_dw(x)
        x = x.permute(0, 2, 3, 1)
        x = self.norm(x)
        x = self.mlp(x)
        x = x.permute(0, 3, 1, 2)
        return self.drop_path(x) + shortcut


# ---------------------------------------------------------------- timm BatchNormAct2d


class BatchNormAct2d(nn.BatchNorm2d):
    """timm.layers.BatchNormAct2d: batch norm written out with F.batch_norm, then the activation."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, act_layer=nn.ReLU):
        super().__init__(num_features, eps=eps, momentum=momentum)
        self.drop = nn.Identity()
        self.act = act_layer(inplace=True)

    def forward(self, x):
        assert x.ndim == 4, f"expected 4D input (got {x.ndim}D input)"
        exponential_average_factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            exponential_average_factor = (1.0 / float(self.num_batches_tracked) if self.momentum is None
                                          else self.momentum)
        bn_training = True if self.training else (self.running_mean is None) and (self.running_var is None)
        x = F.batch_norm(x, self.running_mean if not self.training or self.track_running_stats else None,
                         self.running_var if not self.training or self.track_running_stats else None,
                         self.weight, self.bias, bn_training, exponential_average_factor, self.eps)
        return self.act(self.drop(x))
