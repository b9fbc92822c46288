"""Year effects and dependence-robust inference of the spatial Haken models (issue 15, spatial half).

References: a direct dense ML implementation of the Lee & Yu (2010) likelihood written here with the
year-demeaning projection ``J = I - 11'/N`` and ``log|I - rho W| - log(1 - rho)`` (the model uses the
orthonormal basis F instead); OLS with explicit year dummies (numpy); recovery of the data-generating
parameters; scores and Hessian by finite differences of the region-year log-likelihood
``l_it = -1/2 log(2 pi s2) + [logm A]_ii - e_it^2 / (2 s2)``.
"""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pytest
import scipy.linalg as sla
import shapely
from libpysal.graph import Graph
from scipy import optimize

from nqpspatial.errors import ConfigError
from nqpspatial.plugins.spatial_haken import SpatialHakenModel, simulate_panel
from nqpspatial.plugins.spatial_haken._panel import build_equation, lag
from nqpspatial.plugins.spatial_haken._robust import robust_cov, score_hessian

PARAMS = {
    "slx": {
        "q1": {"q1": 1.0, "q1q2": -0.25, "theta_q1": 0.1, "theta_q1q2": 0.05},
        "q2": {"q2": 0.4, "q1sq": 0.8, "theta_q2": 0.1, "theta_q1sq": 0.2},
    },
    "sar": {"q1": {"q1": 0.88, "q1q2": -0.16, "rho": 0.3}, "q2": {"q2": 0.425, "q1sq": 0.85, "rho": 0.25}},
    "sem": {"q1": {"q1": 1.1, "q1q2": -0.2, "lambda": 0.4}, "q2": {"q2": 0.5, "q1sq": 1.0, "lambda": 0.3}},
    "sdm": {
        "q1": {"q1": 0.8, "q1q2": -0.2, "theta_q1": 0.08, "theta_q1q2": 0.04, "rho": 0.2},
        "q2": {"q2": 0.35, "q1sq": 0.7, "theta_q2": 0.075, "theta_q1sq": 0.15, "rho": 0.15},
    },
}


def _rook31() -> Graph:
    polys = [shapely.box(i, j, i + 1, j + 1) for j in range(6) for i in range(5)]
    polys.append(shapely.box(5, 0, 6, 1))
    return Graph.build_contiguity(gpd.GeoSeries(polys), rook=True)


@pytest.fixture(scope="module")
def graph():
    return _rook31()


def _taus(periods=20, seed=5, sd=0.02):
    rng = np.random.default_rng(seed)
    return {"q1": rng.normal(0, sd, periods - 1), "q2": rng.normal(0, sd, periods - 1)}


@pytest.fixture(scope="module")
def year_panels(graph):
    taus = _taus()
    return taus, {
        m: simulate_panel(m, graph, PARAMS[m], periods=20, sigma=0.01, seed=11, year_effects=taus) for m in PARAMS
    }


def _fit(df, graph, model, **kw):
    draws = kw.pop("draws", 50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SpatialHakenModel(df, "q1", "q2", graph, model=model, **kw).fit(draws=draws, seed=0)


def _dense_design(mod, eq):
    d = build_equation(mod.aligned, eq, False)
    W = mod.aligned.W.toarray()
    X = list(d.X)
    if mod.model in ("slx", "sdm"):
        X += [lag(W, raw) for raw in d.slx]
    return d.y, X, W


def _direct_year_ml(y, X, W, kind):
    """Lee-Yu ML with year effects by J-demeaning and the log-det correction (dense, brute force)."""
    T1, N = y.shape
    J = np.eye(N) - 1.0 / N

    def dm(a):
        return a @ J

    Xs = np.column_stack([dm(x).reshape(-1) for x in X])
    eig = np.linalg.eigvals(W).real
    n = T1 * (N - 1)

    def parts(r):
        if kind == "lag":
            ys = dm(y - r * lag(W, y)).reshape(-1)
            Z = Xs
        else:
            ys = dm(y - r * lag(W, y)).reshape(-1)
            Z = np.column_stack([dm(x - r * lag(W, x)).reshape(-1) for x in X])
        b = np.linalg.lstsq(Z, ys, rcond=None)[0]
        e = ys - Z @ b
        return b, e

    def nll(r):
        _, e = parts(r)
        logdet = np.sum(np.log(1.0 - r * eig)) - np.log(1.0 - r)
        return 0.5 * n * np.log(e @ e / n) - T1 * logdet

    r = optimize.minimize_scalar(nll, bounds=(-0.9, 0.95), method="bounded", options={"xatol": 1e-12}).x
    return np.concatenate([parts(r)[0], [r]])


@pytest.mark.parametrize("model", ["sar", "sem", "sdm"])
def test_year_effects_equal_a_direct_dense_ml(year_panels, graph, model):
    _, panels = year_panels
    res = _fit(panels[model], graph, model, effects="year")
    mod = SpatialHakenModel(panels[model], "q1", "q2", graph, model=model)
    for eq in ("q1", "q2"):
        y, X, W = _dense_design(mod, eq)
        ref = _direct_year_ml(y, X, W, "error" if model == "sem" else "lag")
        np.testing.assert_allclose(res.params(eq).to_numpy(), ref, atol=2e-6)


def test_slx_year_and_two_way_effects_equal_ols_with_dummies(year_panels, graph):
    _, panels = year_panels
    mod = SpatialHakenModel(panels["slx"], "q1", "q2", graph, model="slx")
    for effects in ("year", "two-way"):
        res = _fit(panels["slx"], graph, "slx", effects=effects)
        for eq in ("q1", "q2"):
            y, X, _ = _dense_design(mod, eq)
            T1, N = y.shape
            D = [np.kron(np.eye(T1)[:, t], np.ones(N)) for t in range(T1)]
            if effects == "two-way":
                D = D[1:] + [np.tile(np.eye(N)[:, i], T1) for i in range(N)]
            Z = np.column_stack([x.reshape(-1) for x in X] + D)
            b, ssr = np.linalg.lstsq(Z, y.reshape(-1), rcond=None)[:2]
            np.testing.assert_allclose(res.params(eq).to_numpy(), b[: len(X)], atol=1e-10)
            s2 = float(ssr[0]) / (Z.shape[0] - Z.shape[1])
            V = s2 * np.linalg.inv(Z.T @ Z)[: len(X), : len(X)]
            np.testing.assert_allclose(res.vcov(eq).to_numpy(), V, rtol=1e-8)


def test_year_effects_recover_the_parameters_and_intercepts(year_panels, graph):
    taus, panels = year_panels
    for model in ("sar", "sdm", "sem"):
        res = _fit(panels[model], graph, model, effects="year")
        for eq in ("q1", "q2"):
            p = res.params(eq)
            for term, true in PARAMS[model][eq].items():
                se = float(np.sqrt(res.vcov(eq).loc[term, term]))
                assert abs(p[term] - true) < 4 * se, (model, eq, term, p[term], true, se)
        pot = res.potential_readings
        years = pot[pot["year"].notna()]
        assert len(years) == 19 and pot["year"].isna().sum() == 2
        main = pot[(pot["reading"] == "system") & pot["year"].isna()].iloc[0]
        assert main["k1"] == pytest.approx(years["k1"].mean(), rel=1e-10)
        # haken_potential-style rows, as the aspatial fit: one per year and one at the mean (year empty)
        tab = res.potential_table()
        assert len(tab) == 20 and tab["year"].isna().sum() == 1
        assert tab.loc[tab["year"].isna(), "q1_star"].iloc[0] == pytest.approx(main["q1_star"], rel=1e-12)
        # the recovered year intercepts (k (1 - rho)) track the true ones
        rho = float(res.params("q1").get("rho", 0.0))
        err = years["k1"].to_numpy() * (1.0 - rho) - taus["q1"]
        assert np.abs(err - err.mean()).max() < 0.01 and np.corrcoef(years["k1"], taus["q1"])[0, 1] > 0.95


def test_pooled_fit_with_year_shocks_is_biased_where_year_effects_are_not(year_panels, graph):
    """Year shocks left in the error bias rho upwards; year effects remove them (the reason for the option)."""
    _, panels = year_panels
    pooled = _fit(panels["sar"], graph, "sar")
    year = _fit(panels["sar"], graph, "sar", effects="year")
    assert abs(year.params("q1")["rho"] - 0.3) < abs(pooled.params("q1")["rho"] - 0.3)


def test_year_effects_need_unit_row_sums(graph, year_panels):
    _, panels = year_panels
    import libpysal

    df = panels["sar"]
    # an island: region 30 without neighbours ([spatial] islands = "keep")
    adj = graph.adjacency.reset_index()
    adj = adj[(adj["focal"] != 30) & (adj["neighbor"] != 30)]
    g = libpysal.graph.Graph.from_arrays(
        np.r_[adj["focal"].to_numpy(), 30], np.r_[adj["neighbor"].to_numpy(), 30], np.r_[adj["weight"], 0.0]
    )
    with pytest.raises(ConfigError, match=r'islands = \\?"keep".*islands = "nearest"'):
        SpatialHakenModel(df, "q1", "q2", g, model="sar", effects="year")
    SpatialHakenModel(df, "q1", "q2", g, model="slx", effects="year")  # SLX: OLS with year dummies


# ----------------------------------------------------------------------------- robust covariances
_LOGM = {}


def _logm_diag(W, r):
    """Diagonal of the matrix logarithm of I - r W (cached: the Hessian evaluates few distinct r)."""
    key = (id(W), r)
    if key not in _LOGM:
        _LOGM[key] = np.real(sla.logm(np.eye(W.shape[0]) - r * W)).diagonal()
    return _LOGM[key]


def _ll_obs(kind, y, X, W, theta):
    """Region-year log-likelihood contributions (T', N) at theta = (beta, r, s2)."""
    T1, N = y.shape
    k = len(X)
    beta, s2 = theta[:k], theta[-1]
    r = theta[k] if kind != "ols" else 0.0
    xb = sum(b * x for b, x in zip(beta, X))
    if kind == "lag":
        e = y - r * lag(W, y) - xb
    elif kind == "error":
        u = y - xb
        e = u - r * lag(W, u)
    else:
        e = y - xb
    logA = _logm_diag(W, float(r)) if kind != "ols" else np.zeros(N)
    return -0.5 * np.log(2 * np.pi * s2) + logA[None, :] - e * e / (2 * s2)


def _numeric(kind, y, X, W, theta):
    """Scores (central differences, relative step 1e-6) and Hessian of l_it.

    The Hessian is the Richardson extrapolation ``(4 H(h/2) - H(h)) / 3`` of central second differences
    of the total log-likelihood with relative steps h = 1e-2 (large steps keep the rounding error of an
    ill-conditioned design small; the extrapolation removes the O(h^2) error).
    """
    p = len(theta)
    S = np.zeros(y.shape + (p,))
    scale = np.maximum(np.abs(theta), 1e-12)

    def tot(t):
        return _ll_obs(kind, y, X, W, t).sum()

    def hess(h):
        H = np.zeros((p, p))
        for a in range(p):
            ea = np.zeros(p)
            ea[a] = h * scale[a]
            for b in range(p):
                eb = np.zeros(p)
                eb[b] = h * scale[b]
                H[a, b] = (
                    tot(theta + ea + eb) - tot(theta + ea - eb) - tot(theta - ea + eb) + tot(theta - ea - eb)
                ) / (4 * ea[a] * eb[b])
        return H

    for a in range(p):
        ea = np.zeros(p)
        ea[a] = 1e-6 * scale[a]
        S[..., a] = (_ll_obs(kind, y, X, W, theta + ea) - _ll_obs(kind, y, X, W, theta - ea)) / (2 * ea[a])
    H = (4 * hess(5e-3) - hess(1e-2)) / 3
    return S, 0.5 * (H + H.T)


def _sandwich(S, H, se, L=None):
    T1, N, p = S.shape
    xi = S.sum(axis=1)
    if se == "driscoll-kraay":
        B = xi.T @ xi
        for j in range(1, L + 1):
            G = xi[j:].T @ xi[:-j]
            B += (1 - j / (L + 1)) * (G + G.T)
    else:
        si = S.sum(axis=0)
        f = S.reshape(-1, p)
        B = N / (N - 1) * si.T @ si + T1 / (T1 - 1) * xi.T @ xi - f.T @ f
    Hi = np.linalg.inv(H)
    V = (Hi @ B @ Hi)[:-1, :-1]
    if se == "twoway":  # negative eigenvalues set to zero, as the aspatial two-way option
        w, U = np.linalg.eigh(0.5 * (V + V.T))
        V = (U * np.maximum(w, 0.0)) @ U.T
    return V


@pytest.mark.parametrize("model", ["slx", "sar", "sem"])
def test_spatial_sandwich_equals_numerical_derivative_sandwich(graph, model):
    df = simulate_panel(model, graph, PARAMS[model], periods=8, sigma=0.01, seed=2)
    mod = SpatialHakenModel(df, "q1", "q2", graph, model=model)
    y, X, W = _dense_design(mod, "q1")
    kind = {"slx": "ols", "sem": "error"}.get(model, "lag")
    res = _fit(df, graph, model)
    theta_hat = res.params("q1").to_numpy()
    k = len(X)
    xb = sum(b * x for b, x in zip(theta_hat[:k], X))
    r = theta_hat[k] if kind != "ols" else 0.0
    e = y - r * lag(W, y) - xb if kind == "lag" else (y - xb) - r * lag(W, y - xb) if kind == "error" else y - xb
    theta = np.r_[theta_hat, np.mean(e * e)]
    S_num, H_num = _numeric(kind, y, X, W, theta)
    S, H = score_hessian(kind, y, X, [W] if kind != "ols" else [], theta_hat)
    np.testing.assert_allclose(S, S_num, atol=1e-5 * np.abs(S_num).max())
    np.testing.assert_allclose(H, H_num, rtol=1e-5, atol=1e-5 * np.abs(H_num).max())
    for se in ("driscoll-kraay", "twoway"):
        V, info = robust_cov(kind, y, X, [W] if kind != "ols" else [], theta_hat, se)
        V_num = _sandwich(S_num, H_num, se, info.get("bandwidth"))
        np.testing.assert_allclose(V, V_num, rtol=1e-5, atol=1e-5 * np.abs(V_num).max())
        fit = _fit(df, graph, model, se=se)
        np.testing.assert_allclose(fit.vcov("q1").to_numpy(), V, rtol=1e-12)
        np.testing.assert_allclose(fit.params("q1").to_numpy(), theta_hat, rtol=1e-12)  # estimates unchanged


def test_robust_se_feeds_the_effect_draws_and_is_recorded(graph):
    df = simulate_panel("sar", graph, PARAMS["sar"], periods=10, sigma=0.01, seed=4)
    ml = _fit(df, graph, "sar", draws=400)
    dk = _fit(df, graph, "sar", se="driscoll-kraay", draws=400)
    np.testing.assert_allclose(ml.effects["estimate"], dk.effects["estimate"], rtol=1e-10)
    assert not np.allclose(ml.effects["std_err"], dk.effects["std_err"], rtol=1e-3)
    assert set(dk.estimates["se_method"]) == {"driscoll-kraay"} and set(ml.estimates["se_method"]) == {"ml"}
    assert dk.info["q1"]["se"] == "driscoll-kraay" and dk.info["q1"]["bandwidth"] == 2
    assert set(dk.identification["se_method"]) == {"driscoll-kraay"}
    with pytest.raises(ConfigError, match="bandwidth"):
        SpatialHakenModel(df, "q1", "q2", graph, model="sar", se="driscoll-kraay", bandwidth=9)
    with pytest.raises(ConfigError, match="se = 'hc1'"):
        SpatialHakenModel(df, "q1", "q2", graph, model="sar", se="hc1")
