"""Theil T decomposition by groups, with ``0 ln 0 = 0``.

``T = (1/n) sum_i (y_i/mu) ln(y_i/mu) = sum_i s_i ln(n s_i)`` with
``s_i = y_i / sum y`` the region's share, split into ``T = T_between +
T_within`` with ``T_between = sum_g s_g ln(s_g n / n_g)`` (``s_g`` the
group's share of the total) and ``T_within = T - T_between = sum_g s_g T_g``.
Zero values enter with ``0 ln 0 = 0`` (their limit), so an index with an exact
0 (min-max normalization) is decomposed as it is.  PySAL's ``inequality``
package (:class:`inequality.theil.TheilD`) does the same by replacing each
zero by the smallest positive double; the tests check that both agree to
1e-12 on data with zeros.

Reference: Theil, H. (1967). *Economics and Information Theory*. Amsterdam:
North-Holland.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd
from scipy.special import xlogy

from nqpspatial.errors import InputError
from nqpspatial.results import Results, Summary

from ._common import SOURCE, check_grouped, check_positive, wide

__all__ = ["theil_decomposition", "theil_index", "TheilResults"]


class TheilResults(Results):
    """Theil decompositions (immutable).

    Attributes
    ----------
    theil : pandas.DataFrame
        ``variable, scheme, year, T, T_between, T_within, share_between,
        share_within``.
    groups : pandas.DataFrame
        ``variable, scheme, year, group, n, income_share, T_group,
        contribution`` where ``contribution = income_share * T_group`` (these
        sum to ``T_within``).
    """

    def __init__(self, theil: pd.DataFrame, groups: pd.DataFrame, scheme: str | None):
        self.theil = theil
        self.groups = groups
        self.scheme = scheme
        self._freeze()

    def summary(self) -> Summary:
        """Theil T and its between/within parts per variable and year."""
        return Summary(
            title="Theil decomposition",
            facts={"scheme": self.scheme or ""},
            tables={"theil": self.theil.drop(columns="scheme")},
            notes=("Theil (1967) T with 0 ln 0 = 0, as inequality.theil.TheilD.",),
        )


def theil_index(shares: np.ndarray) -> np.ndarray:
    """Theil's T of each column from the value shares, with ``0 ln 0 = 0``.

    Parameters
    ----------
    shares : numpy.ndarray
        ``(n, t)`` non-negative shares ``s_i = y_i / sum y`` (each column
        sums to 1).

    Returns
    -------
    numpy.ndarray
        ``T = sum_i s_i ln(n s_i)`` per column (``(t,)``).
    """
    s = np.asarray(shares, dtype=float)
    return xlogy(s, s.shape[0] * s).sum(axis=0)


def theil_decomposition(
    data: pd.DataFrame,
    variables: str | Iterable[str],
    groups: pd.Series,
    *,
    region: str = "region",
    year: str = "year",
    scheme_name: str | None = None,
) -> TheilResults:
    """Between/within decomposition of Theil's T per variable and year.

    Parameters
    ----------
    data : pandas.DataFrame
        Balanced region-year table with the variables as columns.
    variables : str or iterable of str
        Columns to decompose; values are used as stored and must be
        non-negative with a positive total in every year (zeros enter with
        ``0 ln 0 = 0``).
    groups : pandas.Series
        Region id -> group.
    region, year : str
        Column names.
    scheme_name : str, optional
        Written to the ``scheme`` column.

    Returns
    -------
    TheilResults

    Raises
    ------
    InputError
        A negative value (naming variable, region and year), a year whose
        values are all zero, missing cells, an unbalanced panel or a region
        without group.

    Notes
    -----
    A group whose values are all zero in a year has ``T_group = 0`` (its
    members are equal) and contributes nothing, as in ``inequality``.
    """
    variables, frame, grp = check_grouped(data, variables, groups, region, year, scheme_name, balanced=True)
    rows, grows = [], []
    for v in variables:
        check_positive(frame, v, region, year, "the Theil index", strict=False)
        Y = wide(frame, v, region, year)
        part = grp.reindex(Y.index).to_numpy()
        y = Y.to_numpy(dtype=float)
        tot = y.sum(axis=0)
        if (tot <= 0).any():
            t0 = Y.columns[int(np.flatnonzero(tot <= 0)[0])]
            raise InputError(
                f"the Theil index is undefined for variable '{v}' in year {t0}: every region "
                "is 0 (no total to share); drop that year or choose another variable",
                source=SOURCE,
            )
        n = y.shape[0]
        T = theil_index(y / tot)
        names = sorted(set(part))
        masks = [part == g for g in names]
        gtot = np.array([y[m].sum(axis=0) for m in masks])
        sg = gtot / tot
        ng = np.array([m.sum() for m in masks], dtype=float)
        bg = xlogy(sg, sg * (n / ng)[:, None]).sum(axis=0)
        wg = T - bg
        # shares of T are empty in a year with no inequality at all (T = 0)
        sb = np.divide(bg, T, out=np.full_like(T, np.nan), where=T > 0)
        sw = np.divide(wg, T, out=np.full_like(T, np.nan), where=T > 0)
        for i, t in enumerate(Y.columns):
            rows.append(
                {
                    "variable": v,
                    "scheme": scheme_name,
                    "year": t,
                    "T": T[i],
                    "T_between": bg[i],
                    "T_within": wg[i],
                    "share_between": sb[i],
                    "share_within": sw[i],
                }
            )
        for g, m, gt, share in zip(names, masks, gtot, sg):
            # a group whose values are all 0 has equal members: T_group = 0 (as inequality.theil.Theil)
            Tg = theil_index(np.divide(y[m], gt, out=np.full_like(y[m], 1.0 / m.sum()), where=gt > 0))
            for i, t in enumerate(Y.columns):
                grows.append(
                    {
                        "variable": v,
                        "scheme": scheme_name,
                        "year": t,
                        "group": g,
                        "n": int(m.sum()),
                        "income_share": share[i],
                        "T_group": Tg[i],
                        "contribution": share[i] * Tg[i],
                    }
                )
    return TheilResults(pd.DataFrame(rows), pd.DataFrame(grows), scheme_name)
