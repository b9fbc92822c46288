"""Every validation case of the foundation issue: message content and exit code of `nqpspatial run`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import small_panel


def _err(run_cli, study):
    code, out, err = run_cli("run", study.config, "--out", study.out, "--quiet")
    assert "Traceback" not in err
    return code, err


def test_missing_panel_file(study, run_cli):
    study.write()
    (study.root / "panel.csv").unlink()
    code, err = _err(run_cli, study)
    assert code == 2
    assert "panel.csv" in err and "does not exist" in err


def test_unreadable_panel_file(study, run_cli):
    study.write(panel_name="panel.xlsx")
    (study.root / "panel.xlsx").write_bytes(b"this is not a zip file")
    code, err = _err(run_cli, study)
    assert code == 2
    assert "panel.xlsx" in err and "named .xlsx but is a text file" in err


def test_missing_config_file(tmp_path, run_cli):
    code, out, err = run_cli("run", tmp_path / "nope.toml", "--out", tmp_path / "o")
    assert code == 2 and "nope.toml" in err and "not found" in err


def test_missing_region_column(study, run_cli):
    p, ind = small_panel()
    study.write(panel=p.rename(columns={"region": "province"}))
    code, err = _err(run_cli, study)
    assert code == 2
    assert "no region column 'region'" in err and "province" in err and 'region = "<column>"' in err


def test_missing_year_column(study, run_cli):
    p, ind = small_panel()
    study.write(panel=p.rename(columns={"year": "yr"}))
    code, err = _err(run_cli, study)
    assert code == 2 and "no year column 'year'" in err and "yr" in err


def test_duplicate_region_year_rows(study, run_cli):
    p, ind = small_panel()
    p = pd.concat([p, p.iloc[[3]]], ignore_index=True)
    study.write(panel=p)
    code, err = _err(run_cli, study)
    assert code == 2
    # row 5 is the original (header is row 1), the copy is the last row
    assert "duplicate region-year rows" in err and "row 5 (R1, 2018)" in err and f"row {len(p) + 1} (R1, 2018)" in err


def test_missing_cells_listed(study, run_cli):
    p, ind = small_panel()
    p.loc[7, "a2"] = np.nan
    study.write(panel=p)
    code, err = _err(run_cli, study)
    assert code == 2
    assert "missing cell(s): a2 at row 9 (R2, 2016)" in err and 'missing = "interpolate"' in err


def test_non_numeric_cells_listed(study, run_cli):
    p, ind = small_panel()
    p = p.astype({"b1": object})
    p.loc[2, "b1"] = "n/a"
    study.write(panel=p)
    code, err = _err(run_cli, study)
    assert code == 2
    assert "non-numeric cell(s): b1 at row 4 ('n/a')" in err


def test_indicator_absent_from_panel(study, run_cli):
    p, ind = small_panel()
    study.write(panel=p.drop(columns=["a2"]))
    code, err = _err(run_cli, study)
    assert code == 2 and "not in the panel: a2" in err


def test_panel_column_not_listed_and_ignore(study, run_cli):
    p, ind = small_panel()
    p["population"] = 1.0
    study.write(panel=p)
    code, err = _err(run_cli, study)
    assert code == 2 and "not in the indicator list: population" in err and "ignore" in err
    study.write(panel=p, data_extra='ignore = ["population"]\n')
    code, out, err = run_cli("validate", study.config)
    assert code == 0, err


def test_unknown_direction_word(study, run_cli):
    p, ind = small_panel()
    ind.loc[1, "direction"] = "good"
    study.write(indicators=ind)
    code, err = _err(run_cli, study)
    assert code == 2 and "unknown direction word(s): row 3 (a2): 'good'" in err and "indicators.csv" in err


@pytest.mark.parametrize(
    "word,expected",
    [("+", 1), ("positive", 1), ("benefit", 1), ("正向", 1), ("-", -1), ("negative", -1), ("cost", -1), ("负向", -1)],
)
def test_direction_words(word, expected):
    from nqpspatial.panel import parse_direction

    assert parse_direction(word) == expected


def test_subsystem_without_indicators(study, run_cli):
    study.write(data_extra='subsystems = ["A", "B", "C"]\n')
    code, err = _err(run_cli, study)
    assert code == 2 and "subsystem(s) C" in err and "have no indicators" in err


def test_zero_variance_indicator(study, run_cli):
    p, ind = small_panel()
    p["a1"] = 3.0
    study.write(panel=p)
    code, err = _err(run_cli, study)
    assert code == 2 and "a1" in err and "zero-weight" in err


def test_unbalanced_panel(study, run_cli):
    p, ind = small_panel()
    p = p.drop(index=[8]).reset_index(drop=True)  # R2 2017
    study.write(panel=p)
    code, err = _err(run_cli, study)
    assert code == 2 and "unbalanced panel" in err and "R2 2017" in err


def test_years_not_equally_spaced(study, run_cli):
    p, ind = small_panel(years=[2015, 2016, 2018, 2019])
    study.write(panel=p)
    code, err = _err(run_cli, study)
    assert code == 2 and "not equally spaced" in err and "missing year(s) 2017" in err


def test_decadal_series_accepted(study, run_cli):
    p, ind = small_panel(years=[1980, 1990, 2000, 2010])
    study.write(panel=p)
    code, out, err = run_cli("validate", study.config)
    assert code == 0, err


def test_single_period_refused(study, run_cli):
    p, ind = small_panel(years=[2020])
    study.write(panel=p)
    code, err = _err(run_cli, study)
    assert code == 2 and "1 period(s)" in err and "at least 2" in err


def test_two_period_panel_runs_and_skips_dynamic_stages(study, run_cli):
    """A cross-section of transitions (two periods) is accepted; stages needing 3 periods are skipped."""
    import json

    p, ind = small_panel(years=[2019, 2020])
    study.write(panel=p, extra="[report]\nenabled = false\n")
    code, out, err = run_cli("run", study.config, "--out", study.out, "--quiet")
    assert code == 0, err
    stages = {s["name"]: s for s in json.loads((study.out / "run.json").read_text(encoding="utf-8"))["stages"]}
    assert stages["haken"]["status"] == "skipped"
    assert "needs at least 3 periods; the panel has 2" in stages["haken"]["notes"]
    assert stages["weighting"]["status"] == "ok"


def test_interpolation_fills_and_records(study, run_cli):
    p, ind = small_panel()
    v0, v2 = p.loc[6, "a1"], p.loc[8, "a1"]
    p.loc[7, "a1"] = np.nan  # R2 2016, between 2015 and 2017
    study.write(panel=p, data_extra='missing = "interpolate"\n', extra="[haken]\nenabled = false\n")
    code, out, err = run_cli("run", study.config, "--out", study.out, "--quiet")
    assert code == 0, err
    filled = pd.read_csv(study.out / "tables" / "filled_cells.csv", encoding="utf-8-sig")
    assert filled.to_dict("records") == [
        {"region": "R2", "year": 2016, "indicator": "a1", "value": pytest.approx((v0 + v2) / 2)}
    ]


def test_interpolation_never_extrapolates(study, run_cli):
    p, ind = small_panel()
    p.loc[0, "a1"] = np.nan  # R1 2015 is the first year
    study.write(panel=p, data_extra='missing = "interpolate"\n')
    code, err = _err(run_cli, study)
    assert code == 2 and "never extrapolated" in err and "a1 at (R1, 2015)" in err


def test_unknown_config_key_suggests(study, run_cli):
    study.write(extra='[weighting]\nmethdo = "critic"\n')
    code, err = _err(run_cli, study)
    assert code == 2 and "unknown key 'methdo' in [weighting]" in err and "Did you mean 'method'" in err


def test_unknown_config_table_suggests(study, run_cli):
    study.write(extra='[weigthing]\nmethod = "critic"\n')
    code, err = _err(run_cli, study)
    assert code == 2 and "unknown table [weigthing]" in err and "weighting" in err


def test_bad_config_value(study, run_cli):
    study.write(extra='[weighting]\nmethod = "ahp"\n')
    code, err = _err(run_cli, study)
    assert code == 2 and "[weighting] method = 'ahp'" in err and "critic" in err


def test_invalid_toml(study, run_cli):
    study.write()
    study.config.write_text("name = \n[data\n", encoding="utf-8")
    code, err = _err(run_cli, study)
    assert code == 2 and "invalid TOML" in err


def test_existing_output_refused_without_force(study, run_cli):
    """Earlier results need --force; a folder nqpspatial did not write is refused even with it."""
    study.write(extra="[haken]\nenabled = false\n")
    code, out, err = run_cli("run", study.config, "--out", study.out, "--quiet")
    assert code == 0, err
    code, err = _err(run_cli, study)
    assert code == 2 and "results of an earlier run" in err and "--force" in err
    code, out, err = run_cli("run", study.config, "--out", study.out, "--quiet", "--force")
    assert code == 0, err
    assert (study.out / "run.json").exists()
    other = study.root / "other"
    other.mkdir()
    (other / "something.txt").write_text("x")
    code, out, err = run_cli("run", study.config, "--out", other, "--quiet", "--force")
    assert code == 2 and "not written by nqpspatial" in err and "something.txt" in err and "--out" in err
    assert sorted(p.name for p in other.iterdir()) == ["something.txt"]


def test_no_traceback_from_subprocess(study):
    """The installed console script exits 2 with a one-line message and no traceback."""
    import subprocess
    import sys

    study.write()
    (study.root / "panel.csv").unlink()
    proc = subprocess.run(
        [sys.executable, "-P", "-m", "nqpspatial.cli", "run", str(study.config), "--out", str(study.out)],
        capture_output=True,
        text=True,
        cwd=study.root,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "does not exist" in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-P", "-m", "nqpspatial.cli", "run", str(study.config), "--out", str(study.out), "--debug"],
        capture_output=True,
        text=True,
        cwd=study.root,
    )
    assert proc.returncode == 2 and "Traceback" in proc.stderr


def test_refused_run_leaves_no_output_folder(study, run_cli):
    """A run refused for bad data writes nothing, so the rerun after the fix needs no --force."""
    p, ind = small_panel()
    study.write(panel=p.drop(columns=["a2"]), extra="[haken]\nenabled = false\n")
    code, err = _err(run_cli, study)
    assert code == 2 and "not in the panel: a2" in err
    assert not study.out.exists()
    study.write(extra="[haken]\nenabled = false\n")
    code, out, err = run_cli("run", study.config, "--out", study.out, "--quiet")
    assert code == 0, err
    assert (study.out / "run.json").exists()


def test_refused_run_keeps_an_existing_folder_as_it_was(study, run_cli):
    """With --force into an earlier run's folder, a refused run changes nothing (nothing is staged into it)."""
    study.write(extra="[haken]\nenabled = false\n")
    code, out, err = run_cli("run", study.config, "--out", study.out, "--quiet")
    assert code == 0, err
    (study.out / "notes.txt").write_text("mine")
    before = {p.relative_to(study.out): p.read_bytes() for p in study.out.rglob("*") if p.is_file()}
    study.write(extra='[haken]\nenabled = false\n[regions]\nscheme = "no_such_scheme"\n')
    code, out, err = run_cli("run", study.config, "--out", study.out, "--quiet", "--force")
    assert code == 2 and "no_such_scheme" in err
    after = {p.relative_to(study.out): p.read_bytes() for p in study.out.rglob("*") if p.is_file()}
    assert after == before
    assert [p.name for p in study.root.iterdir() if "nqpspatial" in p.name] == []


def test_region_ids_keep_leading_zeros(study, run_cli):
    """Region ids in the outputs are the input's ids: '01001' stays '01001' (not 1001)."""
    p, ind = small_panel()
    p["region"] = p["region"].map({f"R{i}": f"0{i}001" for i in range(1, 7)})
    study.write(panel=p, extra="[haken]\nenabled = false\n")
    code, out, err = run_cli("run", study.config, "--out", study.out, "--quiet")
    assert code == 0, err
    idx = pd.read_csv(study.out / "tables" / "indices.csv", encoding="utf-8-sig", dtype={"region": str})
    assert idx["region"].unique().tolist() == [f"0{i}001" for i in range(1, 7)]


def test_numeric_region_codes_stay_numbers(study):
    """Plain integer codes (e.g. 110000) are still read as numbers."""
    from nqpspatial.panel import load_panel

    p, ind = small_panel()
    p["region"] = p["region"].map({f"R{i}": 110000 + 10000 * i for i in range(1, 7)})
    study.write(panel=p)
    got = load_panel(study.root / "panel.csv", study.root / "indicators.csv")
    assert got.regions == [110000 + 10000 * i for i in range(1, 7)]
    assert pd.api.types.is_integer_dtype(got.values["region"])


@pytest.mark.parametrize(
    "weighting, expected",
    [
        ("levels = 2", "needs a dimension for every indicator"),
        ('method = "fixed"', "needs a weight for every indicator"),
    ],
)
def test_indicator_list_problems_name_the_indicator_file(study, run_cli, weighting, expected):
    p, ind = small_panel()
    ind.loc[0, "dimension"] = np.nan
    study.write(indicators=ind, extra=f"[weighting]\n{weighting}\n")
    code, err = _err(run_cli, study)
    assert code == 2 and expected in err
    assert err.startswith(f"error: {study.root / 'indicators.csv'}: "), err


def test_internal_error_is_one_line_exit_1(study, run_cli, monkeypatch):
    """An unexpected crash: exit 1 and a one-line message; the traceback only with --debug."""
    import nqpspatial._prepare as prepare

    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(prepare, "weighting", boom)
    study.write()
    code, out, err = run_cli("run", study.config, "--out", study.out, "--quiet")
    assert code == 1
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "internal error: RuntimeError: boom" in err and "--debug" in err
    code, out, err = run_cli("run", study.config, "--out", study.out, "--quiet", "--debug")
    assert code == 1 and "Traceback" in err and "boom" in err


def test_table_over_excel_row_limit_left_out_with_note(study, run_cli, monkeypatch):
    import json

    import nqpspatial.io as nio

    monkeypatch.setattr(nio, "EXCEL_MAX_ROWS", 20)  # indices.csv has 36 rows, indicator_weights 4
    study.write(extra="[haken]\nenabled = false\n")
    code, out, err = run_cli("run", study.config, "--out", study.out, "--quiet")
    assert code == 0, err
    info = json.loads((study.out / "run.json").read_text(encoding="utf-8"))
    assert "indices" in info["workbook"]["left_out"] and "Excel" in info["workbook"]["left_out"]["indices"]
    book = pd.read_excel(study.out / "tables.xlsx", sheet_name=None)
    assert "indicator_weights" in book and "indices" not in book
    assert len(pd.read_csv(study.out / "tables" / "indices.csv", encoding="utf-8-sig")) == 36


def test_interpolate_without_gaps_writes_an_empty_filled_cells_table(study, run_cli):
    """With missing = "interpolate" tables/filled_cells.csv is always there (header only when nothing was filled)."""
    study.write(data_extra='missing = "interpolate"\n', extra="[haken]\nenabled = false\n")
    code, out, err = run_cli("run", study.config, "--out", study.out, "--quiet")
    assert code == 0, err
    filled = pd.read_csv(study.out / "tables" / "filled_cells.csv", encoding="utf-8-sig")
    assert list(filled.columns) == ["region", "year", "indicator", "value"] and len(filled) == 0


def test_negative_seed_is_a_config_error(study, run_cli):
    study.write(extra="[haken]\nenabled = false\n")
    code, out, err = run_cli("run", study.config, "--out", study.out, "--quiet", "--seed", "-5")
    assert code == 2 and "Traceback" not in err and "seed" in err and "-5" in err and ">= 0" in err
    study.write(extra="[haken]\nenabled = false\n[run]\nseed = -1\n")
    code, out, err = run_cli("validate", study.config)
    assert code == 2 and "[run] seed" in err


@pytest.mark.parametrize(
    "data_extra, expected",
    [
        ('encoding = "nope"\n', "encoding = 'nope' is not a codec name"),
    ],
)
def test_bad_data_keys_are_input_errors(study, run_cli, data_extra, expected):
    study.write(data_extra=data_extra)
    code, err = _err(run_cli, study)
    assert code == 2 and expected in err and "[data]" in err


def test_panel_key_must_be_a_path(study, run_cli):
    study.write()
    study.config.write_text('name = "t"\n[data]\npanel = 5\nindicators = "indicators.csv"\n', encoding="utf-8")
    code, err = _err(run_cli, study)
    assert code == 2 and "[data] panel must be a file name" in err


def test_validate_checks_boundaries_and_scheme(study, run_cli):
    """`validate` refuses what `run` would refuse before the analyses: a missing boundary file or scheme."""
    study.write(extra='[geometry]\nsource = "nothere.geojson"\nid = "rid"\n')
    code, out, err = run_cli("validate", study.config)
    assert code == 2 and "nothere.geojson" in err
    study.write(extra='[regions]\nscheme = "nope.csv"\n')
    code, out, err = run_cli("validate", study.config)
    assert code == 2 and "nope.csv" in err


def test_leading_comment_lines_are_skipped_and_rows_are_file_lines(study, run_cli):
    """A '# ...' line above the header (as in the bundled demo files) is a comment; row numbers in
    messages stay the lines of the file."""
    p, ind = small_panel()
    p = pd.concat([p, p.iloc[[3]]], ignore_index=True)
    study.write(panel=p)
    for name in ("panel.csv", "indicators.csv"):
        f = study.root / name
        f.write_text(
            "# SYNTHETIC test data\n# second comment line\n" + f.read_text(encoding="utf-8-sig"), encoding="utf-8-sig"
        )
    code, err = _err(run_cli, study)
    assert code == 2
    # the header is line 3, so the original of the duplicate is line 7 and the copy the last line
    assert "row 7 (R1, 2018)" in err and f"row {len(p) + 3} (R1, 2018)" in err
    study.write()
    ind.loc[1, "direction"] = "good"
    study.write(indicators=ind)
    f = study.root / "indicators.csv"
    f.write_text("# a comment\n" + f.read_text(encoding="utf-8-sig"), encoding="utf-8")
    code, err = _err(run_cli, study)
    assert code == 2 and "unknown direction word(s): row 4 (a2): 'good'" in err
    study.write()
    for name in ("panel.csv", "indicators.csv"):
        f = study.root / name
        f.write_text("# comment\n" + f.read_text(encoding="utf-8-sig"), encoding="utf-8-sig")
    code, out, err = run_cli("run", study.config, "--out", study.out, "--quiet", "--force", "--no-report")
    assert code == 0, err
