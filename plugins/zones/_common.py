"""Shared private helpers of the zone analyses: input checks and reshaping.

Every public function of :mod:`nqpspatial.plugins.zones` takes a *long-by-
region-year* table ``data`` (one row per region and year, one column per
variable) and, where groups matter, a :class:`pandas.Series` mapping region id
to group.  The helpers here validate those inputs once, with messages that
name the column, region and year at fault, and never modify them.
"""

from __future__ import annotations

import contextlib
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from nqpspatial.errors import InputError

SOURCE = "zones"


def as_list(variables: str | Iterable[str]) -> list[str]:
    """Return ``variables`` as a list of column names."""
    if isinstance(variables, str):
        return [variables]
    out = list(variables)
    if not out:
        raise InputError("no variable given; name at least one panel column in `variables`", source=SOURCE)
    return out


def check_data(
    data: pd.DataFrame, variables: Sequence[str], region: str, year: str, *, balanced: bool = False
) -> pd.DataFrame:
    """Validate a region-year table and return a sorted copy of the needed columns.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per region and year.
    variables : sequence of str
        Columns that must exist and be numeric with no missing cell.
    region, year : str
        Names of the region and year columns.
    balanced : bool, default False
        Require every region to be observed in every year.

    Returns
    -------
    pandas.DataFrame
        ``[region, year, *variables]`` sorted by region then year (a copy).

    Raises
    ------
    InputError
        A missing column, duplicate region-year rows, a missing or
        non-numeric cell, or (with ``balanced``) an unbalanced panel.
    """
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"expected a pandas DataFrame of region-year rows, got {type(data).__name__}", source=SOURCE)
    for col in (region, year, *variables):
        if col not in data.columns:
            avail = ", ".join(map(str, data.columns))
            raise InputError(
                f"column '{col}' is not in the table (columns: {avail}); name an existing column", source=SOURCE
            )
    dup = data.duplicated([region, year], keep=False)
    if dup.any():
        pairs = data.loc[dup, [region, year]].drop_duplicates().head(10)
        listed = "; ".join(f"{r} {y}" for r, y in pairs.itertuples(index=False))
        raise InputError(f"duplicate region-year rows ({listed}); keep one row per region and year", source=SOURCE)
    out = data[[region, year, *dict.fromkeys(variables)]].copy()
    for v in dict.fromkeys(variables):
        if not pd.api.types.is_numeric_dtype(out[v]) or pd.api.types.is_bool_dtype(out[v]):
            raise InputError(f"variable '{v}' is not numeric; choose a numeric panel column", source=SOURCE)
        bad = out[v].isna() | ~np.isfinite(out[v].to_numpy(dtype=float, na_value=np.nan))
        if bad.any():
            r, y = out.loc[bad, [region, year]].iloc[0]
            raise InputError(
                f"variable '{v}' has a missing or infinite value for region '{r}' in "
                f"year {y} ({int(bad.sum())} cell(s) in all); fill or remove them",
                source=SOURCE,
            )
    if balanced:
        regions = out[region].unique()
        years = np.sort(out[year].unique())
        if len(out) != len(regions) * len(years):
            counts = out.groupby(region)[year].nunique()
            short = counts[counts < len(years)]
            r = short.index[0]
            have = set(out.loc[out[region] == r, year])
            missing = [y for y in years if y not in have]
            raise InputError(
                f"unbalanced panel: region '{r}' lacks year(s) {missing}; this analysis "
                "needs every region in every year",
                source=SOURCE,
            )
    return out.sort_values([region, year], kind="mergesort").reset_index(drop=True)


def check_positive(
    frame: pd.DataFrame, variable: str, region: str, year: str, analysis: str, *, strict: bool = True
) -> None:
    """Refuse non-positive (``strict``) or negative values of ``variable``.

    Raises
    ------
    InputError
        Naming the variable, the first offending region and year, and the fix.
    """
    vals = frame[variable].to_numpy(dtype=float)
    bad = vals <= 0 if strict else vals < 0
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        r, y = frame[region].iloc[i], frame[year].iloc[i]
        need = "positive" if strict else "non-negative"
        fix = (
            ("choose a variable with positive values or set [weighting] shift > 0 so that indices stay above 0")
            if strict
            else "choose a variable with non-negative values"
        )
        raise InputError(
            f"{analysis} needs {need} values, but variable '{variable}' is {vals[i]:g} for region "
            f"'{r}' in year {y} ({int(bad.sum())} such cell(s)); values are used as stored: {fix}",
            source=SOURCE,
        )


def check_groups(groups: pd.Series | None, regions: Iterable, scheme_name: str | None = None) -> pd.Series:
    """Validate a region -> group mapping against the regions of the data.

    Returns
    -------
    pandas.Series
        The groups of ``regions`` (index = region id), as strings.

    Raises
    ------
    InputError
        No scheme, duplicate ids in the scheme, or regions of the data that
        the scheme does not assign to a group.
    """
    name = f"scheme '{scheme_name}'" if scheme_name else "the region scheme"
    if groups is None:
        raise InputError("no region scheme: set [regions] scheme or pass `groups`", source=SOURCE)
    if not isinstance(groups, pd.Series):
        groups = pd.Series(groups)
    if groups.index.duplicated().any():
        d = groups.index[groups.index.duplicated()][0]
        raise InputError(f"{name} lists region '{d}' twice; give each region one group", source=SOURCE)
    regions = list(dict.fromkeys(regions))
    missing = [r for r in regions if r not in groups.index or pd.isna(groups.get(r))]
    if missing:
        raise InputError(
            f"{name} gives no group for region(s) {missing[:10]}"
            f"{' ...' if len(missing) > 10 else ''}; add them to the scheme "
            "(region ids must match the panel's)",
            source=SOURCE,
        )
    return groups.loc[regions].astype(str)


def check_grouped(
    data: pd.DataFrame,
    variables: str | Iterable[str],
    groups: pd.Series | None,
    region: str,
    year: str,
    scheme_name: str | None = None,
    *,
    balanced: bool = False,
    groups_optional: bool = False,
) -> tuple[list[str], pd.DataFrame, pd.Series | None]:
    """Validate the inputs of a per-variable, per-group analysis in one call.

    :func:`as_list` on ``variables``, :func:`check_data` on ``data`` (with
    ``balanced``), then :func:`check_groups` against the regions of the data.

    Returns
    -------
    tuple
        ``(variables, frame, grp)``: the variable list, the checked and sorted
        copy of the data, and the groups of its regions (None when ``groups``
        is None and ``groups_optional``).
    """
    variables = as_list(variables)
    frame = check_data(data, variables, region, year, balanced=balanced)
    if groups is None and groups_optional:
        return variables, frame, None
    return variables, frame, check_groups(groups, frame[region], scheme_name)


def wide(frame: pd.DataFrame, variable: str, region: str, year: str) -> pd.DataFrame:
    """Region x year matrix of ``variable`` (rows and columns sorted)."""
    return frame.pivot(index=region, columns=year, values=variable).sort_index().sort_index(axis=1)


@contextlib.contextmanager
def global_numpy_seed(seed: int):
    """Seed NumPy's *global* random state for a block, then restore it.

    Some library code (spopt's max-p, libpysal's categorical lag ties) draws
    from ``numpy.random`` directly.  This context makes such calls
    reproducible without leaking the seed into the caller's global state.
    """
    state = np.random.get_state()
    np.random.seed(int(seed) % (2**32))
    try:
        yield
    finally:
        np.random.set_state(state)


def seed_from(rng: np.random.Generator | int | None) -> int:
    """An integer seed drawn from ``rng`` (a Generator or an int)."""
    if rng is None:
        raise InputError("a seed is required: pass `seed` (an int) or a numpy Generator", source=SOURCE)
    if isinstance(rng, (int, np.integer)):
        return int(rng)
    return int(rng.integers(0, 2**31 - 1))
