"""Development stages: trajectories, Chow test and sup-F search for a turning point.

Break convention: a break at year ``tau`` lets the parameters of both Haken
equations change for the transitions ``t -> t+1`` with ``t >= tau`` (so a
2020 break separates 2014-2020 from 2020-2023).

* Chow test (Chow 1960) at a given year, per equation:
  ``F = ((SSR_r - SSR_u)/k) / (SSR_u/(N - 2k - f))`` with ``k`` coefficients
  per equation and ``f`` region effects; the joint statistic of both
  equations is the Wald sum ``W = k F_1 + k F_2`` (chi-square with ``2k``
  degrees of freedom asymptotically).
* sup-F (Andrews 1993): the largest joint ``W(tau)`` over interior years,
  trimming 15 % of the transition years at each end.  Its p-value comes
  from a fixed-regressor wild cluster bootstrap (Hansen 2000, J.
  Econometrics 97: 93-115): regressors are held fixed, the restricted
  residuals of each region are multiplied by one Rademacher draw per region
  (the same draw in both equations), and ``sup W`` is recomputed;
  ``p = (1 + #{sup W* >= sup W}) / (B + 1)``.  With so few candidate years
  Andrews' asymptotic critical values are conservative, hence the bootstrap.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import InputError
from ..results import Results, Summary
from .model import _Design, as_rng, check_groups, prepare_panel

__all__ = ["trajectories", "break_tests", "BreakTestResults"]


def trajectories(table: pd.DataFrame, scheme=None, *, columns=("q1", "q2", "h")) -> pd.DataFrame:
    """National and group mean trajectories per year.

    Parameters
    ----------
    table : pandas.DataFrame
        ``region, year`` and the value columns (e.g. the coevolution table).
    scheme : pandas.Series or mapping, optional
        Region -> group; adds one trajectory per group.
    columns : sequence of str
        Value columns averaged over regions.

    Returns
    -------
    pandas.DataFrame
        ``scope ("national"|"group"), group, year, n_regions``, the means of
        ``columns`` and their year-on-year changes ``<col>_change``.
    """
    cols = [c for c in columns if c in table.columns]

    def agg(df, scope, group):
        g = df.groupby("year", sort=True)
        out = g[cols].mean()
        out.insert(0, "n_regions", g["region"].nunique())
        for c in cols:
            out[f"{c}_change"] = out[c].diff()
        out = out.reset_index()
        out.insert(0, "group", group)
        out.insert(0, "scope", scope)
        return out

    parts = [agg(table, "national", "national")]
    if scheme is not None:
        sch = check_groups(scheme, table["region"], fix="add them to the scheme CSV")
        lab = table["region"].map(sch)
        for gname, sub in table.groupby(lab, sort=True):
            parts.append(agg(sub, "group", gname))
    return pd.concat(parts, ignore_index=True)


class BreakTestResults(Results):
    """Chow and sup-F tests of the Haken equations.

    Attributes
    ----------
    chow : pandas.DataFrame or None
        ``equation (q1 | q2 | joint), break_year, statistic, df1, df2, p``.
    path : pandas.DataFrame
        ``break_year, F_q1, F_q2, W`` for every candidate year.
    sup_f : float
        Largest joint Wald statistic.
    turning_point : int
        Its year.
    p_value : float
        Bootstrap p-value of sup-F (NaN when ``bootstrap = 0``).
    B, trim
    """

    def __init__(self, chow, path, sup_f, turning_point, p_value, B, trim, names):
        self.chow = chow
        self.path = path
        self.sup_f = sup_f
        self.turning_point = turning_point
        self.p_value = p_value
        self.B = B
        self.trim = trim
        self.names = names
        self._freeze()

    def table(self) -> pd.DataFrame:
        """Long table of every test (``stages_tests.csv``)."""
        rows = []
        if self.chow is not None:
            for r in self.chow.itertuples(index=False):
                rows.append(
                    {
                        "test": "chow",
                        "equation": r.equation,
                        "break_year": r.break_year,
                        "statistic": r.statistic,
                        "df1": r.df1,
                        "df2": r.df2,
                        "p": r.p,
                        "method": "F" if r.equation != "joint" else "Wald chi2",
                    }
                )
        rows.append(
            {
                "test": "sup-F",
                "equation": "joint",
                "break_year": self.turning_point,
                "statistic": self.sup_f,
                "df1": np.nan,
                "df2": np.nan,
                "p": self.p_value,
                "method": f"fixed-regressor wild cluster bootstrap (B = {self.B}), trim {self.trim:g}",
            }
        )
        for r in self.path.itertuples(index=False):
            rows.append(
                {
                    "test": "F-path",
                    "equation": "joint",
                    "break_year": r.break_year,
                    "statistic": r.W,
                    "df1": np.nan,
                    "df2": np.nan,
                    "p": np.nan,
                    "method": "joint Wald statistic at this candidate year",
                }
            )
        return pd.DataFrame(rows)

    def summary(self) -> Summary:
        """Summary of the break tests."""
        facts = {
            "turning point (sup-F)": self.turning_point,
            "sup-F (joint Wald)": self.sup_f,
            "bootstrap p-value": self.p_value,
            "resamples": self.B,
        }
        tabs = {"statistic by candidate year": self.path}
        if self.chow is not None:
            tabs = {"Chow test": self.chow, **tabs}
        return Summary("Structural break of the Haken equations", facts, tabs)


def _demean(M, codes, n):
    cnt = np.bincount(codes, minlength=n).astype(float)
    if M.ndim == 1:
        return M - (np.bincount(codes, M, minlength=n) / cnt)[codes]
    means = np.stack([np.bincount(codes, M[:, j], minlength=n) for j in range(M.shape[1])], 1) / cnt[:, None]
    return M - means[codes]


def _qr(M):
    q, r = np.linalg.qr(M)
    keep = np.abs(np.diag(r)) > 1e-10 * max(1.0, np.abs(np.diag(r)).max())
    return q[:, keep]


#: Elements (rows x resamples) of one chunk of the sup-F wild bootstrap (about 32 MiB of floats per array).
_BREAK_CHUNK_ELEMENTS = 1 << 22


def break_tests(
    data,
    q1,
    q2,
    *,
    region="region",
    year="year",
    intercept=False,
    effects="none",
    window=None,
    break_year=None,
    trim=0.15,
    bootstrap=999,
    seed=None,
) -> BreakTestResults:
    """Chow test at ``break_year`` and sup-F search over interior years.

    Parameters
    ----------
    data : pandas.DataFrame
        Region-year table with the two indices.
    q1, q2 : str
        Order parameter and servo variable.
    region, year, intercept, effects, window
        As in :class:`~nqpspatial.haken.HakenModel`.
    break_year : int, optional
        Year of the Chow test (transitions from this year on form the
        second regime).
    trim : float, default 0.15
        Share of transition years excluded at each end of the sup-F search
        (at least one year per regime is kept).
    bootstrap : int, default 999
        Resamples of the sup-F p-value (0: no p-value).
    seed : None, int or numpy.random.Generator

    Returns
    -------
    BreakTestResults
    """
    if effects not in ("none", "region", "year", "two-way"):
        raise InputError(f"effects={effects!r}: use 'none', 'region', 'year' or 'two-way'")
    if not 0 <= trim < 0.5:
        raise InputError(f"trim = {trim!r} must lie in [0, 0.5)")
    panel = prepare_panel(data, q1, q2, region=region, year=year, window=window)
    d = _Design(panel, intercept, effects)
    years = np.unique(d.year)
    m = len(years)
    n_min = max(1, math.ceil(trim * m))
    cands = [int(y) for y in years[n_min : m - n_min + 1]]
    if not cands:
        raise InputError(f"{m} transition years are too few for a break search with trim {trim}")
    eqs = _break_equations(d)
    ys = [eq[2] for eq in eqs]
    path = []
    for tau in cands:
        (F1, F2), q, dfu = _break_stat(d, eqs, tau, ys)
        path.append({"break_year": tau, "F_q1": float(F1), "F_q2": float(F2), "W": float(q * F1 + q * F2)})
    path = pd.DataFrame(path)
    i = int(path["W"].to_numpy().argmax())
    sup_f, tp = float(path["W"].iloc[i]), int(path["break_year"].iloc[i])
    chow = None
    if break_year is not None:
        by = int(break_year)
        if not (years[0] < by <= years[-1]):
            raise InputError(
                f"break_year = {by} must lie after the first transition year {years[0]} and not after {years[-1]}"
            )
        chow = _chow_table(q1, q2, by, *_break_stat(d, eqs, by, ys))
    B = int(bootstrap)
    p = _sup_f_pvalue(d, eqs, cands, sup_f, B, seed) if B > 0 else float("nan")
    return BreakTestResults(chow, path, sup_f, tp, p, B, trim, (q1, q2))


def _break_equations(d: _Design) -> list[tuple]:
    """Per equation: slopes, within-transformed slopes and outcome, the restricted Q and residuals."""
    eqs = []
    for X, y in ((d.Z1, d.y1), (d.Z2, d.y2)):
        Xs = X[d.slope_cols()].to_numpy(float)
        # slopes and any year dummies (which do not break), region effects partialled out
        Xs_d, y_d = d.within(X, y)
        Qr = _qr(Xs_d)
        e = y_d - Qr @ (Qr.T @ y_d)
        eqs.append((Xs, Xs_d, y_d, Qr, e))
    return eqs


def _unrestricted_basis(d: _Design, Xs, Xs_d, tau):
    """Orthonormal basis of one equation's design with its slopes broken at ``tau``."""
    Z = Xs * (d.year >= tau).astype(float)[:, None]
    if d.region_fe:
        Z = _demean(Z, d.codes, len(d.regions))
    return _qr(np.column_stack([Xs_d, Z]))


def _break_stat(d: _Design, eqs, tau, E_list):
    """Per-equation F at break ``tau`` for a list of (N,) or (N,B) 'dependent' arrays (one per equation)."""
    f = len(d.regions) if d.region_fe else 0
    Fs = []
    for (Xs, Xs_d, _y_d, Qr, _e), E in zip(eqs, E_list):
        Qu = _unrestricted_basis(d, Xs, Xs_d, tau)
        tot = (E * E).sum(axis=0)
        ssr_r = tot - ((Qr.T @ E) ** 2).sum(axis=0)
        ssr_u = tot - ((Qu.T @ E) ** 2).sum(axis=0)
        df_u = d.nobs - Qu.shape[1] - f
        q = Qu.shape[1] - Qr.shape[1]
        Fs.append(((ssr_r - ssr_u) / q) / (ssr_u / df_u))
    return Fs, q, df_u


def _chow_table(q1: str, q2: str, by: int, Fs, q, dfu) -> pd.DataFrame:
    """The Chow test at ``by``: one row per equation (F) and the joint Wald row (chi-square)."""
    F1, F2 = Fs
    W = q * F1 + q * F2
    rows = [
        {
            "equation": name,
            "break_year": by,
            "statistic": float(F),
            "df1": q,
            "df2": dfu,
            "p": float(stats.f.sf(F, q, dfu)),
        }
        for name, F in ((q1, F1), (q2, F2))
    ]
    rows.append(
        {
            "equation": "joint",
            "break_year": by,
            "statistic": float(W),
            "df1": 2 * q,
            "df2": np.nan,
            "p": float(stats.chi2.sf(W, 2 * q)),
        }
    )
    return pd.DataFrame(rows)


def _sup_f_pvalue(d: _Design, eqs, cands, sup_f: float, B: int, seed) -> float:
    """Wild (Rademacher, by region) bootstrap p-value of the sup-F statistic."""
    sup_star = _sup_f_draws(d, eqs, cands, B, seed)
    return float((1 + int(np.sum(sup_star >= sup_f))) / (B + 1))


def _sup_f_draws(d: _Design, eqs, cands, B: int, seed) -> np.ndarray:
    """The ``B`` bootstrap sup-F statistics of the wild (Rademacher, by region) bootstrap.

    A resample multiplies the restricted residuals ``e`` of each equation by one sign ``v_r`` per region.
    Its statistics need only ``Q' (e * v)`` for the restricted and each break's unrestricted basis ``Q``
    and the total ``sum((e * v)^2) = e'e`` (``v_r^2 = 1``); ``Q' (e * v) = G' v`` with ``G`` the per-region
    sums of the rows of ``Q * e``.  The resamples therefore cost regions x columns, not rows x columns, and
    no resampled residual vector is formed.  Same draws as the row-level computation (the frozen reference
    ``tests/_break_reference.py``), equal to rounding.
    """
    rng = as_rng(seed)
    n = len(d.regions)
    f = n if d.region_fe else 0

    def grouped(Q, e):  # (regions, columns): per-region sums of Q * e
        return np.stack([np.bincount(d.codes, Q[:, j] * e, minlength=n) for j in range(Q.shape[1])], axis=1)

    parts = []
    for Xs, Xs_d, _y_d, Qr, e in eqs:
        tot = float(e @ e)
        Gr = grouped(Qr, e)
        Gu = []
        for tau in cands:
            Qu = _unrestricted_basis(d, Xs, Xs_d, tau)
            Gu.append((grouped(Qu, e), Qu.shape[1] - Qr.shape[1], d.nobs - Qu.shape[1] - f))
        parts.append((tot, Gr, Gu))
    # resamples in chunks of a fixed size (from the data size only, as the draws of earlier releases),
    # drawn one after another from the same Generator: memory stays bounded whatever B is
    chunk = max(1, min(B, _BREAK_CHUNK_ELEMENTS // max(1, d.nobs)))
    out = np.empty(max(B, 0))
    for start in range(0, B, chunk):
        size = min(chunk, B - start)
        v = rng.choice(np.array([-1.0, 1.0]), size=(size, n))
        sup_star = np.full(size, -np.inf)
        F = np.zeros((len(parts), len(cands), size))
        for k, (tot, Gr, Gu) in enumerate(parts):
            ssr_r = tot - ((v @ Gr) ** 2).sum(axis=1)
            for i, (G, q, df_u) in enumerate(Gu):
                ssr_u = tot - ((v @ G) ** 2).sum(axis=1)
                F[k, i] = ((ssr_r - ssr_u) / q) / (ssr_u / df_u)
        for i in range(len(cands)):
            q = parts[-1][2][i][1]  # the joint statistic as in break_tests' path: q of the last equation
            sup_star = np.maximum(sup_star, q * F[0, i] + q * F[1, i])
        out[start : start + size] = sup_star
    return out
