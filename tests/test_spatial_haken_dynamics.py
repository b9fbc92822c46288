"""Dynamics of the estimated spatial Haken systems (issue 14).

References, all written here independently of the plugin's code paths:
* a dense-inverse iteration of the fitted spatial map (steady states);
* the uniform fixed point of the total-effect system (``nqpspatial.haken.Potential``);
* the dense 2N x 2N Jacobian of the full spatial map at the uniform fixed point (stability over every mode),
  and iterating the full map from a perturbed uniform state;
* central finite differences of the fitted spatial map, averaged over the sample (marginal effects).
"""

from __future__ import annotations

import warnings

import libpysal
import numpy as np
import pandas as pd
import pytest
from libpysal.graph import Graph

from nqpspatial.artifacts import SpatialHakenOutcome
from nqpspatial.errors import ModelError
from nqpspatial.haken import Potential
from nqpspatial.plugins.spatial_haken import (
    ShortPanelWarning,
    SpatialHakenModel,
    dynamics,
    sar,
    sdm,
    simulate_panel,
    slx,
)
from nqpspatial.plugins.spatial_haken.dynamics import EquationMap, SpatialMap, uniform_stability

GRAPH = Graph.from_W(libpysal.weights.lat2W(5, 5, rook=False))  # 25 regions, no islands
# true system: gamma1 = -0.1, a = 0.35, gamma2 = 0.6, b = 0.35 (q1* = 0.7); rho = 0.3, theta = 0.2 beta
SYS = {"q1": 1.1, "q1q2": -0.35, "q2": 0.4, "q1sq": 0.35}


def _truth(model: str) -> dict:
    out = {}
    for eq, terms in (("q1", ("q1", "q1q2")), ("q2", ("q2", "q1sq"))):
        p = {}
        for t in terms:
            c = SYS[t]
            if model == "slx":
                p[t], p[f"theta_{t}"] = c / 1.2, 0.2 * c / 1.2
            elif model == "sar":
                p[t] = 0.7 * c
            elif model == "sdm":
                p[t], p[f"theta_{t}"] = 0.7 * c / 1.2, 0.2 * 0.7 * c / 1.2
            else:
                p[t] = c
        if model in ("sar", "sdm"):
            p["rho"] = 0.3
        if model == "sem":
            p["lambda"] = 0.3
        out[eq] = p
    return out


def _dense_W(res) -> list:
    """Row-standardized dense W of the fit's panel, split by its zones when it has a split."""
    W = res._panel.W.toarray()
    if res.groups is None:
        return [W], [""]
    g = res.groups.to_numpy()
    same = g[:, None] == g[None, :]
    return [W * same, W * ~same], ["_within", "_across"]


def _dense_map(res):
    """The fitted spatial map written with dense inverses (independent of SpatialMap)."""
    Ws, suf = _dense_W(res)
    N = Ws[0].shape[0]
    eqs = {}
    for eq, terms in (("q1", ("q1", "q1q2")), ("q2", ("q2", "q1sq"))):
        p = res.params(eq)
        A = np.eye(N) - sum(p.get(f"rho{s}", 0.0) * W for W, s in zip(Ws, suf))
        eqs[eq] = (np.linalg.inv(A), p)

    def step(q1, q2):
        out = []
        for eq, x in (("q1", {"q1": q1, "q1q2": q1 * q2}), ("q2", {"q2": q2, "q1sq": q1 * q1})):
            Ainv, p = eqs[eq]
            m = sum(p[t] * v for t, v in x.items()) + p.get("const", 0.0)
            for t, v in x.items():
                for W, s in zip(Ws, suf):
                    m = m + p.get(f"theta_{t}{s}", 0.0) * (W @ v)
            out.append(Ainv @ m)
        return out

    return step


def _iterate_dense(step, q1, q2, steps=20000, full=False):
    """Iterate until the state stops changing (1e-14); ``full``: also say whether it settled."""
    done = False
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(steps):
            n1, n2 = step(q1, q2)
            delta = max(np.max(np.abs(n1 - q1)), np.max(np.abs(n2 - q2)))
            q1, q2 = n1, n2
            if not np.isfinite(delta) or delta < 1e-14:
                done = bool(np.isfinite(delta))
                break
    return (q1, q2, done) if full else (q1, q2)


# ------------------------------------------------------------------------------------------ steady states
def test_steady_states_equal_dense_iteration_on_demo(demo_run):
    """The demo's spatial_haken_steady_states.csv (SLX and SAR, zone split) = a dense-inverse iteration."""
    steady = demo_run.tables["spatial_haken_steady_states"]
    checked = 0
    for (m, w, q1, q2), res in demo_run.get(SpatialHakenOutcome).results.items():
        tab = steady[(steady["model"] == m) & (steady["q1"] == q1)].set_index("region")
        P = res._panel
        r1, r2, settled = _iterate_dense(_dense_map(res), P.Q1[-1], P.Q2[-1], full=True)
        assert tab["converged"].all() == settled, (m, q1)
        if not settled:
            assert tab["q1_star"].isna().all()
            continue
        np.testing.assert_allclose(tab.loc[P.ids, "q1_star"], r1, atol=1e-6, rtol=0)
        np.testing.assert_allclose(tab.loc[P.ids, "q2_star"], r2, atol=1e-6, rtol=0)
        checked += 1
    assert checked >= 2


@pytest.fixture(scope="module")
def demo_unsplit(demo_run):
    """Demo indices and the queen weights the pipeline built (Hainan linked)."""
    idx = demo_run.tables["indices"]
    wq = demo_run.tables["weights_queen"]
    g = Graph.from_adjacency(wq, focal_col="focal", neighbor_col="neighbor", weight_col="weight")
    region = demo_run.info["config"]["data"].get("region", "province")
    year = demo_run.info["config"]["data"].get("year", "year")
    return idx.rename(columns={region: "region", year: "year"}), g


@pytest.mark.parametrize("plugin", [slx, sar, sdm], ids=["slx", "sar", "sdm"])
def test_demo_steady_states_without_split(demo_unsplit, plugin):
    """On the demo without the zone split: steady states = dense iteration; all regions settle near each other."""
    idx, g = demo_unsplit
    res = plugin.fit(idx, "NQP", "NTU", g, draws=50, seed=1)
    P = res._panel
    r1, r2 = _iterate_dense(_dense_map(res), P.Q1[-1], P.Q2[-1])
    st = res.steady_states.set_index("region")
    assert st["converged"].all()
    np.testing.assert_allclose(st.loc[P.ids, "q1_star"], r1, atol=1e-6, rtol=0)
    np.testing.assert_allclose(st.loc[P.ids, "q2_star"], r2, atol=1e-6, rtol=0)
    # queen with Hainan linked: every row sums to 1, so the uniform state is the steady state
    sysrow = res.potential_readings.set_index("reading").loc["system"]
    np.testing.assert_allclose(r1, sysrow["q1_star"], atol=1e-8)


@pytest.mark.parametrize("model", ["slx", "sar", "sem", "sdm"])
def test_steady_states_equal_uniform_fixed_point(model):
    """Without region effects or islands every per-region steady state is the uniform system fixed point."""
    df = simulate_panel(
        model,
        GRAPH,
        _truth(model),
        periods=10,
        sigma=0.01,
        seed=3,
        q0=(np.random.default_rng(3).uniform(0.2, 0.6, 25), np.random.default_rng(4).uniform(0.2, 0.6, 25)),
    )
    res = SpatialHakenModel(df, "q1", "q2", GRAPH, model=model).fit(draws=50, seed=2)
    st = res.steady_states
    assert st["converged"].all() and (st["iterations"] > 1).all()
    # reference: the potential of the total effects read from the effects table
    eff = res.effects[res.effects["effect"] == "total"].set_index("term")["estimate"]
    ref = Potential(1 - eff["q1"], -eff["q1q2"], 1 - eff["q2"], eff["q1sq"])
    assert ref.case == 1
    q = ref.stable_point[0]
    np.testing.assert_allclose(st["q1_star"], q, atol=1e-8, rtol=0)
    np.testing.assert_allclose(st["q2_star"], eff["q1sq"] * q * q / (1 - eff["q2"]), atol=1e-8, rtol=0)
    row = res.potential_readings.set_index("reading").loc["system"]
    assert row["q1_star"] == pytest.approx(q, abs=1e-12) and row["case"] == 1 and row["map_stable"]
    assert row["q1_star_low"] <= q <= row["q1_star_high"] and row["stable_share"] > 0.5
    assert row["steady_q1_min"] == pytest.approx(q, abs=1e-8) and row["steady_q1_max"] == pytest.approx(q, abs=1e-8)


def test_steady_states_no_pivot_factorization_equals_colamd_reference():
    """The map's filters are factored without pivoting (diagonally dominant): steady states as with COLAMD pivoting.

    Reference: the iteration as it was before, with SuperLU's COLAMD partial-pivoting factors, on a SAR map with
    a zone split and region effects (slow: hundreds of steps); same step count, states equal to 1e-12.
    """
    import scipy.sparse as sps
    import scipy.sparse.linalg as spla

    from nqpspatial.plugins.spatial_haken._panel import split_weights

    w = libpysal.weights.lat2W(12, 12)
    w.transform = "r"
    Ww, Wa = split_weights(sps.csr_array(w.sparse), (np.arange(144) % 12 >= 6).astype(int))
    alpha = np.random.default_rng(2).normal(0, 0.002, 144)
    eqs = {
        "q1": EquationMap(beta={"q1": 0.75, "q1q2": -0.1}, theta={}, rho=(0.3, 0.2), effects=alpha),
        "q2": EquationMap(beta={"q2": 0.5, "q1sq": 0.2}, theta={}, rho=(0.25, 0.3)),
    }
    smap = SpatialMap([Ww, Wa], eqs)
    q1, q2 = np.random.default_rng(3).uniform(0.2, 0.8, (2, 144))
    st = smap.steady_states(q1, q2)
    lus = {
        eq: spla.splu(sps.csc_array(sps.identity(144) - m.rho[0] * Ww - m.rho[1] * Wa), permc_spec="COLAMD")
        for eq, m in eqs.items()
    }
    x1, x2 = q1, q2
    for it in range(1, 10001):
        y1 = lus["q1"].solve(smap._mean("q1", x1, x2))
        y2 = lus["q2"].solve(smap._mean("q2", x1, x2))
        delta = max(np.max(np.abs(y1 - x1)), np.max(np.abs(y2 - x2)))
        x1, x2 = y1, y2
        if delta < dynamics.STEADY_TOL:
            break
    assert st.converged and st.iterations == it and it > 50
    np.testing.assert_allclose(st.q1, x1, atol=1e-12, rtol=0)
    np.testing.assert_allclose(st.q2, x2, atol=1e-12, rtol=0)


def test_steady_states_diverge_and_cycle_flagged():
    """Divergence and no convergence give converged = False with empty stars."""
    W = libpysal.weights.lat2W(3, 3).sparse
    W = W.multiply(1 / W.sum(axis=1)).tocsr()
    beta = {"q1": 1.3, "q1q2": 0.2}
    grow = SpatialMap(
        [W], {"q1": EquationMap(beta=beta, theta={}), "q2": EquationMap(beta={"q2": 0.5, "q1sq": 0.3}, theta={})}
    )
    st = grow.steady_states(np.full(9, 0.5), np.full(9, 0.5))
    assert not st.converged and st.status == "diverged" and np.isnan(st.q1).all()
    # a 2-cycle: q1' = -q1 (gamma1 = 2), q2' = 0
    cyc = SpatialMap(
        [W],
        {
            "q1": EquationMap(beta={"q1": -1.0, "q1q2": 0.0}, theta={}),
            "q2": EquationMap(beta={"q2": 0.0, "q1sq": 0.0}, theta={}),
        },
    )
    st = cyc.steady_states(np.full(9, 0.5), np.zeros(9), max_steps=500)
    assert not st.converged and st.status == "no convergence" and st.iterations == 500


# ------------------------------------------------------------------------------------------ stability over modes
def _dense_full_jacobian(smap: SpatialMap, q1s, q2s) -> np.ndarray:
    """Jacobian of the full map at a uniform state by central differences (the map is quadratic: exact)."""
    N = smap.N
    u1, u2 = np.full(N, q1s), np.full(N, q2s)
    J = np.empty((2 * N, 2 * N))
    h = 1e-6
    for j in range(2 * N):
        e = np.zeros(2 * N)
        e[j] = h
        a = np.concatenate(smap.step(u1 + e[:N], u2 + e[N:]))
        b = np.concatenate(smap.step(u1 - e[:N], u2 - e[N:]))
        J[:, j] = (a - b) / (2 * h)
    return J


def _slx_map(theta_scale: float):
    W = GRAPH.transform("r").sparse.tocsr()
    eq1 = EquationMap(
        beta={"q1": 1.1 / 1.2, "q1q2": -0.35 / 1.2}, theta={"q1": [theta_scale * 1.1], "q1q2": [-0.35 * 0.2 / 1.2]}
    )
    eq2 = EquationMap(
        beta={"q2": 0.4 / 1.2, "q1sq": 0.35 / 1.2}, theta={"q2": [0.4 * 0.2 / 1.2], "q1sq": [0.35 * 0.2 / 1.2]}
    )
    return SpatialMap([W], {"q1": eq1, "q2": eq2})


@pytest.mark.parametrize("theta_scale, stable", [(0.2 / 1.2, True), (-1.0, False)])
def test_uniform_stability_checks_every_mode(theta_scale, stable):
    """The uniform fixed point's stability = spectral radius of the dense full Jacobian; iterating agrees.

    With theta_q1 = -1.1 the lambda = 1 block keeps its total-effect value (the uniform dynamics are those of
    a stable case-1 system) but a negative eigenvalue of W makes a checkerboard mode explode.
    """
    smap = _slx_map(theta_scale)
    sysp = dynamics.uniform_system(smap.equations)
    pot = Potential(sysp["gamma1"], sysp["a"], sysp["gamma2"], sysp["b"])
    q = pot.stable_point[0]
    q2 = sysp["b"] * q * q / sysp["gamma2"]
    st = uniform_stability(smap, q, q2)
    rad = np.max(np.abs(np.linalg.eigvals(_dense_full_jacobian(smap, q, q2))))
    assert st.radius == pytest.approx(rad, rel=1e-6)
    assert st.stable is stable and (st.uniform_radius < 1)
    assert st.method.startswith("every eigenvalue of W")
    rng = np.random.default_rng(0)
    x1, x2 = q + 1e-6 * rng.standard_normal(25), q2 + 1e-6 * rng.standard_normal(25)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(3000):
            x1, x2 = smap.step(x1, x2)
    back = bool(np.all(np.abs(x1 - q) < 1e-9))
    assert back is stable
    if not stable:
        assert "mode lambda = -" in st.note and "non-uniform" in st.note


def test_uniform_stability_large_n_path_agrees(monkeypatch):
    """Above ALL_EIGEN_MAX: extreme eigenvalues plus power iteration give the exact radius's verdict."""
    g = Graph.from_W(libpysal.weights.lat2W(12, 12, rook=False))
    W = g.transform("r").sparse.tocsr()
    for theta_scale in (0.2 / 1.2, -1.0):
        base = _slx_map(theta_scale)
        smap = SpatialMap([W], base.equations)
        sysp = dynamics.uniform_system(smap.equations)
        pot = Potential(sysp["gamma1"], sysp["a"], sysp["gamma2"], sysp["b"])
        q = pot.stable_point[0]
        q2 = sysp["b"] * q * q / sysp["gamma2"]
        exact = uniform_stability(smap, q, q2)
        monkeypatch.setattr(dynamics, "ALL_EIGEN_MAX", 100)
        approx = uniform_stability(smap, q, q2, seed=1)
        monkeypatch.setattr(dynamics, "ALL_EIGEN_MAX", 1000)
        assert approx.stable is exact.stable
        assert approx.radius == pytest.approx(exact.radius, rel=2e-3)
        assert approx.method.startswith("extreme eigenvalues")


# ------------------------------------------------------------------------------------------ readings
def test_both_readings_reported_and_reading_chooses():
    df = simulate_panel("sar", GRAPH, _truth("sar"), periods=10, sigma=0.01, seed=5)
    a = sar.fit(df, "q1", "q2", GRAPH, draws=100, seed=3)
    b = sar.fit(df, "q1", "q2", GRAPH, draws=100, seed=3, reading="local")
    assert a.reading == "system" and b.reading == "local"
    for name in ("identification", "potential_readings"):
        ta = getattr(a, name).set_index("reading").sort_index()
        tb = getattr(b, name).set_index("reading").sort_index()
        pd.testing.assert_frame_equal(ta, tb)
    for name in ("effects", "marginal_effects", "steady_states", "estimates"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    # the SAR system with rho = 0.3: the system reading recovers case 1 (q1* ~ 0.7), the local one need not
    sysrow = a.potential_readings.set_index("reading").loc["system"]
    assert sysrow["case"] == 1 and abs(sysrow["q1_star"] - 0.7) < 0.05
    assert a.potential.case == 1 and a.haken_params["gamma1"] < 0
    loc = b.readings["local"].haken_params
    eff = b.effects[b.effects["effect"] == "direct"].set_index("term")["estimate"]
    assert loc["gamma1"] == pytest.approx(1 - eff["q1"], abs=1e-12)


def test_system_reading_without_uniform_state():
    """Islands, region effects or a zone split: the uniform q1* stays empty with the reason; steady states given."""
    g_island = Graph.from_adjacency(
        pd.concat(
            [
                GRAPH.adjacency.reset_index().query("focal != 24 and neighbor != 24"),
                pd.DataFrame({"focal": [24], "neighbor": [24], "weight": [0.0]}),
            ]
        ),
        focal_col="focal",
        neighbor_col="neighbor",
        weight_col="weight",
    )
    df = simulate_panel("sar", GRAPH, _truth("sar"), periods=10, sigma=0.01, seed=6)
    cases = {
        "islands": dict(graph=g_island),
        "region effects": dict(effects="region", correction="jackknife"),
        "zone split": dict(split={i: i % 2 for i in range(25)}),
    }
    for why, kw in cases.items():
        graph = kw.pop("graph", GRAPH)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ShortPanelWarning)
            res = SpatialHakenModel(df, "q1", "q2", graph, model="sar", **kw).fit(draws=50, seed=1)
        row = res.potential_readings.set_index("reading").loc["system"]
        assert np.isnan(row["q1_star"]) and np.isnan(row["q1_star_low"]) and pd.isna(row["case"])
        word = {"islands": "islands", "region effects": "region effects", "zone split": "zone split"}[why]
        assert word in row["note"]
        st = res.steady_states
        if st["converged"].all():
            assert row["steady_q1_min"] <= row["steady_q1_mean"] <= row["steady_q1_max"]
            assert row["steady_q1_mean"] == pytest.approx(st["q1_star"].mean())
        assert res.potential is None and res.potentials() == {}
        with pytest.raises(ModelError, match="reading='local'"):
            res.coevolution()
        # the local reading keeps its potential and h
        loc = (
            SpatialHakenModel(df, "q1", "q2", graph, model="sar", **kw).fit(draws=50, seed=1, reading="local")
            if why != "region effects"
            else None
        )
        if loc is not None:
            assert loc.potential is not None and len(loc.coevolution().table) == len(df)


def test_region_effects_enter_the_steady_states():
    """With region effects the map carries each region's intercept; steady states = dense iteration with them."""
    df = simulate_panel("sar", GRAPH, _truth("sar"), periods=12, sigma=0.01, seed=8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShortPanelWarning)
        res = SpatialHakenModel(df, "q1", "q2", GRAPH, model="sar", effects="region").fit(draws=20, seed=1)
    P = res._panel
    W = P.W.toarray()
    # region effects recomputed here: alpha = mean_t (y - rho W y - X beta)
    step0 = _dense_map(res)
    alphas = []
    for k, eq in enumerate(("q1", "q2")):
        p = res.params(eq)
        y = (P.Q1 if eq == "q1" else P.Q2)[1:]
        x = (
            {"q1": P.Q1[:-1], "q1q2": P.Q1[:-1] * P.Q2[:-1]}
            if eq == "q1"
            else {"q2": P.Q2[:-1], "q1sq": P.Q1[:-1] ** 2}
        )
        fitted = sum(p[t] * v for t, v in x.items())
        alphas.append((y - p["rho"] * y @ W.T - fitted).mean(axis=0))
    inv = [np.linalg.inv(np.eye(25) - res.params(eq)["rho"] * W) for eq in ("q1", "q2")]

    def step(q1, q2):
        n1, n2 = step0(q1, q2)
        return n1 + inv[0] @ alphas[0], n2 + inv[1] @ alphas[1]

    r1, r2 = _iterate_dense(step, P.Q1[-1], P.Q2[-1])
    st = res.steady_states.set_index("region").loc[P.ids]
    assert st["converged"].all()
    np.testing.assert_allclose(st["q1_star"], r1, atol=1e-6, rtol=0)
    np.testing.assert_allclose(st["q2_star"], r2, atol=1e-6, rtol=0)


# ------------------------------------------------------------------------------------------ marginal effects
@pytest.mark.parametrize(
    "model, split", [("slx", False), ("sar", False), ("sem", False), ("sdm", False), ("sdm", True)]
)
def test_marginal_effects_equal_finite_differences(model, split):
    """Average marginal effects = central finite differences of the fitted map, averaged over the sample."""
    df = simulate_panel(model, GRAPH, _truth(model), periods=8, sigma=0.01, seed=9)
    kw = {"split": {i: ("w" if i % 5 < 3 else "e") for i in range(25)}} if split else {}
    res = SpatialHakenModel(df, "q1", "q2", GRAPH, model=model, **kw).fit(draws=50, seed=1)
    step = _dense_map(res)
    P = res._panel
    N = P.Q1.shape[1]
    h = 1e-5
    acc = {}
    for t in range(P.Q1.shape[0] - 1):
        q1, q2 = P.Q1[t], P.Q2[t]
        for wrt in ("q1", "q2"):
            J = {"q1": np.empty((N, N)), "q2": np.empty((N, N))}
            for j in range(N):
                e = np.zeros(N)
                e[j] = h
                up = step(q1 + e, q2) if wrt == "q1" else step(q1, q2 + e)
                dn = step(q1 - e, q2) if wrt == "q1" else step(q1, q2 - e)
                for k, eq in enumerate(("q1", "q2")):
                    J[eq][:, j] = (up[k] - dn[k]) / (2 * h)
            for eq in ("q1", "q2"):
                d, tot = np.trace(J[eq]) / N, J[eq].sum() / N
                a = acc.setdefault((eq, wrt), [0.0, 0.0, 0])
                a[0] += d
                a[1] += tot
                a[2] += 1
    me = res.marginal_effects.set_index(["equation", "wrt", "effect"])["estimate"]
    for (eq, wrt), (d, tot, n) in acc.items():
        assert me[(eq, wrt, "direct")] == pytest.approx(d / n, abs=1e-6)
        assert me[(eq, wrt, "total")] == pytest.approx(tot / n, abs=1e-6)
        assert me[(eq, wrt, "indirect")] == pytest.approx((tot - d) / n, abs=1e-6)
    mt = res.marginal_effects
    assert (mt["ci_low"] <= mt["estimate"]).all() and (mt["estimate"] <= mt["ci_high"]).all()
    # the term-wise LeSage-Pace effect of "q1" is not the marginal effect of q1 (it leaves out q1 q2)
    eff = res.effects.set_index(["equation", "term", "effect"])["estimate"]
    assert abs(eff[("q1", "q1", "direct")] - me[("q1", "q1", "direct")]) > 0.01


def test_draws_do_not_depend_on_the_backend():
    """The chunked draws (per-chunk seeds) give the same tables in-process and on two local processes."""
    from nqpspatial.backends import open_backend

    df = simulate_panel("sdm", GRAPH, _truth("sdm"), periods=8, sigma=0.01, seed=10)
    a = sdm.fit(df, "q1", "q2", GRAPH, draws=600, seed=4)
    with open_backend("processes", workers=2) as be:
        b = sdm.fit(df, "q1", "q2", GRAPH, draws=600, seed=4, backend=be)
    for name in ("effects", "marginal_effects", "identification", "potential_readings"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    c = sdm.fit(df, "q1", "q2", GRAPH, draws=600, seed=5)
    assert not np.allclose(a.effects["ci_low"], c.effects["ci_low"])
