"""Frozen copy of the wild-year bootstrap's dummy-column (LSDV) data-generating process (issue 19): the reference.

Before the change the payload of :func:`nqpspatial.haken.wild.wild_year_bootstrap` read the full dummy-column
design (``_Design.X1``/``X2``: slopes, one column per region, year dummies), fitted the restricted equations by
``np.linalg.lstsq`` on all its columns and formed the per-row offsets as ``X[:, k:] @ coef[k:]``; the SLX bootstrap
(``plugins/spatial_haken/wild.py``) built the same design with the spatial lags and took its slopes by ``lstsq``.
This module keeps those functions (``_payload``, ``_restricted``, ``_dgp``, ``_prepare_dgps``,
``wild_year_bootstrap``, the SLX ``_design`` and ``slx_wild_year``) as they were; the resampling and estimation
machinery they call (chunks, recursion, grouped sums) is the live module's, which the change did not touch.
Only the tests import it (tests/test_haken_wild_absorbed.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from nqpspatial.backends import run_chunks
from nqpspatial.haken.wild import (
    WildYearResults,
    _estimate,
    _grouped_plan,
    _Layout,
    _null_values,
    _ratio_t,
    _terms,
    _to_param,
    _wild_chunk,
    chunk_size_for,
    wild_weights,
)
from nqpspatial.plugins.spatial_haken.wild import BOOTSTRAP_COLUMNS, SLXWildYear

#: Spatially lagged Haken terms of an SLX design (``W q(t)``, ``W q1 q2`` / ``W q1^2``), after lag and inter.
SPATIAL_COLS = ("wlag", "winter")


def _payload(design, coefs, jackknife, analytic=None, W=None):
    """Everything a chunk needs, as plain arrays (picklable).

    ``W`` (``N x N``, dense or scipy sparse, in the order of ``design.regions``): the design is an SLX one,
    with the columns :data:`SPATIAL_COLS` after ``lag`` and ``inter``, re-computed from the simulated states.
    """
    from nqpspatial.haken.model import _half_masks

    cols = design.slope_cols()
    if W is not None:
        cols = cols[:2] + list(SPATIAL_COLS) + cols[2:]
    lay = _Layout(design.codes, design.tcodes, len(design.regions), len(design.years), design.effects)
    layouts = [(1.0, None, lay)]
    if jackknife:
        for mask in _half_masks(design):
            sub = _Layout(
                design.codes[mask],
                design.tcodes[mask],
                len(design.regions),
                len(design.years),
                design.effects,
                mask=mask,
            )
            layouts.append((-0.5, mask, sub))
        layouts[0] = (2.0, None, lay)
    codes = design.codes
    first = np.r_[True, codes[1:] != codes[:-1]]
    has_next = np.r_[codes[1:] == codes[:-1], False]
    step = np.zeros(len(codes), int)
    for r in range(1, len(codes)):
        step[r] = 0 if first[r] else step[r - 1] + 1
    q1 = design.X1["lag"].to_numpy(float)
    q2 = design.X2["lag"].to_numpy(float)
    eqs = []
    for c, y, X in ((coefs[0], design.y1, design.X1), (coefs[1], design.y2, design.X2)):
        eqs.append(
            {
                "y": np.asarray(y, float),
                "X": X.to_numpy(float),
                "names": list(X.columns),
                "coef": c.reindex(X.columns).to_numpy(float),
            }
        )
    return {
        "cols": cols,
        "layouts": layouts,
        "tcodes": design.tcodes,
        "T": len(design.years),
        "steps": [np.flatnonzero(step == s) for s in range(step.max() + 1)],
        "has_next": has_next,
        "q1": q1,
        "q2": q2,
        "eqs": eqs,
        "jackknife": bool(jackknife),
        "analytic": analytic,
        "W": None if W is None else (W.astype(float) if sp.issparse(W) else np.asarray(W, float)),
        "codes": design.codes,
    }


def _restricted(eq, j, value):
    """Coefficients (all columns) and residuals of one equation with coefficient j fixed at value."""
    X, y = eq["X"], eq["y"]
    others = [i for i in range(X.shape[1]) if i != j]
    coef = np.empty(X.shape[1])
    coef[j] = value
    coef[others] = np.linalg.lstsq(X[:, others], y - value * X[:, j], rcond=None)[0]
    return coef, y - X @ coef


def _dgp(eq, coef, spatial=False):
    """Slopes (lag, inter), per-row offsets (constant and fixed effects), residuals and the SLX thetas."""
    X, y = eq["X"], eq["y"]
    k = 4 if spatial else 2
    off = X[:, k:] @ coef[k:]
    return coef[0], coef[1], off, y - X @ coef, (coef[2], coef[3]) if spatial else None


def _prepare_dgps(p):
    """The data-generating processes of the unrestricted and of every restricted resample set, once per bootstrap
    (they do not depend on the resamples), with single-threaded BLAS like the chunks.

    Returns the payload without the design matrices (the chunks need only these processes).
    """
    from nqpspatial.backends import _one_thread

    sp_ = p.get("W") is not None
    eq1, eq2 = p["eqs"]
    names = _terms(p["cols"])
    with _one_thread():
        free = (_dgp(eq1, eq1["coef"], sp_), _dgp(eq2, eq2["coef"], sp_))
        restricted = {}
        for e, eq in enumerate((eq1, eq2)):
            for j, v0 in enumerate(_null_values(p["cols"])):
                if names[e][j] in p["null_terms"]:
                    coef, _ = _restricted(eq, j, v0)
                    restricted[(e, j)] = (_dgp(eq, coef, sp_), coef)
    eqs = [{key: v for key, v in eq.items() if key not in ("X", "y")} for eq in p["eqs"]]
    return {**p, "eqs": eqs, "dgp_free": free, "dgp_restricted": restricted}


def wild_year_bootstrap(
    design,
    coefs,
    B: int,
    *,
    seed,
    alpha: float = 0.05,
    min_ratio: float = 1.0,
    jackknife: bool = False,
    analytic=None,
    backend=None,
    null_terms=None,
    W=None,
) -> WildYearResults:
    """Recursive wild-year bootstrap of a Haken fit (see the module docstring).

    Parameters
    ----------
    design : nqpspatial.haken.model._Design
        The fit's design (rows, effects, regressors).
    coefs : (pandas.Series, pandas.Series)
        Coefficients of the q1 and q2 equations over the design's columns
        (bias-corrected ones with ``jackknife``).
    B : int
        Resamples.
    seed : int, SeedSequence or numpy.random.Generator
        Chunk ``i`` draws from the ``i``-th child (see :mod:`nqpspatial.backends`).
    alpha, min_ratio : float
        Interval level ``1 - alpha``; ratio threshold of the verdict share.
    jackknife : bool
        The statistic is the split-panel jackknife estimate (re-computed on
        every resample); standard errors are the full-panel fit's.
    analytic : int, optional
        Lag truncation of the analytic bias correction, re-computed on
        every resample (standard errors of the uncorrected fit).
    null_terms : sequence of str, optional
        Terms whose restricted p-value is computed (default every term;
        others get NaN).  The draws do not depend on it.
    W : array, optional
        Row-standardized ``N x N`` weights in the order of ``design.regions``:
        the design is SLX-Haken's, whose columns ``wlag``, ``winter`` (after
        ``lag`` and ``inter``) are the spatial lags ``W q``, ``W q1 q2`` /
        ``W q1^2``, re-computed from the simulated states of every resample
        (terms ``theta_q1``, ``theta_q1q2``, ``theta_q2``, ``theta_q1sq``;
        balanced panels).  Used by the ``[spatial_haken]`` SLX bootstrap.
    backend : backend object, optional

    Returns
    -------
    WildYearResults
    """
    p = _payload(design, coefs, jackknife, analytic, W=W)
    p["periods"] = [np.flatnonzero(p["tcodes"] == t) for t in range(p["T"])]
    p["null_terms"] = set(sum(_terms(p["cols"]), [])) if null_terms is None else set(null_terms)
    p["plan"] = _grouped_plan(p)
    data = _estimate(
        p,
        design.X1["lag"].to_numpy(float)[None, :],
        design.X2["lag"].to_numpy(float)[None, :],
        np.asarray(design.y1, float)[None, :],
        np.asarray(design.y2, float)[None, :],
    )
    b1, b2, se1, se2, c12 = (a[0] for a in data)
    r_hat, r_se = _ratio_t(data[0], data[1], data[2], data[3], data[4])
    parts = run_chunks(
        _wild_chunk, _prepare_dgps(p), int(B), seed=seed, chunk_size=chunk_size_for(design.nobs), backend=backend
    )
    cat = {k: np.concatenate([c[k] for c in parts]) for k in ("W", "b1", "b2", "se1", "se2", "r", "rse", "tnull")}
    t1n, t2n = _terms(p["cols"])
    names = t1n + t2n
    bs = np.concatenate([cat["b1"], cat["b2"]], axis=1)
    ss = np.concatenate([cat["se1"], cat["se2"]], axis=1)
    est = np.concatenate([b1, b2])
    se = np.concatenate([se1, se2])
    with np.errstate(all="ignore"):
        tstar = (bs - est) / ss
        rt = (cat["r"] - r_hat[0]) / cat["rse"]
    tested = [j for j, t in enumerate(names) if t in p["null_terms"]]
    valid = np.isfinite(tstar).all(axis=1) & np.isfinite(rt) & np.isfinite(cat["tnull"][:, tested]).all(axis=1)
    lo_q, hi_q = alpha / 2.0, 1.0 - alpha / 2.0
    rows, pv = [], {}
    draws = {}
    null = _null_values(p["cols"]) * 2
    for j, term in enumerate(names):
        q_lo, q_hi = np.quantile(tstar[valid, j], [lo_q, hi_q])
        c_lo, c_hi = est[j] - q_hi * se[j], est[j] - q_lo * se[j]
        ends = sorted([_to_param(term, c_lo), _to_param(term, c_hi)])
        draws[term] = _to_param(term, bs[:, j])
        rows.append(
            {"term": term, "ci_low": ends[0], "ci_high": ends[1], "std_err": float(np.std(draws[term][valid], ddof=1))}
        )
        with np.errstate(all="ignore"):
            t_obs = (est[j] - null[j]) / se[j]
        tn = cat["tnull"][valid, j]
        pv[term] = (
            float((1 + np.sum(np.abs(tn) >= abs(t_obs))) / (len(tn) + 1)) if term in p["null_terms"] else float("nan")
        )
    q_lo, q_hi = np.quantile(rt[valid], [lo_q, hi_q])
    rows.append(
        {
            "term": "ratio",
            "ci_low": r_hat[0] - q_hi * r_se[0],
            "ci_high": r_hat[0] - q_lo * r_se[0],
            "std_err": float(np.std(cat["r"][valid], ddof=1)),
        }
    )
    order = ["gamma1", "a", "gamma2", "b"] + [t for t in names if t not in ("gamma1", "a", "gamma2", "b")]
    d = pd.DataFrame({t: draws[t] for t in order})
    d["ratio"] = cat["r"]
    ok = (d["gamma2"] > 0) & (d["ratio"] > min_ratio)
    wname, values = wild_weights(p["T"])
    n_distinct = len(np.unique(cat["W"], axis=0))
    iv = pd.DataFrame(rows).set_index("term").loc[order + ["ratio"]].reset_index()
    return WildYearResults(
        d,
        iv,
        pd.Series(pv).reindex(order),
        float(ok[valid].mean()),
        B=int(B),
        weights=wname,
        n_distinct=n_distinct,
        n_possible=len(values) ** p["T"],
        n_invalid=int((~valid).sum()),
        alpha=alpha,
    )


def _design(res):
    """The aspatial LSDV design of the fit's panel with the SLX columns, and W in its region order."""
    from nqpspatial.haken.model import _Design

    design = _Design(res._panel_std, "const" in res.params("q1").index, res.effects_kind)
    P = res._panel
    pos = {r: i for i, r in enumerate(P.ids)}
    order = [pos[r] for r in design.regions]
    W = sp.csr_array(P.W)[order][:, order]  # sparse: the lags cost the links, not N^2
    for attr in ("X1", "X2"):
        X = getattr(design, attr)
        lagged = {}
        for name, col in (("wlag", "lag"), ("winter", "inter")):
            x = X[col].to_numpy(float)
            out = np.empty_like(x)
            for t in np.unique(design.tcodes):
                rows = np.flatnonzero(design.tcodes == t)
                full = np.zeros(len(design.regions))
                full[design.codes[rows]] = x[rows]
                out[rows] = (W @ full)[design.codes[rows]]
            lagged[name] = out
        rest = [c for c in X.columns if c not in ("lag", "inter")]
        setattr(design, attr, pd.concat([X[["lag", "inter"]], pd.DataFrame(lagged, index=X.index), X[rest]], axis=1))
    return design, W


def slx_wild_year(
    res, B: int, *, seed, alpha: float = 0.05, min_ratio: float = 1.0, backend=None, bootstrap=None
) -> SLXWildYear:
    """Wild-year bootstrap of an SLX-Haken fit (see the module docstring).

    Parameters
    ----------
    res : SpatialHakenResults
        An SLX fit (balanced panel, no zone split).
    B : int
        Resamples.
    seed : int, SeedSequence or numpy.random.Generator
    alpha, min_ratio : float
    backend : backend object, optional

    Returns
    -------
    SLXWildYear
    """
    from nqpspatial.errors import ConfigError

    if res.model != "slx" or res.split:
        raise ConfigError(
            '[spatial_haken] bootstrap_scheme = "wild-year" covers SLX without a zone split; '
            f"got {res.model.upper()}" + (" with split_by_zone" if res.split else ""),
            "config",
        )
    design, W = _design(res)
    coefs = []
    for X, y in ((design.X1, design.y1), (design.X2, design.y2)):  # LSDV: the SLX slopes (Frisch-Waugh-Lovell)
        c = np.linalg.lstsq(X.to_numpy(float), np.asarray(y, float), rcond=None)[0]
        coefs.append(pd.Series(c, index=X.columns))
    bootstrap = wild_year_bootstrap if bootstrap is None else bootstrap  # another reference's bootstrap, same design
    boot = bootstrap(design, coefs, int(B), seed=seed, alpha=alpha, min_ratio=min_ratio, backend=backend, W=W)
    est = {
        "gamma1": 1 - coefs[0]["lag"],
        "a": -coefs[0]["inter"],
        "gamma2": 1 - coefs[1]["lag"],
        "b": coefs[1]["inter"],
    }
    est.update(theta_q1=coefs[0]["wlag"], theta_q1q2=coefs[0]["winter"])
    est.update(theta_q2=coefs[1]["wlag"], theta_q1sq=coefs[1]["winter"])
    est["ratio"] = abs(est["gamma2"]) / abs(est["gamma1"])
    iv = boot.intervals.set_index("term")
    rows = [
        {
            "term": t,
            "estimate": float(est[t]),
            "ci_low": float(iv.at[t, "ci_low"]),
            "ci_high": float(iv.at[t, "ci_high"]),
            "std_err": float(iv.at[t, "std_err"]),
            "p": float(boot.pvalues.get(t, np.nan)),
            "verdict_share": boot.verdict_share,
            "weights_kind": boot.weights,
            "n_distinct": boot.n_distinct,
            "ci_method": boot.method,
        }
        for t in iv.index
    ]
    return SLXWildYear(pd.DataFrame(rows, columns=BOOTSTRAP_COLUMNS), boot)
