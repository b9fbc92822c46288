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
    for name in (
        "getting-started.md",
        "input-formats.md",
        "configuration.md",
        "outputs.md",
        "weighting.md",
        "architecture.md",
    ):
        assert (DOCS / name).exists(), name


def _documented_keys(text: str) -> dict[str, set[str]]:
    """Heading table(s) -> the keys of the key tables under it (``| `key`, `key2` | default | meaning |``)."""
    out: dict[str, set[str]] = {}
    current = None
    for line in text.splitlines():
        m = re.match(r"^##+ (.*)$", line)
        if m:
            names = re.findall(r"\[(\w+)\]", m.group(1))
            current = tuple(names) if names else (("",) if "Top-level" in m.group(1) else None)
            continue
        if current and line.startswith("| `"):
            first = line.split("|")[1]
            out.setdefault(current, set()).update(re.findall(r"`(\w+)`", first))
    return out


def test_config_keys_are_the_specs():
    """docs/configuration.md documents every key of every spec, and no key that no spec has."""
    from nqpspatial import registry
    from nqpspatial.config import CORE_SPECS, stage_spec

    specs = dict(CORE_SPECS)
    for name, info in registry.available("analyses").items():
        if getattr(info, "package", None) == "nqpspatial":
            specs[name] = stage_spec(registry.get("analyses", name))
    documented = _documented_keys((DOCS / "configuration.md").read_text(encoding="utf-8"))
    missing, invented = [], []
    for table, spec in specs.items():
        heading = next((h for h in documented if table in h), None)
        keys = set(spec.keys_spec()) | set(spec.deprecated)
        if heading is None:
            missing.append(f"[{table}] (no section)")
            continue
        missing += [f"[{table}] {k}" for k in sorted(keys - documented[heading]) if k != "enabled"]
    for heading, keys in documented.items():
        allowed = set().union(*(set(specs[t].keys_spec()) | set(specs[t].deprecated) for t in heading if t in specs))
        invented += [f"{heading} {k}" for k in sorted(keys - allowed)]
    assert not missing, f"undocumented config keys: {missing}"
    assert not invented, f"documented keys that no spec has: {invented}"


def test_annotated_config_example_is_valid():
    """The annotated example in docs/configuration.md passes the config checks."""
    import tomllib

    from nqpspatial import registry
    from nqpspatial.config import resolve_config

    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    block = re.search(r"^```toml\n(.*?)^```", text, re.S | re.M).group(1)
    raw = tomllib.loads(block)
    from nqpspatial.config import stage_spec

    cfg = resolve_config(raw, {n: stage_spec(a) for n, a in registry.load_all("analyses").items()})
    assert set(cfg["_present"]) >= {"data", "weighting", "haken", "spatial", "zones", "spatial_haken", "run"}
