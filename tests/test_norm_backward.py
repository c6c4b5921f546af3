"""The normalisations' backward: each saves no more than torch's (batch_norm in eval no activation,
local_response_norm only its input), the first-order (grad mode off) backward equals the recorded
one and torch's, and at an infinite weight dx is the limit."""

import pytest
import torch

import manualgrad.functional as MF
from conftest import saved_bytes

F = torch.nn.functional


def test_batchnorm_eval_input_gradient_saves_no_activation():
    """y is affine in x in eval mode: dx = dy ⊙ w ⊙ rstd needs w and rstd only (not x)."""
    x = torch.randn(8, 4, 5, requires_grad=True)
    w = torch.randn(4)
    nbytes, count, _ = saved_bytes(lambda: MF.batch_norm(x, torch.zeros(4), torch.ones(4), w, training=False))
    assert count == 3 and nbytes == 3 * 4 * 4  # w, μ, rstd: 4 channels each


# op → (call, input shape, weight shape); batch_norm gets fresh running stats (it updates them)
CASES = {
    "batch_norm train": (lambda f, x, w, b: f.batch_norm(x, torch.zeros(16), torch.ones(16), w, b, True),
                         (8, 16, 4, 4), (16,)),
    "batch_norm eval": (lambda f, x, w, b: f.batch_norm(x, torch.zeros(16), torch.ones(16), w, b, False),
                        (8, 16, 4, 4), (16,)),
    "group_norm": (lambda f, x, w, b: f.group_norm(x, 4, w, b), (8, 16, 4, 4), (16,)),
    "layer_norm": (lambda f, x, w, b: f.layer_norm(x, (256,), w, b), (8, 256), (256,)),
    "rms_norm": (lambda f, x, w, b: f.rms_norm(x, (256,), w), (8, 256), (256,)),
}


@pytest.mark.parametrize("case", CASES)
def test_saves_no_more_than_torch(case):
    """Bytes saved for backward, x (8 KiB) and w, b requiring grad: ours vs torch's
    batch_norm train 8384 vs 8512 (no running stats), eval 8384 vs 8384, group_norm 8512 vs 8512,
    layer_norm 9280 vs 10304 (no bias), rms_norm 9248 vs 25664 (torch's composite keeps x², ...)."""
    call, shape, wshape = CASES[case]
    x = torch.randn(shape, requires_grad=True)
    w, b = torch.randn(wshape, requires_grad=True), torch.randn(wshape, requires_grad=True)
    ours, _, y = saved_bytes(lambda: call(MF, x, w, b))
    theirs, _, z = saved_bytes(lambda: call(F, x, w, b))
    torch.testing.assert_close(y, z)
    assert ours <= theirs


def test_local_response_norm_saves_only_its_input():
    x = torch.randn(2, 8, 6, 6, requires_grad=True)
    ours, count, _ = saved_bytes(lambda: MF.local_response_norm(x, 5))
    theirs, _, _ = saved_bytes(lambda: F.local_response_norm(x, 5))
    assert count == 1 and ours == x.numel() * 4 < theirs


LEAN = [  # (op, input shape, extra args, weight shape or None, bias?)
    ("layer_norm", (4, 3, 6), ((6,),), (6,), True), ("layer_norm", (5, 2, 3), ((2, 3),), None, False),
    ("group_norm", (3, 4, 5), (2,), (4,), True), ("group_norm", (2, 6, 2, 2), (3,), None, False),
    ("rms_norm", (4, 7), ((7,),), (7,), False),
]


@pytest.mark.parametrize("op,shape,args,w_shape,bias", LEAN, ids=[f"{c[0]}-{c[1]}" for c in LEAN])
@pytest.mark.parametrize("wants", ["all", "x", "params"])
def test_first_order_backward_equals_the_recorded_one_and_torch(op, shape, args, w_shape, bias, wants):
    """A first-order backward (grad mode off) builds x̂ in one buffer that becomes dx; it must give
    the recorded backward's gradients (create_graph) and torch's, whichever inputs need them."""
    torch.manual_seed(0)
    x = torch.randn(shape, dtype=torch.float64) * 2 + 1
    w = None if w_shape is None else torch.randn(w_shape, dtype=torch.float64)
    b = torch.randn(w_shape, dtype=torch.float64) if bias else None
    params = [t for t in (w, b) if t is not None]
    leaves = {"all": [x, *params], "x": [x], "params": params}[wants]
    if not leaves:
        pytest.skip("nothing to differentiate")
    for t in leaves:
        t.requires_grad_()
    kw = {"weight": w} if op == "rms_norm" else {"weight": w, "bias": b}
    dy = torch.randn(shape, dtype=torch.float64)
    lean = torch.autograd.grad(getattr(MF, op)(x, *args, **kw), leaves, dy)
    recorded = torch.autograd.grad(getattr(MF, op)(x, *args, **kw), leaves, dy, create_graph=True)
    theirs = torch.autograd.grad(getattr(F, op)(x, *args, **kw), leaves, dy)
    for a, r, t in zip(lean, recorded, theirs):
        torch.testing.assert_close(a, r, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(a, t, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64], ids=str)
def test_batch_norm_training_dx_at_an_infinite_weight_is_the_limit(dtype):
    """w is constant over a channel, so dx = w·rstd·(dy − mean dy − x̂·mean(dy ⊙ x̂)) takes w out of
    the bracket: at w = ±inf, ±inf with the bracket's sign (torch's and float64's answer, the limit
    w → ±∞); ours multiplied each term by w first and got inf − inf = NaN. Found by the fuzzer's
    long profile."""
    import torch.nn.functional as F
    gen = torch.Generator().manual_seed(0)
    x, dy = (torch.randn(2, 3, 4, generator=gen).to(dtype) for _ in range(2))
    w = torch.tensor([float("inf"), -2.0, float("-inf")], dtype=dtype)
    grads = []
    for fn, dt in ((MF.batch_norm, dtype), (F.batch_norm, torch.float64)):
        xl = x.to(dt).requires_grad_()
        grads.append(torch.autograd.grad(fn(xl, None, None, w.to(dt), training=True), xl, dy.to(dt))[0])
    ours, want = grads
    assert bool(want[:, [0, 2]].isinf().all())
    assert torch.equal(ours[:, [0, 2]].double(), want[:, [0, 2]])
    torch.testing.assert_close(ours[:, 1].double(), want[:, 1], rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("create_graph", [False, True])
def test_group_norm_dx_at_an_infinite_weight_is_the_limit_with_one_channel_per_group(dtype, create_graph):
    """One channel per group: w is one value per statistic and comes out of the bracket, so at
    w = ±inf dx is ±inf with the sign of the limit w → ±∞ (torch's float64 dx at w = ±1e200),
    where ĝ = dy ⊙ w met its own infinite terms as NaN (torch's is NaN). Both backward paths
    (first order in place, and recorded)."""
    import torch.nn.functional as F
    gen = torch.Generator().manual_seed(0)
    x, dy = (torch.randn(2, 2, 5, generator=gen).to(dtype) for _ in range(2))
    w = torch.tensor([float("inf"), float("-inf")], dtype=dtype)
    xl = x.clone().requires_grad_()
    (ours,) = torch.autograd.grad(MF.group_norm(xl, 2, w), xl, dy, create_graph=create_graph)
    xd = x.double().requires_grad_()
    (limit,) = torch.autograd.grad(F.group_norm(xd, 2, torch.tensor([1e200, -1e200], dtype=torch.float64)), xd,
                                   dy.double())
    assert bool((limit.abs() > 1e100).all()) and bool(ours.isinf().all())
    assert torch.equal(ours.double().sign(), limit.sign())
