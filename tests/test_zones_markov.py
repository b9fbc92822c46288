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
    long = layer.reset_index().melt(id_vars=["NAME"], value_vars=[f"PCGDP{d}" for d in DECADES],
                                    var_name="year", value_name="pcgdp")
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
    return sub.pivot(index="from", columns="to", values="count").to_numpy(dtype=float), \
        sub.pivot(index="from", columns="to", values="probability").to_numpy(dtype=float)


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
    codes = data.pivot(index="region", columns="year", values="grade").loc[ids].replace(
        {"low": 0, "mid": 1, "high": 2}).to_numpy(dtype=int)
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
    assert "no spatial graph" in res.notes[0]
    assert "classic" in res.summary().as_text()


def test_graph_with_isolate_refused(mexico):
    _, long, graph, _, _ = mexico
    from libpysal.graph import Graph

    adj = graph.adjacency
    keep = ~adj.index.get_level_values(0).isin(["Yucatan"]) & ~adj.index.get_level_values(1).isin(["Yucatan"])
    adj = adj[keep]
    g = Graph.from_arrays(np.r_[adj.index.get_level_values(0), ["Yucatan"]],
                          np.r_[adj.index.get_level_values(1), ["Yucatan"]], np.r_[adj.to_numpy(), [0]])
    with pytest.raises(InputError, match="Yucatan"):
        markov_chains(long, "pcgdp", g)


def test_unbalanced_panel_refused(mexico):
    _, long, graph, _, _ = mexico
    with pytest.raises(InputError, match="unbalanced"):
        markov_chains(long.iloc[1:], "pcgdp", graph)
