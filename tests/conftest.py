import pytest
import torch

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]


def pytest_collection_modifyitems(config, items):
    """``@pytest.mark.cuda`` tests skip cleanly where no GPU is present."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def saved_bytes(fn):
    """Bytes of every tensor autograd saves while ``fn()`` runs, and the result."""
    sizes = []

    def pack(t):
        sizes.append(t.untyped_storage().nbytes() if t.numel() else 0)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return sum(sizes), len(sizes), out


def assert_module_matches(ours, theirs, x, dy):
    """Output and the gradients of x and every parameter, for one upstream ``dy``, equal."""
    a, b = ours(x), theirs(x)
    torch.testing.assert_close(a, b)
    ga = torch.autograd.grad(a, [x, *ours.parameters()], dy)
    gb = torch.autograd.grad(b, [x, *theirs.parameters()], dy)
    for g, h in zip(ga, gb):
        torch.testing.assert_close(g, h)
