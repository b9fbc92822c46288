"""Tables people publish (nqpspatial.report.tables): headers, formats, regression layout, LaTeX and Word."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from nqpspatial.report.tables import (
    column_label,
    display_table,
    format_number,
    format_p,
    haken_regression_table,
    latex_text,
    regression_table,
    stars,
    term_label,
    to_html,
    to_latex,
)


def test_one_p_value_format():
    assert format_p(0.0004) == "< 0.001"
    assert format_p(1e-40) == "< 0.001"
    assert format_p(0.001) == "0.001"
    assert format_p(0.01234) == "0.012"
    assert format_p(0.5) == "0.500"
    assert format_p(np.nan) == "" and format_p(None) == ""


def test_human_headers():
    assert column_label("gamma1") == "γ₁ damping of q1"
    assert column_label("gamma2", "zh") == "γ₂ q2 阻尼系数"
    assert column_label("se_gamma1") == "Std. err. γ₁"
    assert column_label("std_err") == "Std. err."
    assert column_label("p_b") == "p b"
    assert column_label("r2_q1") == "R² (q1 eq.)"
    assert column_label("ratio") == "|γ₂| / |γ₁|"
    assert column_label("something_new") == "something_new"
    assert term_label("gamma1") == "γ₁" and term_label("rho_within") == "ρ (within zone)"
    assert term_label("theta_q1q2") == "W·(q1·q2)" and term_label("theta_q1sq_across", "zh") == "W·q1²（板块间）"


def test_display_puts_identifying_columns_first_and_keeps_the_table():
    cols = [
        "q1",
        "q2",
        "gamma1",
        "a",
        "gamma2",
        "b",
        "p_gamma2",
        "adiabatic",
        "chosen",
        "reason",
        "model",
        "weights",
        "reading",
        "case",
    ]
    df = pd.DataFrame(
        [["NQP", "NTU", -0.1331, 0.13, 0.69, 0.69, 6e-54, True, True, "passes", "slx", "queen", "system", 1]],
        columns=cols,
    )
    before = df.copy()
    t = display_table(df, "spatial_haken_identification", "en")
    assert t.keys[:5] == ("model", "weights", "reading", "q1", "q2")
    assert t.header[0][:5] == ("Model", "Weights", "Reading", "Order parameter q1", "Servo variable q2")
    row = dict(zip(t.keys, t.rows[0]))
    assert row["model"] == "SLX" and row["gamma1"] == "−0.1331" and row["p_gamma2"] == "< 0.001"
    assert row["adiabatic"] == "yes" and row["case"] == "1"
    assert t.title == "Spatial Haken models: order-parameter identification"
    pd.testing.assert_frame_equal(df, before)  # the output table (contract order) is untouched
    zh = display_table(df, "spatial_haken_identification", "zh")
    assert dict(zip(zh.keys, zh.rows[0]))["adiabatic"] == "是" and zh.header[0][0] == "模型"


def test_display_cuts_rows_with_a_note():
    df = pd.DataFrame({"year": np.arange(100, dtype=float), "I": np.linspace(0, 1, 100)})
    t = display_table(df, "moran_global", max_rows=10)
    assert len(t.rows) == 10 and t.total_rows == 100 and t.rows[3][0] == "3"
    html = to_html(t, rows_note="first 10 of 100 rows")
    assert "first 10 of 100 rows" in html and "title='I'" in html


def test_regression_layout_equals_statsmodels_summary_col():
    """Stars, parentheses and decimals as statsmodels' summary_col (the esttab/stargazer layout) prints them."""
    sm = pytest.importorskip("statsmodels.api")
    from statsmodels.iolib.summary2 import summary_col

    rng = np.random.default_rng(0)
    fits = {}
    for k, beta in enumerate(([0.1, 0.5, -0.02], [0.0, -0.3, 0.25])):
        X = sm.add_constant(rng.normal(size=(60, 2)))
        y = X @ beta + rng.normal(size=60)
        fits[f"m{k + 1}"] = sm.OLS(y, X).fit()
    est = pd.DataFrame(
        [
            {"column": m, "term": term, "estimate": r.params[i], "std_err": r.bse[i], "p": r.pvalues[i]}
            for m, r in fits.items()
            for i, term in enumerate(["const", "x1", "x2"])
        ]
    )
    stats = pd.DataFrame([{"column": m, "stat": "N", "value": r.nobs} for m, r in fits.items()])
    table = regression_table(est, stats, column_labels={"m1": "(A)", "m2": "(B)"})
    ref = summary_col(list(fits.values()), stars=True, float_format="%.4f").tables[0]
    body = {r[0]: r[1:] for r in table.rows if r[0]}
    for i, term in enumerate(["const", "x1", "x2"]):
        coef_row = table.rows[2 * i]
        se_row = table.rows[2 * i + 1]
        assert coef_row[0] == term
        for j in range(2):
            want_coef = ref.iloc[2 * i, j].strip()
            want_se = ref.iloc[2 * i + 1, j].strip()
            assert coef_row[1 + j].replace("−", "-") == want_coef
            assert se_row[1 + j] == want_se
    assert body["N"] == ("60", "60")
    assert table.header == (("", "(1)", "(2)"), ("", "(A)", "(B)"))
    assert table.rules == (6,)
    assert "* p < 0.1, ** p < 0.05, *** p < 0.01" in table.notes[0]


def test_stars():
    assert [stars(p) for p in (0.2, 0.09, 0.04, 0.009, np.nan)] == ["", "*", "**", "***", ""]


def _haken_tables():
    est = pd.DataFrame(
        {
            "q1": "A",
            "q2": "B",
            "term": ["gamma1", "a", "gamma2", "b"],
            "estimate": [-0.15, 0.18, 0.54, 0.64],
            "std_err": [0.005, 0.01, 0.04, 0.03],
            "p": [1e-9, 1e-5, 0.02, 0.08],
        }
    )
    ident = pd.DataFrame(
        {
            "q1": ["A", "B"],
            "q2": ["B", "A"],
            "chosen": [True, False],
            "n_obs": [279, 279],
            "r2_q1": [0.99, 0.9],
            "r2_q2": [0.98, 0.9],
        }
    )
    sp = pd.DataFrame(
        {
            "model": "sar",
            "weights": "queen",
            "q1": "A",
            "q2": "B",
            "equation": ["q1", "q1", "q1", "q2", "q2", "q2"],
            "term": ["q1", "q1q2", "rho", "q2", "q1sq", "rho"],
            "estimate": [1.17, -0.19, 0.05, 0.34, 0.66, 0.14],
            "std_err": [0.02, 0.01, 0.02, 0.035, 0.03, 0.02],
            "z": np.nan,
            "p": [0.0, 1e-50, 0.012, 1e-20, 1e-100, 1e-12],
        }
    )
    diag = pd.DataFrame(
        {
            "model": "sar",
            "weights": "queen",
            "q1": "A",
            "q2": "B",
            "equation": ["q1", "q2", "q1", "q2", "q1"],
            "test": ["loglik", "loglik", "r2", "r2", "n_obs"],
            "statistic": [711.53, 643.95, 0.9985, 0.9942, 279.0],
        }
    )
    return {
        "haken_estimates": est,
        "haken_identification": ident,
        "spatial_haken_estimates": sp,
        "spatial_haken_diagnostics": diag,
    }


def test_haken_regression_table():
    t = haken_regression_table(_haken_tables())
    assert t.header[1] == ("", "Aspatial", "SAR (queen)")
    rows = {r[0]: r[1:] for r in t.rows if r[0]}
    # aspatial: the Haken parameters as estimated
    assert rows["γ₁"][0] == "−0.1500***" and rows["γ₂"][0] == "0.5400**" and rows["b"][0] == "0.6400*"
    # spatial: gamma1 = 1 - beta(q1), a = -beta(q1q2), gamma2 = 1 - beta(q2), b = beta(q1sq)
    g1 = 1 - 1.17
    p_g1 = 2 * norm.sf(abs(g1) / 0.02)
    assert rows["γ₁"][1] == format_number(g1) + stars(p_g1)
    assert rows["a"][1] == "0.1900***" and rows["γ₂"][1] == "0.6600***" and rows["b"][1] == "0.6600***"
    assert [r[1:] for r in t.rows if r[0] == "ρ"] == [("", "0.0500**"), ("", "0.1400***")]  # q1, q2 equations
    assert rows["N"] == ("279", "279")
    assert rows["R² (q1 eq.)"] == ("0.990", "0.999")
    assert rows["Log-likelihood (q2 eq.)"] == ("", "643.950")
    assert [p[1] for p in t.panels] == ["Panel A: q1 (A) equation", "Panel B: q2 (B) equation"]
    se = t.rows[t.rows.index(next(r for r in t.rows if r[0] == "γ₁")) + 1]
    assert se == ("", "(0.0050)", "(0.0200)")
    assert haken_regression_table({}) is None


def test_latex_text():
    assert latex_text("γ₁ damping of q1") == r"$\gamma_1$ damping of q1"
    assert latex_text("0.152***") == "0.152$^{***}$"
    assert latex_text("< 0.001") == "$<$ 0.001"
    assert latex_text("−β(q1·q2)") == r"$-\beta$(q1$\cdot$q2)"
    assert latex_text("R² 50% a_b & $x") == r"R$^2$ 50\% a\_b \& \$x"
    assert latex_text("$γ") == r"\$$\gamma$"


def test_latex_is_a_three_line_table():
    tex = to_latex(haken_regression_table(_haken_tables()), label="tab:x")
    lines = tex.splitlines()
    assert lines.count(r"\toprule") == 1 and lines.count(r"\bottomrule") == 1
    assert lines.count(r"\midrule") == 2  # under the header and above N, R^2, log-likelihood
    assert r"\multicolumn{3}{l}{\textit{Panel A: q1 (A) equation}} \\" in lines
    assert r"$\gamma_1$ & $-$0.1500$^{***}$ & " in tex
    assert "|" not in tex.split(r"\begin{tabular}")[1].split("}")[0]  # no vertical rules


def test_docx_three_line_borders(tmp_path):
    docx = pytest.importorskip("docx")
    from docx.oxml.ns import qn

    from nqpspatial.report.tables import to_docx

    doc = docx.Document()
    model = haken_regression_table(_haken_tables())
    table = to_docx(model, doc)
    n = len(table.rows)

    def edge(r, c, side):
        el = table.cell(r, c)._tc.tcPr.find(qn("w:tcBorders")).find(qn(f"w:{side}"))
        return el.get(qn("w:val")), el.get(qn("w:sz"))

    assert edge(0, 0, "top") == ("single", "12")  # top rule
    assert edge(1, 2, "bottom") == ("single", "6")  # under the (two-row) header
    assert edge(n - 1, 1, "bottom") == ("single", "12")  # bottom rule
    assert edge(5, 1, "bottom") == ("nil", None) and edge(5, 1, "left") == ("nil", None)
    assert table.cell(0, 1).text == "(1)" and table.cell(1, 2).text == "SAR (queen)"
    assert table.cell(2, 0).text == "Panel A: q1 (A) equation"  # panel row spans the table
    assert any(c.text == "−0.1500***" for row in table.rows for c in row.cells)
