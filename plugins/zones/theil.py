"""Theil T decomposition by groups, through PySAL's ``inequality`` package.

``T = T_between + T_within`` with ``T_between = sum_g s_g ln(s_g n / n_g)``
(``s_g`` the group's share of the total) and ``T_within = sum_g s_g T_g``.
The totals and the between part come from :class:`inequality.theil.TheilD`;
the within-group Theil of each group from :class:`inequality.theil.Theil`.

Reference: Theil, H. (1967). *Economics and Information Theory*. Amsterdam:
North-Holland.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from nqpspatial.results import Results, Summary

from ._common import check_grouped, check_positive, wide

__all__ = ["theil_decomposition", "TheilResults"]


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
        return Summary(title="Theil decomposition", facts={"scheme": self.scheme or ""},
                       tables={"theil": self.theil.drop(columns="scheme")},
                       notes=("Computed with inequality.theil.TheilD (Theil 1967).",))


def theil_decomposition(data: pd.DataFrame, variables: str | Iterable[str], groups: pd.Series, *,
                        region: str = "region", year: str = "year",
                        scheme_name: str | None = None) -> TheilResults:
    """Between/within decomposition of Theil's T per variable and year.

    Parameters
    ----------
    data : pandas.DataFrame
        Balanced region-year table with the variables as columns.
    variables : str or iterable of str
        Columns to decompose; every value must be positive (the index takes
        logarithms; values are used as stored).
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
        A non-positive value (naming variable, region and year), missing
        cells, an unbalanced panel or a region without group.
    """
    from inequality.theil import Theil, TheilD

    variables, frame, grp = check_grouped(data, variables, groups, region, year, scheme_name, balanced=True)
    rows, grows = [], []
    for v in variables:
        check_positive(frame, v, region, year, "the Theil index")
        Y = wide(frame, v, region, year)
        part = grp.reindex(Y.index).to_numpy()
        y = Y.to_numpy(dtype=float)
        td = TheilD(y, part)
        T = np.atleast_1d(td.T)
        bg = np.atleast_1d(td.bg)
        wg = np.atleast_1d(td.wg)
        for i, t in enumerate(Y.columns):
            rows.append({"variable": v, "scheme": scheme_name, "year": t, "T": T[i],
                         "T_between": bg[i], "T_within": wg[i], "share_between": bg[i] / T[i],
                         "share_within": wg[i] / T[i]})
        tot = y.sum(axis=0)
        for g in sorted(set(part)):
            yg = y[part == g]
            Tg = np.atleast_1d(Theil(yg).T)
            share = yg.sum(axis=0) / tot
            for i, t in enumerate(Y.columns):
                grows.append({"variable": v, "scheme": scheme_name, "year": t, "group": g,
                              "n": int(yg.shape[0]), "income_share": share[i], "T_group": Tg[i],
                              "contribution": share[i] * Tg[i]})
    return TheilResults(pd.DataFrame(rows), pd.DataFrame(grows), scheme_name)
