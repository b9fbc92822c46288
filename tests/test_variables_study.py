"""``[data] variables``: panel columns analysed as they are (issue 17, item 12), and every data problem of a
panel reported in one pass by ``run`` and ``validate`` alike (issue 16, item 5)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import small_panel


def _pcgdp_panel(seed: int = 3) -> pd.DataFrame:
    p, _ = small_panel(n_regions=8)
    rng = np.random.default_rng(seed)
    out = p[["region", "year"]].copy()
    out["pcgdp"] = np.exp(10 + 0.05 * (out["year"] - 2015) + rng.normal(0, 0.3, len(out)))
    out["pop"] = rng.uniform(1, 9, len(out))
    return out


def _variables_study(study, data_extra='variables = ["pcgdp"]\n', extra="") -> None:
    study.write(panel=_pcgdp_panel(), data_extra=data_extra, extra=extra)
    text = study.config.read_text(encoding="utf-8").replace('indicators = "indicators.csv"\n', "", 1)
    study.config.write_text(text, encoding="utf-8")


def test_a_variables_study_runs_on_the_raw_values(study, run_cli):
    _variables_study(study, extra='[zones]\n[regions]\nscheme = "groups.csv"\n')
    pd.DataFrame({"region": [f"R{i + 1}" for i in range(8)], "group": ["N"] * 4 + ["S"] * 4}).to_csv(
        study.root / "groups.csv", index=False
    )
    code, _, err = run_cli("run", study.config, "--out", study.out, "--quiet", "--no-report")
    assert code == 0, err
    idx = pd.read_csv(study.out / "tables" / "indices.csv", encoding="utf-8-sig")
    raw = _pcgdp_panel()
    assert list(idx.columns) == ["region", "year", "pcgdp"]
    np.testing.assert_allclose(idx["pcgdp"], raw["pcgdp"], rtol=1e-12)  # not normalized
    assert not (study.out / "tables" / "indicator_weights.csv").exists()
    run = json.loads((study.out / "run.json").read_text(encoding="utf-8"))
    stages = {s["name"]: s for s in run["stages"]}
    assert stages["weighting"]["info"]["indices"] == "raw variables"
    assert stages["haken"]["status"] == "skipped"
    assert any("[data] variables are analysed as they are" in n for n in stages["haken"]["notes"])
    assert stages["zones"]["status"] == "ok"
    theil = pd.read_csv(study.out / "tables" / "theil.csv", encoding="utf-8-sig")
    assert set(theil["variable"]) == {"pcgdp"}


@pytest.mark.parametrize(
    ("data_extra", "expected"),
    [
        ('variables = ["pcgdp"]\nindicators = "indicators.csv"\n', "[data] variables names panel columns"),
        ('variables = ["pcgdp"]\nindices = true\n', "so [data] indices = true does not apply"),
        ('variables = ["pcgpd"]\n', "Did you mean 'pcgdp'"),
        ('variables = ["pcgdp", "pcgdp"]\n', "more than once"),
        ('variables = ["pcgdp"]\nignore = ["pcgdp"]\n', "[data] ignore also lists"),
        ("variables = [1]\n", "must be a list of panel column names"),
    ],
)
def test_bad_variables_are_refused_by_run_and_validate(study, run_cli, data_extra, expected):
    _variables_study(study, data_extra=data_extra)
    for cmd in (("validate", study.config), ("run", study.config, "--out", study.out, "--quiet")):
        code, _, err = run_cli(*cmd)
        assert code == 2 and expected in err, err
        assert "Traceback" not in err
    assert not study.out.exists()


def test_detector_without_drivers_is_refused_before_computing(study, run_cli):
    _variables_study(study, extra="[detector]\n")
    code, _, err = run_cli("validate", study.config)
    assert code == 2 and "[detector] drivers: this study has no indicator list" in err
    code, _, err = run_cli("run", study.config, "--out", study.out, "--quiet")
    assert code == 2 and "[detector] drivers" in err and not study.out.exists()


def test_every_data_problem_is_reported_in_one_pass(study, run_cli):
    p, _ = small_panel()
    p["a1"] = p["a1"].astype(object)
    p.loc[3, "a1"] = "n/a"  # non-numeric
    p.loc[5, "b1"] = np.nan  # missing
    p = pd.concat([p, p.iloc[[7]]], ignore_index=True)  # duplicate R2 2016
    p = p.drop(index=[20]).reset_index(drop=True)  # a hole: R4 2017
    study.write(panel=p)
    for cmd in (("validate", study.config), ("run", study.config, "--out", study.out, "--quiet")):
        code, _, err = run_cli(*cmd)
        assert code == 2, err
        assert "4 kinds of data problem" in err
        parts = ("duplicate region-year rows", "non-numeric cell(s): a1", "missing cell(s): b1", "unbalanced panel")
        for part in parts:
            assert part in err, (part, err)


def test_one_problem_keeps_its_own_message(study, run_cli):
    p, _ = small_panel()
    p.loc[5, "b1"] = np.nan
    study.write(panel=p)
    code, _, err = run_cli("validate", study.config)
    assert code == 2 and "missing cell(s): b1" in err and "kinds of data problem" not in err
