"""Wild-year bootstrap of SLX-Haken (``[spatial_haken] bootstrap_scheme = "wild-year"``).

The recursive, restricted wild bootstrap with one multiplier per year of the aspatial model
(:func:`nqpspatial.haken.wild.wild_year_bootstrap`, docs/inference.md) applied to the SLX design: the
spatial lags ``W q(t)`` and ``W q1 q2`` / ``W q1^2`` are re-computed from every resample's simulated
states, so that the resamples carry the dependence of the spatial regressors on past shocks, and each
resample keeps any dependence between the regions of one year.  Percentile-t intervals and restricted
p-values (the null of each term imposed, e.g. ``gamma2 = 0``: a unit root in the servo equation) for the
SLX coefficients; gamma1, a, gamma2, b are those of the own terms (the local reading of SLX, whose
direct effects are the betas).  The ML models (SAR, SEM, SDM) are not covered: re-estimating them on
every resample has not been benchmarked at county scale.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from nqpspatial.results import Results, Summary

__all__ = ["SLXWildYear", "slx_wild_year", "BOOTSTRAP_COLUMNS"]

BOOTSTRAP_COLUMNS = [
    "term",
    "estimate",
    "ci_low",
    "ci_high",
    "std_err",
    "p",
    "verdict_share",
    "weights_kind",
    "n_distinct",
    "ci_method",
]


class SLXWildYear(Results):
    """Wild-year bootstrap of one SLX-Haken fit.

    Attributes
    ----------
    table : pandas.DataFrame
        :data:`BOOTSTRAP_COLUMNS`: one row per term (gamma1, a, gamma2, b, the thetas, ratio).
    boot : nqpspatial.haken.wild.WildYearResults
        The bootstrap's draws, intervals and p-values.
    method : str
        Description (``ci_method``).
    """

    def __init__(self, table: pd.DataFrame, boot):
        self.table = table
        self.boot = boot
        self.method = boot.method
        self._freeze()

    def summary(self) -> Summary:
        """The intervals and p-values."""
        return Summary("SLX-Haken wild-year bootstrap", {"method": self.method}, {"terms": self.table})


def _design(res):
    """The aspatial design of the fit's panel with the SLX columns in its slope frames, and W in its region order.

    ``Z1``/``Z2`` get the spatial lags ``wlag``, ``winter`` after ``lag`` and ``inter``; the fixed effects stay
    absorbed (``design.absorbed``): no dummy column is built.
    """
    from nqpspatial.haken.model import _Design

    design = _Design(res._panel_std, "const" in res.params("q1").index, res.effects_kind)
    P = res._panel
    pos = {r: i for i, r in enumerate(P.ids)}
    order = [pos[r] for r in design.regions]
    W = sp.csr_array(P.W)[order][:, order]  # sparse: the lags cost the links, not N^2
    for attr in ("Z1", "Z2"):
        Z = getattr(design, attr)
        lagged = {}
        for name, col in (("wlag", "lag"), ("winter", "inter")):
            x = Z[col].to_numpy(float)
            out = np.empty_like(x)
            for t in np.unique(design.tcodes):
                rows = np.flatnonzero(design.tcodes == t)
                full = np.zeros(len(design.regions))
                full[design.codes[rows]] = x[rows]
                out[rows] = (W @ full)[design.codes[rows]]
            lagged[name] = out
        rest = [c for c in Z.columns if c not in ("lag", "inter")]
        setattr(design, attr, pd.concat([Z[["lag", "inter"]], pd.DataFrame(lagged, index=Z.index), Z[rest]], axis=1))
    return design, W


def _slx_slopes(design) -> list:
    """Slopes of both SLX equations (``lag, inter, wlag, winter`` and ``const`` with an intercept) with the design's
    fixed effects absorbed (:func:`nqpspatial.haken.within.absorbed_slopes`): the dummy-column least-squares slopes
    (Frisch-Waugh-Lovell), to rounding."""
    from nqpspatial.haken.within import absorbed_slopes

    cols = design.slope_cols()
    cols = cols[:2] + ["wlag", "winter"] + cols[2:]
    return [
        pd.Series(absorbed_slopes(np.asarray(y, float), Z[cols].to_numpy(float), design.absorbed), index=cols)
        for Z, y in ((design.Z1, design.y1), (design.Z2, design.y2))
    ]


def slx_wild_year(res, B: int, *, seed, alpha: float = 0.05, min_ratio: float = 1.0, backend=None) -> SLXWildYear:
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
    from nqpspatial.haken.wild import wild_year_bootstrap

    if res.model != "slx" or res.split:
        raise ConfigError(
            '[spatial_haken] bootstrap_scheme = "wild-year" covers SLX without a zone split; '
            f"got {res.model.upper()}" + (" with split_by_zone" if res.split else ""),
            "config",
        )
    design, W = _design(res)
    coefs = _slx_slopes(design)
    boot = wild_year_bootstrap(design, coefs, int(B), seed=seed, alpha=alpha, min_ratio=min_ratio, backend=backend, W=W)
    est = {
        "gamma1": 1 - coefs[0]["lag"],
        "a": -coefs[0]["inter"],
        "gamma2": 1 - coefs[1]["lag"],
        "b": coefs[1]["inter"],
    }
    est.update(theta_q1=coefs[0]["wlag"], theta_q1q2=coefs[0]["winter"])
    est.update(theta_q2=coefs[1]["wlag"], theta_q1sq=coefs[1]["winter"])
    if "const" in coefs[0].index:  # an intercept (the API's intercept=True): its terms k1, k2 have rows too
        est.update(k1=coefs[0]["const"], k2=coefs[1]["const"])
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
