"""Behaviour of normalization, weighting options and the results object."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nqpspatial import normalize
from nqpspatial.errors import InputError
from nqpspatial.results import Results, Summary
from nqpspatial.weighting import WeightingResult, compute_weights, critic_weights, entropy_weights

REQUIRED_WEIGHT_COLUMNS = ["subsystem", "dimension", "indicator", "direction", "weight", "method"]


def make_panel(seed=0, n_regions=8, years=(2014, 2015, 2016, 2017), k=7):
    rng = np.random.default_rng(seed)
    n = n_regions * len(years)
    X = rng.normal(size=(n, k)) @ rng.normal(size=(k, k)) + 5
    X *= rng.uniform(0.5, 200, size=k)
    df = pd.DataFrame(X, columns=[f"x{j}" for j in range(k)])
    df.insert(0, "year", np.tile(years, n_regions))
    df.insert(0, "region", np.repeat([f"R{i:02d}" for i in range(n_regions)], len(years)))
    return df


def make_indicators():
    # two subsystems with dimensions; the second appears first in the table to check ordering
    return pd.DataFrame(
        {
            "indicator": ["x4", "x0", "x1", "x2", "x3", "x5", "x6"],
            "subsystem": ["NTU", "NQP", "NQP", "NQP", "NQP", "NTU", "NTU"],
            "dimension": ["pop", "engine", "engine", "forms", "forms", "pop", "eco"],
            "direction": [1, 1, -1, 1, 1, -1, 1],
            "weight": np.nan,
        }
    )


def brute_minmax(x, direction):
    x = np.asarray(x, float)
    r = (x - x.min()) / (x.max() - x.min())
    return r if direction > 0 else 1 - r


# --- normalize -----------------------------------------------------------------------------


def test_normalize_pooled_direction_and_shift():
    x = pd.DataFrame({"a": [1.0, 3.0, 2.0], "b": [10.0, 0.0, 5.0]}, index=[7, 8, 9])
    out = normalize(x, {"a": 1, "b": -1})
    assert list(out.index) == [7, 8, 9]
    np.testing.assert_allclose(out["a"], [0, 1, 0.5])
    np.testing.assert_allclose(out["b"], [0, 1, 0.5])
    out2 = normalize(x, {"a": 1, "b": -1}, shift=0.1)
    np.testing.assert_allclose(out2["a"], [0.1, 0.9, 0.5])


def test_normalize_by_group_equals_groupwise_minmax():
    panel = make_panel(1)
    cols = ["x0", "x1"]
    out = normalize(panel[cols], {"x0": 1, "x1": -1}, by=panel["year"])
    for y, g in panel.groupby("year"):
        np.testing.assert_allclose(out.loc[g.index, "x0"], brute_minmax(g["x0"], 1))
        np.testing.assert_allclose(out.loc[g.index, "x1"], brute_minmax(g["x1"], -1))


def test_normalize_zero_range_pooled_and_by_group_errors():
    x = pd.DataFrame({"a": [1.0, 1.0, 1.0, 1.0], "b": [1.0, 2.0, 3.0, 3.0]})
    with pytest.raises(InputError, match=r"'a'.*zero-weight"):
        normalize(x, {"a": 1, "b": 1})
    y = pd.DataFrame({"b": [1.0, 2.0, 3.0, 3.0]})
    with pytest.raises(InputError, match=r"'b'.*year 2021.*remove it"):
        normalize(y, {"b": 1}, by=pd.Series([2020, 2020, 2021, 2021]))


def test_normalize_bad_inputs_and_no_mutation():
    x = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    before = x.copy()
    with pytest.raises(InputError, match="direction"):
        normalize(x, {"a": 1})
    with pytest.raises(InputError, match="direction"):
        normalize(x, {"a": 1, "b": 2})
    with pytest.raises(InputError, match="shift"):
        normalize(x, {"a": 1, "b": 1}, shift=0.5)
    with pytest.raises(InputError, match="missing"):
        normalize(pd.DataFrame({"a": [1.0, np.nan]}), {"a": 1})
    normalize(x, {"a": 1, "b": -1}, shift=0.01)
    pd.testing.assert_frame_equal(x, before)


# --- low-level weight functions ------------------------------------------------------------


def test_critic_weights_bruteforce_loop():
    rng = np.random.default_rng(5)
    R = pd.DataFrame(rng.uniform(size=(12, 4)), columns=list("abcd"))
    # independent double loop of the Diakoulaki et al. (1995) definition
    A = R.to_numpy()
    C = []
    for j in range(4):
        s = np.sqrt(np.mean((A[:, j] - A[:, j].mean()) ** 2))
        conf = sum(1 - np.corrcoef(A[:, j], A[:, k])[0, 1] for k in range(4))
        C.append(s * conf)
    np.testing.assert_allclose(critic_weights(R), np.array(C) / sum(C), rtol=1e-12)


def test_critic_weights_errors():
    with pytest.raises(InputError, match="constant"):
        critic_weights(pd.DataFrame({"a": [1.0, 1.0, 1.0], "b": [0.0, 1.0, 2.0]}))
    with pytest.raises(InputError, match="perfectly correlated"):
        critic_weights(pd.DataFrame({"a": [0.0, 1.0, 2.0], "b": [0.0, 2.0, 4.0]}))
    with pytest.raises(InputError, match="conflict"):
        critic_weights(pd.DataFrame({"a": [0.0, 1.0]}), conflict="abs")


def test_entropy_weights_refuses_non_positive_and_bruteforce():
    with pytest.raises(InputError, match="shift"):
        entropy_weights(pd.DataFrame({"a": [0.0, 0.5, 1.0], "b": [0.2, 0.5, 0.1]}))
    R = pd.DataFrame({"a": [0.1, 0.5, 1.0, 0.3], "b": [0.2, 0.5, 0.1, 0.9]})
    e = []
    for c in R:
        p = R[c] / R[c].sum()
        e.append(-(p * np.log(p)).sum() / np.log(4))
    d = 1 - np.array(e)
    np.testing.assert_allclose(entropy_weights(R), d / d.sum(), rtol=1e-12)


# --- compute_weights: tables and options ---------------------------------------------------


def test_result_tables_and_contract():
    panel = make_panel()
    ind = make_indicators()
    res = compute_weights(panel, ind)
    assert isinstance(res, WeightingResult) and isinstance(res, Results)
    w = res.weights
    assert list(w.columns[:6]) == REQUIRED_WEIGHT_COLUMNS
    # subsystem order = first appearance; indicator order kept within the subsystem
    assert w["subsystem"].tolist() == ["NTU"] * 3 + ["NQP"] * 4
    assert w["indicator"].tolist() == ["x4", "x5", "x6", "x0", "x1", "x2", "x3"]
    assert w["direction"].dtype == np.int64
    assert set(w["direction"]) == {1, -1}
    assert (w["method"] == "critic").all()
    np.testing.assert_allclose(w.groupby("subsystem")["weight"].sum(), 1.0, rtol=1e-12)
    assert list(res.indices.columns) == [
        "region",
        "year",
        "NTU",
        "NQP",
        "NTU.pop",
        "NTU.eco",
        "NQP.engine",
        "NQP.forms",
    ]
    assert list(res.normalized.columns) == ["region", "year", "x4", "x5", "x6", "x0", "x1", "x2", "x3"]
    pd.testing.assert_frame_equal(res.normalized[["region", "year"]], panel[["region", "year"]].reset_index(drop=True))
    # normalized = pooled direction-aware min-max, computed independently
    for _, row in ind.iterrows():
        np.testing.assert_allclose(
            res.normalized[row.indicator], brute_minmax(panel[row.indicator], row.direction), atol=1e-15
        )
    # subsystem index = sum w r; weights within subsystem = critic on that subsystem's columns
    for s, g in w.groupby("subsystem"):
        R = res.normalized[g["indicator"].tolist()]
        np.testing.assert_allclose(res.indices[s], R.to_numpy() @ g["weight"].to_numpy())
        np.testing.assert_allclose(g["weight"], critic_weights(R), rtol=1e-12)
    # dimension sub-index = weighted mean with weights renormalized in the dimension
    g = w[(w.subsystem == "NQP") & (w.dimension == "forms")]
    wd = g["weight"] / g["weight"].sum()
    np.testing.assert_allclose(g["weight_in_dimension"], wd)
    np.testing.assert_allclose(res.indices["NQP.forms"], res.normalized[["x2", "x3"]].to_numpy() @ wd.to_numpy())
    np.testing.assert_allclose(
        res.dimension_weights.set_index(["subsystem", "dimension"]).loc[("NQP", "forms"), "weight"], g["weight"].sum()
    )
    o = res.options
    assert o["method"] == "critic" and o["shift"] == 0.0 and o["levels"] == 1
    assert o["subsystems"] == ["NTU", "NQP"]


def test_result_is_immutable_and_summarises():
    res = compute_weights(make_panel(), make_indicators())
    with pytest.raises(AttributeError):
        res.weights = None
    t = res.weights
    t.loc[0, "weight"] = 99.0
    assert res.weights.loc[0, "weight"] != 99.0
    o = res.options
    o["method"] = "changed"
    assert res.options["method"] == "critic"
    s = res.summary()
    assert isinstance(s, Summary)
    text = s.as_text()
    assert "x3" in text and "critic" in text
    assert "booktabs" not in s.as_latex() and r"\toprule" in s.as_latex()
    assert "<table" in s.as_html()


def test_inputs_not_mutated():
    panel = make_panel()
    ind = make_indicators()
    p0, i0 = panel.copy(), ind.copy()
    compute_weights(panel, ind, method="critic-entropy", normalization="by-year", levels=2)
    pd.testing.assert_frame_equal(panel, p0)
    pd.testing.assert_frame_equal(ind, i0)


@pytest.mark.parametrize(
    "option, value",
    [
        ("method", "topsis"),
        ("normalization", "by-region"),
        ("critic_conflict", "abs"),
        ("critic_cost", "benefit"),
        ("levels", 3),
        ("zero_variance", "drop"),
        ("shift", -0.1),
    ],
)
def test_unknown_options_refused(option, value):
    with pytest.raises(InputError, match=option if option != "shift" else "shift"):
        compute_weights(make_panel(), make_indicators(), **{option: value})


def test_missing_indicator_column_refused():
    ind = make_indicators()
    ind.loc[0, "indicator"] = "nope"
    with pytest.raises(InputError, match="'nope'"):
        compute_weights(make_panel(), ind)


# --- levels = 2 ----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["critic", "entropy", "equal", "critic-entropy"])
def test_levels2_products_sum_to_one(method):
    panel, ind = make_panel(2), make_indicators()
    res = compute_weights(panel, ind, method=method, levels=2)
    w = res.weights
    np.testing.assert_allclose(w.groupby("subsystem")["weight"].sum(), 1.0, rtol=1e-12)
    np.testing.assert_allclose(w["weight"], w["weight_in_dimension"] * w["dimension_weight"], rtol=1e-12)
    np.testing.assert_allclose(w.groupby(["subsystem", "dimension"])["weight_in_dimension"].sum(), 1.0, rtol=1e-12)
    dw = res.dimension_weights
    np.testing.assert_allclose(dw.groupby("subsystem")["weight"].sum(), 1.0, rtol=1e-12)
    if method == "equal":
        # NQP: 2 dimensions of 2 indicators -> 1/4 each; NTU: pop (2) and eco (1) -> 1/4, 1/4, 1/2
        np.testing.assert_allclose(
            w.set_index("indicator").loc[["x0", "x4", "x5", "x6"], "weight"], [0.25, 0.25, 0.25, 0.5]
        )


def test_levels2_critic_dimension_weights_by_hand():
    panel, ind = make_panel(3), make_indicators()
    res = compute_weights(panel, ind, method="critic", levels=2)
    w = res.weights
    R = pd.DataFrame({c: brute_minmax(panel[c], d) for c, d in zip(ind.indicator, ind.direction)})
    for s in ["NQP", "NTU"]:
        sub = w[w.subsystem == s]
        dims = list(dict.fromkeys(sub.dimension))
        cols = {}
        for d in dims:
            names = sub.loc[sub.dimension == d, "indicator"].tolist()
            wd = critic_weights(R[names]) if len(names) > 1 else pd.Series([1.0], index=names)
            np.testing.assert_allclose(sub.loc[sub.dimension == d, "weight_in_dimension"], wd, rtol=1e-12)
            cols[d] = R[names].to_numpy() @ wd.to_numpy()
            np.testing.assert_allclose(res.indices[f"{s}.{d}"], cols[d], rtol=1e-12)
        dimw = critic_weights(pd.DataFrame(cols))
        got = res.dimension_weights.query("subsystem == @s").set_index("dimension")["weight"]
        np.testing.assert_allclose(got.loc[dims], dimw.loc[dims], rtol=1e-12)


def test_levels2_needs_every_dimension():
    ind = make_indicators()
    ind.loc[2, "dimension"] = ""
    with pytest.raises(InputError, match=r"'x1'.*dimension"):
        compute_weights(make_panel(), ind, levels=2)
    ind.loc[2, "dimension"] = np.nan
    with pytest.raises(InputError, match=r"'x1'"):
        compute_weights(make_panel(), ind, levels=2)


# --- single indicator, zero variance, by-year, fixed, entropy shift ------------------------


@pytest.mark.parametrize("method", ["critic", "entropy", "equal", "fixed", "critic-entropy"])
@pytest.mark.parametrize("levels", [1, 2])
def test_single_indicator_subsystem_weight_one(method, levels):
    panel = make_panel(4)
    ind = pd.DataFrame(
        {
            "indicator": ["x0", "x1", "x2"],
            "subsystem": ["A", "A", "B"],
            "dimension": ["d1", "d2", "d3"],
            "direction": [1, -1, 1],
            "weight": [0.4, 0.6, 0.3],
        }
    )
    res = compute_weights(panel, ind, method=method, levels=levels)
    w = res.weights.set_index("indicator")
    assert w.loc["x2", "weight"] == 1.0
    np.testing.assert_allclose(res.indices["B"], res.normalized["x2"])


def test_zero_variance_error_lists_all():
    panel = make_panel()
    panel["x1"] = 3.0
    panel["x5"] = -1.0
    with pytest.raises(InputError, match=r"'x5'.*'x1'.*remove them.*zero-weight"):
        compute_weights(panel, make_indicators())


@pytest.mark.parametrize("method", ["critic", "entropy", "equal", "critic-entropy"])
def test_zero_variance_zero_weight_equals_leaving_it_out(method):
    panel = make_panel(6)
    panel["x1"] = 3.0
    ind = make_indicators()
    res = compute_weights(panel, ind, method=method, zero_variance="zero-weight")
    w = res.weights.set_index("indicator")
    assert w.loc["x1", "weight"] == 0.0
    assert "zero range" in w.loc["x1", "note"]
    assert (res.normalized["x1"] == 0.0).all()
    assert res.options["zero_range_indicators"] == {"x1": "all rows"}
    # other weights and the indices equal a run without the indicator
    ref = compute_weights(panel, ind[ind.indicator != "x1"], method=method)
    rw = ref.weights.set_index("indicator")
    np.testing.assert_allclose(w.loc[rw.index, "weight"], rw["weight"], rtol=1e-12)
    np.testing.assert_allclose(res.indices[["NQP", "NTU"]], ref.indices[["NQP", "NTU"]], rtol=1e-12)
    np.testing.assert_allclose(w.groupby("subsystem")["weight"].sum(), 1.0, rtol=1e-12)


def test_zero_variance_within_one_year_under_by_year():
    panel = make_panel(7)
    panel.loc[panel.year == 2015, "x2"] = 1.0
    with pytest.raises(InputError, match=r"'x2'.*year 2015"):
        compute_weights(panel, make_indicators(), normalization="by-year")
    compute_weights(panel, make_indicators(), normalization="pooled")  # fine pooled
    res = compute_weights(panel, make_indicators(), normalization="by-year", zero_variance="zero-weight")
    w = res.weights.set_index("indicator")
    assert w.loc["x2", "weight"] == 0.0
    assert "2015" in w.loc["x2", "note"]
    assert res.options["zero_range_indicators"] == {"x2": [2015]}


def test_zero_weight_all_indicators_of_subsystem_refused():
    panel = make_panel()
    for c in ["x4", "x5", "x6"]:
        panel[c] = 1.0
    with pytest.raises(InputError, match="'NTU'"):
        compute_weights(panel, make_indicators(), zero_variance="zero-weight")


@pytest.mark.parametrize("method", ["critic", "entropy", "critic-entropy"])
def test_by_year_weights_pooled_indices_by_year(method):
    panel = make_panel(8)
    ind = make_indicators()
    by = compute_weights(panel, ind, method=method, normalization="by-year")
    pooled = compute_weights(panel, ind, method=method, normalization="pooled")
    np.testing.assert_allclose(by.weights["weight"], pooled.weights["weight"], rtol=1e-12)
    shift = by.options["shift"]
    for c, d in zip(ind.indicator, ind.direction):
        for y, g in panel.groupby("year"):
            expected = shift + (1 - 2 * shift) * brute_minmax(g[c], d)
            np.testing.assert_allclose(by.normalized.loc[g.index, c], expected, atol=1e-14)
    for s, g in by.weights.groupby("subsystem"):
        np.testing.assert_allclose(by.indices[s], by.normalized[g.indicator.tolist()].to_numpy() @ g.weight.to_numpy())
    assert any("pooled" in n for n in by.options["notes"])


def test_fixed_weights_renormalized_with_note():
    ind = make_indicators()
    ind["weight"] = [1.0, 2.0, 2.0, 1.0, 5.0, 1.0, 2.0]  # NTU sums to 4, NQP to 10
    res = compute_weights(make_panel(), ind, method="fixed")
    w = res.weights.set_index("indicator")
    np.testing.assert_allclose(w.loc[["x4", "x5", "x6"], "weight"], [0.25, 0.25, 0.5])
    np.testing.assert_allclose(w.loc[["x0", "x1", "x2", "x3"], "weight"], [0.2, 0.2, 0.1, 0.5])
    assert sum("renormalized" in n for n in res.options["notes"]) == 2
    res2 = compute_weights(make_panel(), ind, method="fixed", levels=2)
    np.testing.assert_allclose(res2.weights["weight"], res.weights["weight"], rtol=1e-12)
    # weights already summing to 1: no note
    ind["weight"] = [0.25, 0.4, 0.4, 0.1, 0.1, 0.25, 0.5]
    res3 = compute_weights(make_panel(), ind, method="fixed")
    assert not any("renormalized" in n for n in res3.options["notes"])


def test_fixed_weights_missing_negative_zero():
    ind = make_indicators()
    ind["weight"] = [1.0, np.nan, 2.0, np.nan, 1.0, 1.0, 1.0]
    with pytest.raises(InputError, match=r"'x0'.*'x2'"):
        compute_weights(make_panel(), ind, method="fixed")
    ind["weight"] = [1.0, 1.0, -2.0, 1.0, 1.0, 1.0, 1.0]
    with pytest.raises(InputError, match=r"negative.*'x1'"):
        compute_weights(make_panel(), ind, method="fixed")
    ind["weight"] = [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0]
    with pytest.raises(InputError, match=r"'NQP'"):
        compute_weights(make_panel(), ind, method="fixed")
    with pytest.raises(InputError, match="weight"):
        compute_weights(make_panel(), make_indicators().drop(columns="weight"), method="fixed")


def test_entropy_refuses_zero_shift():
    with pytest.raises(InputError, match="shift"):
        compute_weights(make_panel(), make_indicators(), method="entropy", shift=0)
    with pytest.raises(InputError, match="shift"):
        compute_weights(make_panel(), make_indicators(), method="critic-entropy", shift=0.0)


def test_explicit_shift_moves_indices_not_critic_weights():
    panel, ind = make_panel(9), make_indicators()
    a = compute_weights(panel, ind)
    b = compute_weights(panel, ind, shift=0.01)
    np.testing.assert_allclose(b.weights["weight"], a.weights["weight"], rtol=1e-12)
    np.testing.assert_allclose(b.indices["NQP"], 0.01 + 0.98 * a.indices["NQP"], rtol=1e-12)
    assert b.options["shift"] == 0.01


def test_benefit_all_changes_weights_only():
    panel, ind = make_panel(10), make_indicators()
    a = compute_weights(panel, ind, critic_cost="reverse-first")
    b = compute_weights(panel, ind, critic_cost="benefit-all")
    pd.testing.assert_frame_equal(a.normalized, b.normalized)
    assert not np.allclose(a.weights["weight"], b.weights["weight"])
    # benefit-all = CRITIC on every column normalized as a benefit
    R = pd.DataFrame({c: brute_minmax(panel[c], 1) for c in ["x0", "x1", "x2", "x3"]})
    got = b.weights.set_index("indicator").loc[R.columns, "weight"]
    np.testing.assert_allclose(got, critic_weights(R), rtol=1e-12)


def test_levels2_zero_weight_inside_dimension():
    panel = make_panel(11)
    panel["x2"] = 2.0  # one of the two "forms" indicators
    res = compute_weights(panel, make_indicators(), levels=2, zero_variance="zero-weight")
    w = res.weights.set_index("indicator")
    assert w.loc["x2", "weight"] == 0.0
    assert w.loc["x3", "weight_in_dimension"] == 1.0
    np.testing.assert_allclose(res.indices["NQP.forms"], res.normalized["x3"])
    np.testing.assert_allclose(w.groupby("subsystem")["weight"].sum(), 1.0, rtol=1e-12)
    panel["x3"] = 5.0  # now the whole dimension is constant
    with pytest.raises(InputError, match=r"dimension 'forms'"):
        compute_weights(panel, make_indicators(), levels=2, zero_variance="zero-weight")


def test_fixed_with_zero_weight_policy():
    panel = make_panel(12)
    panel["x0"] = 1.0
    ind = make_indicators()
    ind["weight"] = [1.0, 3.0, 1.0, 1.0, 2.0, 1.0, 1.0]
    res = compute_weights(panel, ind, method="fixed", zero_variance="zero-weight")
    w = res.weights.set_index("indicator")
    np.testing.assert_allclose(w.loc[["x0", "x1", "x2", "x3"], "weight"], [0, 0.25, 0.25, 0.5])


def test_non_default_panel_index_and_years_as_strings():
    panel = make_panel(13)
    ind = make_indicators()
    a = compute_weights(panel, ind, normalization="by-year")
    moved = panel.set_axis(np.arange(len(panel))[::-1] * 3).assign(year=panel["year"].astype(str).to_numpy())
    b = compute_weights(moved, ind, normalization="by-year")
    np.testing.assert_allclose(b.weights["weight"], a.weights["weight"], rtol=1e-12)
    np.testing.assert_allclose(b.indices.iloc[:, 2:], a.indices.iloc[:, 2:], rtol=1e-12)
    assert b.indices["year"].tolist() == panel["year"].astype(str).tolist()
