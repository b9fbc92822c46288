"""Run every ```python block of docs/*.md (one namespace per file, in order, in a temp folder)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
_BLOCK = re.compile(r"^```python[^\n]*\n(.*?)^```", re.S | re.M)


def _doc_files():
    return sorted(p for p in DOCS.glob("*.md") if _BLOCK.search(p.read_text(encoding="utf-8")))


@pytest.mark.parametrize("doc", _doc_files(), ids=lambda p: p.name)
def test_doc_examples_run(doc, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"docs_{doc.stem}"}
    for i, match in enumerate(_BLOCK.finditer(doc.read_text(encoding="utf-8"))):
        code = compile(match.group(1), f"{doc.name}[block {i + 1}]", "exec")
        exec(code, namespace)  # noqa: S102 - documentation examples are ours


def test_docs_exist():
    for name in ("getting-started.md", "input-formats.md", "configuration.md", "outputs.md", "weighting.md",
                 "architecture.md"):
        assert (DOCS / name).exists(), name
