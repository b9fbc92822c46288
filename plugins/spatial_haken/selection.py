"""Choice among SLX, SAR, SEM and SDM (``model_selection.csv``), following Elhorst (2014, ch. 2-3).

For each weights specification, ordering and equation the four variants are fitted by ML (SLX by OLS,
whose Gaussian log-likelihood is its ML one) with the stage's effects, and:

1. ``lr_sdm_vs_sar``: LR test of ``theta = 0`` (SDM -> SAR), df = the number of thetas;
2. ``lr_sdm_vs_sem``: LR test of the common-factor restriction ``theta = -rho beta`` (SDM -> SEM),
   df = the number of thetas;
3. ``lr_sdm_vs_slx``: LR test of ``rho = 0`` (SDM -> SLX), df = the number of rhos;
4. ``aic_<model>``, ``bic_<model>`` (``-2 ll + 2 k``, ``-2 ll + k log n``, k the coefficients
   including rho/lambda; the variance is common to all four and left out);
5. ``lm_lag``, ``lm_error``, ``rlm_lag``, ``rlm_error`` on the aspatial (OLS) residuals
   (Anselin, Bera, Florax & Yoon 1996).

The decision of one equation at level ``alpha`` (Elhorst 2014, section 2.7 and ch. 3: test the SDM's
restrictions, and accept SAR or SEM only where the robust LM tests on the aspatial residuals point the
same way):

* ``theta = 0`` and the common factor both rejected: SDM, unless ``rho = 0`` is not rejected (SLX);
* ``theta = 0`` not rejected, the common factor rejected: SAR if the robust LM tests point to the lag
  (``rlm_lag`` significant and its p below ``rlm_error``'s), else SDM;
* the common factor not rejected, ``theta = 0`` rejected: SEM if they point to the error, else SDM;
* neither rejected: SAR or SEM as the robust LM tests point; without a direction the one of lower AIC.

The ``system`` row prefers the model both equations prefer; when they differ, the more general one: SDM
(it nests SLX, SAR and SEM).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .diagnostics import lr_test

__all__ = ["SELECTION_COLUMNS", "SELECTION_MODELS", "select_equation", "selection_table", "system_choice"]

SELECTION_COLUMNS = ["q1", "q2", "weights", "equation", "scope", "test", "statistic", "df", "p", "preferred", "reason"]
SELECTION_MODELS = ("slx", "sar", "sem", "sdm")


def _model(data, q1, q2, graph, *, region, year, effects, weights_name):
    """One model for the four fits (built as SAR: its checks of the data, weights and effects cover SLX's)."""
    from .models import SpatialHakenModel

    return SpatialHakenModel(
        data, q1, q2, graph, model="sar", region=region, year=year, effects=effects, weights_name=weights_name
    )


def _fits(mod, eqn, effects):
    """The four variants' fits of one equation: ``{model: EqFit}``."""
    out = {}
    for m in SELECTION_MODELS:
        fit = mod._fit_equation(eqn, m).fit
        if m == "slx" and effects in ("year", "two-way"):
            # on the scale of the Lee-Yu likelihood of the ML variants: T'(N - 1) observations
            T1, N = fit.resid.shape
            n = T1 * (N - 1)
            ssr = float(np.sum(fit.resid**2))
            fit.loglik = -0.5 * n * (math.log(2 * math.pi * ssr / n) + 1.0)
            fit.n_obs = n
        out[m] = fit
    return out


def select_equation(fits: dict, lm: dict, alpha: float = 0.05) -> tuple[list[dict], str, str]:
    """Tests and the decision of one equation.

    Parameters
    ----------
    fits : dict
        ``{"slx": EqFit, "sar": ..., "sem": ..., "sdm": ...}``.
    lm : dict
        ``{"lm_lag": (stat, p), "lm_error": ..., "rlm_lag": ..., "rlm_error": ...}``.
    alpha : float

    Returns
    -------
    rows : list of dict
        test, statistic, df, p.
    preferred : str
    reason : str
    """
    sdm = fits["sdm"]
    n_rho = len(sdm.spatial)
    n_theta = sum(1 for nm in sdm.names if nm.startswith("theta_"))
    rows, p = [], {}
    for other, df in (("sar", n_theta), ("sem", n_theta), ("slx", n_rho)):
        stat, pv = lr_test(sdm.loglik, fits[other].loglik, df)
        p[other] = pv
        rows.append({"test": f"lr_sdm_vs_{other}", "statistic": stat, "df": float(df), "p": pv})
    aic = {}
    for m in SELECTION_MODELS:
        f = fits[m]
        aic[m] = -2.0 * f.loglik + 2.0 * f.k
        rows.append({"test": f"aic_{m}", "statistic": aic[m], "df": float(f.k), "p": math.nan})
    for m in SELECTION_MODELS:
        f = fits[m]
        rows.append(
            {
                "test": f"bic_{m}",
                "statistic": -2.0 * f.loglik + f.k * math.log(f.n_obs),
                "df": float(f.k),
                "p": math.nan,
            }
        )
    for t in ("lm_lag", "lm_error", "rlm_lag", "rlm_error"):
        stat, pv = lm[t]
        rows.append({"test": t, "statistic": float(stat), "df": 1.0, "p": float(pv)})
    preferred, reason = _decide(p, lm, aic, alpha)
    return rows, preferred, reason


def _decide(p: dict, lm: dict, aic: dict, alpha: float) -> tuple[str, str]:
    lag_side = lm["rlm_lag"][1] < alpha and lm["rlm_lag"][1] <= lm["rlm_error"][1]
    err_side = lm["rlm_error"][1] < alpha and lm["rlm_error"][1] < lm["rlm_lag"][1]
    f = f"{alpha:g}"
    theta0, cf = p["sar"] >= alpha, p["sem"] >= alpha
    if not theta0 and not cf:
        if p["slx"] >= alpha:
            return "slx", f"theta = 0 and the common factor rejected, rho = 0 not rejected at {f}"
        return "sdm", f"theta = 0, the common factor and rho = 0 all rejected at {f}"
    if theta0 and not cf:
        if lag_side:
            return "sar", f"theta = 0 not rejected, the common factor rejected at {f}, robust LM points to the lag"
        return "sdm", f"theta = 0 not rejected at {f} but the robust LM tests do not point to the lag"
    if cf and not theta0:
        if err_side:
            return "sem", f"the common factor not rejected, theta = 0 rejected at {f}, robust LM points to the error"
        return "sdm", f"the common factor not rejected at {f} but the robust LM tests do not point to the error"
    if lag_side:
        return "sar", f"neither theta = 0 nor the common factor rejected at {f}; robust LM points to the lag"
    if err_side:
        return "sem", f"neither theta = 0 nor the common factor rejected at {f}; robust LM points to the error"
    best = "sar" if aic["sar"] <= aic["sem"] else "sem"
    return best, f"neither theta = 0 nor the common factor rejected at {f} and no robust LM direction; lower AIC"


def system_choice(eq1: str, eq2: str) -> tuple[str, str]:
    """The system's model from the two equations' (the common one, else the more general: SDM)."""
    if eq1 == eq2:
        return eq1, f"both equations prefer {eq1.upper()}"
    return "sdm", f"the equations prefer {eq1.upper()} (q1) and {eq2.upper()} (q2); SDM nests both"


def selection_table(data, q1, q2, graph, *, region, year, effects, weights_name, alpha=0.05) -> pd.DataFrame:
    """``model_selection.csv`` rows of one weights specification and ordering (see the module docstring).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SELECTION_COLUMNS`: per equation (``scope = "equation"``) the tests with the
        equation's preferred model and reason; one ``scope = "system"`` row (``equation`` empty,
        ``test = "decision"``).
    """
    from .models import lm_table

    mod = _model(data, q1, q2, graph, region=region, year=year, effects=effects, weights_name=weights_name)
    lmtab = lm_table(mod.aligned, q1, q2, weights_name=weights_name, effects=effects)
    rows, prefs = [], {}
    key = {"q1": q1, "q2": q2, "weights": weights_name}
    for eqn in ("q1", "q2"):
        sub = lmtab[lmtab["equation"] == eqn].set_index("test")
        lm = {
            t: (float(sub.at[t, "statistic"]), float(sub.at[t, "p"]))
            for t in ("lm_lag", "lm_error", "rlm_lag", "rlm_error")
        }
        fits = _fits(mod, eqn, effects)
        tests, pref, reason = select_equation(fits, lm, alpha)
        prefs[eqn] = pref
        rows += [{**key, "equation": eqn, "scope": "equation", **t, "preferred": pref, "reason": reason} for t in tests]
    pref, reason = system_choice(prefs["q1"], prefs["q2"])
    rows.append(
        {
            **key,
            "equation": "",
            "scope": "system",
            "test": "decision",
            "statistic": math.nan,
            "df": math.nan,
            "p": math.nan,
            "preferred": pref,
            "reason": reason,
        }
    )
    return pd.DataFrame(rows, columns=SELECTION_COLUMNS)
