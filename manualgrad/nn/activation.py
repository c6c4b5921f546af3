"""Activation modules: the torch.nn classes with the hand-derived backward.

Each is a subclass of its torch.nn twin (same constructor, attributes, ``repr`` and empty
``state_dict``) whose ``forward`` is one call into :mod:`manualgrad.functional`.
"""

from __future__ import annotations

import torch

from .. import functional as MF


class ReLU(torch.nn.ReLU):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.relu(input, inplace=self.inplace)


class LeakyReLU(torch.nn.LeakyReLU):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.leaky_relu(input, self.negative_slope, self.inplace)


class ELU(torch.nn.ELU):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.elu(input, self.alpha, self.inplace)


class GELU(torch.nn.GELU):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.gelu(input, approximate=self.approximate)


class SiLU(torch.nn.SiLU):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.silu(input, inplace=self.inplace)


class Softplus(torch.nn.Softplus):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.softplus(input, self.beta, self.threshold)


class Sigmoid(torch.nn.Sigmoid):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.sigmoid(input)


class Tanh(torch.nn.Tanh):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.tanh(input)


class Softmax(torch.nn.Softmax):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.softmax(input, self.dim, _stacklevel=5)


class LogSoftmax(torch.nn.LogSoftmax):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.log_softmax(input, self.dim, _stacklevel=5)
