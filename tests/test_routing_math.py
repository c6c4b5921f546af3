"""The math routes (manualgrad/routing_math.py): inside `manual()` each routed form of torch's matmul
family, elementwise math and reductions runs manualgrad.math's Function and equals torch (float64,
outputs and gradients under a random dy); the forms manualgrad.math does not implement run torch's
own; swapped tiny GPT-2, Llama and T5 have no heavy torch node left and train as the originals."""

import copy
import os
import sys

import pytest
import torch
import torch.nn.functional as F

import manualgrad as mg
from manualgrad.coverage import kind
from manualgrad import routing, routing_math
from manualgrad.routing import routed_names

TIGHT = dict(rtol=1e-12, atol=1e-13)
INF = float("inf")


def inputs():
    gen = torch.Generator().manual_seed(0)
    shapes = {"a": (3, 4), "b": (4, 5), "c": (2, 3, 4), "d": (2, 4, 5), "v": (4,), "bias": (5,)}
    made = {k: torch.randn(s, generator=gen, dtype=torch.float64) for k, s in shapes.items()}
    made["p"] = torch.rand(3, 4, generator=gen, dtype=torch.float64) + 0.5  # positive: log, sqrt, ...
    made["a"][0, :2] = made["a"][0, 2:]  # ties for max/amax/vector_norm(inf)
    return {k: t.requires_grad_() for k, t in made.items()}


UNARY = ["exp", "expm1", "log", "log1p", "sqrt", "rsqrt", "reciprocal", "sin", "cos", "abs"]
FORMS = {
    "torch.matmul": lambda a, b, **_: torch.matmul(a, b), "@": lambda a, b, **_: a @ b,
    "Tensor.matmul": lambda c, b, **_: c.matmul(b), "1-d @": lambda v, b, **_: v @ b,
    "__rmatmul__": lambda a, b, **_: b.__rmatmul__(a),
    "torch.mm": lambda a, b, **_: torch.mm(a, b), "Tensor.mm": lambda a, b, **_: a.mm(b),
    "torch.bmm": lambda c, d, **_: torch.bmm(c, d), "Tensor.bmm": lambda c, d, **_: c.bmm(d),
    "torch.addmm": lambda bias, a, b, **_: torch.addmm(bias, a, b, beta=0.5, alpha=2),
    "Tensor.addmm": lambda bias, a, b, **_: bias.addmm(a, b),
    "torch.baddbmm": lambda bias, c, d, **_: torch.baddbmm(bias, c, d, alpha=-1),
    "Tensor.baddbmm": lambda bias, c, d, **_: bias.baddbmm(c, d, beta=2),
    **{f"torch.{n}": (lambda p, n=n, **_: getattr(torch, n)(p)) for n in UNARY},
    **{f"Tensor.{n}": (lambda a, n=n, **_: getattr(a if n in ("exp", "sin", "cos", "abs") else a.abs() + 1, n)())
       for n in UNARY},
    "torch.pow": lambda a, p, **_: torch.pow(p, a), "Tensor.pow": lambda a, **_: a.pow(3),
    "number pow": lambda a, **_: torch.pow(2.0, a), "**": lambda a, **_: a ** 2, "** 0.5": lambda p, **_: p ** 0.5,
    "__rpow__": lambda a, **_: 3 ** a, "tensor ** tensor": lambda p, a, **_: p ** a,
    "torch.clamp": lambda a, **_: torch.clamp(a, -0.5, 0.5), "Tensor.clamp": lambda a, **_: a.clamp(min=0),
    "clamp tensors": lambda a, p, **_: torch.clamp(a, min=-p, max=p), "Tensor.clip": lambda a, **_: a.clip(max=0.1),
    "torch.minimum": lambda a, p, **_: torch.minimum(a, p), "Tensor.maximum": lambda a, p, **_: a.maximum(p),
    "torch.where": lambda a, p, **_: torch.where(a > 0, a, p), "where number": lambda a, **_: torch.where(a > 0, a, 0.0),
    "Tensor.where": lambda a, p, **_: a.where(a > 0, p),
    "torch.sum": lambda a, **_: torch.sum(a), "Tensor.sum": lambda a, **_: a.sum(-1),
    "sum dims": lambda c, **_: c.sum((0, 2), keepdim=True), "sum list": lambda c, **_: torch.sum(c, [1]),
    "sum dtype": lambda a, **_: a.sum(0, dtype=torch.float32).double(),
    "torch.mean": lambda a, **_: torch.mean(a), "Tensor.mean": lambda a, **_: a.mean(-1, keepdim=True),
    "torch.var": lambda a, **_: torch.var(a, 0), "Tensor.var": lambda a, **_: a.var(1, unbiased=False),
    "var(unbiased)": lambda a, **_: torch.var(a, True), "Tensor.std": lambda a, **_: a.std(correction=0),
    "std(dim, unbiased, keepdim)": lambda a, **_: a.std(0, False, True),
    "torch.var_mean": lambda a, **_: torch.var_mean(a, 1), "torch.std_mean": lambda c, **_: torch.std_mean(c, (0, 2)),
    "torch.amax": lambda a, **_: torch.amax(a, -1), "Tensor.amin": lambda a, **_: a.amin((0, 1)),
    "amax(None)": lambda a, **_: torch.amax(a, None),
    "torch.max": lambda a, **_: torch.max(a), "Tensor.min": lambda a, **_: a.min(),
    "torch.max(dim)": lambda a, **_: torch.max(a, 1), "Tensor.min(dim)": lambda a, **_: a.min(dim=0, keepdim=True),
    "torch.max(other)": lambda a, p, **_: torch.max(a, p), "Tensor.min(other=)": lambda a, p, **_: a.min(other=p),
    "torch.logsumexp": lambda a, **_: torch.logsumexp(a, 1), "Tensor.logsumexp": lambda c, **_: c.logsumexp((0, 2)),
    "torch.cumsum": lambda a, **_: torch.cumsum(a, 1), "Tensor.cumsum": lambda c, **_: c.cumsum(-1, dtype=torch.float64),
    "vector_norm": lambda a, **_: torch.linalg.vector_norm(a),
    "vector_norm(ord, dim)": lambda c, **_: torch.linalg.vector_norm(c, 1, -1, keepdim=True),
    "vector_norm(inf)": lambda a, **_: torch.linalg.vector_norm(a, INF, (0, 1)),
    "vector_norm(3)": lambda a, **_: torch.linalg.vector_norm(a, ord=3, dim=0),
    "torch.norm": lambda a, **_: torch.norm(a), "Tensor.norm(p, dim)": lambda c, **_: c.norm(p=2, dim=(1, 2), keepdim=True),
    "Tensor.norm(1, int dim)": lambda c, **_: c.norm(1, -1), "torch.norm(fro, dim)": lambda a, **_: torch.norm(a, "fro", 0),
}


def run(form, manual):
    """(outputs, gradients of every input) of ``form`` under one random dy per differentiable output;
    and the kinds of the outputs' grad_fns."""
    xs = inputs()
    with mg.manual() if manual else torch.enable_grad():
        out = form(**xs)
    outs = list(out) if isinstance(out, tuple) else [out]
    diff = [y for y in outs if y.requires_grad]
    gen = torch.Generator().manual_seed(1)
    dys = [torch.randn(y.shape, generator=gen, dtype=y.dtype) for y in diff]
    grads = torch.autograd.grad(diff, list(xs.values()), dys, allow_unused=True)
    return outs, [g for g in grads if g is not None], {kind(y.grad_fn) for y in diff}


@pytest.mark.parametrize("name", FORMS)
def test_each_routed_form_runs_manualgrad_and_equals_torch(name):
    got, got_grads, kinds = run(FORMS[name], manual=True)
    want, want_grads, torch_kinds = run(FORMS[name], manual=False)
    if name == "sum dtype":  # the .double() after the routed sum
        assert torch_kinds == {"views/copies"}
    else:
        assert kinds == {"manualgrad"} and "manualgrad" not in torch_kinds
    assert len(got_grads) == len(want_grads) > 0
    torch.testing.assert_close(got, want, **TIGHT)
    torch.testing.assert_close(got_grads, want_grads, **TIGHT)


def test_every_routed_form_in_one_block_leaves_no_torch_math_node():
    xs = inputs()
    with mg.manual():
        total = sum((y if isinstance(y, torch.Tensor) else y[0]).sum() for y in (f(**xs) for f in FORMS.values()))
        report = mg.coverage(torch.nn.Identity(), total)  # the graph of a finished value
    assert report.heavy == [], str(report)
    assert {"torch.matmul", "Tensor.__matmul__", "Tensor.__rpow__", "torch.linalg.vector_norm",
            "Tensor.sum", "torch.where", "Tensor.clip"} <= set(routed_names())


def test_cpu_autocast_gives_torchs_dtypes():
    for name, form in FORMS.items():
        xs = {k: t.detach().float().requires_grad_() for k, t in inputs().items()}
        with torch.autocast("cpu", torch.bfloat16):
            want = form(**xs)
            with mg.manual():
                got = form(**xs)
        got, want = (list(y) if isinstance(y, tuple) else [y] for y in (got, want))
        assert [t.dtype for t in got] == [t.dtype for t in want], name
        torch.testing.assert_close(got, want, msg=lambda m: f"{name}: {m}")


FALL_THROUGH = {
    "integer matmul": lambda a, **_: torch.matmul(torch.ones(2, 3, dtype=torch.long), torch.ones(3, 2, dtype=torch.long)),
    "integer sum": lambda a, **_: torch.arange(6).sum(),
    "bool where": lambda a, **_: torch.where(a > 0, True, False),
    "where(condition)": lambda a, **_: torch.where(a > 0)[1],
    "integer exponent tensor": lambda a, **_: a ** torch.tensor(2),
    "complex exp": lambda a, **_: torch.exp(a.to(torch.complex128)).real,
    "constant": lambda a, **_: torch.exp(a.detach()),
    "named dim": lambda a, **_: a.sum("c"),  # this build has no named tensors: torch's TypeError
    "named dim max": lambda a, **_: torch.max(a, "c"),
    "integer dtype": lambda a, **_: a.detach().cumsum(0, dtype=torch.int64),
    "bool exponent": lambda a, **_: a.pow(True),
    "no bounds": lambda a, **_: a.clamp(),
    "nuclear norm": lambda a, **_: a.norm("nuc"),
}


@pytest.mark.parametrize("name", FALL_THROUGH)
def test_other_forms_run_torchs_own(name):
    xs = inputs()
    with mg.manual():
        try:
            got = FALL_THROUGH[name](**xs)
        except (RuntimeError, TypeError) as e:
            got = e
    try:
        want = FALL_THROUGH[name](**xs)
    except (RuntimeError, TypeError) as e:
        assert type(got) is type(e) and str(got) == str(e)  # torch's own error
        return
    assert kind(got.grad_fn) != "manualgrad"
    torch.testing.assert_close(got, want, **TIGHT)


def test_grad_mode_off_and_out_are_torchs():
    a, b = inputs()["a"], inputs()["b"]
    with mg.manual():
        with torch.no_grad():
            assert (a @ b).grad_fn is None
        y = torch.matmul(a.detach(), b.detach(), out=torch.empty(3, 5, dtype=torch.float64))
        assert y.grad_fn is None
        assert kind((a @ b).grad_fn) == "manualgrad"


def hf(name):
    transformers = pytest.importorskip("transformers")
    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    small = dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, vocab_size=50,
                 max_position_embeddings=16)
    if name == "gpt2":
        return transformers.GPT2LMHeadModel(transformers.GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=50,
                                                                    n_positions=16, attn_pdrop=0.0, resid_pdrop=0.0,
                                                                    embd_pdrop=0.0))
    if name == "llama":
        return transformers.LlamaForCausalLM(transformers.LlamaConfig(**small, num_key_value_heads=1))
    return transformers.T5ForConditionalGeneration(transformers.T5Config(
        vocab_size=50, d_model=16, d_kv=8, d_ff=32, num_layers=1, num_heads=2, dropout_rate=0.0,
        decoder_start_token_id=0, pad_token_id=0))


# parameters whose gradient comes from manualgrad after swap(): every one but the RMSNorm weights
# (Llama 3: two layers' and the final norm; T5 7), whose `weight * hidden` is a product, torch's
SHARE = {"gpt2": 16 / 16, "llama": 9 / 12, "t5": 19 / 26}


def spy_callers(monkeypatch) -> set:
    """The files whose calls reach a math route (the first frame outside torch and the routing)."""
    callers, torch_dir = set(), os.path.dirname(torch.__file__)

    def spy(route):
        def wrapped(*args, **kwargs):
            f = sys._getframe(1)
            while f.f_code.co_filename.startswith(torch_dir) or f.f_code.co_filename == routing.__file__:
                f = f.f_back
            callers.add(f.f_code.co_filename)
            return route(*args, **kwargs)

        return wrapped

    for fn, route in routing_math.ROUTES.items():
        monkeypatch.setitem(routing.ROUTES, fn, spy(route))
    return callers


@pytest.mark.parametrize("name", ["gpt2", "llama", "t5"])
def test_swapped_hugging_face_models_run_manualgrad_math(name, monkeypatch):
    callers = spy_callers(monkeypatch)
    ref = hf(name).double()
    ids = torch.randint(0, 50, (2, 8), generator=torch.Generator().manual_seed(0))
    modules_only, model = copy.deepcopy(ref), copy.deepcopy(ref)
    mg.swap(modules_only, functional=False), mg.swap(model)
    before, only, after = (mg.coverage(m, input_ids=ids, labels=ids) for m in (ref, modules_only, model))
    assert before.param_share == 0 and only.heavy and after.heavy == [], str(after)
    assert after.param_share == pytest.approx(SHARE[name]) and after.param_share >= only.param_share
    kw = {"decoder_input_ids": ids} if name == "t5" else {}
    for m in (ref, model):  # a float64 loss of our own (Hugging Face's upcasts the logits to float32)
        m.zero_grad()
        F.cross_entropy(m(input_ids=ids, **kw).logits.flatten(0, 1), ids.flatten()).backward()
    for (n, p), q in zip(model.named_parameters(), ref.parameters()):
        torch.testing.assert_close(p.grad, q.grad, **TIGHT, msg=lambda m: f"{n}: {m}")
    # routed: transformers' own math; manualgrad's internals (its swapped modules' code) never
    assert callers and not {c for c in callers if c.startswith(os.path.dirname(mg.__file__))}, callers


def _block(a, b, p):
    h = torch.addmm(b[0], a, b).clamp(min=-1.0) ** 2  # routed: addmm, clamp, **
    n = torch.rsqrt(h.var(-1, keepdim=True) + 1e-5)  # var, rsqrt
    s = torch.where(h > 0, h * n, 0.5).sum(-1) + torch.linalg.vector_norm(a @ b, dim=0).mean()  # 5 more
    return s + p.amax(1) * (torch.arange(3) ** 2).sum() + (p @ p.mT).trace()  # integer math: torch's own


def test_math_routes_compile_in_one_graph():
    xs = inputs()
    args = [xs["a"], xs["b"], xs["p"]]
    graphs = []
    torch._dynamo.reset()
    compiled = torch.compile(_block, fullgraph=True, backend=lambda gm, _: graphs.append(gm.code) or gm.forward)
    with mg.manual():
        got = compiled(*args)
    want = _block(*args)
    assert len(graphs) == 1 and graphs[0].count("autograd_function_apply(") == 12, graphs[0]
    assert "pow(2)" in graphs[0]  # the integer tensor's (arange ** 2), torch's
    dy = torch.randn(3, dtype=torch.float64)
    torch.testing.assert_close(torch.autograd.grad(got, args, dy), torch.autograd.grad(want, args, dy), **TIGHT)
    torch.testing.assert_close(got, want, **TIGHT)
