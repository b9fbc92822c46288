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
    raw, base = demo_config(
        zones={"analyses": ["summary", "dagum", "markov", "density"]},
        spatial_haken={"models": ["slx"]},
        spatial={"weights": ["queen"], "permutations": 99},
    )
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
        csv = read_output_table(out / "tables" / f"{name}.csv", dtype=str).astype(object).fillna("")
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
    # a section two stages share (sensitivity and robustness) is built once: no second copy of its figures
    assert not [p.name for p in (out / "figures").glob("*_2.*")]


def test_no_report_skips_figures_and_html(tmp_path):
    raw, base = demo_config(spatial={"enabled": False})
    with report_registered():
        run = nqpspatial.run(raw, base_dir=base, out=tmp_path, quiet=True, report=False)
    stage = next(s for s in run.info["stages"] if s["name"] == "report")
    assert stage["status"] == "skipped"
    assert not (tmp_path / "report.html").exists() and not (tmp_path / "figures").exists()
    assert (tmp_path / "tables.xlsx").exists()


def test_demo_report_docx_holds_the_findings_and_the_haken_estimates(demo_run):
    docx = pytest.importorskip("docx")
    run, out = demo_run
    assert (out / "report.docx").exists()  # written by default ([report] docx = true)
    doc = docx.Document(out / "report.docx")
    texts = [p.text for p in doc.paragraphs]
    ident = run.table("haken_identification")
    q1, q2 = ident.loc[ident["chosen"].astype(bool), ["q1", "q2"]].iloc[0]
    assert "Findings" in texts
    assert any(t.startswith(f"{q1} is the order parameter and {q2} the servo variable") for t in texts)
    assert any(t.startswith("Warning: ") for t in texts)  # the demo's residuals are spatially autocorrelated
    assert "Table 1. Haken model estimates: aspatial and spatial models" in texts
    # table 1: the Haken estimates of the aspatial model (column 1) and SLX (column 2), esttab style; the
    # model that model_selection prefers is fitted too (issue 15) and has its column
    ms = run.table("model_selection")
    pref = ms[(ms["scope"] == "system") & (ms["q1"] == q1) & (ms["q2"] == q2)]["preferred"].iloc[0]
    table = doc.tables[0]
    cells = [[c.text for c in row.cells] for row in table.rows]
    assert cells[1][1:3] == ["Aspatial", "SLX (queen)"] and f"{pref.upper()} (queen)" in cells[1]
    est = run.table("haken_estimates").set_index("term")
    g1 = next(r for r in cells if r[0] == "γ₁")
    assert g1[1].startswith(f"{est.at['gamma1', 'estimate']:.4f}".replace("-", "−"))
    se = cells[cells.index(g1) + 1]
    assert se[1] == f"({est.at['gamma1', 'std_err']:.4f})"
    assert any(r[0] == "N" and r[1] == str(int(ident["n_obs"].iloc[0])) for r in cells)
    assert len(doc.inline_shapes) >= 4  # the main figures
    info = next(s for s in run.info["stages"] if s["name"] == "report")["info"]
    assert info["docx"]["file"] == "report.docx" and info["docx"]["tables"][0] == "haken_regression"
    assert info["sections"][0] == "findings"


def test_demo_latex_tables_compile_with_pdflatex(demo_run, tmp_path):
    import shutil
    import subprocess

    exe = shutil.which("pdflatex")
    if exe is None:
        pytest.skip(
            "pdflatex not found: apt-get install texlive-latex-base texlive-latex-recommended "
            "(booktabs; .ci/run installs them)"
        )
    _, out = demo_run
    work = tmp_path / "tex"
    shutil.copytree(out / "latex", work)
    assert (work / "haken_regression.tex").exists()
    (work / "main.tex").write_text(
        "\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n\\input{tables}\n\\end{document}\n",
        encoding="utf-8",
    )
    res = subprocess.run(
        [exe, "-interaction=nonstopmode", "-halt-on-error", "main.tex"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stdout[-3000:]
    assert (work / "main.pdf").stat().st_size > 10_000
    log = (work / "main.log").read_text(encoding="latin-1")
    assert "Missing character" not in log and "! " not in log
