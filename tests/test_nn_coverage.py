"""Every ``torch.nn`` module class has a twin in ``manualgrad.nn`` (a subclass of it with the same
name, exported), apart from the documented list ``manualgrad.nn._untwinned.UNTWINNED``: the
classes of the next torch release show up here as failing cases, one per class."""

import pathlib

import pytest
import torch

import manualgrad as mg
import manualgrad.nn as MN
from manualgrad.nn._untwinned import UNTWINNED, render

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs" / "ops.md"
# twins written on another branch (zoo13); xfail only while this tree lacks them
_ELSEWHERE = {"Transformer", "TransformerEncoder", "TransformerEncoderLayer", "TransformerDecoder",
              "TransformerDecoderLayer"}


def torch_module_classes() -> dict[str, type]:
    return {n: c for n in dir(torch.nn) if isinstance(c := getattr(torch.nn, n), type)
            and issubclass(c, torch.nn.Module)}


def _cases():
    for name in sorted(torch_module_classes()):
        marks = ()
        if name in _ELSEWHERE and name not in MN.__all__:
            marks = pytest.mark.xfail(strict=True, reason="twins on branch zoo13")
        yield pytest.param(name, id=name, marks=marks)


@pytest.mark.parametrize("name", list(_cases()))
def test_every_torch_nn_module_has_a_twin_or_a_documented_reason(name):
    theirs = torch_module_classes()[name]
    if name in UNTWINNED:
        assert name not in MN.__all__, f"{name} has a twin now: drop it from UNTWINNED"
        return
    assert name in MN.__all__, f"torch.nn.{name} has no manualgrad twin (build one, or list it in UNTWINNED with why)"
    ours = getattr(MN, name)
    assert isinstance(ours, type) and issubclass(ours, theirs) and ours.__name__ == name


@pytest.mark.parametrize("name", sorted(UNTWINNED))
def test_every_untwinned_name_is_still_in_torch_nn(name):
    assert name in torch_module_classes(), f"torch.nn.{name} is gone: drop it from UNTWINNED"


def test_the_untwinned_table_in_the_docs_is_the_list():
    assert render() in DOCS.read_text(), "docs/ops.md's table differs from UNTWINNED: paste render()'s output"


def test_a_lazy_module_is_skipped_by_swap_until_its_first_forward_then_swapped():
    model = torch.nn.Sequential(torch.nn.LazyLinear(3), torch.nn.LazyBatchNorm1d())
    report = mg.swap(model)
    assert {e.path for e in report.skipped} == {"0", "1"} and "lazy module" in report.skipped[0].reason
    model(torch.randn(4, 2))  # the first forward: LazyLinear -> Linear, LazyBatchNorm1d -> BatchNorm1d
    assert [type(m) for m in model] == [torch.nn.Linear, torch.nn.BatchNorm1d]
    assert [e.path for e in mg.swap(model).swapped] == ["0", "1"]
    assert [type(m) for m in model] == [MN.Linear, MN.BatchNorm1d]
