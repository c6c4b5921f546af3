"""manualgrad: PyTorch layers, activations and losses whose backward is derived by hand.

>>> import manualgrad as mg
>>> import manualgrad.nn as mnn
>>> import manualgrad.functional as MF
"""

from . import functional, math, nn, optim
from .memory import MemoryReport, memory_report
from .swap import SwapReport, revert, swap
from .routing import manual
from .checking import CheckResult, check
from .coverage import CoverageReport, coverage

__version__ = "0.1.0"
__all__ = ["functional", "math", "nn", "optim", "check", "CheckResult", "swap", "revert", "SwapReport", "manual",
           "memory_report", "MemoryReport", "coverage", "CoverageReport", "__version__"]
