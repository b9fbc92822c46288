"""`import nqpspatial` stays light, and results objects are immutable."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest


def test_import_is_light(tmp_path):
    code = ("import sys, nqpspatial\n"
            "heavy = [m for m in ('geopandas', 'esda', 'libpysal', 'spreg', 'nqpspatial.plugins', 'matplotlib',"
            " 'statsmodels') if m in sys.modules]\n"
            "print(','.join(heavy))")
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
