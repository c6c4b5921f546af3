"""manualgrad: PyTorch layers, activations and losses whose backward is derived by hand.

>>> import manualgrad as mg
>>> import manualgrad.nn as mnn
>>> import manualgrad.functional as MF
"""

from . import functional, nn, optim
from .memory import MemoryReport, memory_report
from .swap import SwapReport, revert, swap
from .checking import CheckResult, check

__version__ = "0.1.0"
__all__ = ["functional", "nn", "optim", "check", "CheckResult", "swap", "revert", "SwapReport",
           "memory_report", "MemoryReport", "__version__"]

# ---- BEGIN math primitives ----
from . import math  # noqa: E402  torch-named primitives with hand-derived backwards (mg.math.matmul, ...)

__all__ += ["math"]
# ---- END math primitives ----
