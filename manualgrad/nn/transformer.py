"""``TransformerEncoderLayer``, ``TransformerDecoderLayer``, ``TransformerEncoder``,
``TransformerDecoder``, ``Transformer``: torch.nn's classes with every layer's backward hand-derived.

Each is a subclass of its torch.nn twin (same constructor, submodule and parameter names,
initialisation, ``state_dict`` and ``repr``). The layers' arithmetic lives in their submodules
(``MultiheadAttention``, ``Linear``, ``LayerNorm``, ``Dropout``: swapped to manualgrad's twins,
also when the class is built directly) and in the feed-forward activation, a plain function
attribute that ``swap`` cannot see: the layers' ``_ff_block`` runs it through manualgrad
(``F.relu`` -> ``MF.relu``, ``F.gelu``/``"gelu"`` -> ``MF.gelu``; any other callable, an
``nn.Module`` activation included, runs with functional routing on, so its ``F.*`` and torch math
calls are manualgrad's; a module activation is also a submodule, swapped as the others).
``forward`` is torch's own: where torch takes its fused inference fast path
(``torch._transformer_encoder_layer_fwd``: eval, grad off, batch-first, ...), so does the twin,
with identical outputs; there is no backward to hand-derive then.
"""

from __future__ import annotations

import functools
import inspect
from typing import Callable

import torch
import torch.nn.functional as F

from .. import functional as MF
from .. import routing

def _activate(activation: Callable, x: torch.Tensor) -> torch.Tensor:
    """``activation(x)`` through manualgrad: our relu/gelu for torch's, any other callable (a
    swapped module, a function, a module manualgrad has no twin of) with functional routing on."""
    if activation is F.relu:
        return MF.relu(x)
    if activation is F.gelu:
        return MF.gelu(x)
    if routing.routing():
        return activation(x)
    with routing.manual():
        return activation(x)


def _own(module: torch.nn.Module, keep: tuple = ()) -> None:
    """Make the torch.nn modules that torch's ``__init__`` built inside ``module`` manualgrad's
    (a twin built directly computes as a swapped one); ``keep``: paths of modules the user passed."""
    from ..swap import swap  # swap imports this package

    swap(module, exclude=list(keep), functional=False)


class TransformerEncoderLayer(torch.nn.TransformerEncoderLayer):
    @functools.wraps(torch.nn.TransformerEncoderLayer.__init__)  # torch's signature and docstring
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _own(self)

    def _ff_block(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout2(self.linear2(self.dropout(_activate(self.activation, self.linear1(x)))))


class TransformerDecoderLayer(torch.nn.TransformerDecoderLayer):
    @functools.wraps(torch.nn.TransformerDecoderLayer.__init__)  # torch's signature and docstring
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _own(self)

    def _ff_block(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout3(self.linear2(self.dropout(_activate(self.activation, self.linear1(x)))))


class TransformerEncoder(torch.nn.TransformerEncoder):
    """torch's: the layers (deep copies of ``encoder_layer``) and ``norm`` do the arithmetic."""

    @functools.wraps(torch.nn.TransformerEncoder.__init__)  # torch's signature and docstring
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _own(self)


class TransformerDecoder(torch.nn.TransformerDecoder):
    """torch's: the layers (deep copies of ``decoder_layer``) and ``norm`` do the arithmetic."""

    @functools.wraps(torch.nn.TransformerDecoder.__init__)  # torch's signature and docstring
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _own(self)


class Transformer(torch.nn.Transformer):
    """torch's: the encoder and decoder do the arithmetic; a ``custom_encoder`` /
    ``custom_decoder`` passed in is left as it is (``manualgrad.swap`` it to convert it)."""

    @functools.wraps(torch.nn.Transformer.__init__)  # torch's signature and docstring
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        given = inspect.signature(torch.nn.Transformer.__init__).bind(self, *args, **kwargs).arguments
        _own(self, keep=tuple(name for name, c in (("encoder", "custom_encoder"), ("decoder", "custom_decoder"))
                                     if given.get(c) is not None))
