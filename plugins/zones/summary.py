"""Zone dynamics: descriptive statistics of each variable per period and group.

Also tabulates, per zone, the Haken model's per-group fits and turning
points when the Haken results object offers them (looked up defensively:
the Haken module is optional for this plugin).
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import pandas as pd

from ._common import as_list, check_data, check_groups

__all__ = ["zones_summary", "haken_by_zone"]

NATIONAL = "all"


def _stats(frame: pd.DataFrame, keys: list[str], v: str) -> pd.DataFrame:
    g = frame.groupby(keys, sort=True)[v]
    out = pd.DataFrame({
        "n": g.size(), "mean": g.mean(), "median": g.median(), "sd": g.std(ddof=1),
        "min": g.min(), "max": g.max(),
    }).reset_index()
    out["cv"] = out["sd"] / out["mean"]
    return out


def zones_summary(data: pd.DataFrame, variables: str | Iterable[str], groups: pd.Series, *,
                  region: str = "region", year: str = "year",
                  scheme_name: str | None = None) -> pd.DataFrame:
    """Mean, median and dispersion of each variable per period and group.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per region and year with the variables as columns.
    variables : str or iterable of str
        Columns to describe (values as stored).
    groups : pandas.Series
        Region id -> group.
    region, year : str
        Column names.
    scheme_name : str, optional
        Written to the ``scheme`` column.

    Returns
    -------
    pandas.DataFrame
        ``variable, scheme, year, level, group, n, mean, median, sd, cv, min,
        max`` (``zones_summary.csv``).  ``level`` is ``"group"`` for the
        scheme's groups and ``"national"`` for all regions together (whose
        ``group`` is ``"all"``).  ``sd`` is the sample standard deviation
        (ddof = 1; empty for a single region) and ``cv = sd / mean`` (empty
        when the mean is 0).

    Raises
    ------
    InputError
        Missing columns or cells, or a region without group.
    """
    variables = as_list(variables)
    frame = check_data(data, variables, region, year)
    grp = check_groups(groups, frame[region], scheme_name)
    frame["__group"] = grp.reindex(frame[region]).to_numpy()
    parts = []
    for v in variables:
        by_group = _stats(frame, [year, "__group"], v).rename(columns={"__group": "group"})
        by_group.insert(1, "level", "group")
        nat = _stats(frame, [year], v)
        nat.insert(1, "level", "national")
        nat.insert(2, "group", NATIONAL)
        both = pd.concat([nat, by_group], ignore_index=True)
        both.insert(0, "scheme", scheme_name)
        both.insert(0, "variable", v)
        parts.append(both)
    out = pd.concat(parts, ignore_index=True).rename(columns={year: "year"})
    out["cv"] = out["cv"].where(out["mean"] != 0, np.nan)
    out = out.sort_values(["variable", "year", "level", "group"], kind="mergesort",
                          key=lambda s: s.map({"national": 0, "group": 1}) if s.name == "level" else s)
    cols = ["variable", "scheme", "year", "level", "group", "n", "mean", "median", "sd", "cv",
            "min", "max"]
    return out[cols].reset_index(drop=True)


_FIT_NAMES = ("group_fits", "fits_by_group", "by_group", "group_estimates")
_TURN_NAMES = ("group_turning_points", "turning_points", "stages", "breaks")


def _find_table(haken: Any, names: tuple[str, ...], groups: pd.Series | None) -> tuple[pd.DataFrame | None, str | None]:
    for name in names:
        try:
            obj = getattr(haken, name, None)
        except Exception:  # a property that cannot be computed
            continue
        if obj is None:
            continue
        if callable(obj):
            try:
                obj = obj(groups) if groups is not None else obj()
            except Exception:
                try:
                    obj = obj()
                except Exception:
                    continue
        if hasattr(obj, "to_frame") and not isinstance(obj, pd.DataFrame):
            obj = obj.to_frame()
        if isinstance(obj, pd.DataFrame) and "group" in obj.columns:
            return obj.copy(), name
    return None, None


def haken_by_zone(haken: Any, groups: pd.Series | None = None) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Per-zone Haken fits and turning points, when the Haken results offer them.

    Parameters
    ----------
    haken : object
        The Haken results (``ctx.results["haken"]``) or None.
    groups : pandas.Series, optional
        Region id -> group, passed to the Haken object's per-group methods
        when those are callables.

    Returns
    -------
    tables : dict of str to pandas.DataFrame
        ``zones_haken_fits`` and ``zones_turning_points`` (each only when
        found): the Haken object's per-group tables (any attribute among
        ``group_fits``, ``fits_by_group``, ``by_group``, ``group_estimates``
        and ``group_turning_points``, ``turning_points``, ``stages``,
        ``breaks`` holding a table with a ``group`` column), sorted by group.
    notes : list of str
        What was found or why nothing was tabulated.
    """
    notes: list[str] = []
    tables: dict[str, pd.DataFrame] = {}
    if haken is None:
        return tables, ["no Haken results published: per-zone Haken fits not tabulated"]
    for out_name, names in (("zones_haken_fits", _FIT_NAMES), ("zones_turning_points", _TURN_NAMES)):
        tab, found = _find_table(haken, names, groups)
        if tab is None:
            notes.append(f"the Haken results offer no per-group table for {out_name}")
        else:
            tables[out_name] = tab.sort_values("group", kind="mergesort").reset_index(drop=True)
            notes.append(f"{out_name} taken from the Haken results' '{found}'")
    return tables, notes
