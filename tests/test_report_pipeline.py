"""Report and workbook on a real pipeline run of the bundled demo study."""

from __future__ import annotations

import contextlib
import json
import math

import pytest

import nqpspatial
from nqpspatial import registry
from nqpspatial.config import load_config
from nqpspatial.pipeline import default_config_path


@contextlib.contextmanager
def report_registered():
    """Register the report stage in-process when its entry point is not installed yet."""
    if "report" in registry.names("analyses"):
        yield
        return
    from nqpspatial.report.stage import report_stage

    with registry.registered("analyses", "report", report_stage):
        yield


def demo_config(**tables) -> tuple[dict, object]:
    raw, base = load_config(default_config_path())
    raw = {**raw, **tables}
    raw.setdefault("haken", {})
    raw["haken"] = {**raw["haken"], "bootstrap": 99}
    return raw, base


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """The demo with the zone and spatial Haken stages (lightened for test time)."""
    raw, base = demo_config(zones={"analyses": ["summary", "dagum", "markov", "density"]},
                            spatial_haken={"models": ["slx"]}, spatial={"weights": ["queen"], "permutations": 99})
    out = tmp_path_factory.mktemp("demo")
    with report_registered():
        run = nqpspatial.run(raw, base_dir=base, out=out, force=True, quiet=True)
    return run, out


def _cell_equal(csv_text: str, xl) -> bool:
    """A CSV cell (raw text) and an Excel cell (openpyxl value) hold the same value."""
    if csv_text == "":
        return xl is None or xl == ""
    if isinstance(xl, bool):
        return csv_text == str(xl)
    if isinstance(xl, (int, float)):
        try:
            v = float(csv_text)
        except ValueError:
            return False
        return v == float(xl) or math.isclose(v, float(xl), rel_tol=1e-15, abs_tol=0.0)
    return csv_text == ("" if xl is None else str(xl))


def test_workbook_holds_the_csv_values(demo_run):
    openpyxl = pytest.importorskip("openpyxl")
    from nqpspatial.io import read_output_table

    run, out = demo_run
    info = json.loads((out / "run.json").read_text(encoding="utf-8"))
    sheets = info["workbook"]["sheets"]
    csvs = sorted(p.stem for p in (out / "tables").glob("*.csv"))
    assert csvs == sorted(set(sheets) | set(info["workbook"]["left_out"]))
    wb = openpyxl.load_workbook(out / "tables.xlsx", read_only=True)
    assert set(wb.sheetnames) == set(sheets.values())
    for name, sheet in sheets.items():
        # the CSV writes formula-like text with a leading apostrophe (docs/outputs.md); the workbook holds the text
        csv = read_output_table(out / "tables" / f"{name}.csv", dtype=str).fillna("")
        rows = list(wb[sheet].iter_rows(values_only=True))
        assert [str(c) for c in rows[0]] == list(csv.columns), name
        body = rows[1:]
        assert len(body) == len(csv), name
        for i, (crow, xrow) in enumerate(zip(csv.itertuples(index=False), body)):
            xrow = list(xrow) + [None] * (len(crow) - len(xrow))
            for col, c, x in zip(csv.columns, crow, xrow):
                assert _cell_equal(c, x), f"{name}: row {i + 1}, column {col}: CSV {c!r} vs Excel {x!r}"
    wb.close()


def test_demo_report_shows_every_section_with_data(demo_run):
    run, out = demo_run
    stage = next(s for s in run.info["stages"] if s["name"] == "report")
    assert stage["status"] == "ok", stage
    info = stage["info"]
    expected = {"map", "data", "weights", "haken", "coevolution", "stages", "spatial", "spatial_haken", "zones"}
    assert expected <= set(info["sections"])
    has_robustness = any(t.startswith(("robustness", "sensitivity_")) for t in run.tables)
    assert ("robustness" in info["sections"]) == has_robustness
    assert info["synthetic_banner"] is True
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "class='banner'" in page
    assert page.count("<path data-i=") == 31
    for f in ("map_h", "map_grade", "potential", "trajectories", "lisa_nqp", "dagum_h", "markov_classic_h"):
        assert (out / "figures" / f"{f}.png").exists() and (out / "figures" / f"{f}.svg").exists(), f
    assert (out / "latex" / "haken_estimates.tex").exists()
    assert (out / "latex" / "spatial_haken_estimates.tex").exists()
    # issue 14: the report names the spatial reading and shows that reading's rows
    assert "Reading of the spatial dynamics: system" in page
    assert (out / "latex" / "spatial_haken_potential.tex").exists()
    assert (out / "latex" / "haken_marginal_effects.tex").exists()
    # the map years default to the first year, the sup-F turning year and the last year
    turning = run.info["stages"][[s["name"] for s in run.info["stages"]].index("haken")]["info"].get("turning_point")
    periods = sorted(run.table("coevolution")["year"].unique())
    assert info["map_years"] == sorted({periods[0], periods[-1], *([turning] if turning in periods[1:-1] else [])})


def test_no_report_skips_figures_and_html(tmp_path):
    raw, base = demo_config(spatial={"enabled": False})
    with report_registered():
        run = nqpspatial.run(raw, base_dir=base, out=tmp_path, quiet=True, report=False)
    stage = next(s for s in run.info["stages"] if s["name"] == "report")
    assert stage["status"] == "skipped"
    assert not (tmp_path / "report.html").exists() and not (tmp_path / "figures").exists()
    assert (tmp_path / "tables.xlsx").exists()
