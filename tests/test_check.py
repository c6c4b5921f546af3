"""manualgrad.check: a user's own Function checked against torch in one call."""

import copy
import re

import torch
import torch.nn.functional as F

import manualgrad as mg
import manualgrad.functional as MF


class TransposedBug(torch.autograd.Function):
    """y = x wᵀ with a wrong weight gradient (transposed product, as a hand derivation might)."""

    @staticmethod
    def forward(x, w):
        return x @ w.t()

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx, dy):
        x, w = ctx.saved_tensors
        return dy @ w, (x.t() @ dy).t().flip(0)  # right shape, wrong values


def test_check_passes_a_correct_op():
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    w = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    result = mg.check(MF.linear, F.linear, x, w)
    assert result.ok and bool(result)
    assert len(result.grads) == 2 and result.grad_fn == "LinearFunctionBackward"
    assert "PASS" in str(result)


def test_check_catches_a_wrong_gradient_and_names_it():
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    w = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    result = mg.check(TransposedBug.apply, F.linear, x, w)
    assert not result.ok
    (lx, dx), (lw, dw) = result.grads
    assert dx.ok and not dw.ok and dw.max_abs > 1e-3
    assert "FAIL" in str(result) and "grad arg1" in str(result)


def test_check_catches_a_wrong_forward_and_shape():
    x = torch.randn(4, 3, requires_grad=True)
    assert not mg.check(lambda t: t * 2, lambda t: t * 3, x).ok
    bad = mg.check(lambda t: t.sum(0), lambda t: t.sum(1), x)
    assert not bad.ok and "shape" in bad.forward.why


def test_check_uses_keyword_tensors_and_the_same_seed_for_random_ops():
    x = torch.randn(50, requires_grad=True)
    assert mg.check(MF.dropout, lambda input, p: F.dropout(input, p), x, p=0.5).ok


class BuggyLinear(torch.nn.Linear):
    def forward(self, x):
        return TransposedBug.apply(x, self.weight) + self.bias


def test_check_compares_parameter_gradients_of_two_modules():
    ref = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Tanh()).double()
    ours = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Tanh()).double()
    ours.load_state_dict(ref.state_dict())
    mg.swap(ours)
    x = torch.randn(4, 3, dtype=torch.float64)
    result = mg.check(ours, ref, x)
    assert result.ok and [label for label, _ in result.grads] == ["param 0.weight", "param 0.bias"]
    bad = BuggyLinear(3, 3).double()
    bad.load_state_dict(ref[0].state_dict())
    result = mg.check(bad, ref[0], x)
    assert not result.ok and "FAIL grad param weight" in " ".join(str(result).split())
    assert dict(result.grads)["param bias"].ok


def test_check_refuses_modules_with_different_parameters():
    import pytest
    with pytest.raises(ValueError, match="different parameters"):
        mg.check(torch.nn.Linear(3, 3), torch.nn.Linear(3, 3, bias=False), torch.randn(2, 3))


def test_check_table_shows_each_error_against_its_scale_in_aligned_columns():
    """A gradient ≈ 0 next to the others (a bias before BatchNorm) has a large error against its
    own scale: the table says it is rounding noise instead of a bare 'ok' beside it."""
    ref = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2)).double()
    ours = copy.deepcopy(ref)
    mg.swap(ours)
    result = mg.check(ours, ref, torch.randn(8, 3, dtype=torch.float64))
    lines = str(result).splitlines()
    assert result.ok and lines[1].split() == ["max", "abs", "err", "max", "|ref|", "err/max"]
    bias = next(line for line in lines if "param 0.bias" in line)
    assert "rounding noise" in bias and "rounding noise" not in next(line for line in lines if "param 2.bias" in line)
    ends = {tuple(m.end() for m in re.finditer(r"\d\.\d\de[+-]\d\d", line)) for line in lines[2:]}
    assert len(ends) == 1 and len(next(iter(ends))) == 3  # three number columns, aligned in every row
