"""GW-Haken: equality with mgwr on a cross-section, the pooled fit at infinite bandwidth, the panel
form's criteria and sandwich, the permutation test, recovery, input errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from nqpspatial.errors import InputError, ModelError
from nqpspatial.haken import HakenModel, Potential
from nqpspatial.plugins.local_haken import GWHakenModel, _core, simulate_gw_panel
from nqpspatial.plugins.local_haken._kernel import golden_section, kernel_weights


@pytest.fixture(scope="module")
def cross_section():
    """150 regions, two periods (one transition each), q2 off the slaved manifold."""
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 100, size=(100, 2))
    df, xy, truth = simulate_gw_panel(xy, n_periods=2, q2_start=(0.05, 0.4), seed=4)
    return df, xy


@pytest.fixture(scope="module")
def panel():
    df, xy, truth = simulate_gw_panel(n_side=7, n_periods=8, seed=11)
    return df, xy, truth


@pytest.mark.parametrize(
    "kernel,adaptive,criterion",
    [("bisquare", True, "aicc"), ("gaussian", False, "aicc"), ("bisquare", True, "cv"), ("gaussian", True, "aicc")],
)
def test_cross_section_equals_mgwr(cross_section, kernel, adaptive, criterion):
    """constant=False, mgwr's golden-section search and bounds: same bandwidth, estimates, AICc, SEs."""
    mgwr_gwr = pytest.importorskip("mgwr.gwr")
    from mgwr.sel_bw import Sel_BW

    df, xy = cross_section
    m = GWHakenModel(df, "q1", "q2", coords=xy, kernel=kernel, adaptive=adaptive)
    res = m.fit(criterion=criterion, se="gwr")
    equations = (("q1", ("gamma1", "a")), ("q2", ("gamma2", "b")))
    for eq, terms in equations if kernel == "bisquare" and criterion == "aicc" else equations[:1]:
        d = m.equations[eq]
        y = d.y.reshape(-1, 1)
        sel = Sel_BW(xy, y, d.X, constant=False, kernel=kernel, fixed=not adaptive, n_jobs=1)
        bw = sel.search(criterion="AICc" if criterion == "aicc" else "CV")
        ref = mgwr_gwr.GWR(xy, y, d.X, bw, constant=False, kernel=kernel, fixed=not adaptive, n_jobs=1).fit()
        assert res.bandwidths[eq] == bw
        coef = np.column_stack([1 - res.params[terms[0]], res.params[terms[1]] * (-1 if eq == "q1" else 1)])
        assert np.abs(coef - ref.params).max() < 1e-6
        diag = res.diagnostics.set_index("equation").loc[eq]
        assert abs(diag["aicc"] - ref.aicc) < 1e-6
        assert abs(diag["enp"] - ref.tr_S) < 1e-6
        assert np.abs(res.bse[list(terms)].to_numpy() - ref.bse).max() < 1e-6
        assert np.abs(res.local_r2[eq].to_numpy() - ref.localR2[:, 0]).max() < 1e-6
        assert abs(diag["t_crit"] - ref.critical_tval()) < 1e-6


def test_infinite_bandwidth_is_the_pooled_fit(panel):
    df, xy, _ = panel
    pooled = HakenModel(df, "q1", "q2", se="cluster").fit(bootstrap=0)
    res = GWHakenModel(df, "q1", "q2", coords=xy).fit(bandwidth=np.inf, se="cluster")
    for term in ("gamma1", "a", "gamma2", "b"):
        assert np.abs(res.params[term] - pooled.params[term]).max() < 1e-8
        assert np.abs(res.bse[term] - pooled.bse[term]).max() < 1e-8
        assert np.abs(res.pvalues[term] - pooled.pvalues[term]).max() < 1e-8
    classical = HakenModel(df, "q1", "q2").fit(bootstrap=0)
    gwr = GWHakenModel(df, "q1", "q2", coords=xy).fit(bandwidth=np.inf, se="gwr")
    assert np.abs(gwr.bse["gamma2"] - classical.bse["gamma2"]).max() < 1e-8
    assert abs(gwr.diagnostics["enp"].iloc[0] - 2.0) < 1e-10
    # the same with a local constant equals the pooled fit with an intercept
    pooled_k = HakenModel(df, "q1", "q2", intercept=True).fit(bootstrap=0)
    res_k = GWHakenModel(df, "q1", "q2", coords=xy, constant=True).fit(bandwidth=np.inf)
    for term in ("gamma1", "a", "gamma2", "b", "k1", "k2"):
        assert np.abs(res_k.params[term] - pooled_k.params[term]).max() < 1e-8


def _brute_force_local(df, xy, bw, kernel, adaptive, j):
    """Weighted least squares of the q1 equation at location j, from scratch."""
    d = df.sort_values(["region", "year"]).copy()
    d["y"] = d.groupby("region")["q1"].shift(-1)
    d = d.dropna(subset=["y"])
    regions = list(pd.unique(df["region"]))
    dist = np.sqrt(((xy - xy[j]) ** 2).sum(1))
    b = np.sort(dist)[int(bw) - 1] * 1.0000001 if adaptive else bw
    z = dist / b
    w = np.where(z < 1, (1 - z**2) ** 2, 0.0) if kernel == "bisquare" else np.exp(-0.5 * z**2)
    wr = d["region"].map(dict(zip(regions, w))).to_numpy()
    X = np.column_stack([d["q1"], d["q1"] * d["q2"]])
    beta = np.linalg.solve(X.T @ (X * wr[:, None]), X.T @ (wr * d["y"].to_numpy()))
    return beta, X, d, wr, regions


def test_panel_local_fit_equals_weighted_least_squares(panel):
    df, xy, _ = panel
    m = GWHakenModel(df, "q1", "q2", coords=xy)
    res = m.fit(bandwidth=12)
    for j in (0, 20, 48):
        beta, X, d, wr, regions = _brute_force_local(df, xy, 12, "bisquare", True, j)
        assert abs(res.params["gamma1"].iloc[j] - (1 - beta[0])) < 1e-10
        assert abs(res.params["a"].iloc[j] - (-beta[1])) < 1e-10


def test_panel_criteria_and_clustered_sandwich_from_scratch(panel):
    """AICc (trace of the transitions' hat matrix), leave-one-region-out CV and the clustered sandwich."""
    df, xy, _ = panel
    m = GWHakenModel(df, "q1", "q2", coords=xy)
    bw = 15
    regions = list(pd.unique(df["region"]))
    fits = [_brute_force_local(df, xy, bw, "bisquare", True, j) for j in range(len(regions))]
    X, d = fits[0][1], fits[0][2]
    y = d["y"].to_numpy()
    code = d["region"].map({r: i for i, r in enumerate(regions)}).to_numpy()
    # hat matrix of the transitions
    n = len(y)
    S = np.zeros((n, n))
    for j, (beta, _, _, wr, _) in enumerate(fits):
        rows = np.flatnonzero(code == j)
        C = np.linalg.solve(X.T @ (X * wr[:, None]), (X * wr[:, None]).T)
        S[rows] = X[rows] @ C
    e = y - S @ y
    rss, trs = float(e @ e), float(np.trace(S))
    aicc = n * math.log(rss / n) + n * math.log(2 * math.pi) + n * (n + trs) / (n - 2 - trs)
    assert abs(m.criterion(bw, "q1", "aicc") - aicc) < 1e-8
    # leave-one-region-out CV
    press = 0.0
    for j in range(len(regions)):
        beta, _, _, wr, _ = fits[j]
        wr = np.where(code == j, 0.0, wr)
        b = np.linalg.solve(X.T @ (X * wr[:, None]), X.T @ (wr * y))
        rows = code == j
        press += float(((y[rows] - X[rows] @ b) ** 2).sum())
    assert abs(m.criterion(bw, "q1", "cv") - press / n) < 1e-12
    # clustered local sandwich at location 5
    res = m.fit(bandwidth=bw)
    j = 5
    wr = fits[j][3]
    bread = np.linalg.inv(X.T @ (X * wr[:, None]))
    meat = np.zeros((2, 2))
    for i in range(len(regions)):
        rows = code == i
        g = (X[rows] * (wr[rows][:, None])).T @ e[rows]
        meat += np.outer(g, g)
    N = len(regions)
    V = N / (N - 1) * (n - 1) / (n - trs) * bread @ meat @ bread
    assert abs(res.bse["gamma1"].iloc[j] - math.sqrt(V[0, 0])) < 1e-10
    assert abs(res.bse["a"].iloc[j] - math.sqrt(V[1, 1])) < 1e-10


def test_local_readings_use_potential(panel):
    df, xy, _ = panel
    res = GWHakenModel(df, "q1", "q2", coords=xy).fit()
    tab = res.table.set_index("region")
    for r in list(tab.index)[:5]:
        p = Potential(tab.at[r, "gamma1"], tab.at[r, "a"], tab.at[r, "gamma2"], tab.at[r, "b"])
        assert tab.at[r, "case"] == p.case
        assert tab.at[r, "map_stable"] == p.map_stable
        assert abs(tab.at[r, "q1_star"] - p.stable_point[0]) < 1e-12
    # the adjusted critical value (da Silva & Fotheringham 2016): alpha * k / ENP, df N - 1
    from scipy import stats

    d = res.diagnostics.set_index("equation")
    for eq in ("q1", "q2"):
        adj = 0.05 * 2 / d.at[eq, "enp"]
        assert abs(d.at[eq, "t_crit"] - stats.t.ppf(1 - adj / 2, 48)) < 1e-12
    assert (tab["sig_gamma1"] == (tab["t_gamma1"].abs() > d.at["q1", "t_crit"])).all()


def test_recovery_and_nonstationarity_test(panel):
    df, xy, truth = panel
    res = GWHakenModel(df, "q1", "q2", coords=xy).fit()
    assert np.corrcoef(res.params["gamma1"], truth["gamma1"])[0, 1] > 0.9
    test = res.nonstationarity_test(99, seed=5).table.set_index("parameter")
    assert test.at["gamma1", "p_value"] <= 0.05 and test.at["gamma1", "reject"]
    assert list(test.index) == ["gamma1", "a", "gamma2", "b"]
    again = res.nonstationarity_test(99, seed=5).table
    pd.testing.assert_frame_equal(again, test.reset_index())


def test_permutation_test_same_numbers_on_every_backend(panel):
    from nqpspatial.backends import open_backend

    df, xy, _ = panel
    res = GWHakenModel(df, "q1", "q2", coords=xy).fit(bandwidth=20)
    base = res.nonstationarity_test(60, seed=9)
    with open_backend("processes", workers=2) as be:
        other = res.nonstationarity_test(60, seed=9, backend=be)
    np.testing.assert_array_equal(base.draws.to_numpy(), other.draws.to_numpy())


def test_permutation_statistics_match_refits(panel):
    """The batched permutation statistics equal a refit of the permuted panel (estimates and sandwich)."""
    df, xy, _ = panel
    m = GWHakenModel(df, "q1", "q2", coords=xy)
    K = m.kernel_matrix(14)
    perms = np.stack([np.random.default_rng(s).permutation(m.n_regions) for s in range(3)])
    weighted, variance = _core.permutation_statistics(K, m.equations["q1"], perms)
    regions = m.regions
    for b, perm in enumerate(perms):
        relabel = {regions[perm[j]]: regions[j] for j in range(len(regions))}
        moved = df.assign(region=df["region"].map(relabel))
        ref = GWHakenModel(moved, "q1", "q2", coords=pd.DataFrame(xy, index=regions)).fit(bandwidth=14)
        for j, term in enumerate(("gamma1", "a")):
            est, se = ref.params[term].to_numpy(), ref.bse[term].to_numpy()
            w = 1 / se**2
            mean_w = (w * est).sum() / w.sum()
            assert abs(variance[b, j] - est.var()) < 1e-10 * est.var()
            assert abs(weighted[b, j] - (w * (est - mean_w) ** 2).mean()) < 1e-8 * weighted[b, j]


def test_golden_section_is_mgwr_search():
    search = pytest.importorskip("mgwr.search")
    f = lambda x: (x - 37.3) ** 2 + 0.1 * math.sin(x)  # noqa: E731
    ours = golden_section(10.0, 100.0, f, integer=True)
    ref = search.golden_section(10.0, 100.0, 0.38197, f, 1e-6, 200, 100.0, int_score=True)
    assert ours[0] == ref[0] and ours[1] == ref[1]
    ours = golden_section(1.5, 80.0, f, integer=False)
    ref = search.golden_section(1.5, 80.0, 0.38197, f, 1e-6, 200, 80.0, int_score=False)
    assert ours[0] == ref[0]


def test_kernel_weights_sparse_and_dense_agree():
    rng = np.random.default_rng(1)
    xy = rng.uniform(size=(60, 2))
    d = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))
    K = kernel_weights(d, 8, kernel="bisquare", adaptive=True)
    assert hasattr(K, "toarray")  # sparse: 8 of 60 neighbours
    assert (np.asarray((K > 0).sum(axis=1)).ravel() == 8).all()  # the 8th neighbour keeps a tiny weight (mgwr)
    assert np.allclose(np.diag(K.toarray()), 1.0)


def test_bad_input_messages(panel, cross_section):
    df, xy, _ = panel
    with pytest.raises(InputError, match="exactly one of coords"):
        GWHakenModel(df, "q1", "q2")
    with pytest.raises(InputError, match="one \\(x, y\\) row per region"):
        GWHakenModel(df, "q1", "q2", coords=xy[:5])
    with pytest.raises(InputError, match="kernel"):
        GWHakenModel(df, "q1", "q2", coords=xy, kernel="tricube")
    m = GWHakenModel(df, "q1", "q2", coords=xy)
    with pytest.raises(InputError, match="adaptive bandwidth"):
        m.fit(bandwidth=2.5)
    with pytest.raises(InputError, match="search"):
        m.fit(search=[5, 500])
    with pytest.raises(InputError, match="criterion"):
        m.fit(criterion="bic")
    cs, cxy = cross_section
    with pytest.raises(ModelError, match="singular"):
        GWHakenModel(cs, "q1", "q2", coords=cxy).fit(bandwidth=2)
