"""Every Function returns a gradient for every input that needs one (DDP would silently turn a
missing one into zeros): read from the raw tuple each backward returns, sample by sample over the
op table; every parameter of every nn module gets ``.grad``; and the check catches a broken
Function."""

import contextlib
import inspect
import warnings

import pytest
import torch

import manualgrad.nn as MN
from manualgrad import ops, verify
from manualgrad.functions.linear import LinearFunction


def missing_gradients(out: torch.Tensor, args: tuple) -> list[int]:
    """Positions among the forward inputs ``args`` of ``out.grad_fn`` (a manualgrad Function's
    node) that need a gradient (a grad_fn or leaf accumulator is attached) but get None from its
    raw backward tuple."""
    node = out.grad_fn
    n_out = len(inspect.signature(node._forward_cls.backward).parameters) - 1  # minus ctx
    grads = [None] * n_out
    grads[out.output_nr] = torch.randn_like(out)  # out may be any of the node's outputs (an RNN's h_n)
    raw = node.apply(*grads)
    raw = raw if isinstance(raw, tuple) else (raw,)
    slots = [k for k, a in enumerate(args) if isinstance(a, torch.Tensor)]  # the node's edges
    assert len(raw) == len(args) and len(slots) == len(node.next_functions)
    return [k for k, (nxt, _) in zip(slots, node.next_functions) if nxt is not None and raw[k] is None]


@contextlib.contextmanager
def recording_apply(cls):
    """The argument tuples of every ``cls.apply`` call inside the block."""
    calls, own = [], "apply" in vars(cls)
    base_apply = cls.apply.__func__
    cls.apply = classmethod(lambda c, *a: calls.append(a) or base_apply(c, *a))
    try:
        yield calls
    finally:
        if not own:
            del cls.apply


def _samples():
    return [pytest.param(spec, id=spec.name) for spec in ops.OPS]


@pytest.mark.parametrize("spec", _samples())
def test_every_input_that_needs_a_gradient_gets_one(spec):
    checked = 0
    for sample in spec.samples(torch.device("cpu"), torch.float64):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = verify.run(spec.op, sample.args, sample.kwargs, seed=0, clone_input=sample.clone_input)
            theirs = verify.run(spec.ref, sample.args, sample.kwargs, dy=ours.dy, seed=0,
                                clone_input=sample.clone_input)
        for k, (g, h) in enumerate(zip(ours.grads, theirs.grads)):
            assert h is None or g is not None, f"{sample}: no gradient for differentiable input {k}, torch gives one"
        # the raw tuple, on a fresh graph (run() has freed its own); not where torch itself leaves an
        # input without a gradient (an attention mask that an empty output does not depend on)
        if sample.node and ours.out.requires_grad and all(h is not None for h in theirs.grads):
            f, inputs = verify.as_function_of_grad_inputs(spec.op, sample, 0)
            with recording_apply(out_cls := type(ours.out.grad_fn)._forward_cls) as calls:
                out = f(*inputs)
            assert out_cls.__name__ == spec.function.__name__
            assert missing_gradients(out, calls[-1]) == [], f"{sample}: backward returned None for an input needing grad"
            checked += 1
    assert checked > 0


class _ForgetsWeight(LinearFunction):
    @staticmethod
    def backward(ctx, dy):
        dx, _, db = LinearFunction.backward(ctx, dy)
        return dx, None, db


def test_the_check_catches_a_forgotten_weight_gradient():
    x, w, b = (torch.randn(*s, requires_grad=True) for s in ((3, 4), (2, 4), (2,)))
    assert missing_gradients(LinearFunction.apply(x, w, b), (x, w, b)) == []
    assert missing_gradients(_ForgetsWeight.apply(x, w, b), (x, w, b)) == [1]
    assert missing_gradients(_ForgetsWeight.apply(x, w.detach(), b), (x, w, b)) == []  # w needs none


# module name -> (constructor, input maker); every module with parameters must be listed
MODULES = {
    "Linear": (lambda: MN.Linear(4, 3), lambda: (torch.randn(2, 4),)),
    "Conv1d": (lambda: MN.Conv1d(2, 3, 3), lambda: (torch.randn(2, 2, 6),)),
    "Conv2d": (lambda: MN.Conv2d(2, 3, 3), lambda: (torch.randn(2, 2, 5, 5),)),
    "Conv3d": (lambda: MN.Conv3d(2, 3, 2), lambda: (torch.randn(2, 2, 3, 4, 3),)),
    "ConvTranspose1d": (lambda: MN.ConvTranspose1d(2, 4, 3, groups=2), lambda: (torch.randn(2, 2, 6),)),
    "ConvTranspose2d": (lambda: MN.ConvTranspose2d(2, 3, 3, stride=2), lambda: (torch.randn(2, 2, 4, 4),)),
    "ConvTranspose3d": (lambda: MN.ConvTranspose3d(2, 3, 2), lambda: (torch.randn(2, 2, 3, 2, 3),)),
    "BatchNorm1d": (lambda: MN.BatchNorm1d(3), lambda: (torch.randn(4, 3),)),
    "BatchNorm2d": (lambda: MN.BatchNorm2d(3), lambda: (torch.randn(2, 3, 4, 4),)),
    "BatchNorm3d": (lambda: MN.BatchNorm3d(3), lambda: (torch.randn(2, 3, 2, 3, 2),)),
    "InstanceNorm1d": (lambda: MN.InstanceNorm1d(3, affine=True), lambda: (torch.randn(2, 3, 5),)),
    "InstanceNorm2d": (lambda: MN.InstanceNorm2d(3, affine=True), lambda: (torch.randn(2, 3, 4, 3),)),
    "InstanceNorm3d": (lambda: MN.InstanceNorm3d(3, affine=True), lambda: (torch.randn(2, 3, 2, 3, 2),)),
    "SyncBatchNorm": (lambda: MN.SyncBatchNorm(3), lambda: (torch.randn(2, 3, 4),)),  # one process: batch_norm
    "LayerNorm": (lambda: MN.LayerNorm(4), lambda: (torch.randn(2, 4),)),
    "GroupNorm": (lambda: MN.GroupNorm(2, 4), lambda: (torch.randn(2, 4, 3),)),
    "RMSNorm": (lambda: MN.RMSNorm(4), lambda: (torch.randn(2, 4),)),
    "Embedding": (lambda: MN.Embedding(10, 4, padding_idx=0), lambda: (torch.tensor([[1, 0, 9]]),)),
    "EmbeddingBag": (lambda: MN.EmbeddingBag(10, 4, mode="sum", padding_idx=0),
                     lambda: (torch.tensor([1, 0, 9, 3]), torch.tensor([0, 2]), torch.randn(4))),
    "Bilinear": (lambda: MN.Bilinear(3, 2, 4), lambda: (torch.randn(5, 3), torch.randn(5, 2))),
    "PReLU": (lambda: MN.PReLU(3), lambda: (torch.randn(2, 3, 4),)),
    "AdaptiveLogSoftmaxWithLoss": (lambda: MN.AdaptiveLogSoftmaxWithLoss(8, 20, [4, 10, 15], div_value=2.0,
                                                                          head_bias=True),
                                   lambda: (torch.randn(4, 8), torch.tensor([0, 5, 12, 19]))),  # one per cluster
    "MultiheadAttention": (lambda: MN.MultiheadAttention(4, 2, kdim=3, vdim=5),
                           lambda: (torch.randn(3, 2, 4), torch.randn(6, 2, 3), torch.randn(6, 2, 5))),
    "MultiheadAttention bias_kv zero_attn": (lambda: MN.MultiheadAttention(4, 2, add_bias_kv=True, add_zero_attn=True),
                                             lambda: (torch.randn(3, 2, 4),) * 3),
    "TransformerEncoderLayer": (lambda: MN.TransformerEncoderLayer(4, 2, 8), lambda: (torch.randn(3, 2, 4),)),
    "TransformerDecoderLayer": (lambda: MN.TransformerDecoderLayer(4, 2, 8),
                                lambda: (torch.randn(3, 2, 4), torch.randn(5, 2, 4))),
    "TransformerEncoder": (lambda: MN.TransformerEncoder(MN.TransformerEncoderLayer(4, 2, 8), 2, MN.LayerNorm(4)),
                           lambda: (torch.randn(3, 2, 4),)),
    "TransformerDecoder": (lambda: MN.TransformerDecoder(MN.TransformerDecoderLayer(4, 2, 8), 2),
                           lambda: (torch.randn(3, 2, 4), torch.randn(5, 2, 4))),
    "Transformer": (lambda: MN.Transformer(4, 2, 1, 1, 8), lambda: (torch.randn(5, 2, 4), torch.randn(3, 2, 4))),
    "LinearCrossEntropyLoss": (lambda: MN.LinearCrossEntropyLoss(4, 5, bias=True),
                               lambda: (torch.randn(3, 4), torch.tensor([0, 4, 2]))),
    "RNN": (lambda: MN.RNN(3, 4, num_layers=2, bidirectional=True), lambda: (torch.randn(5, 2, 3),)),
    "LSTM": (lambda: MN.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2), lambda: (torch.randn(5, 2, 3),)),
    "GRU": (lambda: MN.GRU(3, 4, num_layers=2, bidirectional=True), lambda: (torch.randn(5, 2, 3),)),
    "RNNCell": (lambda: MN.RNNCell(3, 4), lambda: (torch.randn(2, 3),)),
    "LSTMCell": (lambda: MN.LSTMCell(3, 4), lambda: (torch.randn(2, 3),)),
    "GRUCell": (lambda: MN.GRUCell(3, 4), lambda: (torch.randn(2, 3),)),
}


@pytest.mark.parametrize("name", sorted(set(MN.__all__) | set(MODULES)))
def test_every_parameter_of_every_module_gets_a_grad(name):
    cls = getattr(MN, name.split()[0])
    if name not in MODULES:
        base = next(b for b in cls.__mro__ if b.__module__.startswith("torch.nn"))
        assert not any(p for p in inspect.signature(base.__init__).parameters if p in (
            "in_features", "num_features", "normalized_shape", "num_embeddings", "in_channels", "embed_dim", "d_model",
            "encoder_layer", "decoder_layer", "input_size", "in1_features", "num_parameters")), f"{name} needs an entry"
        return
    make, inputs = MODULES[name]
    torch.manual_seed(0)
    module = make()
    out = module(*inputs())
    out = out[0] if isinstance(out, tuple) else out
    out.sum().backward()
    params = dict(module.named_parameters())
    assert params
    for pname, p in params.items():
        assert p.grad is not None, f"{name}.{pname} got no gradient"
