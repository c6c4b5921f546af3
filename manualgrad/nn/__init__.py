"""``torch.nn``-compatible modules: same class names, constructor arguments, parameter and buffer
names, initialisation and ``state_dict`` keys; ``forward`` goes through
:mod:`manualgrad.functional`, so every backward is hand-derived."""

from .dropout import Dropout
from .linear import Linear

# ---- BEGIN activation modules ----
from .activation import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, SiLU, Sigmoid, Softmax, Softplus, Tanh
# ---- END activation modules ----
# ---- BEGIN loss modules ----
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss, NLLLoss,
                   SmoothL1Loss)
# ---- END loss modules ----
# ---- BEGIN conv modules ----
# ---- END conv modules ----
# ---- BEGIN pooling modules ----
# ---- END pooling modules ----
# ---- BEGIN norm modules ----
# ---- END norm modules ----
# ---- BEGIN embedding modules ----
# ---- END embedding modules ----
# ---- BEGIN attention modules ----
from .attention import MultiheadAttention
# ---- END attention modules ----

__all__ = [
    "Linear", "Dropout",
    # ---- BEGIN activation names ----
    "ReLU", "LeakyReLU", "ELU", "GELU", "SiLU", "Softplus", "Sigmoid", "Tanh", "Softmax", "LogSoftmax",
    # ---- END activation names ----
    # ---- BEGIN loss names ----
    "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "BCELoss", "BCEWithLogitsLoss",
    "NLLLoss", "CrossEntropyLoss",
    # ---- END loss names ----
    # ---- BEGIN conv names ----
    # ---- END conv names ----
    # ---- BEGIN pooling names ----
    # ---- END pooling names ----
    # ---- BEGIN norm names ----
    # ---- END norm names ----
    # ---- BEGIN embedding names ----
    # ---- END embedding names ----
    # ---- BEGIN attention names ----
    "MultiheadAttention",
    # ---- END attention names ----
]
