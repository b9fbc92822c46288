"""Geodata in the pipeline: a province panel with a bad name stops the run (exit 2) with the closest matches."""

from __future__ import annotations

import json

import pytest

from conftest import small_panel
from nqpspatial.geodata import province_names

OFF = "[haken]\nenabled = false\n[spatial]\nenabled = false\n"


def _panel(names):
    panel, indicators = small_panel(n_regions=len(names))
    panel["region"] = panel["region"].map({f"R{i + 1}": n for i, n in enumerate(names)})
    return panel, indicators


def test_misspelt_province_stops_the_run_with_closest_matches(study, run_cli):
    names = province_names()["name_zh"].tolist()
    names[names.index("广东省")] = "Gwangdong"
    panel, indicators = _panel(names)
    study.write(panel, indicators, extra=OFF)
    code, _, err = run_cli("run", study.config, "--out", study.out, "--no-report", "--quiet")
    assert code == 2
    assert "panel.csv" in err and "'Gwangdong'" in err and "Guangdong (广东省, 440000)" in err
    assert "Traceback" not in err


def test_two_ids_for_one_province_stop_the_run(study, run_cli):
    names = province_names()["name_zh"].tolist()
    names[names.index("北京市")] = "Beijing"
    names.append("北京")
    panel, indicators = _panel(names)
    study.write(panel, indicators, extra=OFF)
    code, _, err = run_cli("run", study.config, "--out", study.out, "--no-report", "--quiet")
    assert code == 2 and "both name Beijing" in err


@pytest.mark.parametrize(
    "names, note",
    [
        (province_names()["name_en"].tolist(), "bundled province layer"),
        ([f"R{i}" for i in range(30)] + ["Beijing"], "no boundaries"),  # one province name among others
    ],
)
def test_province_and_other_panels_still_run(study, run_cli, names, note):
    panel, indicators = _panel(names)
    study.write(panel, indicators, extra=OFF)
    code, _, err = run_cli("run", study.config, "--out", study.out, "--no-report", "--quiet")
    assert code == 0, err
    stages = {s["name"]: s for s in json.loads((study.out / "run.json").read_text(encoding="utf-8"))["stages"]}
    assert note in stages["geometry"]["notes"][0]


def test_misspelt_layer_name_suggests_the_bundled_layer(study, run_cli):
    panel, indicators = _panel(province_names()["name_en"].tolist())
    study.write(panel, indicators, extra=OFF + '[geometry]\nsource = "provinecs"\n')
    code, _, err = run_cli("run", study.config, "--out", study.out, "--no-report", "--quiet")
    assert code == 2 and "unknown layer 'provinecs'" in err and "Did you mean 'provinces'?" in err
