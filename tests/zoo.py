"""The block zoo: name -> factory returning ``(model, inputs)`` (float64, small widths, random
weights), for tests/test_zoo.py, ``examples/zoo_coverage.py`` and the CLI
(``PYTHONPATH=tests manualgrad coverage zoo:convnext --swap``)."""

import torch
from torch import nn

import zoo_attention as A
import zoo_blocks as B
import zoo_cnn as C


def _x(*shape):
    return torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))


def _made(model, *inputs):
    torch.manual_seed(0)
    return model().double(), inputs[0] if len(inputs) == 1 else inputs


def convnext():
    return _made(B.ConvNeXt, _x(2, 3, 16, 16))


def convnext_v2():
    return _made(B.ConvNeXtV2Block, _x(2, 8, 5, 5))


def batchnorm_act():
    return _made(lambda: nn.Sequential(nn.Conv2d(3, 6, 3, padding=1, bias=False),
                                       B.BatchNormAct2d(6, act_layer=nn.SiLU),
                                       nn.Conv2d(6, 6, 3, padding=1, bias=False), B.BatchNormAct2d(6)),
                 _x(3, 3, 6, 6))


def mobilevit_v2():
    return _made(A.LinearTransformerBlock, _x(2, 8, 4, 6))


def vit():
    return _made(A.ViTBlock, _x(2, 5, 8))


def mbconv():
    return _made(C.MBConv, _x(2, 8, 6, 6))


def basic_block():
    return _made(C.BasicBlock, _x(2, 6, 8, 8))


def mobilenet_v3():
    return _made(C.InvertedResidual, _x(2, 8, 6, 6))


def deeplab_v3():
    return _made(C.DeepLabV3, _x(2, 3, 12, 12))


def unet():
    return _made(C.UNet, _x(2, 3, 8, 8))


def transformer():
    return _made(lambda: nn.Transformer(8, 2, 1, 1, 16, activation="gelu", batch_first=True), _x(2, 5, 8), _x(2, 4, 8))


ZOO = {f.__name__: f for f in (convnext, convnext_v2, batchnorm_act, mobilevit_v2, vit, mbconv, basic_block,
                               mobilenet_v3, deeplab_v3, unet, transformer)}
