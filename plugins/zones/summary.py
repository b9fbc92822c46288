"""Zone dynamics: descriptive statistics of each variable per period and group.

Also tabulates, per zone, the Haken model's per-group fits and turning
points when the Haken results object offers them (looked up defensively:
the Haken module is optional for this plugin).
"""

from __future__ import annotations

import warnings
from typing import Any, Iterable

import numpy as np
import pandas as pd

from ._common import check_grouped

__all__ = ["zones_summary", "haken_by_zone"]

NATIONAL = "all"


def _stats(frame: pd.DataFrame, keys: list[str], v: str) -> pd.DataFrame:
    g = frame.groupby(keys, sort=True)[v]
    out = pd.DataFrame(
        {
            "n": g.size(),
            "mean": g.mean(),
            "median": g.median(),
            "sd": g.std(ddof=1),
            "min": g.min(),
            "max": g.max(),
        }
    ).reset_index()
    out["cv"] = out["sd"] / out["mean"]
    return out


def zones_summary(
    data: pd.DataFrame,
    variables: str | Iterable[str],
    groups: pd.Series,
    *,
    region: str = "region",
    year: str = "year",
    scheme_name: str | None = None,
) -> pd.DataFrame:
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
    variables, frame, grp = check_grouped(data, variables, groups, region, year, scheme_name)
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
    out = out.sort_values(
        ["variable", "year", "level", "group"],
        kind="mergesort",
        key=lambda s: s.map({"national": 0, "group": 1}) if s.name == "level" else s,
    )
    cols = ["variable", "scheme", "year", "level", "group", "n", "mean", "median", "sd", "cv", "min", "max"]
    return out[cols].reset_index(drop=True)


def _options(haken) -> dict:
    """The Haken stage's model options (``[haken]``) that a per-group refit must share."""
    spec = dict(haken.spec or {})
    return {k: spec[k] for k in ("intercept", "effects", "se", "window") if k in spec}


def _group_fits(haken, groups, data, region, year):
    """Per-group Haken identification rows: the stage's own, else a fresh by-group fit."""
    res = haken.fit
    if getattr(res, "by", None) == "group":
        return res.identification_table(), 'the Haken stage\'s per-group fit ([haken] by = "group")'
    if data is None or groups is None:
        return None, None
    from nqpspatial.haken import HakenModel, ShortPanelWarning

    q1, q2 = haken.order
    with warnings.catch_warnings():
        # the Haken stage already warned about short panels with region effects
        warnings.filterwarnings("ignore", category=ShortPanelWarning)
        fit = HakenModel(data, q1, q2, region=region, year=year, by="group", groups=groups, **_options(haken)).fit(
            bootstrap=0
        )
    return fit.identification_table(), (f"per-group fits of {q1} -> {q2} with the Haken stage's options (no bootstrap)")


def _group_turning_points(haken, groups, data, region, year, seed, bootstrap, trim):
    from nqpspatial.haken.stages import break_tests

    q1, q2 = haken.order
    opts = _options(haken)
    opts.pop("se", None)
    rng = np.random.default_rng(seed)
    rows = []
    for g in sorted(groups.unique()):
        members = groups.index[groups == g]
        sub = data[data[region].isin(members)]
        row = {"group": g, "q1": q1, "q2": q2, "n_regions": int(sub[region].nunique())}
        try:
            bt = break_tests(sub, q1, q2, region=region, year=year, trim=trim, bootstrap=bootstrap, seed=rng, **opts)
            row.update(
                turning_point=bt.turning_point,
                sup_f=bt.sup_f,
                p_value=bt.p_value,
                bootstrap=bootstrap,
                trim=trim,
                note="",
            )
        except Exception as exc:  # too few regions or years in this group
            row.update(note=f"no break test: {exc}")
        rows.append(row)
    cols = ["group", "q1", "q2", "n_regions", "turning_point", "sup_f", "p_value", "bootstrap", "trim", "note"]
    return pd.DataFrame(rows).reindex(columns=cols)


def haken_by_zone(
    haken: Any,
    groups: pd.Series | None = None,
    data: pd.DataFrame | None = None,
    *,
    region: str = "region",
    year: str = "year",
    seed: int | np.random.Generator | None = 0,
    bootstrap: int = 999,
    trim: float = 0.15,
) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Per-zone Haken fits and turning points, when the Haken module offers them.

    Parameters
    ----------
    haken : nqpspatial.artifacts.HakenOutcome or None
        What the Haken stage found (its chosen ordering, fit and options).
    groups : pandas.Series, optional
        Region id -> group.
    data : pandas.DataFrame, optional
        Region-year table holding the two subsystem indices named by
        ``haken.q1`` and ``haken.q2`` (``ctx.indices``); needed to fit each
        group and to search each group's turning point.
    region, year : str
        Column names of ``data``.
    seed : int or numpy.random.Generator, default 0
        Seeds the sup-F bootstraps.
    bootstrap : int, default 999
        Resamples of each group's sup-F p-value.
    trim : float, default 0.15
        Trimming of the sup-F search.

    Returns
    -------
    tables : dict of str to pandas.DataFrame
        ``zones_haken_fits``: one identification row per group (``group,
        q1, q2, gamma1, a, gamma2, b, ...`` as in
        ``haken_identification.csv``), taken from the Haken stage when it
        was run with ``by = "group"``, else fitted here per group with the
        stage's options and no bootstrap.  ``zones_turning_points``:
        ``group, q1, q2, n_regions, turning_point, sup_f, p_value,
        bootstrap, trim, note`` from
        :func:`nqpspatial.haken.stages.break_tests` run on each group's
        regions.  A table is missing when the Haken module cannot provide it.
    notes : list of str
        What was tabulated, or why not.

    Notes
    -----
    The Haken module is imported lazily and every failure becomes a note,
    never an error: these tables are a convenience beside the Haken stage's
    own outputs.
    """
    tables: dict[str, pd.DataFrame] = {}
    if haken is None:
        return tables, ["no Haken results published: per-zone Haken fits not tabulated"]
    notes: list[str] = []
    try:
        tab, how = _group_fits(haken, groups, data, region, year)
    except Exception as exc:  # the Haken module is optional here
        tab, how = None, None
        notes.append(f"per-zone Haken fits not tabulated: {exc}")
    if tab is not None:
        tables["zones_haken_fits"] = _group_first(tab)
        notes.append(f"zones_haken_fits: {how}")
    elif not notes:
        notes.append("the Haken results offer no per-group fits")
    turn = None
    if data is not None and groups is not None:
        try:
            turn = _group_turning_points(haken, groups, data, region, year, seed, bootstrap, trim)
            notes.append(f"zones_turning_points: sup-F search per group (bootstrap B = {bootstrap})")
        except Exception as exc:  # noqa: BLE001 - a convenience table: its failure is a note
            notes.append(f"per-zone turning points not tabulated: {exc}")
    if turn is not None:
        tables["zones_turning_points"] = _group_first(turn)
    return tables, notes


def _group_first(tab: pd.DataFrame) -> pd.DataFrame:
    cols = ["group"] + [c for c in tab.columns if c != "group"]
    return tab[cols].sort_values("group", kind="mergesort").reset_index(drop=True)
