"""Obstacle degree: which indicators and dimensions hold a region's index back.

For region i in a period, within one subsystem with indicator weights w_j
(summing to 1) and normalized values r_ij in [0, 1], the *deviation* of an
indicator is ``1 - r_ij`` and its obstacle degree is

    O_ij = w_j (1 - r_ij) / sum_j w_j (1 - r_ij) * 100

(percent; the indicators of a subsystem sum to 100).  A dimension's
obstacle degree is the sum over its indicators.  This is the obstacle-
factor diagnosis common in the Chinese regional literature; it uses the
weights and normalized values of the weighting step.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nqpspatial.errors import InputError
from nqpspatial.results import Results, Summary

from ._common import SOURCE, check_data

__all__ = ["obstacle_degree", "ObstacleResults"]


class ObstacleResults(Results):
    """Obstacle degrees (immutable).

    Attributes
    ----------
    table : pandas.DataFrame
        ``obstacles.csv``: ``region, year, subsystem, level, name, obstacle,
        rank``; ``level`` is ``"indicator"`` or ``"dimension"``, ``obstacle``
        in percent, ``rank`` 1 = largest obstacle within the region, year,
        subsystem and level (ties share the lowest rank).
    notes : tuple of str
    """

    def __init__(self, table, notes):
        self.table = table
        self.notes = tuple(notes)
        self._freeze()

    def summary(self) -> Summary:
        """Mean obstacle degree of each indicator and dimension over regions and years."""
        mean = (
            self.table.groupby(["subsystem", "level", "name"], sort=False)["obstacle"]
            .mean()
            .rename("mean_obstacle")
            .reset_index()
            .sort_values(["subsystem", "level", "mean_obstacle"], ascending=[True, False, False])
        )
        return Summary(title="Obstacle degree", tables={"mean obstacle degree (%)": mean}, notes=self.notes)


def obstacle_degree(
    normalized: pd.DataFrame, weights: pd.DataFrame, *, region: str = "region", year: str = "year"
) -> ObstacleResults:
    """Obstacle degree of every indicator and dimension per region and period.

    Parameters
    ----------
    normalized : pandas.DataFrame
        ``region, year`` and one normalized column per indicator
        (``ctx.results["normalized"]``), used as stored.
    weights : pandas.DataFrame
        The indicator-weights table: ``subsystem, indicator, weight`` and
        optionally ``dimension`` (``ctx.results["weights"]``).
    region, year : str
        Column names in ``normalized``.

    Returns
    -------
    ObstacleResults

    Raises
    ------
    InputError
        A missing column, an indicator of the weights table absent from the
        normalized table, a missing or negative weight, or a missing cell.

    Notes
    -----
    When every indicator of a subsystem reaches 1 for a region and period
    (no deviation anywhere) the obstacle degrees are 0/0: they are left
    empty and the case is listed in the notes.  Dimension rows are written
    for a subsystem only when all its indicators have a dimension.
    """
    for col in ("subsystem", "indicator", "weight"):
        if col not in weights.columns:
            raise InputError(f"the indicator-weights table has no '{col}' column", source=SOURCE)
    inds = list(weights["indicator"])
    missing = [i for i in inds if i not in normalized.columns]
    if missing:
        raise InputError(
            f"indicator(s) {missing[:10]} of the weights table are not columns of the normalized table", source=SOURCE
        )
    wts = weights["weight"].to_numpy(dtype=float, na_value=np.nan)
    if not np.isfinite(wts).all() or (wts < 0).any():
        bad = weights["indicator"].iloc[int(np.flatnonzero(~np.isfinite(wts) | (wts < 0))[0])]
        raise InputError(f"indicator '{bad}' has a missing or negative weight", source=SOURCE)
    frame = check_data(normalized, inds, region, year)
    has_dim = "dimension" in weights.columns
    out, notes = [], []
    keys = frame[[region, year]].rename(columns={region: "region", year: "year"})
    for sub, wsub in weights.groupby("subsystem", sort=False):
        names = list(wsub["indicator"])
        w = wsub["weight"].to_numpy(dtype=float)
        R = frame[names].to_numpy(dtype=float)
        dev = w[None, :] * (1.0 - R)
        tot = dev.sum(axis=1, keepdims=True)
        zero = tot[:, 0] == 0
        O = np.divide(dev, tot, out=np.full_like(dev, np.nan), where=~zero[:, None]) * 100.0
        if zero.any():
            r0 = keys.iloc[int(np.flatnonzero(zero)[0])]
            notes.append(
                f"subsystem '{sub}': no deviation at all for {int(zero.sum())} region-year(s) "
                f"(first: {r0['region']} {r0['year']}); obstacle degrees left empty"
            )
        levels = [("indicator", names, O)]
        if has_dim:
            dims = wsub["dimension"]
            named = dims.notna() & (dims.astype(str).str.strip() != "")
            if named.all():
                dnames = list(dict.fromkeys(dims))
                D = np.column_stack([O[:, (dims == d).to_numpy()].sum(axis=1) for d in dnames])
                levels.append(("dimension", dnames, D))
            elif named.any():
                notes.append(
                    f"subsystem '{sub}': some indicators have no dimension; dimension obstacle degrees not computed"
                )
        for level, lnames, M in levels:
            rank = pd.DataFrame(M).rank(axis=1, ascending=False, method="min").to_numpy()
            block = pd.DataFrame(
                {
                    "region": np.repeat(keys["region"].to_numpy(), len(lnames)),
                    "year": np.repeat(keys["year"].to_numpy(), len(lnames)),
                    "subsystem": sub,
                    "level": level,
                    "name": np.tile(np.asarray(lnames, dtype=object), len(keys)),
                    "obstacle": M.ravel(),
                    "rank": rank.ravel(),
                }
            )
            out.append(block)
    table = pd.concat(out, ignore_index=True)
    table["rank"] = table["rank"].astype("Int64")
    return ObstacleResults(table, notes)
