"""RNN, LSTM, GRU and the three cells against torch's modules: outputs, final states and every
gradient (of the input, the initial states and each parameter) for one random upstream gradient
on all outputs at once, float64 tight and float32 assert_close, across every option (layers,
bidirectional, batch_first, bias, proj_size, dropout in train and eval, packed sequences of
different lengths, unbatched input); module twins (state_dict keys, init, flatten_parameters);
torch's errors; saved bytes; the time walk. The op table (tests/test_ops.py) adds gradcheck and
gradgradcheck of each op.
"""

import itertools

import pytest
import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

import manualgrad.nn as mnn
from manualgrad.functions import _rnn
from manualgrad.memory import SavedBytes
from conftest import DEVICES

KINDS = {"RNN": dict(nonlinearity="tanh"), "RNN-relu": dict(nonlinearity="relu"), "LSTM": {}, "GRU": {}}
F64 = dict(rtol=1e-12, atol=1e-12)


def _pair(kind, *args, device="cpu", dtype=torch.float64, **kw):
    name = kind.split("-")[0]
    theirs = getattr(torch.nn, name)(*args, **KINDS[kind], **kw).to(device, dtype)
    ours = getattr(mnn, name)(*args, **KINDS[kind], **kw).to(device, dtype)
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def _flat(out):
    """Every tensor of a module's result (a PackedSequence as its data)."""
    y, hidden = out if isinstance(out, tuple) else (out, ())
    y = y.data if isinstance(y, PackedSequence) else y
    return [y, *(hidden if isinstance(hidden, tuple) else (hidden,))]


def _compare(ours, theirs, inputs, leaves, tol, seed=3):
    """Both modules on ``inputs`` from the same seed (dropout masks), then the gradients of
    ``leaves`` and of the parameters for one random dy on every output."""
    torch.manual_seed(seed)
    a = _flat(ours(*inputs))
    torch.manual_seed(seed)
    b = _flat(theirs(*inputs))
    for p, q in zip(a, b):
        torch.testing.assert_close(p, q, **tol)
    dys = [torch.randn_like(p) for p in a]
    ga = torch.autograd.grad(a, [*leaves, *ours.parameters()], dys, allow_unused=True)
    gb = torch.autograd.grad(b, [*leaves, *theirs.parameters()], dys, allow_unused=True)
    for g, h in zip(ga, gb):
        assert (g is None) == (h is None)
        if g is not None:
            torch.testing.assert_close(g, h, **tol)
    return a


def _packed(x, lengths, enforce_sorted=True):
    """x (T, B, I) packed, its data a leaf (so a test can backpropagate twice) and returned."""
    p = pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=enforce_sorted)
    data = p.data.detach().requires_grad_()
    return PackedSequence(data, p.batch_sizes, p.sorted_indices, p.unsorted_indices), data


def _states(kind, layers, batch, h, p, device, dtype, unbatched=False):
    lead = (layers,) if unbatched else (layers, batch)
    h0 = torch.randn(*lead, p, device=device, dtype=dtype, requires_grad=True)
    if kind != "LSTM":
        return h0, [h0]
    c0 = torch.randn(*lead, h, device=device, dtype=dtype, requires_grad=True)
    return (h0, c0), [h0, c0]


OPTIONS = [dict(num_layers=L, bidirectional=bi, batch_first=bf, bias=bias)
           for L, bi, bf, bias in itertools.product([1, 2], [False, True], [False, True], [True, False])]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_module_matches_torch(kind, opts, dtype, device):
    tol = F64 if dtype == torch.float64 else {}
    ours, theirs = _pair(kind, 3, 4, device=device, dtype=dtype, **opts)
    t, b = 5, 3
    x = torch.randn(*((b, t) if opts["batch_first"] else (t, b)), 3, device=device, dtype=dtype, requires_grad=True)
    _compare(ours, theirs, (x,), [x], tol)
    hx, leaves = _states(kind, opts["num_layers"] * (1 + opts["bidirectional"]), b, 4, 4, device, dtype)
    _compare(ours, theirs, (x, hx), [x, *leaves], tol)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("enforce_sorted", [True, False])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_packed_sequences_of_different_lengths(kind, enforce_sorted, bidirectional, device):
    """Each sequence's final state is taken at its own end (the reverse direction starts there)."""
    ours, theirs = _pair(kind, 3, 4, num_layers=2, bidirectional=bidirectional, device=device)
    lengths = [5, 4, 2, 2, 1] if enforce_sorted else [2, 5, 1, 4, 2]
    packed, x = _packed(torch.randn(5, 5, 3, device=device, dtype=torch.float64), lengths, enforce_sorted)
    out = _compare(ours, theirs, (packed,), [x], F64)
    hx, leaves = _states(kind, 2 * (1 + bidirectional), 5, 4, 4, device, torch.float64)
    _compare(ours, theirs, (packed, hx), [x, *leaves], F64)
    assert out[0].shape == (sum(lengths), 4 * (1 + bidirectional))


@pytest.mark.parametrize("proj", [1, 3])
@pytest.mark.parametrize("packed", [False, True])
def test_lstm_proj_size(proj, packed):
    ours, theirs = _pair("LSTM", 3, 4, num_layers=2, bidirectional=True, proj_size=proj)
    x = torch.randn(4, 3, 3, dtype=torch.float64, requires_grad=True)
    inp, x = _packed(x, [4, 3, 1]) if packed else (x, x)
    hx, leaves = _states("LSTM", 4, 3, 4, proj, "cpu", torch.float64)
    out = _compare(ours, theirs, (inp, hx), [x, *leaves], F64)
    assert out[1].shape[-1] == proj and out[2].shape[-1] == 4


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("training", [True, False])
def test_dropout_between_layers(kind, training):
    """In training each layer's output but the last is dropped with the mask torch draws from
    the same seed (so equal results); in eval nothing is dropped."""
    ours, theirs = _pair(kind, 3, 4, num_layers=3, dropout=0.5, bidirectional=True)
    ours.train(training), theirs.train(training)
    x = torch.randn(6, 2, 3, dtype=torch.float64, requires_grad=True)
    a = _compare(ours, theirs, (x,), [x], F64)
    torch.manual_seed(4)
    b = _flat(ours(x))
    assert torch.equal(a[0], b[0]) != training  # another seed, another mask (eval: the same result)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("batch_first", [False, True])
def test_unbatched_input(kind, batch_first):
    ours, theirs = _pair(kind, 3, 4, num_layers=2, bidirectional=True, batch_first=batch_first)
    x = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    hx, leaves = _states(kind, 4, None, 4, 4, "cpu", torch.float64, unbatched=True)
    out = _compare(ours, theirs, (x, hx), [x, *leaves], F64)
    assert out[0].shape == (5, 8)


@pytest.mark.parametrize("kind", list(KINDS))
def test_non_contiguous_input_and_states(kind):
    ours, theirs = _pair(kind, 3, 4, num_layers=2, bidirectional=True)
    x = torch.randn(3, 5, 6, dtype=torch.float64)[:, :, ::2].transpose(0, 1).requires_grad_()
    h = [torch.randn(3, 4, 4, dtype=torch.float64).transpose(0, 1).requires_grad_() for _ in range(2)]
    hx = tuple(h) if kind == "LSTM" else h[0]
    assert not x.is_contiguous() and not h[0].is_contiguous()
    _compare(ours, theirs, (x, hx), [x, *(h if kind == "LSTM" else h[:1])], F64)


@pytest.mark.parametrize("kind", list(KINDS))
def test_zero_batch_and_one_step(kind):
    ours, theirs = _pair(kind, 3, 4, num_layers=2, bidirectional=True)
    for shape in [(4, 0, 3), (1, 2, 3)]:
        x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
        _compare(ours, theirs, (x,), [x], F64)


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("batch", [(3,), (), (0,)], ids=["batched", "unbatched", "empty"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("with_state", [True, False])
def test_cells_match_torch(name, batch, bias, with_state):
    kws = [dict(nonlinearity="tanh"), dict(nonlinearity="relu")] if name == "RNNCell" else [{}]
    for kw in kws:
        theirs = getattr(torch.nn, name)(3, 4, bias=bias, **kw).double()
        ours = getattr(mnn, name)(3, 4, bias=bias, **kw).double()
        ours.load_state_dict(theirs.state_dict())
        x = torch.randn(*batch, 3, dtype=torch.float64, requires_grad=True)
        states = [torch.randn(*batch, 4, dtype=torch.float64, requires_grad=True)
                  for _ in range(2 if name == "LSTMCell" else 1)] if with_state else []
        hx = None if not with_state else tuple(states) if name == "LSTMCell" else states[0]
        out = _compare(ours, theirs, (x, hx), [x, *states], F64)
        if batch == (3,):
            assert type(out[0].grad_fn).__name__ == name.replace("Cell", "") + "FunctionBackward"


@pytest.mark.parametrize("kind", list(KINDS))
def test_grad_fn_is_ours_and_output_is_writable(kind):
    """One layer, one direction: the output is the Function's; the caller may change it in place
    (the Function does not save it), as torch allows."""
    ours, theirs = _pair(kind, 3, 4)
    x = torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True)
    y, _ = ours(x)
    assert type(y.grad_fn).__name__ == {"LSTM": "LSTM", "GRU": "GRU"}.get(kind, "RNN") + "FunctionBackward"
    y.mul_(2).sum().backward()
    y2, _ = theirs(x)
    (g,) = torch.autograd.grad((2 * y2).sum(), x)
    torch.testing.assert_close(x.grad, g, **F64)


@pytest.mark.parametrize("kind", list(KINDS))
def test_module_twin(kind):
    ours, theirs = _pair(kind, 3, 5, num_layers=2, bidirectional=True, **({"proj_size": 2} if kind == "LSTM" else {}))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert "weight_hh_l1_reverse" in dict(ours.named_parameters())
    assert repr(ours) == repr(theirs)
    torch.manual_seed(0)
    a = type(ours)(3, 5, **KINDS[kind])
    torch.manual_seed(0)
    b = type(theirs)(3, 5, **KINDS[kind])
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    ours.flatten_parameters()
    x = torch.randn(2, 2, 3, dtype=torch.float64)
    torch.testing.assert_close(_flat(ours(x))[0], _flat(theirs(x))[0], **F64)


def _raises_like(ours, theirs, *args):
    with pytest.raises(Exception) as want:
        theirs(*args)
    with pytest.raises(type(want.value)) as got:
        ours(*args)
    assert str(got.value) == str(want.value)


@pytest.mark.parametrize("kind", list(KINDS))
def test_errors_like_torch(kind):
    ours, theirs = _pair(kind, 3, 4, dtype=torch.float32)
    x = torch.randn(5, 2, 3)
    h = torch.randn(1, 2, 4)
    hx = (h, h) if kind == "LSTM" else h
    _raises_like(ours, theirs, torch.randn(5, 2, 2, 3))                   # 4-D input
    _raises_like(ours, theirs, torch.randn(5, 2, 7))                      # input size
    _raises_like(ours, theirs, x.double())                                # dtype
    _raises_like(ours, theirs, torch.randn(0, 2, 3))                      # empty sequence
    _raises_like(ours, theirs, x, (h[0], h[0]) if kind == "LSTM" else h[0])  # 2-D state, batched input
    _raises_like(ours, theirs, x, (h[:, :1], h[:, :1]) if kind == "LSTM" else h[:, :1])  # state batch
    _raises_like(ours, theirs, x[:, 0], hx)                                # 3-D state, unbatched input


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cell_errors_like_torch(name):
    theirs, ours = getattr(torch.nn, name)(3, 4), getattr(mnn, name)(3, 4)
    two = name == "LSTMCell"
    h = torch.randn(2, 4)
    _raises_like(ours, theirs, torch.randn(2, 2, 3))
    _raises_like(ours, theirs, torch.randn(2, 5))
    _raises_like(ours, theirs, torch.randn(3, 3), (h, h) if two else h)
    _raises_like(ours, theirs, torch.randn(2, 3), (torch.randn(2, 5), h) if two else torch.randn(2, 5))
    _raises_like(ours, theirs, torch.randn(2, 3), (h[None], h) if two else h[None])


@pytest.mark.parametrize("kind", list(KINDS))
def test_saves_no_more_than_torch(kind):
    """Bytes saved for backward, each storage once: LSTM gates and the states each step starts
    from (torch's CPU path: 2.3× ours here); GRU gates, gh_n, h_{t−1} (1.3×); RNN the states
    after each step and h0, as much as torch."""
    ours, theirs = _pair(kind, 16, 32, num_layers=2, dtype=torch.float32)
    x = torch.randn(20, 8, 16, requires_grad=True)
    saved = []
    for m in (ours, theirs):
        with SavedBytes() as counter:
            m(x)
        saved.append(counter.total)
    assert saved[0] <= saved[1]


def test_steps_visit_each_sequence_from_its_own_end():
    """Packed rows of lengths 3, 2, 1: step (start, rows) forwards, the reverse direction's
    order backwards, and the backward walk the opposite of each."""
    assert _rnn.steps((3, 2, 1), False) == [(0, 3), (3, 2), (5, 1)]
    assert _rnn.steps((3, 2, 1), True) == [(5, 1), (3, 2), (0, 3)]
    old, new = torch.zeros(3, 2), torch.ones(1, 2)
    assert torch.equal(_rnn.carried(new, old), torch.tensor([[1.0, 1], [0, 0], [0, 0]]))
    states, h0 = torch.arange(6.0).unsqueeze(1), -1 - torch.arange(3.0).unsqueeze(1)  # h0 rows -1, -2, -3
    forward = _rnn.previous(states, h0, (3, 2, 1), False).flatten().tolist()
    backward = _rnn.previous(states, h0, (3, 2, 1), True).flatten().tolist()
    assert forward == [-1, -2, -3, 0, 1, 3] and backward == [3, 4, -3, 5, -2, -1]
    padded = _rnn.previous(states, h0[:2], (2, 2, 2), False).flatten().tolist()
    assert padded == [-1, -2, 0, 1, 2, 3] and _rnn.previous(states, h0[:2], (2, 2, 2), True).flatten().tolist() \
        == [2, 3, 4, 5, -1, -2]


@pytest.mark.parametrize("kind", list(KINDS))
def test_gradgradcheck_through_the_module(kind):
    """Double backward of a 2-layer bidirectional packed module (weights included)."""
    ours, _ = _pair(kind, 2, 2, num_layers=2, bidirectional=True)
    x = torch.randn(3, 2, 2, dtype=torch.float64, requires_grad=True)
    params = list(ours.parameters())

    def f(x, *ws):
        y = torch.func.functional_call(ours, dict(zip([n for n, _ in ours.named_parameters()], ws)),
                                       (pack_padded_sequence(x, torch.tensor([3, 2])),))
        return _flat(y)

    inputs = (x, *[p.detach().clone().requires_grad_() for p in params])
    assert torch.autograd.gradcheck(f, inputs)
    assert torch.autograd.gradgradcheck(f, inputs)
