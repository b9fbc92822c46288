"""Reference: the Haken fit with fixed effects as dummy columns (LSDV through statsmodels).

This is the estimator nqpspatial used before the fixed effects were absorbed by the within
transformation (0.2 development): every region and year effect a dummy column, statsmodels' OLS
and covariance types on the full design, the split-panel jackknife refitting each half with
dummies and the fixed effects recomputed by least squares on the dummy columns.  Its cost grows
as ``rows x N^2``; it is kept here, on small panels, as the reference the cheap path must equal.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from nqpspatial.haken.bias import analytic_bias
from nqpspatial.haken.inference import driscoll_kraay_cov


def transitions(panel: pd.DataFrame, q1="q1", q2="q2") -> pd.DataFrame:
    """Rows t -> t+1 of every region (regions in order of first appearance, years ascending)."""
    order = {r: i for i, r in enumerate(pd.unique(panel["region"]))}
    d = panel.assign(_o=panel["region"].map(order)).sort_values(["_o", "year"]).reset_index(drop=True)
    g = d.groupby("region", sort=False)
    d["y1"], d["y2"] = g[q1].shift(-1), g[q2].shift(-1)
    d = d.dropna(subset=["y1"]).reset_index(drop=True)
    return d.rename(columns={q1: "c1", q2: "c2"})[["region", "year", "_o", "c1", "c2", "y1", "y2"]]


def lsdv_design(d: pd.DataFrame, eq: int, effects: str, intercept: bool) -> pd.DataFrame:
    """Slopes, then region dummies, then year dummies (two-way: every year but the first)."""
    lag = d["c1"] if eq == 0 else d["c2"]
    inter = d["c1"] * d["c2"] if eq == 0 else d["c1"] ** 2
    X = pd.DataFrame({"lag": lag.to_numpy(float), "inter": inter.to_numpy(float)})
    if intercept:
        X["const"] = 1.0
    parts = [X]
    if effects in ("region", "two-way"):
        regions = list(pd.unique(d["region"]))
        parts.append(pd.DataFrame({f"region[{r}]": (d["region"] == r).to_numpy(float) for r in regions}))
    if effects in ("year", "two-way"):
        years = sorted(int(y) for y in d["year"].unique())
        years = years[1:] if effects == "two-way" else years
        parts.append(pd.DataFrame({f"year[{t}]": (d["year"] == t).to_numpy(float) for t in years}))
    return pd.concat(parts, axis=1)


def _codes(values) -> np.ndarray:
    return pd.factorize(pd.Series(values))[0]


def _ols(y, X, se, d):
    model = sm.OLS(np.asarray(y, float), X)
    reg, yr = _codes(d["region"]), _codes(d["year"])
    if se in ("classical", "driscoll-kraay"):
        return model.fit(use_t=True)
    if se == "hc1":
        return model.fit(cov_type="HC1", use_t=True)
    if se == "twoway":
        return model.fit(cov_type="cluster", cov_kwds={"groups": np.column_stack([reg, yr])}, use_t=True)
    return model.fit(cov_type="cluster", cov_kwds={"groups": reg}, use_t=True)


def _cov(res, X, se, d, slopes, bandwidth):
    """Covariance of the slopes and the t degrees of freedom (the old path's rules)."""
    if se == "driscoll-kraay":
        tc = np.searchsorted(np.sort(d["year"].unique()), d["year"].to_numpy())
        V, _ = driscoll_kraay_cov(X.to_numpy(float), np.asarray(res.resid, float), tc, bandwidth=bandwidth)
        V = pd.DataFrame(V, index=X.columns, columns=X.columns).loc[slopes, slopes]
        return V, float(d["year"].nunique() - 1)
    df = float(getattr(res, "df_resid_inference", None) or res.df_resid)
    V = res.cov_params().loc[slopes, slopes]
    if se == "twoway":  # negative eigenvalues of the slope block set to 0
        w, U = np.linalg.eigh((V.to_numpy() + V.to_numpy().T) / 2.0)
        if w.min() < 0:
            V = pd.DataFrame((U * np.maximum(w, 0.0)) @ U.T, index=slopes, columns=slopes)
    return V, df


def _refit(c, y, X, slopes, b):
    eff = [col for col in X.columns if col.startswith(("region[", "year["))]
    if eff:
        coef = np.linalg.lstsq(X[eff].to_numpy(float), y - X[slopes].to_numpy() @ b, rcond=None)[0]
        c[eff] = coef
    c[slopes] = b


def lsdv_fit(panel, *, effects="none", se="classical", correction="none", intercept=False, bandwidth=None, trim=2):
    """The dummy-column fit of both equations.

    Returns
    -------
    dict
        ``estimates`` (term -> estimate, std_err, df), ``params`` (the two equations' full coefficient
        Series after any correction), ``cov`` (slope covariances), ``df``, ``r2``, ``resid``,
        ``region_effects`` and ``year_effects`` (as HakenResults reports them) and ``design``.
    """
    d = transitions(panel)
    slopes = ["lag", "inter"] + (["const"] if intercept else [])
    out = {"params": [], "cov": [], "df": [], "r2": [], "resid": [], "X": []}
    for eq in (0, 1):
        y = d["y1" if eq == 0 else "y2"].to_numpy(float)
        X = lsdv_design(d, eq, effects, intercept)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # sqrt of a negative two-way variance
            res = _ols(y, X, se, d)
        V, df = _cov(res, X, se, d, slopes, bandwidth)
        c = res.params.copy()
        if correction == "jackknife":
            years = np.sort(d["year"].unique())
            m, h = len(years), math.ceil(len(years) / 2)
            halves = []
            for keep in (years[:h], years[m - h :]):
                sub = d[d["year"].isin(keep)].reset_index(drop=True)
                Xh = lsdv_design(sub, eq, effects, intercept)
                halves.append(sm.OLS(sub["y1" if eq == 0 else "y2"].to_numpy(float), Xh).fit().params[slopes])
            b = 2 * c[slopes] - 0.5 * (halves[0] + halves[1])
            _refit(c, y, X, slopes, b.to_numpy())
        elif correction == "analytic":
            D = X.drop(columns=slopes).to_numpy(float)
            Xs = X[slopes].to_numpy(float)
            Xw = Xs - D @ np.linalg.lstsq(D, Xs, rcond=None)[0]
            yw = y - D @ np.linalg.lstsq(D, y, rcond=None)[0]
            full = c[slopes].to_numpy()
            b = full - analytic_bias(Xw, yw - Xw @ full, _codes(d["region"]), trim)
            _refit(c, y, X, slopes, b)
        out["params"].append(c)
        out["cov"].append(V)
        out["df"].append(df)
        out["r2"].append(float(1 - res.ssr / res.centered_tss))
        out["resid"].append(np.asarray(res.resid, float))
        out["X"].append(X)
    c1, c2 = out["params"]
    (V1, V2), (df1, df2) = out["cov"], out["df"]
    spec = [
        ("gamma1", 1 - c1["lag"], V1.at["lag", "lag"], df1),
        ("a", -c1["inter"], V1.at["inter", "inter"], df1),
        ("gamma2", 1 - c2["lag"], V2.at["lag", "lag"], df2),
        ("b", c2["inter"], V2.at["inter", "inter"], df2),
    ]
    if intercept:
        spec += [("k1", c1["const"], V1.at["const", "const"], df1), ("k2", c2["const"], V2.at["const", "const"], df2)]
    est = pd.DataFrame(
        [{"term": t, "estimate": float(e), "std_err": float(np.sqrt(max(v, 0.0))), "df": df} for t, e, v, df in spec]
    ).set_index("term")
    est["p"] = 2 * stats.t.sf(np.abs(est["estimate"] / est["std_err"]), est["df"])
    out["estimates"] = est
    out["region_effects"], out["year_effects"] = _effect_tables(d, c1, c2, effects)
    out["design"] = d
    return out


def _effect_tables(d, c1, c2, effects):
    """Region and year effect tables as HakenResults defines them."""
    years = sorted(int(y) for y in d["year"].unique())
    regions = list(pd.unique(d["region"]))
    reg = yr = None
    m1 = m2 = 0.0
    if effects in ("year", "two-way"):
        t1 = np.array([float(c1.get(f"year[{t}]", 0.0)) for t in years])
        t2 = np.array([float(c2.get(f"year[{t}]", 0.0)) for t in years])
        if effects == "year":
            yr = pd.DataFrame({"year": years, "k1": t1, "k2": t2})
        else:
            m1, m2 = float(t1.mean()), float(t2.mean())
            yr = pd.DataFrame({"year": years, "k1": t1 - m1, "k2": t2 - m2})
    if effects in ("region", "two-way"):
        reg = pd.DataFrame(
            {
                "region": regions,
                "k1": [float(c1[f"region[{r}]"]) + m1 for r in regions],
                "k2": [float(c2[f"region[{r}]"]) + m2 for r in regions],
            }
        )
    return reg, yr
