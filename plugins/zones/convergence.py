"""Sigma and absolute beta convergence, nationally and per group (club).

*Sigma convergence*: the cross-regional standard deviation (sample,
ddof = 1) and coefficient of variation of the variable in each period; a
falling series means the regions draw together.

*Absolute beta convergence* (Barro & Sala-i-Martin 1992): the mean annual
growth ``g_i = ln(x_iT / x_i0) / T`` (``T`` = last year - first year) is
regressed by OLS (statsmodels) on ``ln x_i0`` with an intercept:
``g_i = alpha + beta ln x_i0 + e_i``.  ``beta < 0`` means poorer regions
grow faster (convergence); the implied speed is
``lambda = -ln(1 + beta T) / T`` and the half-life ``ln 2 / lambda``.

*Indices with zeros*: a min-max normalized index has exact zeros, where the
logarithm is undefined.  With ``index_shift = s`` the index is mapped into
``[s, 1 - s]`` by ``x -> s + (1 - 2 s) x`` before the logarithms (sigma
convergence keeps the values as stored); the beta rows say so in ``note``.
The estimates depend on ``s`` (see docs/zones.md).

*Spatial option*: the spatial-lag model ``g = rho W g + alpha + beta ln x0 + e``
estimated by maximum likelihood with :class:`spreg.ML_Lag` (row-standardized
contiguity ``W``), for the national sample only (groups of three to five
regions are too small for a spatial model).
"""

from __future__ import annotations

import contextlib
import io
import warnings
from typing import Iterable

import numpy as np
import pandas as pd

from nqpspatial.errors import InputError
from nqpspatial.results import Results, Summary

from ._common import SOURCE, as_list, check_data, check_groups, wide

__all__ = ["convergence", "ConvergenceResults", "beta_convergence"]


def _speed(beta: float, T: float) -> tuple[float, float]:
    arg = 1.0 + beta * T
    if not np.isfinite(beta) or arg <= 0:
        return np.nan, np.nan
    lam = -np.log(arg) / T
    half = np.log(2.0) / lam if lam > 0 else np.nan
    return float(lam), float(half)


def beta_convergence(x0, xT, T: float) -> dict:
    """Absolute beta convergence regression by OLS (statsmodels).

    Parameters
    ----------
    x0, xT : array_like
        Positive values of each region in the first and last period.
    T : float
        Years between the two periods (> 0).

    Returns
    -------
    dict
        ``n, alpha, beta, se, t, p, r2, speed, half_life, converges``.
        ``speed`` and ``half_life`` are empty when ``1 + beta T <= 0`` or
        ``beta >= 0``.
    """
    import statsmodels.api as sm

    x0 = np.asarray(x0, dtype=float)
    xT = np.asarray(xT, dtype=float)
    g = np.log(xT / x0) / T
    X = sm.add_constant(np.log(x0), has_constant="add")
    fit = sm.OLS(g, X).fit()
    beta = float(fit.params[1])
    speed, half = _speed(beta, T)
    return dict(
        n=int(x0.size),
        alpha=float(fit.params[0]),
        beta=beta,
        se=float(fit.bse[1]),
        t=float(fit.tvalues[1]),
        p=float(fit.pvalues[1]),
        r2=float(fit.rsquared),
        speed=speed,
        half_life=half,
        converges=bool(beta < 0),
    )


def _ml_lag(g: np.ndarray, lx0: np.ndarray, w, T: float) -> dict:
    from spreg import ML_Lag

    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*inplace keyword.*", module="spreg")
        m = ML_Lag(g.reshape(-1, 1), lx0.reshape(-1, 1), w, name_y="growth", name_x=["ln_x0"])
    b = np.asarray(m.betas).ravel()
    se = np.asarray(m.std_err).ravel()
    z = [zz[0] for zz in m.z_stat]
    p = [zz[1] for zz in m.z_stat]
    beta = float(b[1])
    speed, half = _speed(beta, T)
    return dict(
        n=int(g.size),
        alpha=float(b[0]),
        beta=beta,
        se=float(se[1]),
        t=float(z[1]),
        p=float(p[1]),
        rho=float(b[-1]),
        rho_se=float(se[-1]),
        rho_p=float(p[-1]),
        r2=float(m.pr2),
        speed=speed,
        half_life=half,
        converges=bool(beta < 0),
    )


class ConvergenceResults(Results):
    """Sigma and beta convergence tables (immutable).

    Attributes
    ----------
    table : pandas.DataFrame
        ``convergence.csv``: ``variable, scheme, kind, level, group, model,
        year, first_year, last_year, n, mean, sd, cv, alpha, beta, se, t, p,
        rho, rho_se, rho_p, r2, speed, half_life, converges, note``.
        ``kind = "sigma"`` rows (one per year) fill ``year, n, mean, sd,
        cv``; ``kind = "beta"`` rows (``model`` ``"ols"`` or ``"ml_lag"``)
        fill the regression columns.  ``level`` is ``"national"`` (group
        ``"all"``) or ``"group"``.
    """

    def __init__(self, table):
        self.table = table
        self._freeze()

    def summary(self) -> Summary:
        """Beta convergence estimates."""
        beta = self.table.query("kind == 'beta'")[
            ["variable", "level", "group", "model", "n", "beta", "se", "p", "rho", "speed", "half_life", "converges"]
        ]
        return Summary(
            title="Convergence",
            tables={"beta convergence": beta},
            notes=(
                "beta < 0: convergence (Barro & Sala-i-Martin 1992); speed = "
                "-ln(1 + beta T)/T, half-life = ln 2 / speed.",
            ),
        )


def convergence(
    data: pd.DataFrame,
    variables: str | Iterable[str],
    groups: pd.Series | None = None,
    *,
    graph=None,
    spatial_lag: bool = False,
    index_shift: float | None = None,
    region: str = "region",
    year: str = "year",
    scheme_name: str | None = None,
) -> ConvergenceResults:
    """Sigma and absolute beta convergence of each variable.

    Parameters
    ----------
    data : pandas.DataFrame
        Balanced region-year table.
    variables : str or iterable of str
        Columns to analyse (values as stored; the first- and last-period
        values must be positive for beta convergence unless ``index_shift``
        maps them).
    groups : pandas.Series, optional
        Region id -> group: adds sigma and OLS beta per group (club
        convergence).
    graph : libpysal.graph.Graph, optional
        Spatial graph with no isolate; needed when ``spatial_lag``.
    spatial_lag : bool, default False
        Also fit the spatial-lag beta model by ML (spreg.ML_Lag).
    index_shift : float, optional
        ``s`` in ``[0, 0.5)``: the variables are indices in ``[0, 1]`` and
        beta convergence takes logarithms of ``s + (1 - 2 s) x`` (the index
        mapped into ``[s, 1 - s]``), recorded in the beta rows' ``note``.
        None or 0: values as stored.
    region, year : str
        Column names.
    scheme_name : str, optional
        Written to the ``scheme`` column.

    Returns
    -------
    ConvergenceResults

    Raises
    ------
    InputError
        Bad or unbalanced data, fewer than two periods, a non-positive first-
        or last-period value (naming variable, region and year), a value
        outside [0, 1] with ``index_shift``, a bad ``index_shift``, or
        ``spatial_lag`` without a graph.
    """
    variables = as_list(variables)
    frame = check_data(data, variables, region, year, balanced=True)
    years = np.sort(frame[year].unique())
    if len(years) < 2:
        raise InputError("convergence needs at least two periods", source=SOURCE)
    ids = sorted(frame[region].unique())
    grp = check_groups(groups, ids, scheme_name) if groups is not None else None
    if spatial_lag and graph is None:
        raise InputError("spatial_lag = true needs boundaries (a spatial graph)", source=SOURCE)
    shift = _check_shift(index_shift)
    w = None
    if spatial_lag:
        from .markov import row_standardized_w

        w = row_standardized_w(graph, ids)
    first, last = years[0], years[-1]
    try:
        T = float(last - first)
    except TypeError as exc:
        raise InputError(f"years must be numbers to compute annual growth (got {first!r})", source=SOURCE) from exc
    rows = []
    for v in variables:
        Y = wide(frame, v, region, year).loc[ids]
        sets = [("national", "all", np.ones(len(ids), bool))]
        if grp is not None:
            for gname in sorted(grp.unique()):
                sets.append(("group", gname, (grp.to_numpy() == gname)))
        rows += _sigma_rows(Y, sets, variable=v, scheme=scheme_name, kind="sigma")
        x0, xT, note = _ends(frame, v, ids, first, last, shift, region, year)
        common = dict(variable=v, scheme=scheme_name, kind="beta", first_year=first, last_year=last)
        for level, gname, mask in sets:
            base = {**common, "level": level, "group": gname, "model": "ols"}
            if mask.sum() < 3:
                rows.append({**base, "n": int(mask.sum()), "note": _join(note, "fewer than 3 regions: no regression")})
                continue
            rows.append({**base, **beta_convergence(x0[mask], xT[mask], T), "note": note})
        if spatial_lag:
            g = np.log(xT / x0) / T
            rows.append(
                {
                    **common,
                    "level": "national",
                    "group": "all",
                    "model": "ml_lag",
                    **_ml_lag(g, np.log(x0), w, T),
                    "note": note,
                }
            )
    cols = [
        "variable",
        "scheme",
        "kind",
        "level",
        "group",
        "model",
        "year",
        "first_year",
        "last_year",
        "n",
        "mean",
        "sd",
        "cv",
        "alpha",
        "beta",
        "se",
        "t",
        "p",
        "rho",
        "rho_se",
        "rho_p",
        "r2",
        "speed",
        "half_life",
        "converges",
        "note",
    ]
    table = pd.DataFrame(rows).reindex(columns=cols)
    table["n"] = table["n"].astype("Int64")
    for col in ("year", "first_year", "last_year"):  # each filled by one kind of row only
        vals = pd.to_numeric(table[col])
        if vals.dropna().mod(1).eq(0).all():
            table[col] = vals.astype("Int64")
    table["converges"] = table["converges"].astype("boolean")
    return ConvergenceResults(table)


def _check_ends(ends: pd.DataFrame, v: str, region: str, year: str) -> None:
    vals = ends[v].to_numpy(dtype=float)
    bad = vals <= 0
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"beta convergence takes logarithms, but variable '{v}' is {vals[i]:g} for region "
            f"'{ends[region].iloc[i]}' in year {ends[year].iloc[i]}; values are used as stored: "
            "choose a variable with positive values or set [weighting] shift > 0",
            source=SOURCE,
        )


def _sigma_rows(Y: pd.DataFrame, sets, **common) -> list[dict]:
    """Sigma rows (n, mean, sample sd, cv) per level/group and period, values as stored."""
    rows = []
    for level, gname, mask in sets:
        sub = Y.to_numpy(dtype=float)[mask]
        for j, t in enumerate(Y.columns):
            col = sub[:, j]
            sd = float(col.std(ddof=1)) if col.size > 1 else np.nan
            mean = float(col.mean())
            rows.append(
                dict(
                    **common,
                    level=level,
                    group=gname,
                    year=t,
                    n=int(col.size),
                    mean=mean,
                    sd=sd,
                    cv=sd / mean if mean != 0 else np.nan,
                )
            )
    return rows


def _ends(frame, v, ids, first, last, shift, region, year):
    """First- and last-period values for the logarithms (mapped with ``shift``), and the note."""
    ends = frame[frame[year].isin([first, last])]
    note = None
    if shift:
        _check_unit(frame, v, region, year)
        ends = ends.assign(**{v: shift + (1.0 - 2.0 * shift) * ends[v]})
        note = (
            f"log growth of {shift:g} + {1.0 - 2.0 * shift:g} x: the index mapped into "
            f"[{shift:g}, {1.0 - shift:g}] (index shift {shift:g})"
        )
    _check_ends(ends, v, region, year)
    X = wide(ends, v, region, year).loc[ids]
    return X[first].to_numpy(dtype=float), X[last].to_numpy(dtype=float), note


def _join(*parts) -> str:
    return "; ".join(p for p in parts if p)


def _check_shift(index_shift) -> float:
    if index_shift is None:
        return 0.0
    if (
        isinstance(index_shift, bool)
        or not isinstance(index_shift, (int, float, np.integer, np.floating))
        or not 0 <= float(index_shift) < 0.5
    ):
        raise InputError(f"index_shift = {index_shift!r} must be a number in [0, 0.5) (e.g. 0.002)", source=SOURCE)
    return float(index_shift)


def _check_unit(frame: pd.DataFrame, v: str, region: str, year: str) -> None:
    vals = frame[v].to_numpy(dtype=float)
    bad = (vals < 0) | (vals > 1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"an index shift maps an index in [0, 1], but variable '{v}' is {vals[i]:g} for region "
            f"'{frame[region].iloc[i]}' in year {frame[year].iloc[i]}; use the shift only for indices "
            "in [0, 1] (or none: values as stored)",
            source=SOURCE,
        )
