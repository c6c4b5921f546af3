"""torchvision's EfficientNet MBConv, ResNet BasicBlock, MobileNetV3 InvertedResidual and DeepLabV3
head, re-implemented from torchvision's published code (see ``zoo_blocks.py``)."""

from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from zoo_blocks import Conv2dNormActivation, SqueezeExcitation, StochasticDepth

# ---------------------------------------------------------------- torchvision EfficientNet, ResNet, MobileNetV3


class MBConv(nn.Module):
    """torchvision.models.efficientnet.MBConv (expand 4, SiLU, squeeze-excitation with a sigmoid gate)."""

    def __init__(self, cin=8, expand_ratio=4, kernel=3, stride=1, sd_prob=0.3, norm_layer=nn.BatchNorm2d):
        super().__init__()
        self.use_res_connect = stride == 1
        expanded = cin * expand_ratio
        self.block = nn.Sequential(
            Conv2dNormActivation(cin, expanded, kernel_size=1, norm_layer=norm_layer, activation_layer=nn.SiLU),
            Conv2dNormActivation(expanded, expanded, kernel_size=kernel, stride=stride, groups=expanded,
                                 norm_layer=norm_layer, activation_layer=nn.SiLU),
            SqueezeExcitation(expanded, max(1, cin // 4), activation=partial(nn.SiLU, inplace=True)),
            Conv2dNormActivation(expanded, cin, kernel_size=1, norm_layer=norm_layer, activation_layer=None))
        self.stochastic_depth = StochasticDepth(sd_prob, "row")

    def forward(self, input):
        result = self.block(input)
        if self.use_res_connect:
            result = self.stochastic_depth(result)
            result += input
        return result


class BasicBlock(nn.Module):
    """torchvision.models.resnet.BasicBlock with its in-place ReLU, here with a strided downsample."""

    def __init__(self, inplanes=6, planes=8, stride=2):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False),
                                        nn.BatchNorm2d(planes))

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = self.downsample(x)
        out += identity
        return self.relu(out)


class InvertedResidual(nn.Module):
    """torchvision.models.mobilenetv3.InvertedResidual: Hardswish, SE with a Hardsigmoid gate."""

    def __init__(self, cin=8, expanded=16, kernel=3):
        super().__init__()
        se_layer = partial(SqueezeExcitation, scale_activation=nn.Hardsigmoid)
        self.block = nn.Sequential(
            Conv2dNormActivation(cin, expanded, kernel_size=1, activation_layer=nn.Hardswish),
            Conv2dNormActivation(expanded, expanded, kernel_size=kernel, groups=expanded,
                                 activation_layer=nn.Hardswish),
            se_layer(expanded, (expanded // 4 + 7) // 8 * 8),
            Conv2dNormActivation(expanded, cin, kernel_size=1, activation_layer=None))

    def forward(self, input):
        return self.block(input) + input


# ---------------------------------------------------------------- torchvision DeepLabV3 head


class ASPPPooling(nn.Sequential):
    def __init__(self, cin, cout):
        super().__init__(nn.AdaptiveAvgPool2d(1), nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())

    def forward(self, x):
        size = x.shape[-2:]
        for mod in self:
            x = mod(x)
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class ASPP(nn.Module):
    def __init__(self, cin, rates, cout=8):
        super().__init__()
        modules = [nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())]
        modules += [nn.Sequential(nn.Conv2d(cin, cout, 3, padding=r, dilation=r, bias=False), nn.BatchNorm2d(cout),
                                  nn.ReLU()) for r in rates]
        modules.append(ASPPPooling(cin, cout))
        self.convs = nn.ModuleList(modules)
        self.project = nn.Sequential(nn.Conv2d(len(self.convs) * cout, cout, 1, bias=False), nn.BatchNorm2d(cout),
                                     nn.ReLU(), nn.Dropout(0.5))

    def forward(self, x):
        return self.project(torch.cat([conv(x) for conv in self.convs], dim=1))


class DeepLabV3(nn.Module):
    """A strided backbone, torchvision's DeepLabHead (ASPP, 3×3 conv, classifier) and the bilinear
    upsampling of the logits to the input size (torchvision's _SimpleSegmentationModel)."""

    def __init__(self, classes=3):
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.classifier = nn.Sequential(ASPP(8, [1, 2]), nn.Conv2d(8, 8, 3, padding=1, bias=False),
                                        nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, classes, 1))

    def forward(self, x):
        input_shape = x.shape[-2:]
        x = self.classifier(self.backbone(x))
        return F.interpolate(x, size=input_shape, mode="bilinear", align_corners=False)


class UNet(nn.Module):
    """A two-level U-Net (Ronneberger et al. 2015, the common PyTorch layout): double 3×3
    conv-BN-ReLU blocks, max-pool down, one path up by ConvTranspose2d and one by bilinear
    Upsample (align_corners=True, as the popular implementations), skip concatenations, a 1×1 head."""

    def __init__(self, cin=3, width=4, classes=2):
        super().__init__()

        def double(a, b):
            return nn.Sequential(nn.Conv2d(a, b, 3, padding=1, bias=False), nn.BatchNorm2d(b), nn.ReLU(inplace=True),
                                 nn.Conv2d(b, b, 3, padding=1, bias=False), nn.BatchNorm2d(b), nn.ReLU(inplace=True))
        self.inc, self.down1, self.down2 = double(cin, width), double(width, 2 * width), double(2 * width, 4 * width)
        self.pool = nn.MaxPool2d(2)
        self.up_t = nn.ConvTranspose2d(4 * width, 2 * width, 2, stride=2)
        self.conv_t = double(4 * width, 2 * width)
        self.up_b = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
        self.conv_b = double(3 * width, width)
        self.head = nn.Conv2d(width, classes, 1)

    def forward(self, x):
        x1 = self.inc(x)
        x2 = self.down1(self.pool(x1))
        x3 = self.down2(self.pool(x2))
        y = self.conv_t(torch.cat([x2, self.up_t(x3)], dim=1))
        y = self.conv_b(torch.cat([x1, self.up_b(y)], dim=1))
        return self.head(y)
