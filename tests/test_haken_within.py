"""Fixed effects absorbed by the within transformation equal the dummy-column (LSDV) fits.

The reference (tests/_lsdv_reference.py) is the estimator used before: every region and year
effect a dummy column through statsmodels.  Every combination of effects, standard errors,
intercept and bias correction that HakenModel accepts is compared on a balanced and an
unbalanced panel, to 1e-10.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from _lsdv_reference import lsdv_fit
from nqpspatial.haken import HakenModel, ShortPanelWarning, simulate_panel
from nqpspatial.haken.regimes import HakenRegimesModel

SE = ("classical", "hc1", "cluster", "driscoll-kraay", "twoway")
COMBOS = (
    [("none", False, c) for c in ("none", "jackknife")]
    + [("none", True, c) for c in ("none", "jackknife")]
    + [("region", False, c) for c in ("none", "jackknife", "analytic")]
    + [("year", False, c) for c in ("none", "jackknife")]
    + [("two-way", False, c) for c in ("none", "jackknife", "analytic")]
)


def _panel(kind: str) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    df = simulate_panel(
        -0.1,
        0.35,
        0.6,
        0.35,
        n_regions=11,
        n_periods=9,
        noise_sd=0.01,
        q1_start=(0.2, 0.6),
        k1=0.02,
        k2=0.01,
        region_effects=(rng.normal(0, 0.01, 11), rng.normal(0, 0.01, 11)),
        year_shock_sd=0.01,
        seed=3,
    )
    if kind == "unbalanced":  # late starts and early ends, every region still contiguous
        regions = list(pd.unique(df["region"]))
        drop = (
            ((df["region"] == regions[0]) & (df["year"] < 2016))
            | ((df["region"] == regions[1]) & (df["year"] > 2019))
            | ((df["region"] == regions[4]) & (df["year"] < 2015))
            | ((df["region"] == regions[7]) & (df["year"] > 2021))
        )
        df = df[~drop].reset_index(drop=True)
    return df


@pytest.fixture(scope="module", params=["balanced", "unbalanced"])
def panel(request):
    return _panel(request.param)


def _fit(panel, effects, intercept, se, correction, bandwidth=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShortPanelWarning)
        model = HakenModel(panel, "q1", "q2", effects=effects, intercept=intercept, se=se, bandwidth=bandwidth)
        return model.fit(bootstrap=0, correction=correction)


def _close(a, b, **kw):
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-10, atol=1e-12, **kw)


@pytest.mark.parametrize("se", SE)
@pytest.mark.parametrize("effects,intercept,correction", COMBOS)
def test_fit_equals_dummy_columns(panel, effects, intercept, se, correction):
    ref = lsdv_fit(panel, effects=effects, se=se, correction=correction, intercept=intercept)
    fit = _fit(panel, effects, intercept, se, correction)
    est = ref["estimates"]
    terms = list(est.index)
    _close(fit.params[terms], est["estimate"])
    _close(fit.bse[terms], est["std_err"])
    _close(fit.df[terms], est["df"])
    _close(fit.pvalues[terms], est["p"])
    _close(fit.rsquared.to_numpy(), ref["r2"])
    for eq in (0, 1):
        _close(fit.equation_results[eq].resid, ref["resid"][eq])
    for mine, theirs in ((fit.region_effects, ref["region_effects"]), (fit.year_effects, ref["year_effects"])):
        assert (mine is None) == (theirs is None)
        if mine is not None:
            assert list(mine.iloc[:, 0]) == list(theirs.iloc[:, 0])
            _close(mine[["k1", "k2"]], theirs[["k1", "k2"]])
    if correction != "none":  # the record of the correction: full-panel and corrected slopes
        for eq in (0, 1):
            rec = fit.jackknife[f"eq{eq + 1}"]
            _close(rec[correction], ref["params"][eq][list(rec.index)])


@pytest.mark.parametrize("se", SE)
@pytest.mark.parametrize("effects", ["region", "two-way", "year"])
def test_marginal_effects_use_the_fits_covariance(panel, effects, se):
    """Delta-method intervals from the slope covariance of ``se`` (the reference's)."""
    ref = lsdv_fit(panel, effects=effects, se=se)
    fit = _fit(panel, effects, False, se, "none")
    me = fit.marginal_effects().set_index(["equation", "wrt"])
    d = ref["design"]
    m1, m2 = d["c1"].mean(), d["c2"].mean()
    grads = {("q1", "q1"): (0, [1.0, m2]), ("q1", "q2"): (0, [0.0, m1]), ("q2", "q1"): (1, [0.0, 2 * m1])}
    for key, (eq, g) in grads.items():
        V = ref["cov"][eq].to_numpy()[:2, :2]
        half = stats.t.ppf(0.975, ref["df"][eq]) * np.sqrt(np.asarray(g) @ V @ np.asarray(g))
        _close(me.loc[key, "ci_high"] - me.loc[key, "estimate"], half)


def test_driscoll_kraay_bandwidth_option(panel):
    ref = lsdv_fit(panel, effects="two-way", se="driscoll-kraay", bandwidth=1)
    fit = _fit(panel, "two-way", False, "driscoll-kraay", "none", bandwidth=1)
    _close(fit.bse[ref["estimates"].index], ref["estimates"]["std_err"])


@pytest.mark.parametrize("effects", ["region", "two-way"])
def test_region_bootstrap_and_analytic_shift_match_dummy_fit(panel, effects):
    """The cluster bootstrap of a bias-corrected fit is centred on the dummy-column estimate."""
    ref = lsdv_fit(panel, effects=effects, correction="analytic")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShortPanelWarning)
        fit = HakenModel(panel, "q1", "q2", effects=effects).fit(
            bootstrap=99, seed=1, bootstrap_scheme="region", correction="analytic"
        )
    _close(fit.params[["gamma1", "a", "gamma2", "b"]], ref["estimates"]["estimate"])
    assert fit.bootstrap.draws[["gamma1", "gamma2"]].notna().all().all()


def test_fit_builds_no_dummy_columns():
    """Memory linear in the rows: no rows x regions matrix is built by a fit with effects."""
    df = _panel("balanced")
    fit = _fit(df, "two-way", False, "twoway", "analytic")
    assert fit._design._lsdv == [None, None]
    fit = _fit(df, "region", False, "cluster", "jackknife")
    assert fit._design._lsdv == [None, None]


def test_by_group_with_year_effects_equals_separate_dummy_fits():
    df = _panel("balanced")
    regions = list(pd.unique(df["region"]))
    groups = {r: "east" if i < 6 else "west" for i, r in enumerate(regions)}
    res = HakenModel(df, "q1", "q2", effects="year", by="group", groups=groups, se="hc1").fit(bootstrap=0)
    for g in ("east", "west"):
        sub = df[df["region"].map(groups) == g].reset_index(drop=True)
        ref = lsdv_fit(sub, effects="year", se="hc1")["estimates"]
        _close(res.units[g].params[ref.index], ref["estimate"])
        _close(res.units[g].bse[ref.index], ref["std_err"])


# ----------------------------------------------------------------------------- regimes
def _regime_reference(df, groups, effects, se):
    from _lsdv_reference import transitions

    d = transitions(df)
    lab = sorted(set(groups.values()))
    gc = d["region"].map(groups).map({g: i for i, g in enumerate(lab)}).to_numpy()
    reg = pd.factorize(d["region"])[0]
    yr = pd.factorize(d["year"])[0]
    out = {}
    for eq, (lag, inter, y) in {
        "q1": (d["c1"], d["c1"] * d["c2"], d["y1"]),
        "q2": (d["c2"], d["c1"] ** 2, d["y2"]),
    }.items():
        cols = {}
        for name, x in (("lag", lag), ("inter", inter)):
            for g, label in enumerate(lab):
                cols[f"{name}[{label}]"] = np.where(gc == g, x, 0.0)
        X = pd.DataFrame(cols)
        k = X.shape[1]
        if effects in ("region", "two-way"):
            X = pd.concat([X, pd.get_dummies(d["region"], prefix="r", dtype=float)], axis=1)
        if effects in ("year", "two-way"):
            dum = pd.get_dummies(d["year"], prefix="y", dtype=float)
            X = pd.concat([X, dum.iloc[:, 1:] if effects == "two-way" else dum], axis=1)
        model = sm.OLS(y.to_numpy(float), X)
        if se == "classical":
            res = model.fit(use_t=True)
        elif se == "hc1":
            res = model.fit(cov_type="HC1", use_t=True)
        elif se == "cluster":
            res = model.fit(cov_type="cluster", cov_kwds={"groups": reg}, use_t=True)
        else:
            res = model.fit(cov_type="cluster", cov_kwds={"groups": np.column_stack([reg, yr])}, use_t=True)
        V = np.asarray(res.cov_params())[:k, :k]
        if se == "twoway":  # negative eigenvalues set to 0, as HakenModel does
            w, U = np.linalg.eigh((V + V.T) / 2)
            V = (U * np.maximum(w, 0.0)) @ U.T if w.min() < 0 else V
        out[eq] = (np.asarray(res.params)[:k], V, float(getattr(res, "df_resid_inference", None) or res.df_resid))
    return out


@pytest.mark.parametrize("se", ["classical", "hc1", "cluster", "twoway"])
@pytest.mark.parametrize("effects", ["none", "region", "year", "two-way"])
def test_regimes_equal_dummy_columns(panel, effects, se):
    regions = list(pd.unique(panel["region"]))
    groups = {r: "east" if i % 2 else "west" for i, r in enumerate(regions)}
    res = HakenRegimesModel(panel, "q1", "q2", groups, effects=effects, se=se).fit()
    ref = _regime_reference(panel, groups, effects, se)
    for eq, (lag, inter) in {"q1": ("gamma1", "a"), "q2": ("gamma2", "b")}.items():
        b, V, df = ref[eq]
        se_ref = np.sqrt(np.diag(V))
        for g, label in enumerate(["east", "west"]):
            _close(res.bse.at[label, lag], se_ref[g])
            _close(res.bse.at[label, inter], se_ref[2 + g])
            _close(abs(res.params.at[label, inter]), abs(b[2 + g]))
            _close(res.params.at[label, lag], 1 - b[g])
    t = res.tests[res.tests["term"] == "gamma1"]
    assert (t["df2"] == ref["q1"][2]).all()


def test_region_potentials_are_computed_when_read_and_equal_each_systems(monkeypatch):
    from nqpspatial.haken import HakenSystem

    calls = []
    original = HakenSystem.potential

    def counted(self, **kw):
        calls.append(self)
        return original(self, **kw)

    monkeypatch.setattr(HakenSystem, "potential", counted)
    df = _panel("unbalanced")
    fit = _fit(df, "two-way", False, "classical", "none")
    assert fit.potential is None and calls == []  # nothing computed by the fit
    pots = fit.potentials()
    assert len(calls) == df["region"].nunique()
    monkeypatch.setattr(HakenSystem, "potential", original)
    assert list(pots) == list(pd.unique(df["region"]))
    for r, s in fit.systems().items():
        assert pots[r].row() == s.potential().row()
    assert len(fit.potential_table()) == df["region"].nunique()
