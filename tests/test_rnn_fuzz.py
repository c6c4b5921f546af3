"""RNN, LSTM and GRU against torch's modules on hypothesis-drawn configurations (the grid of
tests/test_rnn.py fixes the sizes; this draws them): layers, direction, batch_first, bias,
proj_size, sequence length and batch (1 included), padded or packed sequences of random
lengths, given or default initial states, float64 or float32. Every output, final state and
gradient (input, states, each parameter) for one random upstream gradient, through the same
comparison as the grid. ``MANUALGRAD_FUZZ=long`` draws 300 configurations per kind instead of 15.
"""

import os

import hypothesis.strategies as st
import pytest
import torch
from hypothesis import given, settings

from test_rnn import F64, _compare, _packed, _pair, _states

EXAMPLES = 300 if os.environ.get("MANUALGRAD_FUZZ") == "long" else 15  # per kind


@st.composite
def configurations(draw, kind):
    hidden = draw(st.integers(1, 9))
    return dict(
        kind=kind, steps=draw(st.integers(1, 7)), batch=draw(st.integers(1, 4)), features=draw(st.integers(1, 5)),
        hidden=hidden, layers=draw(st.integers(1, 3)), bidirectional=draw(st.booleans()),
        batch_first=draw(st.booleans()), bias=draw(st.booleans()),
        proj=draw(st.integers(0, hidden - 1)) if kind == "LSTM" else 0,
        packed=draw(st.booleans()), states=draw(st.booleans()),
        dtype=draw(st.sampled_from([torch.float64, torch.float32])), seed=draw(st.integers(0, 2 ** 16)))


@pytest.mark.parametrize("kind", ["RNN", "RNN-relu", "LSTM", "GRU"])  # a parameter: drawn, one kind got no case in 40
@settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES < 100, database=None)
@given(data=st.data())
def test_recurrent_modules_match_torch_on_drawn_configurations(kind, data):
    c = data.draw(configurations(kind))
    torch.manual_seed(c["seed"])
    kw = dict(num_layers=c["layers"], bidirectional=c["bidirectional"], bias=c["bias"],
              batch_first=c["batch_first"] and not c["packed"], dtype=c["dtype"])
    if c["proj"]:
        kw["proj_size"] = c["proj"]
    ours, theirs = _pair(c["kind"], c["features"], c["hidden"], **kw)
    t, b = c["steps"], c["batch"]
    x = torch.randn(t, b, c["features"], dtype=c["dtype"], requires_grad=True)
    if c["packed"]:
        lengths = [t] + [int(n) for n in torch.randint(1, t + 1, (b - 1,))]
        x, leaf = _packed(x.detach(), lengths, enforce_sorted=False)
        leaves = [leaf]
    else:
        leaves = [x]
        if kw["batch_first"]:
            x = x.detach().transpose(0, 1).requires_grad_()
            leaves = [x]
    inputs = [x]
    if c["states"]:
        directions = 2 if c["bidirectional"] else 1
        hidden0, state_leaves = _states(c["kind"].split("-")[0], c["layers"] * directions, b, c["hidden"],
                                        c["proj"] or c["hidden"], "cpu", c["dtype"])
        inputs.append(hidden0)
        leaves += state_leaves
    _compare(ours, theirs, inputs, leaves, F64 if c["dtype"] == torch.float64 else {})  # float32: assert_close's own tolerances, as the grid
