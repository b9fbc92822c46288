"""The findings section (nqpspatial.report.findings): every sentence comes from the tables.

Small synthetic tables in the output contract (and in the contracts the
dynamics and inference issues state for ``model_selection``,
``haken_residual_diagnostics``, ``spatial_haken_potential`` with ``reading``,
``spatial_haken_marginal_effects`` and ``inference_note``): each test changes
the data and checks that the sentence changes with it.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from nqpspatial.report.findings import Q1_ONLY_STRATEGIES, TEXT, Finding, findings, findings_html

YEARS = list(range(2014, 2024))
REGIONS = ["r1", "r2", "r3", "r4", "r5", "r6"]
NAMES = {"r1": "Beijing", "r2": "Tianjin", "r3": "Hebei", "r4": "Shanxi", "r5": "Hainan", "r6": "Tibet"}


def _tables() -> dict:
    ident = pd.DataFrame(
        {
            "q1": ["NQP", "NTU"],
            "q2": ["NTU", "NQP"],
            "gamma1": [-0.151, -0.175],
            "gamma2": [0.545, -0.127],
            "p_gamma2": [4.7e-37, 8.8e-96],
            "ratio": [3.6034, 0.7256],
            "adiabatic": [True, False],
            "chosen": [True, False],
            "ratio_ci_low": [2.85, np.nan],
            "ratio_ci_high": [4.21, np.nan],
            "verdict_share": [0.98, 0.0],
            "inference_note": ["", ""],
        }
    )
    pot = pd.DataFrame(
        {"q1": ["NQP"], "q2": ["NTU"], "case": [1], "q1_star": [0.84374], "V_star": [-0.0269], "map_stable": [True]}
    )
    tests = pd.DataFrame(
        {
            "test": ["sup-F", "F-path"],
            "equation": ["joint", "joint"],
            "break_year": [2020, 2016],
            "statistic": [114.5, 15.8],
            "p": [0.001, np.nan],
        }
    )
    q1 = np.cumsum([0.2] + [0.04] * 6 + [0.02] * 3)
    stages = pd.DataFrame(
        {"scope": "national", "group": "national", "year": YEARS, "q1": q1, "q1_change": np.r_[np.nan, np.diff(q1)]}
    )
    moran = pd.DataFrame(
        {
            "variable": "h",
            "weights": "queen",
            "year": YEARS,
            "I": [0.50 + 0.02 * k for k in range(10)],
            "p_norm": 0.001,
            "p_sim": 0.001,
        }
    )
    moran = pd.concat([moran, moran.assign(variable="NQP", I=0.3)], ignore_index=True)
    clusters = ["HH", "HH", "ns", "LL", "LH", "ns"]
    lisa = pd.DataFrame(
        [
            {"variable": "h", "weights": "queen", "year": y, "region": r, "cluster": c}
            for y in YEARS
            for r, c in zip(REGIONS, clusters)
        ]
    )
    links = {
        "r1": ["r2", "r3", "r4"],
        "r2": ["r1", "r3", "r4"],
        "r3": ["r1", "r2", "r4", "r6"],
        "r4": ["r1", "r2", "r3"],
        "r5": ["r6"],
        "r6": ["r3", "r5"],
    }
    weights = pd.DataFrame([{"focal": f, "neighbor": n, "weight": 1 / len(ns)} for f, ns in links.items() for n in ns])
    ws = pd.DataFrame({"name": ["queen"], "slug": ["queen"], "n": [6]})
    sens = pd.DataFrame(
        {
            "kind": "verdict",
            "source": ["dirichlet", "dirichlet", "critic", "entropy"],
            "q1": "NQP",
            "q2": "NTU",
            "statistic": ["adiabatic", "chosen", "chosen", "chosen"],
            "share": [1.0, 0.97, 1.0, 0.0],
            "n": [1000, 1000, 1, 1],
        }
    )
    rob = pd.DataFrame(
        {
            "variant": ["baseline", "years 2014-2018", "years 2019-2023", "zone East", "sar (queen)"],
            "kind": ["baseline", "subperiod", "subperiod", "zone", "spatial"],
            "q1": "NQP",
            "q2": "NTU",
            "adiabatic": True,
            "chosen": [True, True, True, True, True],
        }
    )
    ms = pd.DataFrame(
        {
            "q1": "NQP",
            "q2": "NTU",
            "weights": "queen",
            "equation": ["q1", "q2", ""],
            "scope": ["equation", "equation", "system"],
            "test": ["LR SDM vs SAR"] * 2 + ["system"],
            "statistic": [3.2, 1.1, np.nan],
            "df": [2, 2, np.nan],
            "p": [0.2, 0.58, np.nan],
            "preferred": ["sar", "sar", "sar"],
            "reason": ["", "", "LR tests keep SAR in both equations"],
        }
    )
    sid = pd.DataFrame(
        {
            "model": ["sar", "sar", "sar", "sar"],
            "weights": "queen",
            "reading": ["system", "system", "local", "local"],
            "q1": ["NQP", "NTU"] * 2,
            "q2": ["NTU", "NQP"] * 2,
            "adiabatic": [True, False, True, False],
            "chosen": [True, False, True, False],
        }
    )
    spot = pd.DataFrame(
        {
            "model": "sar",
            "weights": "queen",
            "q1": "NQP",
            "q2": "NTU",
            "reading": ["system", "local"],
            "case": [1, 1],
            "q1_star": [0.829, 1.006],
            "q1_star_low": [0.80, 0.95],
            "q1_star_high": [0.86, 1.05],
            "stable_share": [0.97, 0.99],
        }
    )
    me = pd.DataFrame(
        [
            {
                "model": "sar",
                "weights": "queen",
                "q1": "NQP",
                "q2": "NTU",
                "equation": eq,
                "wrt": wrt,
                "effect": eff,
                "estimate": est,
                "ci_low": est - 0.05,
                "ci_high": est + 0.05,
                "p": 0.01,
            }
            for eq, wrt, eff, est in [
                ("q1", "q1", "indirect", 0.12),
                ("q2", "q1", "indirect", -0.09),
                ("q2", "q2", "indirect", 0.02),
                ("q1", "q1", "direct", 0.9),
            ]
        ]
    )
    dg = pd.DataFrame(
        {
            "variable": "h",
            "scheme": "eight-zones",
            "year": YEARS,
            "G": np.linspace(0.35, 0.20, 10),
            "share_within": 0.05,
            "share_between": 0.90,
            "share_transvariation": 0.05,
        }
    )
    dp = pd.DataFrame(
        {
            "variable": "h",
            "scheme": "eight-zones",
            "year": 2023,
            "kind": "between",
            "group_j": ["East", "East"],
            "group_h": ["West", "North"],
            "contribution": [0.2, 0.1],
        }
    )
    theil = pd.DataFrame(
        {"variable": "h", "scheme": "eight-zones", "year": YEARS, "T": 0.2, "share_between": 0.8, "share_within": 0.2}
    )
    coev = pd.DataFrame(
        {"region": "r1", "year": YEARS, "q1": 0.5, "q2": 0.3, "h": 0.6, "strategy": "distance-normalized"}
    )
    resid = pd.DataFrame(
        {
            "q1": "NQP",
            "q2": "NTU",
            "equation": ["q1", "q1", "q2"],
            "weights": "queen",
            "scope": "pooled",
            "year": np.nan,
            "test": ["moran_residuals", "lm_error", "lm_lag"],
            "statistic": [0.244, 32.7, 1.6],
            "df": [np.nan, 1, 1],
            "p": [3.5e-9, 1e-8, 0.2],
        }
    )
    return {
        "haken_identification": ident,
        "haken_potential": pot,
        "stages_tests": tests,
        "stages": stages,
        "moran_global": moran,
        "lisa": lisa,
        "weights_queen": weights,
        "weights_summary": ws,
        "sensitivity_summary": sens,
        "robustness": rob,
        "model_selection": ms,
        "spatial_haken_identification": sid,
        "spatial_haken_potential": spot,
        "spatial_haken_marginal_effects": me,
        "dagum_gini": dg,
        "dagum_pairs": dp,
        "theil": theil,
        "coevolution": coev,
        "haken_residual_diagnostics": resid,
    }


def _by_key(items) -> dict:
    out = {}
    for f in items:
        out.setdefault(f.key, []).append(f)
    return out


def _text(tables, key, **kw) -> str:
    found = _by_key(findings(tables, region_names=NAMES, **kw)).get(key, [])
    return " | ".join(f.text for f in found)


@pytest.fixture
def tables():
    return _tables()


def test_every_finding_is_generated_and_names_its_tables(tables):
    items = findings(tables, region_names=NAMES)
    keys = [f.key for f in items if f.kind == "finding"]
    assert keys == [
        "verdict",
        "sensitivity",
        "robustness",
        "stable_point",
        "turning",
        "moran",
        "lisa",
        "selection",
        "spatial_stable_point",
        "spillovers",
        "inequality",
        "theil",
    ]
    assert all(isinstance(f, Finding) and f.text and f.sources for f in items)
    assert all(f.kind in ("finding", "warning", "missing") for f in items)
    assert not [f for f in items if f.kind == "missing"]
    text = _by_key(items)
    assert text["verdict"][0].text.startswith("NQP is the order parameter and NTU the servo variable")
    assert "|γ₂|/|γ₁| = 3.60; interval 2.85 to 4.21" in text["verdict"][0].text
    assert "98 % of the bootstrap resamples" in text["verdict"][0].text
    assert (
        "97 % of 1,000 draws" in text["sensitivity"][0].text
        and "in 1 of 2 (critic, entropy)" in text["sensitivity"][0].text
    )
    assert "chosen in 4 of 4 (100 %)" in text["robustness"][0].text
    assert "q1* = 0.844" in text["stable_point"][0].text and "converges" in text["stable_point"][0].text
    assert "turning point in 2020 (p = 0.001)" in text["turning"][0].text
    # national mean of q1: +0.04 a year up to 2020 (transitions into 2015..2020), +0.02 after
    assert "+0.040 a year up to 2020 and by +0.020 a year after" in text["turning"][0].text
    assert (
        "from 0.500 (2014) to 0.680 (2023)" in text["moran"][0].text
        and "rises by 0.0200 a year" in text["moran"][0].text
    )
    assert (
        "hot spots (high-high) in Beijing, Tianjin; cold spots (low-low) in Shanxi; 1 spatial outlier"
        in text["lisa"][0].text
    )
    assert "SAR under queen weights (LR tests keep SAR in both equations)" in text["selection"][0].text
    assert (
        "SAR (queen, system reading) the stable point is q1* = 0.829 (interval 0.800 to 0.860)"
        in text["spatial_stable_point"][0].text
    )
    sp = text["spillovers"][0].text
    assert sp.startswith("Main spillovers (indirect effects) in SAR (queen):")
    assert "neighbours' NQP(t) on NQP(t+1) +0.120 (interval 0.070 to 0.170, positive)" in sp
    assert "neighbours' NQP(t) on NTU(t+1) −0.090 (interval −0.140 to −0.040, negative)" in sp
    assert "NTU(t) on NTU(t+1)" not in sp  # its interval covers zero
    assert "falls from 0.350 in 2014 to 0.200 in 2023" in text["inequality"][0].text
    assert "net gaps between zones (90 %), above all between East and West" in text["inequality"][0].text


# (key, table, change, expected text after the change)
CHANGES = [
    ("verdict", "haken_identification", lambda t: t.assign(ratio=[2.5, 0.7256]), "|γ₂|/|γ₁| = 2.50"),
    (
        "verdict",
        "haken_identification",
        lambda t: t.assign(chosen=False, adiabatic=False),
        "No ordering of the subsystems passes",
    ),
    ("sensitivity", "sensitivity_summary", lambda t: t.assign(share=[1.0, 0.5, 1.0, 1.0]), "50 % of 1,000 draws"),
    (
        "robustness",
        "robustness",
        lambda t: t.assign(chosen=[True, False, True, True, True]),
        "chosen in 3 of 4 (75 %); not in: years 2014-2018",
    ),
    ("stable_point", "haken_potential", lambda t: t.assign(q1_star=0.7), "q1* = 0.700"),
    ("stable_point", "haken_potential", lambda t: t.assign(map_stable=False), "does not converge to it"),
    (
        "stable_point",
        "haken_potential",
        lambda t: t.assign(case=2, q1_star=np.nan, V_star=np.nan),
        "Stability case 2 (q1 = 0 is the only stable state",
    ),
    ("turning", "stages_tests", lambda t: t.assign(p=[0.31, np.nan]), "finds no significant turning point"),
    ("turning", "stages_tests", lambda t: t.assign(break_year=[2018, 2016]), "turning point in 2018"),
    (
        "moran",
        "moran_global",
        lambda t: t.assign(I=np.where(t["variable"] == "h", 0.9 - 0.03 * (t["year"] - 2014), 0.3)),
        "falls by 0.0300 a year",
    ),
    (
        "lisa",
        "lisa",
        lambda t: t.assign(cluster=np.where(t["region"] == "r6", "HH", t["cluster"])),
        "hot spots (high-high) in Beijing, Tianjin, Tibet",
    ),
    ("selection", "model_selection", lambda t: t.assign(preferred="sdm"), "prefers SDM under queen"),
    ("spatial_stable_point", "spatial_haken_potential", lambda t: t.assign(q1_star=[0.5, 1.0]), "q1* = 0.500"),
    (
        "spillovers",
        "spatial_haken_marginal_effects",
        lambda t: t.assign(ci_low=t["estimate"] - 0.5, ci_high=t["estimate"] + 0.5),
        "has an interval that excludes zero; the largest is neighbours' NQP(t) on NQP(t+1) +0.120",
    ),
    (
        "inequality",
        "dagum_gini",
        lambda t: t.assign(share_within=0.7, share_between=0.2, share_transvariation=0.1),
        "largest source is the gaps within zones (70 %)",
    ),
    ("theil", "theil", lambda t: t.assign(T=0.4, share_between=0.25), "Theil's T of h is 0.400 in 2023, 25 %"),
]


@pytest.mark.parametrize("key,name,change,expected", CHANGES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CHANGES)])
def test_the_sentence_follows_the_data(tables, key, name, change, expected):
    before = _text(tables, key)
    assert before and expected not in before
    changed = copy.deepcopy(tables)
    changed[name] = change(changed[name])
    after = _text(changed, key)
    assert expected in after, after
    assert after != before


MISSING = [
    ("verdict", ["haken_identification"], "[haken]"),
    ("sensitivity", ["sensitivity_summary"], "[sensitivity]"),
    ("robustness", ["robustness"], "[robustness]"),
    ("stable_point", ["haken_potential"], "haken_potential.csv"),
    ("turning", ["stages_tests"], "sup-F"),
    ("moran", ["moran_global"], "[spatial]"),
    ("lisa", ["lisa"], "lisa.csv"),
    ("selection", ["model_selection"], "model_selection.csv"),
    ("spillovers", ["spatial_haken_marginal_effects", "spatial_haken_effects"], "[spatial_haken]"),
    ("inequality", ["dagum_gini", "theil"], "[zones]"),
]


@pytest.mark.parametrize("key,names,analysis", MISSING, ids=[m[0] for m in MISSING])
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_an_absent_table_gives_one_line_naming_the_analysis(tables, key, names, analysis, lang):
    for n in names:
        tables.pop(n, None)
    found = _by_key(findings(tables, lang=lang))[key]
    assert len(found) == 1 and found[0].kind == "missing"
    assert analysis in found[0].text
    assert found[0].text == TEXT[lang][f"missing_{key}"]


def test_no_tables_at_all_gives_only_missing_lines():
    items = findings({})
    assert items and all(f.kind == "missing" for f in items)
    assert len(items) == len(MISSING)


def test_spillovers_fall_back_to_the_term_wise_effects_and_the_first_model(tables):
    del tables["spatial_haken_marginal_effects"], tables["model_selection"]
    tables["spatial_haken_effects"] = pd.DataFrame(
        {
            "model": "slx",
            "weights": "queen",
            "q1": "NQP",
            "q2": "NTU",
            "equation": ["q2", "q2", "q1"],
            "term": ["q2", "q2_within", "q1q2"],
            "effect": "indirect",
            "estimate": [0.124, 0.5, -0.105],
            "ci_low": [0.015, 0.4, -0.151],
            "ci_high": [0.236, 0.6, -0.056],
            "p": 0.01,
        }
    )
    text = _text(tables, "spillovers")
    assert text.startswith(
        "Main spillovers (indirect effects) in SLX (queen) (the first model fitted; no model selection ran):"
    )
    assert "neighbours' NTU on NTU(t+1) +0.124" in text and "neighbours' NQP·NTU on NQP(t+1) −0.105" in text
    assert "0.500" not in text  # zone-split rows are parts of the indirect effect, not further spillovers


def test_robustness_when_no_ordering_passes(tables):
    tables["haken_identification"] = tables["haken_identification"].assign(chosen=False, adiabatic=False)
    tables["robustness"] = tables["robustness"].assign(chosen=[False, False, True, False, False])
    assert _text(tables, "robustness") == "Across the robustness variants an ordering passes in 1 of 4 (25 %)."


def test_per_region_stable_points_are_summarised(tables):
    tables["haken_potential"] = pd.DataFrame(
        {
            "region": ["r1", "r2", "r3"],
            "q1": "NQP",
            "q2": "NTU",
            "case": [1, 1, 2],
            "q1_star": [0.6, 0.9, np.nan],
            "map_stable": [True, True, False],
        }
    )
    text = _text(tables, "stable_point")
    assert text == (
        "With one potential per region (3): case 1 in 2, case 2 in 1; stable points q1* from 0.600 to "
        "0.900 (median 0.750); the annual map converges in 2 of 3."
    )


# ------------------------------------------------------------------------------------------------- warnings
def _warnings(tables, **kw) -> dict:
    return {f.key: f for f in findings(tables, region_names=NAMES, **kw) if f.kind == "warning"}


def test_warnings_on_the_base_tables(tables):
    w = _warnings(tables)
    assert set(w) == {"w_residuals", "w_lisa_power", "w_h_q1"}
    assert "Moran's I 0.244 in the q1 (NQP) equation, p < 0.001; 1 LM tests reject too" in w["w_residuals"].text
    # r5 has one neighbour, r6 two; the other regions three or more
    assert "Hainan (1), Tibet (2) have fewer than three neighbours" in w["w_lisa_power"].text
    assert w["w_lisa_power"].sources == ("lisa", "weights_queen")
    assert "(the distance-normalized strategy" in w["w_h_q1"].text and "NTU does not enter it" in w["w_h_q1"].text


def test_disagreeing_verdicts_are_flagged_with_both(tables):
    assert "w_disagree" not in _warnings(tables)
    sid = tables["spatial_haken_identification"]
    sid.loc[sid["reading"] == "system", "chosen"] = False
    text = _warnings(tables)["w_disagree"].text
    assert text == (
        "The aspatial and the spatial verdicts disagree: aspatial model: NQP is the order parameter; "
        "SAR (queen, system reading): no ordering passes."
    )
    # the local reading still agrees
    assert "w_disagree" not in _warnings(tables, reading="local")
    # without model selection every fitted model is compared
    del tables["model_selection"]
    assert "w_disagree" in _warnings(tables)


def test_residual_warning_needs_a_rejection_and_falls_back_to_the_spatial_diagnostics(tables):
    tables["haken_residual_diagnostics"] = tables["haken_residual_diagnostics"].assign(p=0.4)
    assert "w_residuals" not in _warnings(tables)
    del tables["haken_residual_diagnostics"]
    tables["spatial_haken_diagnostics"] = pd.DataFrame(
        {
            "model": ["ols", "ols", "sar"],
            "weights": "queen",
            "q1": "NQP",
            "q2": "NTU",
            "equation": "q2",
            "test": ["lm_error", "moran_residuals", "moran_residuals"],
            "statistic": [29.0, 0.23, 0.08],
            "p": [7e-8, 0.02, np.nan],
        }
    )
    w = _warnings(tables)["w_residuals"]
    assert w.sources == ("spatial_haken_diagnostics",)
    assert "Moran's I 0.230 in the q2 (NTU) equation, p = 0.020; 1 LM tests reject too" in w.text


def test_low_sensitivity_share_is_warned(tables):
    assert "w_sensitivity" not in _warnings(tables)  # 97 %
    tables["sensitivity_summary"].loc[1, "share"] = 0.85
    assert _warnings(tables)["w_sensitivity"].text.startswith(
        "The verdict holds in only 85 % of the weight-sensitivity draws (under 90 %)"
    )


def test_h_warning_only_for_strategies_of_q1_alone(tables):
    assert {"potential", "distance", "potential-normalized", "distance-normalized"} == Q1_ONLY_STRATEGIES
    tables["coevolution"]["strategy"] = "my-two-variable-strategy"
    assert "w_h_q1" not in _warnings(tables)


def test_inference_note_is_a_warning(tables):
    tables["haken_identification"]["inference_note"] = ["coverage below 90 % at 10 periods", ""]
    assert _warnings(tables)["w_inference"].text == ("Inference note (NQP → NTU): coverage below 90 % at 10 periods")


def test_low_power_needs_the_weights_table(tables):
    del tables["weights_queen"]
    assert "w_lisa_power" not in _warnings(tables)


# ---------------------------------------------------------------------------------------- language, safety
def test_chinese_sentences(tables):
    en, zh = findings(tables, lang="en"), findings(tables, lang="zh")
    assert [f.key for f in en] == [f.key for f in zh]
    for a, b in zip(en, zh):
        assert a.text != b.text and any("\u4e00" <= ch <= "\u9fff" for ch in b.text), b.text
    z = _by_key(zh)
    assert z["verdict"][0].text.startswith("NQP 为序参量，NTU 为伺服变量")
    assert "稳定点 q1* = 0.844" in z["stable_point"][0].text


def test_absent_columns_are_tolerated(tables):
    tables["haken_identification"] = tables["haken_identification"][["q1", "q2", "chosen"]]
    tables["spatial_haken_identification"] = tables["spatial_haken_identification"].drop(columns="reading")
    tables["moran_global"] = tables["moran_global"].drop(columns=["p_sim", "p_norm", "weights"])
    tables["lisa"] = tables["lisa"].drop(columns="weights")
    items = findings(tables)
    assert not [f for f in items if f.kind == "missing"]
    assert _by_key(items)["verdict"][0].text.startswith("NQP is the order parameter")


def test_a_broken_table_loses_its_sentence_not_the_others(tables):
    tables["dagum_gini"] = tables["dagum_gini"].assign(year="not a year")
    items = _by_key(findings(tables))
    assert items["inequality"][0].kind == "missing" and "could not be generated" in items["inequality"][0].text
    assert items["verdict"][0].kind == "finding"


def test_html_puts_warnings_first_and_escapes(tables):
    evil = '<script>alert("x")</script>'
    page = findings_html(findings(tables, region_names={**NAMES, "r1": evil}), "en")
    assert page.index("findings-warnings") < page.index("<ul class='findings'>")
    assert evil not in page and "&lt;script&gt;" in page
    assert page.count("<li class='warning'") == 3
