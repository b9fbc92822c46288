"""Spatial statistics plugins against esda (the reference implementation).

Reference data: libpysal's Mexico example (32 states, per-capita GDP per
decade 1940-2000, columns PCGDP1940...PCGDP2000 of mexicojoin.shp).  The
shapefile has no CRS; it is in lon/lat (EPSG:4326).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

esda = pytest.importorskip("esda")
gpd = pytest.importorskip("geopandas")
libpysal = pytest.importorskip("libpysal")

from _mexico import mexico_layer  # noqa: E402
from nqpspatial.plugins import statistics as S  # noqa: E402
from nqpspatial.plugins import weights as W  # noqa: E402


@pytest.fixture(scope="module")
def mexico():
    g, cols = mexico_layer()
    values = g[cols].copy()
    values.columns = [int(c[5:]) for c in cols]
    return g, values.astype(float)


@pytest.fixture(scope="module")
def queen(mexico):
    g, _ = mexico
    return W.build_weights("queen", list(g.index), geometry=g)


class _quiet(warnings.catch_warnings):
    """Silence two esda warnings, narrowly."""

    def __enter__(self):
        out = super().__enter__()
        # esda's conditional randomisation warns that its default alternative will change
        warnings.filterwarnings("ignore", message="The alternative hypothesis", category=DeprecationWarning)
        # esda's Gi* warns when it picks the row maximum as self-weight for non-binary input
        warnings.filterwarnings("ignore", message="Gi\\* requested", category=UserWarning)
        return out


@pytest.fixture(scope="module", params=["queen", "knn:k=4", "inverse_distance:cutoff=600"])
def weights(request, mexico):
    g, _ = mexico
    return W.build_weights(request.param, list(g.index), geometry=g)


def test_global_moran_equals_esda(mexico, weights):
    g, values = mexico
    rng = np.random.default_rng(0)
    shuffled = values.sample(frac=1.0, random_state=3)  # row order must not matter
    out = S.moran.compute(shuffled, weights.graph, rng=rng, permutations=0)
    graph = weights.graph
    for row in out.itertuples():
        y = values.loc[list(graph.unique_ids), row.year].to_numpy()
        ref = esda.Moran(y, graph, permutations=0)
        for ours, theirs in [
            (row.I, ref.I),
            (row.EI, ref.EI),
            (row.VI_norm, ref.VI_norm),
            (row.z_norm, ref.z_norm),
            (row.p_norm, ref.p_norm),
            (row.VI_rand, ref.VI_rand),
            (row.z_rand, ref.z_rand),
        ]:
            assert ours == pytest.approx(theirs, abs=1e-10, rel=1e-10)
    assert np.isnan(out["p_sim"]).all()


def test_geary_and_getis_ord_equal_esda(mexico, weights):
    g, values = mexico
    graph = weights.graph
    ge = S.geary.compute(values, graph, rng=np.random.default_rng(0), permutations=0)
    go = S.getis_ord.compute(values, graph, rng=np.random.default_rng(0), permutations=0)
    for yr, c_row, g_row in zip(values.columns, ge.itertuples(), go.itertuples()):
        y = values.loc[list(graph.unique_ids), yr].to_numpy()
        rc = esda.Geary(y, graph, permutations=0)
        assert c_row.C == pytest.approx(rc.C, rel=1e-10)
        assert c_row.VC_norm == pytest.approx(rc.VC_norm, rel=1e-10)
        assert c_row.z_norm == pytest.approx(rc.z_norm, rel=1e-10)
        assert c_row.p_norm == pytest.approx(rc.p_norm, rel=1e-10)
        assert c_row.z_rand == pytest.approx(rc.z_rand, rel=1e-10)
        rg = esda.G(y, graph, permutations=0)
        assert g_row.G == pytest.approx(rg.G, rel=1e-10)
        assert g_row.EG == pytest.approx(rg.EG, rel=1e-12)
        assert g_row.VG == pytest.approx(rg.VG, rel=1e-8)
        assert g_row.z_norm == pytest.approx(rg.z_norm, rel=1e-8)
        assert g_row.p_norm == pytest.approx(rg.p_norm, rel=1e-8)


def test_bivariate_moran_equals_esda(mexico, queen):
    g, values = mexico
    graph = queen.graph
    x = values[[1940, 1970, 2000]]
    yv = values[[1950, 1980, 1990]].set_axis([1940, 1970, 2000], axis=1)
    out = S.moran_bivariate.compute(x, graph, rng=np.random.default_rng(1), permutations=0, y=yv.iloc[::-1])
    ids = list(graph.unique_ids)
    for row in out.itertuples():
        ref = esda.Moran_BV(x.loc[ids, row.year].to_numpy(), yv.loc[ids, row.year].to_numpy(), graph, permutations=0)
        assert row.I == pytest.approx(ref.I, rel=1e-10)


def test_local_moran_values_and_quadrants_equal_esda(mexico, weights):
    g, values = mexico
    graph = weights.graph
    out = S.lisa.compute(values.iloc[::-1], graph, rng=np.random.default_rng(0), permutations=0)
    ids = list(graph.unique_ids)
    for yr in values.columns:
        ref = esda.Moran_Local(values.loc[ids, yr].to_numpy(), graph, permutations=0)
        sub = out[out["year"] == yr].set_index("region").loc[ids]
        np.testing.assert_allclose(sub["Ii"].to_numpy(), ref.Is, rtol=1e-10, atol=1e-12)
        assert sub["quadrant"].tolist() == [S.QUADRANTS[q] for q in ref.q]


def test_gistar_equals_esda(mexico, queen):
    g, values = mexico
    ids = list(queen.graph.unique_ids)
    out = S.gistar.compute(values, queen.graph, rng=np.random.default_rng(0), permutations=0)
    # esda's Gi*: binary contiguity with self-weight 1, row-standardized (Ord & Getis 1995)
    star = queen.raw_graph.assign_self_weight(1)
    with _quiet():
        for yr in values.columns:
            ref = esda.G_Local(values.loc[ids, yr].to_numpy(), star, transform="R", star=True, permutations=0)
            sub = out[out["year"] == yr].set_index("region").loc[ids]
            np.testing.assert_allclose(sub["Gi"].to_numpy(), ref.Gs, rtol=1e-10)
            np.testing.assert_allclose(sub["z_norm"].to_numpy(), ref.Zs, rtol=1e-8)


def test_gistar_weighted_graph_uses_row_max_self_weight(mexico):
    g, values = mexico
    sw = W.build_weights("inverse_distance:cutoff=600", list(g.index), geometry=g)
    ids = list(sw.graph.unique_ids)
    out = S.gistar.compute(values[[1940]], sw.graph, rng=np.random.default_rng(0), permutations=0)
    with _quiet():
        # esda picks the row maximum as the self-weight of a non-binary graph
        ref = esda.G_Local(values.loc[ids, 1940].to_numpy(), sw.raw_graph, transform="R", star=True, permutations=0)
    np.testing.assert_allclose(out.set_index("region").loc[ids, "Gi"].to_numpy(), ref.Gs, rtol=1e-10)


def _mc_tol(p, perms):
    # Two independent Monte Carlo estimates of the same p: the difference has standard
    # deviation sqrt(2 p (1 - p) / perms); 5 of them plus two steps of 1/(perms+1) for the
    # "+1" and the fold of the directed rule keeps a false failure below 1e-5 per comparison.
    return 5.0 * np.sqrt(2.0 * p * (1 - p) / perms) + 2.0 / (perms + 1)


def test_global_permutation_p_values_agree_with_esda(mexico, queen):
    g, values = mexico
    perms = 9999
    ids = list(queen.graph.unique_ids)
    for plugin, cls, attr in [
        (S.moran, esda.Moran, "p_sim"),
        (S.geary, esda.Geary, "p_sim"),
        (S.getis_ord, esda.G, "p_sim"),
    ]:
        out = plugin.compute(values, queen.graph, rng=np.random.default_rng(11), permutations=perms)
        np.random.seed(5)  # esda's global statistics draw from numpy's global state
        for row in out.itertuples():
            ref = cls(values.loc[ids, row.year].to_numpy(), queen.graph, permutations=perms)
            p = 0.5 * (row.p_sim + getattr(ref, attr))
            assert abs(row.p_sim - getattr(ref, attr)) <= _mc_tol(p, perms), (plugin.name, row.year)


def test_local_permutation_p_values_agree_with_esda(mexico, queen):
    """Conditional permutation p-values of local Moran vs esda's (numba) engine.

    Regions with a single neighbour are checked against the exact conditional
    distribution instead: their permuted statistic takes the observed value
    with probability 1/(n-1), and esda's count of those exact ties flips with
    floating-point rounding (its observed and simulated values are computed in
    different orders), while ours counts them as "at least as large".
    """
    g, values = mexico
    perms = 9999
    graph = queen.graph
    ids = list(graph.unique_ids)
    out = S.lisa.compute(values, graph, rng=np.random.default_rng(2), permutations=perms)
    card = graph.cardinalities.loc[ids].to_numpy()
    n = len(ids)
    with _quiet():
        for yr in values.columns:
            y = values.loc[ids, yr].to_numpy()
            ref = esda.Moran_Local(y, graph, permutations=perms, seed=7, n_jobs=1)
            sub = out[out["year"] == yr].set_index("region").loc[ids]
            ours = sub["p_sim"].to_numpy()
            many = card > 1
            p = 0.5 * (ours + ref.p_sim)
            assert np.all(np.abs(ours - ref.p_sim)[many] <= _mc_tol(p, perms)[many]), yr
            np.testing.assert_allclose(sub["z_sim"].to_numpy()[many], ref.z_sim[many], atol=0.15)
            # exact reference for single-neighbour regions
            z = (y - y.mean()) / y.std()
            lag = graph.sparse @ z
            for i in np.flatnonzero(~many):
                others = np.delete(z, i)
                w = graph.sparse[[i], :].toarray().ravel().sum()
                sims = (n - 1) * z[i] * w * others / (z @ z)
                obs = (n - 1) * z[i] * lag[i] / (z @ z)
                frac = np.mean(sims >= obs - 1e-12 * abs(obs))  # P(simulated >= observed), exactly
                exact = min(frac, 1 - frac)  # esda's directed rule takes the smaller tail
                assert abs(ours[i] - exact) <= _mc_tol(max(exact, 1e-3), perms), (yr, ids[i])


def test_gistar_permutation_p_values_agree_with_esda(mexico, queen):
    g, values = mexico
    perms = 9999
    graph = queen.graph
    ids = list(graph.unique_ids)
    star = queen.raw_graph.assign_self_weight(1)
    out = S.gistar.compute(values[[1940, 2000]], graph, rng=np.random.default_rng(4), permutations=perms)
    card = graph.cardinalities.loc[ids].to_numpy()
    with _quiet():
        for yr in (1940, 2000):
            ref = esda.G_Local(
                values.loc[ids, yr].to_numpy(), star, transform="R", star=True, permutations=perms, seed=3, n_jobs=1
            )
            ours = out[out["year"] == yr].set_index("region").loc[ids, "p_sim"].to_numpy()
            p = 0.5 * (ours + ref.p_sim)
            many = card > 1
            assert np.all(np.abs(ours - ref.p_sim)[many] <= _mc_tol(p, perms)[many]), yr
