"""Every ```python snippet of README.md and docs/*.md runs as written.

A file's snippets run in order in one namespace (a reader types them one after the other), in a
temporary working folder. A snippet right after a marker line is only compiled, not run:
``<!-- snippet: fragment -->`` (it uses names the reader brings: a model, a loader, a Function)
and ``<!-- snippet: gpu -->`` (run only where CUDA is available). Keep the runnable ones fast.
"""

import pathlib
import re
import textwrap

import pytest
import torch

ROOT = pathlib.Path(__file__).resolve().parent.parent
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^(?P<indent>[ \t]*)```python\n(?P<code>.*?)^(?P=indent)```", re.S | re.M)
MARKER = re.compile(r"<!--\s*snippet:\s*(\w+)\s*-->\s*$")
KINDS = ("fragment", "gpu")


def snippets(path: pathlib.Path):
    """(line, kind, code) of each python snippet; kind: 'run', 'fragment' or 'gpu'."""
    text = path.read_text()
    for m in FENCE.finditer(text):
        before = text[:m.start()].rstrip("\n ").rsplit("\n", 1)[-1]
        marker = MARKER.search(before)
        kind = marker.group(1) if marker else "run"
        assert kind in ("run", *KINDS), f"{path.name}: unknown snippet marker {kind!r} (one of {KINDS})"
        yield text[:m.start()].count("\n") + 1, kind, textwrap.dedent(m.group("code"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_snippets_run_as_written(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__snippet__"}
    for line, kind, code in snippets(path):
        compiled = compile(code, f"{path.name}:{line}", "exec")
        if kind == "fragment" or (kind == "gpu" and not torch.cuda.is_available()):
            continue
        torch.manual_seed(0)
        exec(compiled, namespace)  # noqa: S102 - the documentation's own code


def test_the_readme_and_training_guide_have_runnable_snippets():
    """The marker is for the exceptions: the README's quick start and the Trainer example run."""
    for name in ("README.md", "training.md"):
        path = next(p for p in FILES if p.name == name)
        assert any(kind == "run" for _, kind, _ in snippets(path)), name
