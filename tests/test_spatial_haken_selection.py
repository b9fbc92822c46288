"""Model choice among SLX, SAR, SEM and SDM (``model_selection.csv``) and the verdict comparison (issue 15).

References: the decision rules of docs/spatial_haken.md (Elhorst 2014, ch. 2-3) on constructed p-values;
the LR statistics recomputed from the variants' own log-likelihoods; recovery of the generating model on
simulated panels (``benchmarks/mc_model_selection.py``, reduced); an end-to-end run on a panel simulated
with a strong spatial lag where the aspatial and the preferred spatial verdicts differ.
"""

from __future__ import annotations

import importlib.util
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest

from nqpspatial.plugins.spatial_haken import SpatialHakenModel, simulate_panel
from nqpspatial.plugins.spatial_haken.selection import SELECTION_COLUMNS, _decide, selection_table, system_choice
from nqpspatial.plugins.spatial_haken.stage import SpatialHakenStage, stage
from nqpspatial.testing import make_context

ROOT = Path(__file__).resolve().parents[1]


def _study():
    spec = importlib.util.spec_from_file_location("_mc_ms", ROOT / "benchmarks" / "mc_model_selection.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _lm(lag, err):
    return {"rlm_lag": (0.0, lag), "rlm_error": (0.0, err)}


@pytest.mark.parametrize(
    ("p", "lm", "want"),
    [
        ({"sar": 0.01, "sem": 0.01, "slx": 0.01}, _lm(0.5, 0.5), "sdm"),
        ({"sar": 0.01, "sem": 0.01, "slx": 0.40}, _lm(0.5, 0.5), "slx"),
        ({"sar": 0.40, "sem": 0.01, "slx": 0.01}, _lm(0.01, 0.20), "sar"),
        ({"sar": 0.40, "sem": 0.01, "slx": 0.01}, _lm(0.20, 0.01), "sdm"),
        ({"sar": 0.01, "sem": 0.40, "slx": 0.01}, _lm(0.20, 0.01), "sem"),
        ({"sar": 0.01, "sem": 0.40, "slx": 0.01}, _lm(0.01, 0.20), "sdm"),
        ({"sar": 0.40, "sem": 0.40, "slx": 0.01}, _lm(0.20, 0.01), "sem"),
        ({"sar": 0.40, "sem": 0.40, "slx": 0.01}, _lm(0.01, 0.20), "sar"),
    ],
)
def test_decision_rules(p, lm, want):
    pick, reason = _decide(p, lm, {"sar": 1.0, "sem": 2.0}, 0.05)
    assert pick == want and "0.05" in reason
    # without a robust-LM direction and neither restriction rejected: the lower AIC
    assert _decide({"sar": 0.4, "sem": 0.4, "slx": 0.0}, _lm(0.5, 0.5), {"sar": 3.0, "sem": 2.0}, 0.05)[0] == "sem"


def test_system_choice_is_common_or_more_general():
    assert system_choice("sar", "sar")[0] == "sar"
    assert system_choice("sar", "sem")[0] == "sdm" and system_choice("slx", "sdm")[0] == "sdm"


def test_selection_table_columns_and_lr_statistics():
    mc = _study()
    graph = mc.province_graph()
    rng = np.random.default_rng(3)
    n = len(graph.unique_ids)
    q0 = (rng.uniform(0.2, 0.6, n), rng.uniform(0.2, 0.6, n))
    df = simulate_panel("sar", graph, mc.true_coefficients("sar"), periods=12, sigma=0.01, seed=rng, q0=q0)
    tab = selection_table(df, "q1", "q2", graph, region="region", year="year", effects="none", weights_name="queen")
    assert list(tab.columns) == SELECTION_COLUMNS
    assert set(tab["scope"]) == {"equation", "system"} and (tab["scope"] == "system").sum() == 1
    sys_row = tab[tab["scope"] == "system"].iloc[0]
    eq_pref = tab[tab["scope"] == "equation"].groupby("equation")["preferred"].first()
    assert sys_row["preferred"] == system_choice(eq_pref["q1"], eq_pref["q2"])[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ll = {
            m: SpatialHakenModel(df, "q1", "q2", graph, model=m).fit(draws=2, seed=0).loglik["q1"]
            for m in ("sdm", "sar", "sem", "slx")
        }
    q1 = tab[tab["equation"] == "q1"].set_index("test")
    for other in ("sar", "sem", "slx"):
        assert q1.at[f"lr_sdm_vs_{other}", "statistic"] == pytest.approx(2 * (ll["sdm"] - ll[other]), rel=1e-6)
    assert q1.at["lr_sdm_vs_sem", "df"] == 2 and q1.at["lr_sdm_vs_slx", "df"] == 1
    assert q1.at["aic_sar", "statistic"] == pytest.approx(-2 * ll["sar"] + 2 * 3, rel=1e-9)
    assert q1.at["bic_sdm", "statistic"] == pytest.approx(-2 * ll["sdm"] + 5 * math.log(31 * 11), rel=1e-9)
    assert {"lm_lag", "lm_error", "rlm_lag", "rlm_error"} <= set(q1.index)


def test_stage_writes_model_selection_unless_switched_off():
    ctx = make_context(side=4, periods=8)
    cfg = {**SpatialHakenStage.config_keys, "models": ["slx"], "effects_draws": 20, "order": ["A", "B"]}
    out = stage.run(ctx, cfg)
    ms = out.tables["model_selection"]
    assert list(ms.columns) == SELECTION_COLUMNS and out.info["model_selection"] is True
    picked = set(ms.loc[ms["scope"] == "system", "preferred"])
    # a preferred model that models does not list is fitted too (its verdict is compared and reported)
    assert picked <= set(out.tables["spatial_haken_identification"]["model"])
    off = stage.run(ctx, {**cfg, "model_selection": False})
    assert "model_selection" not in off.tables and off.info["model_selection"] is False
    assert set(off.tables["spatial_haken_identification"]["model"]) == {"slx"}


@pytest.mark.slow
def test_model_selection_recovers_the_generating_model():
    mc = _study()
    summ = mc.summarize(mc.run_study(n_panels=10, seed=mc.SEED))
    assert (summ["panels"] == 10).all()
    assert (summ["correct"] >= 7).all(), summ.to_string()


@pytest.mark.slow
def test_verdict_disagreement_is_said_in_run_json_notes_and_report(tmp_path):
    """A strong spatial lag: the aspatial verdict holds for NQP, SAR's local reading (min ratio 1.5) does not."""
    from nqpspatial.pipeline import run

    mc = _study()
    graph = mc.province_graph()
    n, rho = len(graph.unique_ids), 0.7
    coef = {
        "q1": {"q1": (1 - rho) * 1.1, "q1q2": -(1 - rho) * 0.35, "rho": rho},
        "q2": {"q2": (1 - rho) * 0.4, "q1sq": (1 - rho) * 0.35, "rho": rho},
    }
    rng = np.random.default_rng(0)
    q0 = (rng.uniform(0.2, 0.6, n), rng.uniform(0.2, 0.6, n))
    df = simulate_panel("sar", graph, coef, periods=12, sigma=0.02, seed=rng, q0=q0)
    df = df.rename(columns={"q1": "NQP", "q2": "NTU"}).assign(year=lambda d: d["year"] + 2010)
    df.to_csv(tmp_path / "panel.csv", index=False)
    (tmp_path / "study.toml").write_text(
        "\n".join(
            [
                'name = "verdicts"',
                "[data]",
                'panel = "panel.csv"',
                "indices = true",
                'subsystems = ["NQP", "NTU"]',
                "synthetic = true",
                "[haken]",
                "bootstrap = 0",
                "[spatial]",
                'weights = ["queen"]',
                "[spatial_haken]",
                'models = ["slx"]',
                'reading = "local"',
                "min_ratio = 1.5",
                "effects_draws = 200",
                "[report]",
                "figures = false",
                "latex = false",
                "docx = false",
            ]
        ),
        encoding="utf-8",
    )
    run(tmp_path / "study.toml", out=tmp_path / "out", quiet=True)
    info = json.loads((tmp_path / "out" / "run.json").read_text(encoding="utf-8"))
    sh = next(s for s in info["stages"] if s["name"] == "spatial_haken")
    dis = sh["info"]["verdict_disagreement"]
    assert dis and dis[0]["model"] == "sar" and dis[0]["reading"] == "local"
    assert dis[0]["aspatial"].startswith("NQP is the order parameter") and dis[0]["spatial"].startswith("no ordering")
    assert any(n.startswith("the aspatial and the spatial verdicts disagree: aspatial model: NQP") for n in sh["notes"])
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "The aspatial and the spatial verdicts disagree: aspatial model: NQP is the order parameter" in html
    assert "SAR (queen, local reading): no ordering passes" in html
