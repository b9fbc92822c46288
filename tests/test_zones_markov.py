"""Markov chains (plugins/zones/markov.py) against giddy on the same classes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nqpspatial.errors import InputError
from nqpspatial.plugins.zones import contiguity_graph, markov_chains

gpd = pytest.importorskip("geopandas")
giddy_markov = pytest.importorskip("giddy.markov")
import libpysal  # noqa: E402
import mapclassify as mc  # noqa: E402

MEXICO_SHP = Path(libpysal.__file__).parent / "examples" / "mexico" / "mexicojoin.shp"
DECADES = list(range(1940, 2001, 10))


@pytest.fixture(scope="module")
def mexico():
    layer = gpd.read_file(MEXICO_SHP)
    # giddy's reference inputs in the shapefile's own order, W built independently by libpysal
    y = layer[[f"PCGDP{d}" for d in DECADES]].to_numpy(dtype=float)
    w = libpysal.weights.Queen.from_dataframe(layer, use_index=False)
    w.transform = "r"
    layer = layer.set_index("NAME")
    long = layer.reset_index().melt(
        id_vars=["NAME"], value_vars=[f"PCGDP{d}" for d in DECADES], var_name="year", value_name="pcgdp"
    )
    long["year"] = long["year"].str[5:].astype(int)
    long = long.rename(columns={"NAME": "region"})
    graph, _ = contiguity_graph(layer)
    return layer, long, graph, y, w


def _matrix(tab, kind=None, **eq):
    sub = tab
    if kind is not None:
        sub = sub[sub["kind"] == kind]
    for k, v in eq.items():
        sub = sub[sub[k] == v]
    return sub.pivot(index="from", columns="to", values="count").to_numpy(dtype=float), sub.pivot(
        index="from", columns="to", values="probability"
    ).to_numpy(dtype=float)


def test_classic_equals_giddy_and_brute_force(mexico):
    _, long, graph, y, _ = mexico
    res = markov_chains(long, "pcgdp", graph, classes=5)
    counts, probs = _matrix(res.transitions, "classic")
    q = mc.Quantiles(y.flatten(), k=5)  # pooled class bounds, as giddy's Spatial_Markov(fixed=True)
    cls = q.yb.reshape(y.shape)
    ref = giddy_markov.Markov(cls, summary=False)
    np.testing.assert_array_equal(counts, ref.transitions)
    np.testing.assert_allclose(probs, ref.p, atol=1e-15)
    brute = np.zeros((5, 5))
    for i in range(cls.shape[0]):
        for t in range(cls.shape[1] - 1):
            brute[cls[i, t], cls[i, t + 1]] += 1
    np.testing.assert_array_equal(counts, brute)
    np.testing.assert_allclose(res.classes["upper"], q.bins)


def test_spatial_markov_equals_giddy(mexico):
    _, long, graph, y, w = mexico
    res = markov_chains(long, "pcgdp", graph, classes=5)
    ref = giddy_markov.Spatial_Markov(y, w, k=5, m=5, fixed=True)
    sp = res.spatial
    trans = sp[sp["row_type"] == "transition"]
    for c in range(5):
        counts, probs = _matrix(trans, lag_class=c)
        np.testing.assert_array_equal(counts, ref.T[c])
        np.testing.assert_allclose(np.nan_to_num(probs), ref.P[c], atol=1e-15)
    tests = sp[sp["row_type"] == "test"].set_index("test")
    assert tests.loc["Q", "statistic"] == pytest.approx(ref.Q)
    assert tests.loc["LR", "statistic"] == pytest.approx(ref.LR)
    assert tests.loc["Q", "p_value"] == pytest.approx(ref.Q_p_value)
    assert tests.loc["LR", "dof"] == ref.dof_hom
    chi = tests.loc["chi2"].sort_values("lag_class")
    np.testing.assert_allclose(chi["statistic"], [c[0] for c in ref.chi2])
    assert tests.loc["chi2_total", "statistic"] == pytest.approx(ref.x2)


def test_lisa_markov_equals_giddy(mexico):
    _, long, graph, y, w = mexico
    res = markov_chains(long, "pcgdp", graph)
    ref = giddy_markov.LISA_Markov(y, w)
    counts, probs = _matrix(res.transitions, "lisa")
    np.testing.assert_array_equal(counts, ref.transitions)
    np.testing.assert_allclose(np.nan_to_num(probs), ref.p, atol=1e-15)
    lisa = res.transitions.query("kind == 'lisa'")
    assert set(lisa["from_label"]) == {"HH", "LH", "LL", "HL"}
    assert (lisa.groupby("from")["probability"].sum().round(12) == 1).all()


def test_discrete_grades_equal_giddy_discrete(mexico):
    _, long, graph, _, _ = mexico
    data = long.copy()
    data["grade"] = np.where(data["pcgdp"] > 15000, "high", np.where(data["pcgdp"] > 8000, "mid", "low"))
    res = markov_chains(data, "pcgdp", graph, class_column="grade", seed=3)
    assert list(res.classes["label"]) == ["low", "mid", "high"]  # ordered by mean pcgdp
    ids = sorted(data["region"].unique())
    codes = (
        data.pivot(index="region", columns="year", values="grade")
        .loc[ids]
        .replace({"low": 0, "mid": 1, "high": 2})
        .to_numpy(dtype=int)
    )
    w = graph.transform("r").to_W()
    state = np.random.get_state()
    np.random.seed(123)
    ref = giddy_markov.Spatial_Markov(codes, w, discrete=True)
    np.random.set_state(state)
    counts, _ = _matrix(res.transitions, "classic")
    np.testing.assert_array_equal(counts, ref.transitions)
    # conditional matrices: ties of the modal lag are broken at random by libpysal, so compare the
    # pooled counts, which do not depend on the tie-breaks
    sp = res.spatial.query("row_type == 'transition'")
    pooled = sp.groupby(["from", "to"])["count"].sum().unstack().to_numpy(dtype=float)
    np.testing.assert_array_equal(pooled, ref.T.sum(axis=0))
    again = markov_chains(data, "pcgdp", graph, class_column="grade", seed=3)
    pd.testing.assert_frame_equal(res.spatial, again.spatial)


def test_no_graph_gives_classic_only(mexico):
    _, long, _, _, _ = mexico
    res = markov_chains(long, "pcgdp", None, classes=4)
    assert res.spatial is None
    assert set(res.transitions["kind"]) == {"classic"}
    assert res.transitions["count"].sum() == 32 * (len(DECADES) - 1)
    assert any("no spatial graph" in n for n in res.notes)
    assert "classic" in res.summary().as_text()


def test_graph_with_isolate_refused(mexico):
    _, long, graph, _, _ = mexico
    from libpysal.graph import Graph

    adj = graph.adjacency
    keep = ~adj.index.get_level_values(0).isin(["Yucatan"]) & ~adj.index.get_level_values(1).isin(["Yucatan"])
    adj = adj[keep]
    g = Graph.from_arrays(
        np.r_[adj.index.get_level_values(0), ["Yucatan"]],
        np.r_[adj.index.get_level_values(1), ["Yucatan"]],
        np.r_[adj.to_numpy(), [0]],
    )
    with pytest.raises(InputError, match="Yucatan"):
        markov_chains(long, "pcgdp", g)


def test_unbalanced_panel_refused(mexico):
    _, long, graph, _, _ = mexico
    with pytest.raises(InputError, match="unbalanced"):
        markov_chains(long.iloc[1:], "pcgdp", graph)


# ---------------------------------------------------------------- relative (per-year quantile) classes

US_INCOME = Path(libpysal.__file__).parent / "examples" / "us_income"


@pytest.fixture(scope="module")
def us_income():
    """libpysal's US state per-capita incomes 1929-2009 (48 states) and giddy's states48.gal weights."""
    from libpysal.graph import Graph

    wide = pd.read_csv(US_INCOME / "usjoin.csv")
    years = [str(t) for t in range(1929, 2010)]
    y = wide[years].to_numpy(dtype=float)
    long = wide.melt(id_vars="Name", value_vars=years, var_name="year", value_name="income").rename(
        columns={"Name": "region"}
    )
    long["year"] = long["year"].astype(int)
    w = libpysal.io.open(str(US_INCOME / "states48.gal")).read()  # ids 0..47 in the file's row order
    w.transform = "r"
    names = wide["Name"].tolist()
    assert names == sorted(names)  # so markov_chains' sorted regions are giddy's rows
    assert w.id_order == [str(i) for i in range(48)]  # giddy's rows are usjoin.csv's rows
    w_named = libpysal.weights.W(
        {names[int(i)]: [names[int(j)] for j in w.neighbors[i]] for i in w.id_order},
        id_order=names,
        silence_warnings=True,
    )
    return long, Graph.from_W(w_named), y, w


def _per_year_quantiles(y, k):
    return np.column_stack([mc.Quantiles(y[:, t], k=k).yb for t in range(y.shape[1])])


def test_relative_classes_equal_giddy_on_per_year_quantiles(us_income):
    long, graph, y, w = us_income
    res = markov_chains(long, "income", graph, classes=5, class_mode="relative", lisa=False)
    assert set(res.transitions["classes"]) == {"relative"}
    counts, probs = _matrix(res.transitions, "classic")
    ref = giddy_markov.Markov(_per_year_quantiles(y, 5), summary=False)
    np.testing.assert_array_equal(counts, ref.transitions)
    np.testing.assert_allclose(probs, ref.p, rtol=0, atol=1e-12)
    assert counts.sum() == 48 * 80
    # giddy's own relative spatial Markov: per-year quantiles of y and of its spatial lag (fixed=False)
    sm = giddy_markov.Spatial_Markov(y, w, k=5, m=5, fixed=False)
    np.testing.assert_array_equal(sm.class_ids, _per_year_quantiles(y, 5))
    trans = res.spatial[res.spatial["row_type"] == "transition"]
    for c in range(5):
        c_counts, c_probs = _matrix(trans, lag_class=c)
        np.testing.assert_array_equal(c_counts, sm.T[c])
        np.testing.assert_allclose(np.nan_to_num(c_probs), sm.P[c], rtol=0, atol=1e-12)
    tests = res.spatial[res.spatial["row_type"] == "test"].set_index("test")
    assert tests.loc["Q", "statistic"] == pytest.approx(sm.Q, rel=1e-12)
    assert tests.loc["LR", "statistic"] == pytest.approx(sm.LR, rel=1e-12)
    assert tests.loc["chi2_total", "statistic"] == pytest.approx(sm.x2, rel=1e-12)
    assert set(res.spatial["classes"]) == {"relative"}
    assert set(trans["lag_label"]) == {"0-20 %", "20-40 %", "40-60 %", "60-80 %", "80-100 %"}
    # markov_classes: one set of bounds per year, equal to mapclassify's on that year
    cls = res.classes
    assert list(cls.columns) == ["variable", "classes", "year", "class", "label", "lower", "upper"]
    assert len(cls) == 81 * 5 and set(cls["classes"]) == {"relative"}
    c1950 = cls[cls["year"] == 1950].sort_values("class")
    np.testing.assert_allclose(c1950["upper"], mc.Quantiles(y[:, 1950 - 1929], k=5).bins)
    assert c1950["lower"].iloc[0] == y[:, 1950 - 1929].min()


def test_relative_classes_equal_giddy_with_a_contiguity_graph(mexico):
    _, long, graph, y, w = mexico
    res = markov_chains(long, "pcgdp", graph, classes=4, class_mode="relative")
    counts, probs = _matrix(res.transitions, "classic")
    ref = giddy_markov.Markov(_per_year_quantiles(y, 4), summary=False)
    np.testing.assert_array_equal(counts, ref.transitions)
    np.testing.assert_allclose(probs, ref.p, rtol=0, atol=1e-12)
    sm = giddy_markov.Spatial_Markov(y, w, k=4, m=4, fixed=False)
    trans = res.spatial[res.spatial["row_type"] == "transition"]
    for c in range(4):
        c_counts, c_probs = _matrix(trans, lag_class=c)
        np.testing.assert_array_equal(c_counts, sm.T[c])
        np.testing.assert_allclose(np.nan_to_num(c_probs), sm.P[c], rtol=0, atol=1e-12)
    lisa = res.transitions[res.transitions["kind"] == "lisa"]
    assert len(lisa) == 16 and lisa["classes"].isna().all()  # quadrants: neither pooled nor relative


def test_both_keeps_the_pooled_rows_and_adds_relative_ones(mexico):
    _, long, graph, _, _ = mexico
    pooled = markov_chains(long, "pcgdp", graph, classes=5)
    both = markov_chains(long, "pcgdp", graph, classes=5, class_mode="both")
    relative = markov_chains(long, "pcgdp", graph, classes=5, class_mode="relative", lisa=False)
    t = both.transitions
    pd.testing.assert_frame_equal(
        t[t["classes"] == "pooled"].reset_index(drop=True),
        pooled.transitions[pooled.transitions["kind"] == "classic"].reset_index(drop=True),
    )
    pd.testing.assert_frame_equal(
        t[t["classes"] == "relative"].reset_index(drop=True), relative.transitions.reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(
        t[t["kind"] == "lisa"].reset_index(drop=True),
        pooled.transitions[pooled.transitions["kind"] == "lisa"].reset_index(drop=True),
    )
    for name in ("spatial", "classes"):
        mine = getattr(both, name)
        pd.testing.assert_frame_equal(mine[mine["classes"] == "pooled"].reset_index(drop=True), getattr(pooled, name))
    assert list(both.classes.query("classes == 'pooled'")["year"].isna()) == [True] * 5
    assert "relative classes" in both.summary().as_text()


def test_pooled_classes_on_a_trending_series_get_a_note(us_income):
    long, _, y, _ = us_income
    res = markov_chains(long, "income", None, classes=5)
    tr = res.trend.set_index("variable").loc["income"]
    assert tr["trending"] and tr["tau"] > 0.9 and tr["p_value"] < 1e-10
    # the pooled classes track calendar time: nearly every state is in the lowest class in 1929 and in the
    # highest in 2009, while relative classes keep a mean of about 2 in every year
    assert tr["mean_class_first"] < 0.1 and tr["mean_class_last"] == 4.0
    note = [n for n in res.notes if "track calendar time" in n]
    assert len(note) == 1 and "'income'" in note[0] and "1929" in note[0] and "2009" in note[0]
    rel = _per_year_quantiles(y, 5).mean(axis=0)
    assert np.abs(rel - 2).max() < 0.1
    # relative incomes (each year divided by its mean) have no trend: no note
    rel_income = long.assign(income=long["income"] / long.groupby("year")["income"].transform("mean"))
    flat = markov_chains(rel_income, "income", None, classes=5)
    assert not flat.trend["trending"].any()
    assert not any("track calendar time" in n for n in flat.notes)
    # relative classes alone: no pooled classes, so no trend note
    only_rel = markov_chains(long, "income", None, classes=5, class_mode="relative")
    assert only_rel.trend.empty and not any("track calendar time" in n for n in only_rel.notes)


def test_mean_trend_is_the_mann_kendall_test():
    from scipy.stats import kendalltau

    from nqpspatial.plugins.zones.markov import mean_trend

    rng = np.random.default_rng(5)
    years = list(range(2001, 2013))
    flat = pd.DataFrame(rng.normal(0, 1, (20, 12)), columns=years)
    up = flat + np.arange(12) * 0.5
    r = mean_trend(up)
    ref = kendalltau(np.arange(12), up.mean(axis=0).to_numpy())
    assert r["tau"] == pytest.approx(ref.statistic) and r["p_value"] == pytest.approx(ref.pvalue)
    assert r["trending"]
    assert not mean_trend(flat)["trending"]
    assert not mean_trend(flat.iloc[:, :2])["trending"]  # two periods: no test
    const = pd.DataFrame(np.ones((4, 5)), columns=range(5))
    assert np.isnan(mean_trend(const)["p_value"]) and not mean_trend(const)["trending"]


def test_relative_classes_refuse_tied_years_and_bad_modes(mexico):
    _, long, graph, _, _ = mexico
    tied = long.copy()
    tied.loc[tied["year"] == 1970, "pcgdp"] = 1000.0
    with pytest.raises(InputError, match=r"'pcgdp'.*equal values in year 1970"):
        markov_chains(tied, "pcgdp", None, class_mode="relative")
    with pytest.raises(InputError, match="class_mode"):
        markov_chains(long, "pcgdp", None, class_mode="fixed")
    with pytest.raises(InputError, match="classes"):
        markov_chains(long, "pcgdp", None, classes=True, class_mode="relative")


def test_relative_classes_for_graded_variables(mexico):
    """With discrete grades the pooled chain uses the grades, the relative one per-year quantiles."""
    _, long, graph, y, _ = mexico
    data = long.copy()
    data["grade"] = np.where(data["pcgdp"] > 15000, "high", np.where(data["pcgdp"] > 8000, "mid", "low"))
    res = markov_chains(data, "pcgdp", graph, class_column="grade", class_mode="both", classes=4, seed=3)
    cls = res.classes
    assert list(cls.loc[cls["classes"] == "pooled", "label"]) == ["low", "mid", "high"]
    counts, _ = _matrix(res.transitions, "classic", classes="relative")
    np.testing.assert_array_equal(counts, giddy_markov.Markov(_per_year_quantiles(y, 4), summary=False).transitions)


def test_report_heatmap_draws_one_chain_of_a_both_table(mexico):
    """markov_transitions with pooled and relative rows: the heatmap draws the chosen chain, its labels too."""
    import matplotlib

    matplotlib.use("Agg")
    from nqpspatial.report.figures import markov_figure

    _, long, graph, _, _ = mexico
    t = markov_chains(long, "pcgdp", graph, classes=5, class_mode="both").transitions
    for mode in ("pooled", "relative"):
        fig = markov_figure(t, "pcgdp", "classic", classes=mode)
        ax = fig.axes[0]
        _, probs = _matrix(t, "classic", classes=mode)
        np.testing.assert_allclose(np.asarray(ax.images[0].get_array()), probs)
        labels = list(t.query("kind == 'classic' and classes == @mode")["from_label"].unique())
        assert [x.get_text() for x in ax.get_yticklabels()] == labels
        matplotlib.pyplot.close(fig)
