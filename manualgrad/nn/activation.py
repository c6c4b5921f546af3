"""Activation modules: the torch.nn classes with the hand-derived backward (Softmax2d: softmax over dim −3).

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


class Hardtanh(torch.nn.Hardtanh):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.hardtanh(input, self.min_val, self.max_val, self.inplace)


class ReLU6(torch.nn.ReLU6):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.hardtanh(input, self.min_val, self.max_val, self.inplace)  # as torch's: 0 and 6


class Hardsigmoid(torch.nn.Hardsigmoid):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.hardsigmoid(input, self.inplace)


class Hardswish(torch.nn.Hardswish):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.hardswish(input, self.inplace)


class Threshold(torch.nn.Threshold):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.threshold(input, self.threshold, self.value, self.inplace)


class Softshrink(torch.nn.Softshrink):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.softshrink(input, self.lambd)


class Hardshrink(torch.nn.Hardshrink):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.hardshrink(input, self.lambd)


class PReLU(torch.nn.PReLU):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.prelu(input, self.weight)


class RReLU(torch.nn.RReLU):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.rrelu(input, self.lower, self.upper, self.training, self.inplace)


class SELU(torch.nn.SELU):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.selu(input, self.inplace)


class CELU(torch.nn.CELU):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.celu(input, self.alpha, self.inplace)


class Mish(torch.nn.Mish):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.mish(input, inplace=self.inplace)


class GLU(torch.nn.GLU):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.glu(input, self.dim)


class LogSigmoid(torch.nn.LogSigmoid):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.logsigmoid(input)


class Softsign(torch.nn.Softsign):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.softsign(input)


class Tanhshrink(torch.nn.Tanhshrink):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.tanhshrink(input)


class Softmin(torch.nn.Softmin):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return MF.softmin(input, self.dim, _stacklevel=5)


class Softmax2d(torch.nn.Softmax2d):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if input.dim() not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {input.dim()}D instead")
        return MF.softmax(input, -3, _stacklevel=5)
