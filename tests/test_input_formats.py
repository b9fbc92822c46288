"""Input formats: CSV with and without BOM, Excel, Stata, long form, inline indicator lists, Chinese text."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import small_panel
from nqpspatial.panel import load_panel, read_indicators


def _expected():
    p, ind = small_panel()
    return load_panel(p, ind).values


@pytest.mark.parametrize(
    "name,encoding", [("panel.csv", "utf-8"), ("panel.csv", "utf-8-sig"), ("panel.xlsx", None), ("panel.dta", None)]
)
def test_file_formats_read_the_same(study, name, encoding):
    p, ind = small_panel()
    study.write(panel_name=name, encoding=encoding or "utf-8")
    got = load_panel(study.root / name, study.root / "indicators.csv").values
    pd.testing.assert_frame_equal(got, _expected(), check_dtype=False, atol=1e-12)


def test_long_form_equals_wide(tmp_path):
    p, ind = small_panel()
    long = p.melt(id_vars=["region", "year"], var_name="indicator", value_name="value")
    long = long.sample(frac=1.0, random_state=1)  # row order must not matter
    got = load_panel(long, ind).values
    pd.testing.assert_frame_equal(got, _expected(), check_dtype=False)


def test_long_form_duplicates_listed():
    p, ind = small_panel()
    long = p.melt(id_vars=["region", "year"], var_name="indicator", value_name="value")
    long = pd.concat([long, long.iloc[[0]]], ignore_index=True)
    with pytest.raises(Exception, match=r"duplicate region-year-indicator rows: .*\(R1, 2015, a1\)"):
        load_panel(long, ind)


def test_inline_indicator_list_from_toml():
    import tomllib

    raw = tomllib.loads("""
indicators = [
  { indicator = "a1", subsystem = "A", direction = "正向" },
  { indicator = "a2", subsystem = "A", direction = "benefit" },
  { indicator = "b1", subsystem = "B", direction = "positive" },
  { indicator = "b2", subsystem = "B", direction = "负向", dimension = "生活" },
]""")
    ind = read_indicators(raw["indicators"])
    assert ind["direction"].tolist() == [1, 1, 1, -1]
    assert ind["dimension"].tolist() == ["", "", "", "生活"]
    p, _ = small_panel()
    assert load_panel(p, raw["indicators"]).subsystems == ["A", "B"]


def test_chinese_names_everywhere(tmp_path):
    import nqpspatial

    p, ind = small_panel()
    names = {f"R{i}": n for i, n in enumerate(["甲省", "乙省", "丙省", "丁省", "戊省", "己省"], start=1)}
    p["region"] = p["region"].map(names)
    p = p.rename(columns={"a1": "专利授权量", "b2": "城乡收入比"})
    ind["indicator"] = ["专利授权量", "a2", "b1", "城乡收入比"]
    ind["subsystem"] = ["新质生产力", "新质生产力", "新型城镇化", "新型城镇化"]
    p.to_csv(tmp_path / "面板.csv", index=False, encoding="utf-8-sig")
    ind.to_csv(tmp_path / "指标.csv", index=False, encoding="utf-8-sig")
    (tmp_path / "研究.toml").write_text(
        'name = "中文研究"\n[data]\npanel = "面板.csv"\nindicators = "指标.csv"\n[haken]\nbootstrap = 0\n',
        encoding="utf-8",
    )
    res = nqpspatial.run(tmp_path / "研究.toml", out=tmp_path / "输出", quiet=True, report=False)
    idx = pd.read_csv(tmp_path / "输出" / "tables" / "indices.csv", encoding="utf-8-sig")
    assert list(idx.columns[:4]) == ["region", "year", "新质生产力", "新型城镇化"]
    assert idx["region"].iloc[0] == "甲省"
    w = res.table("indicator_weights")
    assert "专利授权量" in set(w["indicator"])


def test_non_utf8_csv_is_refused_with_the_fix(tmp_path):
    from nqpspatial.errors import InputError

    p, ind = small_panel()
    p["region"] = p["region"].str.replace("R", "甲省")
    (tmp_path / "gbk.csv").write_bytes(p.to_csv(index=False).encode("gb18030"))
    with pytest.raises(InputError, match=r'not valid utf-8-sig text.*encoding = "gb18030"'):
        load_panel(tmp_path / "gbk.csv", ind)
    got = load_panel(tmp_path / "gbk.csv", ind, encoding="gb18030")
    assert got.regions == [f"甲省{i}" for i in range(1, 7)]


def test_run_takes_dataframes_in_a_config_dict(tmp_path):
    """`nqpspatial.run` accepts the panel and the indicator list as DataFrames in a config dict."""
    import json

    import nqpspatial

    p, ind = small_panel()
    res = nqpspatial.run(
        {"name": "in memory", "data": {"panel": p, "indicators": ind}, "haken": {"enabled": False}},
        out=tmp_path / "o",
        quiet=True,
        report=False,
    )
    expected = nqpspatial.compute_weights(load_panel(p, ind).values, read_indicators(ind)).indices
    pd.testing.assert_frame_equal(res.table("indices"), expected)
    info = json.loads((tmp_path / "o" / "run.json").read_text(encoding="utf-8"))
    assert info["config"]["data"]["panel"] == "DataFrame (36 rows, 6 columns)"
    assert p.columns.tolist() == ["region", "year", "a1", "a2", "b1", "b2"]  # input not modified


def test_missing_excel_sheet_lists_the_sheets(study, run_cli):
    study.write(panel_name="panel.xlsx", data_extra='sheet = "Data"\n')
    code, out, err = run_cli("run", study.config, "--out", study.out, "--quiet")
    assert code == 2 and "Traceback" not in err
    assert "panel.xlsx" in err and "no sheet 'Data'" in err and "Sheet1" in err and "sheet =" in err


def test_inline_indicator_list_errors_count_entries(tmp_path, run_cli):
    """In an inline list the message counts entries (the 2nd entry is entry 2, not 'row 3' as in a file)."""
    p, ind = small_panel()
    p.to_csv(tmp_path / "panel.csv", index=False)
    (tmp_path / "s.toml").write_text(
        """name = "inline"
[data]
panel = "panel.csv"
indicators = [
  { indicator = "a1", subsystem = "A", direction = "+" },
  { indicator = "a2", subsystem = "A", direction = "good" },
  { indicator = "b1", subsystem = "B", direction = "+" },
  { indicator = "b2", subsystem = "", direction = "-" },
]
""",
        encoding="utf-8",
    )
    code, out, err = run_cli("run", tmp_path / "s.toml", "--out", tmp_path / "o", "--quiet")
    assert code == 2 and "config [data] indicators: empty subsystem on entry 4" in err
    (tmp_path / "s.toml").write_text(
        (tmp_path / "s.toml").read_text(encoding="utf-8").replace('subsystem = ""', 'subsystem = "B"'), encoding="utf-8"
    )
    code, out, err = run_cli("run", tmp_path / "s.toml", "--out", tmp_path / "o", "--quiet")
    assert code == 2 and "unknown direction word(s): entry 2 (a2): 'good'" in err


def test_encoding_applies_to_the_indicator_list_too(tmp_path, run_cli):
    """[data] encoding = "gb18030" reads a GBK panel and a GBK indicator list (Chinese names in both)."""
    p, ind = small_panel()
    p = p.rename(columns={"a1": "专利"})
    ind["indicator"] = ["专利", "a2", "b1", "b2"]
    ind["subsystem"] = ["新质生产力", "新质生产力", "新型城镇化", "新型城镇化"]
    (tmp_path / "panel.csv").write_bytes(p.to_csv(index=False).encode("gb18030"))
    (tmp_path / "ind.csv").write_bytes(ind.to_csv(index=False).encode("gb18030"))
    (tmp_path / "s.toml").write_text(
        'name = "gbk"\n[data]\npanel = "panel.csv"\nindicators = "ind.csv"\n'
        'encoding = "gb18030"\n[haken]\nenabled = false\n',
        encoding="utf-8",
    )
    code, out, err = run_cli("validate", tmp_path / "s.toml")
    assert code == 0, err
    assert "新质生产力, 新型城镇化" in out
