"""The public surface mirrors torch's, and every backward is ours."""

import ast
import inspect
import pathlib

import pytest
import torch
import torch.nn.functional as F

import manualgrad.functional as MF
import manualgrad.nn as mnn
from manualgrad import ops

FUNCTIONS_DIR = pathlib.Path(MF.__file__).parent.parent / "functions"


# Names torch has (on the installed version) must be its twins; the others must be declared
# EXTENSIONS (manualgrad's own, or ops only a newer torch has, such as linear_cross_entropy in 2.13).
TORCH_NAMES = [n for n in MF.__all__ if hasattr(F, n)]
TORCH_MODULES = [n for n in mnn.__all__ if hasattr(torch.nn, n)]


@pytest.mark.parametrize("name", TORCH_NAMES)
def test_functional_signature_is_torchs(name):
    ours, theirs = getattr(MF, name), getattr(F, name)
    try:
        want = inspect.signature(theirs)
    except ValueError:  # a C builtin: compare parameter names with its documented signature
        doc = theirs.__doc__.strip()  # the documented signature may wrap over lines
        want_names = [p.split("=")[0].strip() for p in doc[doc.index("(") + 1:doc.index(")")].split(",")]
        assert list(inspect.signature(ours).parameters) == want_names
        return
    got = inspect.signature(ours)
    assert list(got.parameters) == list(want.parameters)
    for p, q in zip(got.parameters.values(), want.parameters.values()):
        assert (p.kind, p.default) == (q.kind, q.default), p.name


@pytest.mark.parametrize("name", MF.__all__)
def test_every_functional_op_is_in_the_op_table(name):
    assert name in ops.OPS_BY_NAME


# torch modules whose forward only checks the input and calls one method doing the math: ours
# keeps torch's forward (its checks, warnings, unbatched handling) and overrides that method
MATH_METHOD = {f"InstanceNorm{n}d": "_apply_instance_norm" for n in (1, 2, 3)}


@pytest.mark.parametrize("name", TORCH_MODULES)
def test_every_module_is_its_torch_twin(name):
    cls = getattr(mnn, name)
    twin = getattr(torch.nn, name)
    assert issubclass(cls, twin) and inspect.signature(cls.__init__) == inspect.signature(twin.__init__)
    if name in mnn.TORCH_FORWARD:  # torch's forward; its submodules made ours, the layers' _ff_block ours
        assert cls.forward is twin.forward and "__init__" in vars(cls)
        assert ("_ff_block" in vars(cls)) == hasattr(twin, "_ff_block")
    else:
        method = MATH_METHOD.get(name, "forward")
        assert getattr(cls, method) is not getattr(twin, method)


def test_names_torch_lacks_are_declared_extensions():
    assert set(MF.__all__) - set(TORCH_NAMES) <= set(MF.EXTENSIONS) <= set(MF.__all__)
    assert set(mnn.__all__) - set(TORCH_MODULES) <= set(mnn.EXTENSIONS) <= set(mnn.__all__)
    for name in mnn.EXTENSIONS:
        assert issubclass(getattr(mnn, name), torch.nn.Module)


FORBIDDEN = {"autograd", "backward", "vjp", "jvp", "jacrev", "jacfwd", "vmap", "func"}


@pytest.mark.parametrize("path", sorted(FUNCTIONS_DIR.glob("*.py")), ids=lambda p: p.name)
def test_no_backward_calls_torch_autograd(path):
    """Inside every backward/jvp: no torch.autograd.*, no .backward(), no torch.func, no aten
    *_backward op."""
    tree = ast.parse(path.read_text())
    for fn in ast.walk(tree):
        if not (isinstance(fn, ast.FunctionDef) and fn.name in ("backward", "jvp")):
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.Attribute):
                name = node.attr
                assert name not in FORBIDDEN, f"{path.name}:{node.lineno}: backward uses .{name}"
                assert not name.endswith("_backward"), f"{path.name}:{node.lineno}: aten {name}"
