"""The complexity limits of the ruff configuration and their listed exceptions.

pyproject.toml lists the functions allowed to exceed ruff's C901 (complexity
15) and PLR0915 (60 statements) limits, each with its reason, in
``[tool.nqpspatial.complexity-exceptions]``; their files are exempted in
``[tool.ruff.lint.per-file-ignores]``.  Because a per-file exemption would
also hide a new complex function in the same file, this test runs ruff
without the exemptions and requires that it flags exactly the listed
functions.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _ruff() -> list[str]:
    exe = shutil.which("ruff")
    if exe:
        return [exe]
    try:
        import ruff  # noqa: F401
    except ImportError:
        pytest.skip("ruff is not installed (pip install '.[test]')")
    return [sys.executable, "-m", "ruff"]


def _function_at(path: Path, row: int) -> str:
    line = path.read_text(encoding="utf-8").splitlines()[row - 1]
    m = re.match(r"\s*(?:async\s+)?def\s+(\w+)", line)
    assert m, f"{path}:{row} is not a def: {line!r}"
    return m.group(1)


def test_only_the_listed_functions_exceed_the_limits():
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = conf["tool"]["nqpspatial"]["complexity-exceptions"]
    assert all(len(reason) > 20 for reason in listed.values()), "each exception needs its reason"
    ignores = conf["tool"]["ruff"]["lint"]["per-file-ignores"]
    exempt = {k for k in ignores if not k.startswith("tests/")}
    assert exempt == {k.split(":")[0] for k in listed}, "per-file-ignores must name exactly the listed files"
    proc = subprocess.run(
        [
            *_ruff(),
            "check",
            "--no-cache",
            "--select",
            "C901,PLR0915",
            "--output-format",
            "json",
            "--config",
            "lint.per-file-ignores = {}",
            "nqpspatial",
            "plugins",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    found = {}
    for item in json.loads(proc.stdout or "[]"):
        path = Path(item["filename"])
        rel = path.relative_to(ROOT).as_posix()
        found[f"{rel}:{_function_at(path, item['location']['row'])}"] = item["code"]
    assert set(found) == set(listed), (
        f"not listed: {sorted(set(found) - set(listed))}; listed but within the limits (remove them): "
        f"{sorted(set(listed) - set(found))}"
    )
