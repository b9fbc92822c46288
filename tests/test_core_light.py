"""`import nqpspatial` stays light, and results objects are immutable."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest


def test_import_is_light(tmp_path):
    code = (
        "import sys, nqpspatial\n"
        "heavy = [m for m in ('geopandas', 'esda', 'libpysal', 'spreg', 'nqpspatial.plugins', 'matplotlib',"
        " 'statsmodels') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert out.stdout.strip() == ""


def test_results_are_immutable():
    from nqpspatial.results import Results, Summary

    class R(Results):
        def __init__(self):
            self._set("table", pd.DataFrame({"x": [1, 2]}))
            self._freeze()

        def summary(self):
            return Summary("R", {"n": 2}, {"t": self.table})

    r = R()
    with pytest.raises(AttributeError):
        r.table = None
    t = r.table
    t.loc[0, "x"] = 99
    assert r.table.loc[0, "x"] == 1
    s = r.summary()
    assert "R" in s.as_text() and "<table" in s.as_html() and r"\toprule" in s.as_latex()


def test_sheet_names():
    from nqpspatial.io import excel_sheet_name

    taken = set()
    a = excel_sheet_name("spatial_haken_identification_extra_long", taken)
    taken.add(a)
    b = excel_sheet_name("spatial_haken_identification_extra_long", taken)
    assert len(a) <= 31 and len(b) <= 31 and a != b
    assert excel_sheet_name("a/b:c*?[x]", set()) == "a_b_c___x_"


def test_every_exported_name_resolves_to_the_same_object_twice():
    """A lazy name must not turn into a submodule after first use (``nqpspatial.normalize`` did)."""
    import importlib

    import nqpspatial

    first = {name: getattr(nqpspatial, name) for name in nqpspatial.__all__}
    for mod in (
        "nqpspatial.weighting",
        "nqpspatial.haken",
        "nqpspatial.spatial",
        "nqpspatial.robustness",
        "nqpspatial.plugins.zones",
        "nqpspatial.plugins.spatial_haken",
        "nqpspatial.pipeline",
    ):
        importlib.import_module(mod)
    for name in nqpspatial.__all__:
        again = getattr(nqpspatial, name)
        assert again is first[name], f"nqpspatial.{name} changed from {first[name]!r} to {again!r}"
        assert not isinstance(again, type(nqpspatial)), f"nqpspatial.{name} is a module"
    assert callable(nqpspatial.normalize)


def test_docs_import_no_private_names():
    import re
    from pathlib import Path

    docs = Path(__file__).resolve().parents[1] / "docs"
    bad = []
    for page in docs.glob("*.md"):
        for line in page.read_text(encoding="utf-8").splitlines():
            if re.search(r"(from\s+nqpspatial[\w.]*\s+import\s+.*\b_\w+)|(import\s+nqpspatial[\w.]*\._\w+)", line):
                bad.append(f"{page.name}: {line.strip()}")
    assert not bad, bad
