"""Run every ```python block of docs/*.md (one namespace per file, in order, in a temp folder)."""

from __future__ import annotations

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


def test_every_config_key_is_documented():
    """Each core and first-party plugin table and key appears in docs/configuration.md."""
    from nqpspatial import registry
    from nqpspatial.config import CORE_SCHEMA

    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    tables = {k: v for k, v in CORE_SCHEMA.items() if k}
    for name, info in registry.available("analyses").items():
        if getattr(info, "package", None) == "nqpspatial":
            tables[name] = dict(registry.get("analyses", name).config_keys)
    missing = []
    for table, keys in tables.items():
        if f"[{table}]" not in text:
            missing.append(f"[{table}]")
        missing += [f"[{table}] {k}" for k in keys if f"`{k}`" not in text and f"\n{k} =" not in text]
    for key in CORE_SCHEMA[""]:
        if f"`{key}`" not in text:
            missing.append(key)
    assert not missing, f"undocumented config keys: {missing}"


def test_annotated_config_example_is_valid():
    """The annotated example in docs/configuration.md passes the config checks."""
    import tomllib

    from nqpspatial import registry
    from nqpspatial.config import resolve_config

    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    block = re.search(r"^```toml\n(.*?)^```", text, re.S | re.M).group(1)
    raw = tomllib.loads(block)
    keys = {n: dict(a.config_keys) for n, a in registry.load_all("analyses").items()}
    cfg = resolve_config(raw, keys)
    assert set(cfg["_present"]) >= {"data", "weighting", "haken", "spatial", "zones", "spatial_haken", "run"}
