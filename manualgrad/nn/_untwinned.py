"""The ``torch.nn`` module classes that have no twin in :mod:`manualgrad.nn`, each with why: the
one list that ``tests/test_nn_coverage.py`` accepts (every other ``torch.nn`` module class must
have a twin) and that ``docs/ops.md`` shows (``render()`` writes its table)."""

from __future__ import annotations

_CONTAINER = "a container: no arithmetic of its own; swap looks at its children one by one"
_LAZY = ("a lazy module: its first forward turns it into its non-lazy class (which has a twin); swap skips it "
         "before that, with that reason, and swaps it after")
_MOVES = "pure data movement (a view, reshape or permute): its backward is torch's view/copy nodes, no arithmetic"
_BASE = "an abstract base with no forward of its own: its concrete subclasses (RNN/LSTM/GRU, their cells) have twins"

UNTWINNED: dict[str, str] = {
    **{name: _CONTAINER for name in ("Module", "Sequential", "ModuleList", "ModuleDict", "ParameterList",
                                     "ParameterDict", "Container")},
    **{name: _LAZY for name in ("LazyLinear", "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d",
                                "LazyConvTranspose2d", "LazyConvTranspose3d", "LazyBatchNorm1d", "LazyBatchNorm2d",
                                "LazyBatchNorm3d", "LazyInstanceNorm1d", "LazyInstanceNorm2d",
                                "LazyInstanceNorm3d")},
    **{name: _MOVES for name in ("Flatten", "Unflatten", "Identity", "PixelShuffle", "PixelUnshuffle",
                                 "ChannelShuffle")},
    **{name: _BASE for name in ("RNNBase", "RNNCellBase")},
    "DataParallel": "replicates a module over devices and gathers the outputs; the wrapped module's children are swapped",
    "CrossMapLRN2d": ("legacy Lua-torch layer whose forward never drops channel 0 from the running window "
                      "(its `c > pre_pad` test) and whose backward is not that forward's gradient (fails gradcheck): "
                      "nothing to match; LocalResponseNorm, the maintained one, has a twin"),
}


def render() -> str:
    """The markdown table of :data:`UNTWINNED` that docs/ops.md carries."""
    rows = [f"| `{name}` | {why} |" for name, why in UNTWINNED.items()]
    return "\n".join(["| torch.nn class | why it has no twin |", "|---|---|", *rows])
