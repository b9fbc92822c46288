"""Dagum (1997) decomposition of the Gini coefficient by groups.

The Gini ratio of ``n`` values split into ``k`` groups is written as

    G = G_w + G_nb + G_t

(within-group part, net between-group part, transvariation).  The code
computes, for every ordered pair of groups (j, h), the sum of positive
differences ``S[j, h] = sum_i sum_r (y_ji - y_hr)+`` with one sort and a
cumulative sum per group (``O(n log n)`` per group, no ``n x n`` matrix), and
derives every Dagum quantity from ``S``.  See ``docs/zones.md`` for the
formulas.

Reference: Dagum, C. (1997). A new approach to the decomposition of the Gini
income inequality ratio. *Empirical Economics* 22: 515-531.
"""

from __future__ import annotations

from typing import Iterable, NamedTuple

import numpy as np
import pandas as pd

from nqpspatial.errors import InputError
from nqpspatial.results import Results, Summary

from ._common import SOURCE, check_grouped, check_positive

__all__ = ["dagum_gini", "dagum_decomposition", "DagumCrossSection", "DagumResults"]


class DagumCrossSection(NamedTuple):
    """Dagum decomposition of one cross-section.

    Attributes
    ----------
    parts : pandas.Series
        ``n, mean, G, G_within, G_between, G_transvariation, share_within,
        share_between, share_transvariation`` (``G_between`` is the net
        between-group part).
    pairs : pandas.DataFrame
        One row per group (``kind = "within"``) and per unordered pair of
        groups (``kind = "between"``); columns ``kind, group_j, group_h, n_j,
        n_h, mean_j, mean_h, G_jh, D_jh, d_jh, p_jh, contribution``.  In a
        between row ``group_j`` is the group with the larger mean, so that
        ``0 <= D_jh <= 1``; ``contribution`` is ``G_jh (p_j s_h + p_h s_j)``
        (net between plus transvariation of the pair).  In a within row
        ``group_j == group_h``, ``G_jh`` is the group's own Gini ``G_jj``,
        ``D_jh``, ``d_jh`` and ``p_jh`` are empty, and ``contribution`` is
        ``G_jj p_j s_j``.
    """

    parts: pd.Series
    pairs: pd.DataFrame


def _positive_difference_sums(y: np.ndarray, codes: np.ndarray, k: int) -> np.ndarray:
    """``S[j, h] = sum over i in group j, r in group h of max(y_i - y_r, 0)``."""
    S = np.empty((k, k))
    for h in range(k):
        xs = np.sort(y[codes == h])
        cs = np.concatenate(([0.0], np.cumsum(xs)))
        below = np.searchsorted(xs, y, side="left")  # members of h strictly below each y
        per_obs = below * y - cs[below]
        S[:, h] = np.bincount(codes, weights=per_obs, minlength=k)
    return S


def _dagum_core(y: np.ndarray, codes: np.ndarray, k: int) -> dict:
    """Pure Dagum decomposition of one cross-section (groups coded 0..k-1)."""
    n = y.size
    n_g = np.bincount(codes, minlength=k).astype(float)
    mu_g = np.bincount(codes, weights=y, minlength=k) / n_g
    mu = y.mean()
    S = _positive_difference_sums(y, codes, k)
    G = S.sum() / (n * n * mu)
    p = n_g / n
    s = n_g * mu_g / (n * mu)
    diag = np.diag(S)
    G_jj = np.divide(diag, n_g**2 * mu_g, out=np.zeros(k), where=diag > 0)
    tot = S + S.T  # sum of |y_ji - y_hr| over the pair's n_j n_h couples
    denom = np.outer(n_g, n_g) * (mu_g[:, None] + mu_g[None, :])
    G_jh = np.divide(tot, denom, out=np.zeros((k, k)), where=tot > 0)
    d = S / np.outer(n_g, n_g)  # d[j, h] = E[(y_j - y_h)+]
    with np.errstate(invalid="ignore", divide="ignore"):
        D = (d - d.T) / (d + d.T)  # NaN when both groups hold the same single value
    weight = np.outer(p, s) + np.outer(s, p)  # p_j s_h + p_h s_j
    contrib = G_jh * weight
    iu = np.triu_indices(k, 1)
    Dz = np.nan_to_num(D, nan=0.0)
    G_w = float(np.sum(G_jj * p * s))
    # the pair's parts do not depend on the orientation except through |D|
    G_nb = float(np.sum(contrib[iu] * np.abs(Dz[iu])))
    G_t = float(np.sum(contrib[iu] * (1.0 - np.abs(Dz[iu]))))
    return dict(
        n=n,
        mu=mu,
        n_g=n_g,
        mu_g=mu_g,
        G=G,
        G_w=G_w,
        G_nb=G_nb,
        G_t=G_t,
        G_jj=G_jj,
        G_jh=G_jh,
        D=D,
        d=d,
        p=p,
        s=s,
        contrib=contrib,
    )


def _cross_section(y: np.ndarray, labels: np.ndarray) -> DagumCrossSection:
    names, codes = np.unique(labels, return_inverse=True)
    k = names.size
    r = _dagum_core(y, codes, k)
    G = r["G"]
    parts = pd.Series(
        {
            "n": r["n"],
            "mean": r["mu"],
            "G": G,
            "G_within": r["G_w"],
            "G_between": r["G_nb"],
            "G_transvariation": r["G_t"],
            "share_within": r["G_w"] / G if G > 0 else np.nan,
            "share_between": r["G_nb"] / G if G > 0 else np.nan,
            "share_transvariation": r["G_t"] / G if G > 0 else np.nan,
        }
    )
    # order groups by mean, largest first (ties by name) so that j < h means mu_j >= mu_h
    order = sorted(range(k), key=lambda g: (-r["mu_g"][g], str(names[g])))
    rows = []
    for g in order:
        rows.append(
            dict(
                kind="within",
                group_j=names[g],
                group_h=names[g],
                n_j=int(r["n_g"][g]),
                n_h=int(r["n_g"][g]),
                mean_j=r["mu_g"][g],
                mean_h=r["mu_g"][g],
                G_jh=r["G_jj"][g],
                D_jh=np.nan,
                d_jh=np.nan,
                p_jh=np.nan,
                contribution=r["G_jj"][g] * r["p"][g] * r["s"][g],
            )
        )
    for a in range(k):
        for b in range(a + 1, k):
            j, h = order[a], order[b]
            rows.append(
                dict(
                    kind="between",
                    group_j=names[j],
                    group_h=names[h],
                    n_j=int(r["n_g"][j]),
                    n_h=int(r["n_g"][h]),
                    mean_j=r["mu_g"][j],
                    mean_h=r["mu_g"][h],
                    G_jh=r["G_jh"][j, h],
                    D_jh=r["D"][j, h],
                    d_jh=r["d"][j, h],
                    p_jh=r["d"][h, j],
                    contribution=r["contrib"][j, h],
                )
            )
    return DagumCrossSection(parts, pd.DataFrame(rows))


def dagum_gini(values, groups) -> DagumCrossSection:
    """Dagum decomposition of the Gini ratio of one cross-section.

    Parameters
    ----------
    values : array_like of float, shape (n,)
        Non-negative values with a positive mean (used as given).
    groups : array_like, shape (n,)
        Group label of each value (any hashable labels; at least one group).

    Returns
    -------
    DagumCrossSection
        ``parts`` (G and its three parts with shares) and ``pairs`` (within-
        group Ginis and between-group ``G_jh``, ``D_jh`` per pair).

    Raises
    ------
    InputError
        Lengths differ, a value is missing or negative, or the mean is 0.

    Notes
    -----
    Groups are ordered by mean (largest first) so that every ``D_jh`` lies in
    [0, 1].  ``D_jh`` is undefined (NaN) only when the two groups hold one
    identical value; the pair then contributes nothing.

    Examples
    --------
    >>> from nqpspatial.plugins.zones import dagum_gini
    >>> r = dagum_gini([1.0, 2.0, 3.0, 10.0], ["a", "a", "b", "b"])
    >>> round(r.parts["G"], 6) == round(r.parts[["G_within", "G_between", "G_transvariation"]].sum(), 6)
    True
    """
    y = np.asarray(values, dtype=float)
    labels = np.asarray(pd.Series(groups).astype(str))
    if y.ndim != 1 or y.shape != labels.shape:
        raise InputError(
            f"values ({y.shape}) and groups ({labels.shape}) must be 1-D and of equal length", source=SOURCE
        )
    if y.size == 0 or not np.isfinite(y).all():
        raise InputError("values must be non-empty and finite", source=SOURCE)
    if (y < 0).any():
        i = int(np.flatnonzero(y < 0)[0])
        raise InputError(f"the Gini decomposition needs non-negative values; value {i} is {y[i]!r}", source=SOURCE)
    if y.mean() <= 0:
        raise InputError("the Gini decomposition needs a positive mean; all values are 0", source=SOURCE)
    return _cross_section(y, labels)


class DagumResults(Results):
    """Dagum decompositions of several variables and periods (immutable).

    Attributes
    ----------
    gini : pandas.DataFrame
        ``variable, scheme, year, G, G_within, G_between, G_transvariation,
        share_within, share_between, share_transvariation, n, mean``.
    pairs : pandas.DataFrame
        ``variable, scheme, year`` plus the columns of
        :attr:`DagumCrossSection.pairs`.
    """

    def __init__(self, gini: pd.DataFrame, pairs: pd.DataFrame, scheme: str | None):
        self.gini = gini
        self.pairs = pairs
        self.scheme = scheme
        self._freeze()

    def summary(self) -> Summary:
        """Gini and its parts per variable and year."""
        cols = [
            "variable",
            "year",
            "G",
            "G_within",
            "G_between",
            "G_transvariation",
            "share_within",
            "share_between",
            "share_transvariation",
        ]
        return Summary(
            title="Dagum Gini decomposition",
            facts={
                "scheme": self.scheme or "",
                "variables": self.gini["variable"].nunique(),
                "periods": self.gini["year"].nunique(),
            },
            tables={"dagum_gini": self.gini[cols]},
            notes=(
                "G_between is the net between-group part (Dagum 1997); groups are "
                "ordered by mean so that D_jh lies in [0, 1].",
            ),
        )


def dagum_decomposition(
    data: pd.DataFrame,
    variables: str | Iterable[str],
    groups: pd.Series,
    *,
    region: str = "region",
    year: str = "year",
    scheme_name: str | None = None,
) -> DagumResults:
    """Dagum Gini decomposition of each variable in each year.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per region and year with the variables as columns (values are
        used as stored, never renormalized).
    variables : str or iterable of str
        Columns to decompose; values must be non-negative with a positive
        mean in every year.
    groups : pandas.Series
        Region id -> group (e.g. ``ctx.scheme``).
    region, year : str
        Column names.
    scheme_name : str, optional
        Written to the ``scheme`` column.

    Returns
    -------
    DagumResults
        Tables ``gini`` (``dagum_gini.csv``) and ``pairs`` (``dagum_pairs.csv``).

    Raises
    ------
    InputError
        Missing columns or cells, a region without group, a negative value
        (naming variable, region and year), or a year whose mean is 0.
    """
    variables, frame, grp = check_grouped(data, variables, groups, region, year, scheme_name)
    labels_all = grp.reindex(frame[region]).to_numpy()
    g_rows, p_rows = [], []
    for v in variables:
        check_positive(frame, v, region, year, "the Gini decomposition", strict=False)
        for t, idx in frame.groupby(year, sort=True).indices.items():
            y = frame[v].to_numpy(dtype=float)[idx]
            if y.mean() <= 0:
                raise InputError(
                    f"variable '{v}' is 0 for every region in year {t}; the Gini ratio "
                    "is undefined (choose another variable or period)",
                    source=SOURCE,
                )
            cs = _cross_section(y, labels_all[idx])
            g_rows.append({"variable": v, "scheme": scheme_name, year: t, **cs.parts.to_dict()})
            pairs = cs.pairs
            pairs.insert(0, year, t)
            pairs.insert(0, "scheme", scheme_name)
            pairs.insert(0, "variable", v)
            p_rows.append(pairs)
    gini = pd.DataFrame(g_rows).rename(columns={year: "year"})
    gini["n"] = gini["n"].astype(int)
    gini = gini[
        [
            "variable",
            "scheme",
            "year",
            "G",
            "G_within",
            "G_between",
            "G_transvariation",
            "share_within",
            "share_between",
            "share_transvariation",
            "n",
            "mean",
        ]
    ]
    pairs = pd.concat(p_rows, ignore_index=True).rename(columns={year: "year"})
    return DagumResults(gini, pairs, scheme_name)
