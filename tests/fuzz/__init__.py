"""A differential fuzzer: hypothesis draws calls of every ``manualgrad.functional`` op that torch
also has, and each must behave as torch's (tests/test_fuzz.py runs it; docs/testing.md, "Differential
fuzzer"). A reported case reproduces with::

    PYTHONPATH=.:tests python -c "from fuzz import *; check(Case(...))"
"""

import torch  # noqa: F401 - reproducers name torch dtypes

from .compare import Case, check
from .tensors import T

__all__ = ["Case", "T", "check", "torch"]
