"""Packaging: every sub-package and data file of the source tree is installed (a plain `pip install .`)."""

from __future__ import annotations

import configparser
import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _cfg():
    cp = configparser.ConfigParser()
    cp.read(ROOT / "setup.cfg", encoding="utf-8")
    return cp


def _lines(value: str) -> list[str]:
    return [v.strip() for v in value.strip().splitlines() if v.strip()]


def _source_packages():
    roots = {
        "nqpspatial": ROOT / "nqpspatial",
        "nqpspatial.plugins": ROOT / "plugins",
        "nqpspatial.geodata": ROOT / "geodata",
    }
    found = {}
    for name, path in roots.items():
        for init in path.rglob("__init__.py"):
            rel = init.parent.relative_to(path)
            if any(part in ("scripts", "build", "__pycache__") for part in rel.parts):
                continue
            if name == "nqpspatial" and rel.parts[:1] in (("plugins",), ("geodata",)):
                continue
            found[".".join([name, *rel.parts])] = init.parent
    return found


def test_every_subpackage_is_listed():
    listed = set(_lines(_cfg()["options"]["packages"]))
    assert set(_source_packages()) <= listed, set(_source_packages()) - listed


def test_every_data_file_is_shipped():
    cfg = _cfg()
    patterns = {k.strip(): [p.strip() for p in v.split(",")] for k, v in cfg["options.package_data"].items()}
    missing = []
    for pkg, path in _source_packages().items():
        for f in path.rglob("*"):
            if f.is_dir() or f.suffix in (".py", ".pyc") or "__pycache__" in f.parts:
                continue
            rel = f.relative_to(path).as_posix()
            if rel.split("/")[0] in ("scripts", "build") or f.name in ("README.md",):
                continue
            if any(
                sub.is_relative_to(path) and sub != path and f.is_relative_to(sub)
                for sub in _source_packages().values()
            ):
                continue
            if not any(fnmatch.fnmatch(rel, p) for p in patterns.get(pkg, [])):
                missing.append(f"{pkg}: {rel}")
    assert not missing, missing


def test_pyproject_holds_the_build_system_and_tool_settings():
    """Metadata, dependencies and entry points live in setup.cfg; pyproject.toml holds the build system and
    tool settings (ruff, pytest)."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert set(data) == {"build-system", "tool"}
    assert {"ruff", "pytest"} <= set(data["tool"])


def test_setup_cfg_keys_are_lower_snake_case():
    cfg = _cfg()
    for section in cfg.sections():
        if section.startswith("options.entry_points") or section == "options.package_data":
            continue
        for key in cfg[section]:
            assert "-" not in key and key == key.lower(), f"[{section}] {key}"


def test_everything_installs_under_the_nqpspatial_namespace():
    """plugins/ and geodata/ install as nqpspatial.plugins and nqpspatial.geodata, never top-level."""
    cfg = _cfg()
    listed = _lines(cfg["options"]["packages"])
    assert [p for p in listed if p != "nqpspatial" and not p.startswith("nqpspatial.")] == []
    dirs = dict(line.split("=") for line in _lines(cfg["options"]["package_dir"]))
    assert {k.strip(): v.strip() for k, v in dirs.items()} == {
        "nqpspatial": "nqpspatial",
        "nqpspatial.plugins": "plugins",
        "nqpspatial.geodata": "geodata",
    }
