"""Indicator panels: reading, reshaping and validation.

A *panel* is a region-year table with one column per indicator (wide form)
or one row per region, year and indicator (long form).  An *indicator list*
names each indicator's subsystem and direction.  :func:`load_panel` turns
both into a validated :class:`PanelData`; every problem is reported as an
:class:`~nqpspatial.errors.InputError` naming the file, the row or column,
and the fix.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from .errors import InputError
from .io import first_data_row, read_table
from .results import Results, Summary

__all__ = ["parse_direction", "read_indicators", "load_panel", "PanelData", "DIRECTION_WORDS"]

DIRECTION_WORDS = {
    "+": 1,
    "+1": 1,
    "1": 1,
    "positive": 1,
    "benefit": 1,
    "pos": 1,
    "正向": 1,
    "正": 1,
    "max": 1,
    "-": -1,
    "-1": -1,
    "negative": -1,
    "cost": -1,
    "neg": -1,
    "负向": -1,
    "负": -1,
    "逆向": -1,
    "min": -1,
}

_MAX_LISTED = 20
_MAX_YEAR = 100_000


def _short(x, width: int = 60) -> str:
    text = str(x)
    return text if len(text) <= width else text[: width - 3] + "..."


def _listing(items: Sequence[str], limit: int = _MAX_LISTED) -> str:
    items = list(items)
    shown = ", ".join(_short(x) for x in items[:limit])
    if len(items) > limit:
        shown += f", ... ({len(items) - limit} more)"
    return shown


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=3, cutoff=0.5)
    return f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def parse_direction(value: Any) -> int | None:
    """Map a direction word to +1 (benefit) or -1 (cost).

    Parameters
    ----------
    value : object
        One of ``+``/``-``, ``+1``/``-1``, ``positive``/``negative``,
        ``benefit``/``cost``, ``正向``/``负向`` (case-insensitive).

    Returns
    -------
    int or None
        +1 or -1, or None when the word is not recognised.
    """
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value in (1, -1):
        return int(value)
    if isinstance(value, float) and value in (1.0, -1.0):
        return int(value)
    text = str(value).strip().lower()
    return DIRECTION_WORDS.get(text)


def _indicators_where(source, where: str | None = None) -> str:
    """How messages name an indicator list: ``where``, else its file, "indicator list" or the config key."""
    if where:
        return where
    if isinstance(source, (str, Path)):
        return str(source)
    return "indicator list" if isinstance(source, pd.DataFrame) else "config [data] indicators"


def read_indicators(source, *, where: str | None = None, encoding: str = "utf-8-sig") -> pd.DataFrame:
    """Read and check an indicator list.

    Parameters
    ----------
    source : str, pathlib.Path, pandas.DataFrame or list of dict
        A CSV/XLSX file, a DataFrame, or inline records (from TOML).
        Required columns: ``indicator``, ``subsystem``, ``direction``;
        optional ``dimension``, ``label``, ``unit``, ``weight``.
    where : str, optional
        Name of the source used in messages (defaults to the file path).
    encoding : str, default "utf-8-sig"
        Text encoding of a CSV file.

    Returns
    -------
    pandas.DataFrame
        Columns ``indicator, subsystem, dimension, direction, label, unit,
        weight`` with ``direction`` as +1/-1 and ``dimension`` "" when absent.
    """
    first = 2  # file line of the first data row (DataFrames: row 1 is the header)
    where = _indicators_where(source, where)
    if isinstance(source, (str, Path)):
        table = read_table(source, encoding=encoding, what="indicator list")
        first = first_data_row(table)
    elif isinstance(source, pd.DataFrame):
        table = source.copy()
    else:
        try:
            table = pd.DataFrame(list(source))
        except Exception:  # noqa: BLE001 - any malformed inline list
            raise InputError(
                "the inline indicator list must be a list of tables with keys indicator, subsystem and direction.",
                source=where,
            ) from None
        first = None

    def pos(i: int) -> str:  # the i-th (0-based) entry: a file row, or an inline entry counted from 1
        return f"entry {i + 1}" if first is None else f"row {i + first}"

    table.columns = [str(c).strip() for c in table.columns]
    lower = {c.lower(): c for c in table.columns}
    table = table.rename(columns={v: k for k, v in lower.items()})
    missing = [c for c in ("indicator", "subsystem", "direction") if c not in table.columns]
    if missing:
        hint = "; ".join(f"'{m}'{_suggest(m, table.columns)}" for m in missing)
        raise InputError(
            f"the indicator list lacks the required column(s) {hint}. Required: indicator, "
            f"subsystem, direction (optional: dimension, label, unit, weight).",
            source=where,
        )
    known = {"indicator", "subsystem", "direction", "dimension", "label", "unit", "weight"}
    extra = [c for c in table.columns if c not in known]
    if extra:
        raise InputError(
            f"unknown column(s) in the indicator list: {_listing(extra)}."
            f"{_suggest(extra[0], known)} Allowed: {', '.join(sorted(known))}.",
            source=where,
        )
    if len(table) == 0:
        raise InputError("the indicator list has no rows.", source=where)
    out = pd.DataFrame({"indicator": table["indicator"].astype(object)})
    blank = [pos(i) for i, v in enumerate(out["indicator"]) if pd.isna(v) or str(v).strip() == ""]
    if blank:
        raise InputError(f"empty indicator name on {_listing(blank)} (rows are lines of the file).", source=where)
    out["indicator"] = [str(v).strip() for v in out["indicator"]]
    dup = out["indicator"][out["indicator"].duplicated()].unique().tolist()
    if dup:
        raise InputError(
            f"indicator(s) listed more than once: {_listing(dup)}. Each indicator belongs to "
            "one subsystem; remove the repeated rows.",
            source=where,
        )
    sub = table["subsystem"]
    bad_sub = [pos(i) for i, v in enumerate(sub) if pd.isna(v) or str(v).strip() == ""]
    if bad_sub:
        raise InputError(
            f"empty subsystem on {_listing(bad_sub)}; every indicator needs a subsystem (e.g. NQP or NTU).",
            source=where,
        )
    out["subsystem"] = [str(v).strip() for v in sub]
    dirs, bad = [], []
    for i, v in enumerate(table["direction"]):
        d = parse_direction(v)
        if d is None:
            bad.append(f"{pos(i)} ({out['indicator'].iat[i]}): {v!r}")
        dirs.append(d)
    if bad:
        raise InputError(
            f"unknown direction word(s): {_listing(bad)}. Use + or - (also positive/negative, "
            "benefit/cost, 正向/负向).",
            source=where,
        )
    out["direction"] = np.asarray(dirs, dtype=int)
    if "dimension" in table.columns:
        out["dimension"] = ["" if pd.isna(v) else str(v).strip() for v in table["dimension"]]
    else:
        out["dimension"] = ""
    for col in ("label", "unit"):
        out[col] = [
            "" if (col not in table.columns or pd.isna(v)) else str(v)
            for v in (table[col] if col in table.columns else [None] * len(table))
        ]
    if "weight" in table.columns:
        w = pd.to_numeric(table["weight"], errors="coerce")
        bad_w = [
            pos(i)
            for i, (raw, num) in enumerate(zip(table["weight"], w))
            if not pd.isna(raw) and str(raw).strip() != "" and pd.isna(num)
        ]
        if bad_w:
            raise InputError(f"non-numeric weight on {_listing(bad_w)}; give a number or leave it empty.", source=where)
        if (w.dropna() < 0).any():
            raise InputError("negative fixed weight(s); weights must be >= 0.", source=where)
        out["weight"] = w.astype(float).to_numpy()
    else:
        out["weight"] = np.nan
    reserved = {"region", "year"}
    clash = [s for s in out["subsystem"].unique() if s in reserved or "." in s]
    if clash:
        raise InputError(
            f"subsystem name(s) {_listing(clash)} cannot be used (reserved or containing '.').", source=where
        )
    return out[["indicator", "subsystem", "dimension", "direction", "label", "unit", "weight"]]


class PanelData(Results):
    """A validated region-year panel.

    Attributes
    ----------
    values : pandas.DataFrame
        ``region, year`` and one float column per indicator (or per
        subsystem index when ``indices=True``), sorted by region (first
        appearance in the file) and year.
    indicators : pandas.DataFrame or None
        The indicator list (see :func:`read_indicators`); None for
        precomputed indices.
    subsystems : list of str
        Subsystem names in order of first appearance.
    regions : list
        Region ids as in the input, in order of first appearance.
    years : list of int
        Sorted periods.
    filled : pandas.DataFrame
        Cells filled by interpolation (``region, year, indicator, value``).
    source : str
        The panel's file name (or "DataFrame").
    indicators_source : str or None
        How messages name the indicator list (its file, or the config key);
        None for precomputed indices.
    raw_variables : bool
        True when the columns are ``[data] variables`` analysed as they are
        (not indices in [0, 1]).
    """

    def __init__(
        self,
        values,
        indicators,
        subsystems,
        regions,
        years,
        filled,
        source,
        region,
        year,
        indices_given,
        indicators_source=None,
        raw_variables=False,
    ):
        self._set("values", values)
        self._set("indicators", indicators)
        self._set("subsystems", list(subsystems))
        self._set("regions", list(regions))
        self._set("years", list(years))
        self._set("filled", filled)
        self._set("source", source)
        self._set("region", region)
        self._set("year", year)
        self._set("indices_given", bool(indices_given))
        self._set("indicators_source", indicators_source)
        self._set("raw_variables", bool(raw_variables))
        self._freeze()

    def summary(self) -> Summary:
        """Summary of the panel: size, periods and subsystems."""
        facts = {
            "source": self.source,
            "regions": len(self.regions),
            "periods": len(self.years),
            "first period": self.years[0],
            "last period": self.years[-1],
            "subsystems": ", ".join(self.subsystems),
            "filled cells": len(self.filled),
        }
        tables = {}
        if self.indicators is not None:
            tables["indicators per subsystem"] = (
                self.indicators.groupby("subsystem", sort=False).size().rename("indicators").reset_index()
            )
        return Summary("Panel", facts, tables)


def _reshape_long(
    raw: pd.DataFrame, region: str, year: str, indicator_col: str, value_col: str, where: str, first: int = 2
) -> pd.DataFrame:
    extra = [c for c in raw.columns if c not in (region, year, indicator_col, value_col)]
    if extra:
        raise InputError(
            f"a long-form panel has exactly the columns {region}, {year}, {indicator_col}, "
            f"{value_col}; found also {_listing(extra)}. Remove them or use the wide form.",
            source=where,
        )
    key = [region, year, indicator_col]
    dup = raw[raw.duplicated(key, keep=False)]
    if len(dup):
        rows = [f"row {i + first} ({r}, {y}, {k})" for i, (r, y, k) in zip(dup.index, dup[key].itertuples(index=False))]
        raise InputError(
            f"duplicate {region}-{year}-{indicator_col} rows: {_listing(rows)}. Keep one value "
            "per region, year and indicator.",
            source=where,
        )
    wide = raw.pivot(index=[region, year], columns=indicator_col, values=value_col)
    wide.columns = [str(c) for c in wide.columns]
    wide = wide.reset_index()
    return wide


def _int_ids(ids: pd.Series) -> pd.Series:
    """Region ids read as text: whole numbers without leading zeros become integers again."""
    text = ids.astype(object)
    plain = text.map(lambda v: isinstance(v, str) and re.fullmatch(r"\s*-?(0|[1-9][0-9]*)\s*", v) is not None)
    return text.map(int).astype("int64") if len(text) and plain.all() else ids


def _plain_value(v):
    return v.item() if isinstance(v, np.generic) else v


def _check_unique_columns(raw: pd.DataFrame, where: str) -> None:
    """A DataFrame panel must name every column once (a file's header is checked when it is read)."""
    names = pd.Index([str(c).strip() for c in raw.columns])
    dup = list(dict.fromkeys(names[names.duplicated()]))
    if dup:
        raise InputError(
            f"column(s) {_listing(dup)} appear more than once in the DataFrame. Give every column "
            "a unique name (e.g. df.columns = [...]).",
            source=where,
        )


def _check_ranges(table: pd.DataFrame, value_cols, where: str) -> None:
    """Refuse indicators whose range overflows (max - min is infinite), which would look constant later."""
    with np.errstate(over="ignore", invalid="ignore"):
        wide = [
            f"{c} ({np.nanmin(table[c]):.3g} to {np.nanmax(table[c]):.3g})"
            for c in value_cols
            if table[c].notna().any() and not np.isfinite(np.nanmax(table[c]) - np.nanmin(table[c]))
        ]
    if wide:
        raise InputError(
            f"indicator(s) whose values span more than floating-point arithmetic can hold (max - min "
            f"overflows): {_listing(wide)}. Rescale them (e.g. divide by 1e300, or use another unit).",
            source=where,
        )


def _check_years(years: pd.Series, where: str, year: str, first: int = 2) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(years) or any(
        isinstance(v, (pd.Timestamp, np.datetime64)) for v in years.iloc[:50]
    ):
        shown = ", ".join(str(v)[:19] for v in years.iloc[:3])
        raise InputError(
            f"the year column '{year}' holds dates ({shown}, ...), not years. Enter whole years such "
            "as 2014 (in Excel: format the column as a number, or use =YEAR(cell)).",
            source=where,
        )
    num = pd.to_numeric(years, errors="coerce")
    bad = [f"row {i + first} ({v!r})" for i, (v, n) in enumerate(zip(years, num)) if pd.isna(n)]
    if bad:
        raise InputError(
            f"non-numeric or missing value(s) in the year column '{year}': {_listing(bad)}. "
            "Years must be whole numbers such as 2014.",
            source=where,
        )
    huge = [
        f"row {i + first} ({_plain_value(years.iloc[i])!r})"
        for i, v in enumerate(num)
        if not np.isfinite(float(v)) or abs(float(v)) > _MAX_YEAR
    ]
    if huge:
        raise InputError(
            f"implausible value(s) in the year column '{year}': {_listing(huge)}. Years must be whole "
            f"numbers such as 2014 (between -{_MAX_YEAR} and {_MAX_YEAR}).",
            source=where,
        )
    frac = [f"row {i + first} ({v})" for i, v in enumerate(num) if float(v) != int(v)]
    if frac:
        raise InputError(f"year column '{year}' has non-integer values: {_listing(frac)}.", source=where)
    return num.astype(int)


def load_panel(
    panel,
    indicators=None,
    *,
    region: str = "region",
    year: str = "year",
    missing: str = "error",
    ignore: Sequence[str] = (),
    indices: bool = False,
    subsystems: Sequence[str] | None = None,
    variables: Sequence[str] | None = None,
    form: str = "auto",
    indicator_column: str = "indicator",
    value_column: str = "value",
    encoding: str = "utf-8-sig",
    sheet=None,
    indicators_where: str | None = None,
    indicators_encoding: str | None = None,
) -> PanelData:
    """Read and validate a region-year panel.

    Parameters
    ----------
    panel : str, pathlib.Path or pandas.DataFrame
        The panel file (CSV, Excel, Stata) or DataFrame; never modified.
    indicators : str, pathlib.Path, pandas.DataFrame or list of dict, optional
        The indicator list (required unless ``indices=True``).
    region, year : str
        Names of the region and year columns.
    missing : {"error", "interpolate"}
        Missing cells are an error, or are filled linearly within a region
        between observed years (never extrapolated); filled cells are
        recorded in :attr:`PanelData.filled`.
    ignore : sequence of str
        Panel columns that are not indicators.
    indices : bool
        True when the panel holds subsystem indices in [0, 1] already.
    subsystems : sequence of str, optional
        With ``indices=True``: the index columns (default: every column that
        is not region, year or ignored).
    variables : sequence of str, optional
        Panel columns analysed as they are (``[data] variables``): no
        indicator list, no normalization; each variable is one "subsystem"
        of the outputs. Excludes ``indicators`` and ``indices=True``; other
        panel columns are not read.
    form : {"auto", "wide", "long"}
        Long form has columns region, year, ``indicator_column``,
        ``value_column``; "auto" detects it from those names.
    indicator_column, value_column : str
        Column names of the long form.
    encoding : str
        Text encoding of CSV files (the panel, and the indicator list unless
        ``indicators_encoding`` is given).
    sheet : str or int, optional
        Excel sheet.
    indicators_where : str, optional
        How messages name the indicator list.
    indicators_encoding : str, optional
        Text encoding of the indicator list when it differs from the
        panel's (``[data] indicators_encoding``).

    Returns
    -------
    PanelData

    Raises
    ------
    InputError
        For every validation failure listed in docs/input-formats.md. The
        data problems (duplicate rows, non-numeric, infinite and missing
        cells, unequal spacing, an unbalanced panel) are reported together,
        every category at once with at most ten cases each.
    """
    if form not in ("auto", "wide", "long"):
        raise InputError(f"form must be 'auto', 'wide' or 'long', not {form!r}.", source="config [data]")
    if missing not in ("error", "interpolate"):
        raise InputError(f"missing must be 'error' or 'interpolate', not {missing!r}.", source="config [data]")
    variables = list(variables or [])
    if variables and (indices or indicators is not None):
        raise InputError(
            "[data] variables names panel columns analysed as they are; it cannot be combined with "
            "an indicator list or indices = true. Remove [data] indicators / indices, or remove variables.",
            source="config [data]",
        )
    raw, where, first = _read_raw(panel, region, year, encoding, sheet)
    is_long = form == "long" or (
        form == "auto"
        and indicator_column in raw.columns
        and value_column in raw.columns
        and not indices
        and not variables
    )
    _check_region_ids(raw, region, where, first)
    raw[year] = _check_years(raw[year], where, year, first)
    problems: list[str] = []
    if is_long:
        raw = _reshape_long(raw, region, year, indicator_column, value_column, where, first)
        line_of = None
    else:
        problems += _duplicate_rows(raw, region, year, first)
        line_of = {idx: idx + first for idx in raw.index}
    ignore = list(ignore)
    not_there = [c for c in ignore if c not in raw.columns]
    if not_there:
        raise InputError(f"[data] ignore names column(s) not in the panel: {_listing(not_there)}.", source=where)
    data_cols = [c for c in raw.columns if c not in (region, year) and c not in ignore]
    ind_table = None
    if variables:
        value_cols = subsystem_names = _raw_variable_columns(raw, variables, ignore, data_cols, where)
    elif indices:
        value_cols = subsystem_names = _index_columns(raw, subsystems, data_cols, where)
    else:
        if indicators is None:
            raise InputError(
                "no indicator list given. Set [data] indicators to a CSV/XLSX file or an inline "
                "list, set [data] indices = true if the panel holds subsystem indices, or name the "
                "columns to analyse as they are in [data] variables.",
                source="config [data]",
            )
        ind_table = read_indicators(indicators, where=indicators_where, encoding=indicators_encoding or encoding)
        value_cols = _indicator_columns(raw, ind_table, ignore, data_cols, where)
        subsystem_names = _listed_subsystems(ind_table, subsystems, indicators_where)

    table, missing_cells, cell_problems = _parse_values(raw, value_cols, region, year, line_of)
    problems += cell_problems
    if missing_cells and missing == "error":
        problems.append(
            f"missing cell(s): {_listing([m[2] for m in missing_cells])}. Fill them in, or "
            'set missing = "interpolate" in [data] to fill them linearly within each region '
            "(filled cells are listed in tables/filled_cells.csv)."
        )
    regions = list(dict.fromkeys(table[region]))
    years = sorted(set(int(y) for y in table[year]))
    if len(years) < 2:
        raise InputError(
            f"the panel has {len(years)} period(s) ({_listing(map(str, years))}); at least 2 are "
            "needed (dynamics are estimated from consecutive periods; the Haken and most "
            "other dynamic stages need 3).",
            source=where,
        )
    problems += _balance_problems(table, regions, years, region, year)
    if problems:
        raise InputError(_combined(problems), source=where)
    _check_ranges(table, value_cols, where)

    order = {r: i for i, r in enumerate(regions)}
    table = (
        table.assign(_o=table[region].map(order))
        .sort_values(["_o", year], kind="stable")
        .drop(columns="_o")
        .reset_index(drop=True)
    )
    filled = pd.DataFrame(columns=[region, year, "indicator", "value"])
    if missing_cells:
        table, filled = _interpolate(table, value_cols, region, year, where)
    # outputs use the canonical column names region and year (the ids themselves are the input's)
    clash = [c for c in value_cols if c in ("region", "year")]
    if clash:
        raise InputError(
            f"column(s) {_listing(clash)} are used as data columns, but 'region' and 'year' are reserved "
            "names in the outputs; rename them in the panel and the indicator list.",
            source=where,
        )
    table = table.rename(columns={region: "region", year: "year"})
    filled = filled.rename(columns={region: "region", year: "year"})
    return PanelData(
        table,
        ind_table,
        subsystem_names,
        regions,
        years,
        filled,
        where,
        "region",
        "year",
        indices,
        None if ind_table is None else _indicators_where(indicators, indicators_where),
        raw_variables=bool(variables),
    )


def _combined(problems: list[str]) -> str:
    """One message for every data problem found (each category once)."""
    if len(problems) == 1:
        return problems[0]
    lines = "\n".join(f"  {i}. {p}" for i, p in enumerate(problems, 1))
    return f"{len(problems)} kinds of data problem; fix all of them:\n{lines}"


def _read_raw(panel, region: str, year: str, encoding: str, sheet):
    """The panel as read (a copy), how messages name it and the file line of its first data row."""
    if isinstance(panel, pd.DataFrame):
        where = "panel (DataFrame)"
        raw = panel.copy()
        _check_unique_columns(raw, where)
    else:
        where = str(panel)
        raw = read_table(panel, encoding=encoding, sheet=sheet, what="panel", text_columns=[region])
    first = first_data_row(raw)  # file line of the first data row (2 unless comment lines precede the header)
    raw.columns = [str(c).strip() for c in raw.columns]
    if not isinstance(panel, pd.DataFrame) and region in raw.columns:
        raw[region] = _int_ids(raw[region])  # read as text: keep ids such as "01001" as they are
    for col in (region, year):
        if col not in raw.columns:
            role = "region" if col == region else "year"
            raise InputError(
                f"no {role} column '{col}'.{_suggest(col, raw.columns)} Columns found: "
                f'{_listing(raw.columns)}. Set `{role} = "<column>"` in the [data] table.',
                source=where,
            )
    if len(raw) == 0:
        raise InputError("the panel has no data rows.", source=where)
    return raw, where, first


def _check_region_ids(raw: pd.DataFrame, region: str, where: str, first: int) -> None:
    """Blank region ids are errors; text ids are stripped (in place on the copy)."""
    blank = [i + first for i, v in enumerate(raw[region]) if pd.isna(v) or str(v).strip() == ""]
    if blank:
        raise InputError(
            f"empty region id on row(s) {_listing(map(str, blank))} (rows are lines of the file).", source=where
        )
    if raw[region].dtype == object or pd.api.types.is_string_dtype(raw[region]):
        raw[region] = [str(v).strip() for v in raw[region]]


def _duplicate_rows(raw: pd.DataFrame, region: str, year: str, first: int) -> list[str]:
    dup = raw[raw.duplicated([region, year], keep=False)]
    if not len(dup):
        return []
    rows = [f"row {i + first} ({r}, {y})" for i, (r, y) in zip(dup.index, dup[[region, year]].itertuples(index=False))]
    return [
        f"duplicate {region}-{year} rows: {_listing(rows)}. Each region and year must "
        "appear once; remove or merge the repeated rows."
    ]


def _raw_variable_columns(raw, variables, ignore, data_cols, where) -> list[str]:
    """``[data] variables``: the named columns, each once, none ignored."""
    absent = [v for v in variables if v not in raw.columns]
    if absent:
        raise InputError(
            f"column(s) {_listing(absent)} named in [data] variables are not in the panel."
            f"{_suggest(absent[0], data_cols)} Columns found: {_listing(data_cols)}.",
            source=where,
        )
    twice = list(dict.fromkeys(v for v in variables if list(variables).count(v) > 1))
    clash = [v for v in variables if v in ignore]
    if twice or clash:
        raise InputError(
            f"[data] variables names {_listing(twice or clash)} "
            + ("more than once; name each column once." if twice else "which [data] ignore also lists; remove one."),
            source="config [data]",
        )
    return list(variables)


def _index_columns(raw, subsystems, data_cols, where) -> list[str]:
    """``indices = true``: the subsystem index columns (every data column unless named)."""
    subs = list(subsystems) if subsystems else data_cols
    absent = [s for s in subs if s not in raw.columns]
    if absent:
        raise InputError(
            f"index column(s) {_listing(absent)} not in the panel.{_suggest(absent[0], data_cols)}", source=where
        )
    unused = [c for c in data_cols if c not in subs]
    if unused:
        raise InputError(
            f"panel column(s) {_listing(unused)} are neither subsystem indices nor ignored. "
            "List them in [data] ignore, or name the index columns in [data] subsystems.",
            source=where,
        )
    return subs


def _indicator_columns(raw, ind_table, ignore, data_cols, where) -> list[str]:
    """The panel columns of the indicator list, which must match the panel's data columns."""
    listed = ind_table["indicator"].tolist()
    absent = [c for c in listed if c not in raw.columns]
    if absent:
        hints = "".join(f" '{a}':{_suggest(a, data_cols)}" for a in absent[:3] if _suggest(a, data_cols))
        raise InputError(
            f"indicator(s) in the indicator list but not in the panel: {_listing(absent)}."
            f"{hints} Fix the names in the indicator list or add the columns.",
            source=where,
        )
    unlisted = [c for c in data_cols if c not in listed]
    if unlisted:
        raise InputError(
            f"panel column(s) not in the indicator list: {_listing(unlisted)}. Add them to the "
            "indicator list, or name them in [data] ignore = [...] if they are not indicators.",
            source=where,
        )
    also_ignored = [c for c in listed if c in ignore]
    if also_ignored:
        raise InputError(
            f"column(s) {_listing(also_ignored)} are both in the indicator list and in [data] "
            "ignore; remove them from one of the two.",
            source=where,
        )
    return listed


def _listed_subsystems(ind_table, subsystems, indicators_where) -> list[str]:
    """The indicator list's subsystems, checked against ``[data] subsystems`` when given."""
    names = list(dict.fromkeys(ind_table["subsystem"]))
    if not subsystems:
        return names
    empty = [s for s in subsystems if s not in names]
    if empty:
        raise InputError(
            f"subsystem(s) {_listing(empty)} named in [data] subsystems have no indicators in "
            f"the indicator list (its subsystems: {_listing(names)}). Add indicators "
            "for them or correct the names.",
            source=indicators_where or "indicator list",
        )
    unnamed = [s for s in names if s not in subsystems]
    if unnamed:
        raise InputError(
            f"the indicator list has subsystem(s) {_listing(unnamed)} that [data] subsystems "
            "does not name; list every subsystem there, or leave subsystems empty.",
            source="config [data]",
        )
    return list(subsystems)


def _parse_values(raw, value_cols, region, year, line_of):
    """The numeric table, the missing cells and the problems of non-numeric and infinite cells.

    A numeric column's missing cells are its NaN (no number is written as
    blank text), so only text columns are converted to text for the check;
    infinite cells are found column by column.
    """

    def loc(idx):
        return f"row {line_of[idx]}" if line_of else f"{raw.at[idx, region]} {raw.at[idx, year]}"

    nonnum, missing_cells = [], []
    table = pd.DataFrame({region: raw[region].to_numpy(), year: raw[year].to_numpy()})
    for col in value_cols:
        s = raw[col]
        num = pd.to_numeric(s, errors="coerce")
        if pd.api.types.is_numeric_dtype(s.dtype):
            is_missing = s.isna()
        else:
            is_missing = s.isna() | s.astype(str).str.strip().eq("")
        for idx in raw.index[(num.isna() & ~is_missing).to_numpy()]:
            nonnum.append(f"{col} at {loc(idx)} ({s[idx]!r})")
        for idx in raw.index[is_missing.to_numpy()]:
            missing_cells.append((col, idx, f"{col} at {loc(idx)} ({raw.at[idx, region]}, {raw.at[idx, year]})"))
        table[col] = num.astype(float).to_numpy()
    problems = []
    if nonnum:
        problems.append(
            f"non-numeric cell(s): {_listing(nonnum)}. Enter numbers (no units, "
            "thousands separators or notes) or leave the cell empty."
        )
    infinite = [(c, np.flatnonzero(np.isinf(table[c].to_numpy()))) for c in value_cols]
    if any(len(at) for _, at in infinite):
        regs, yrs = list(table[region]), list(table[year])
        inf_cells = [f"{c} ({regs[i]}, {yrs[i]})" for c, at in infinite for i in at.tolist()]
        problems.append(f"infinite value(s): {_listing(inf_cells)}.")
    return table, missing_cells, problems


def _balance_problems(table, regions, years, region, year) -> list[str]:
    """Unequal spacing of the periods and region-year rows missing from the panel."""
    steps = np.diff(years)
    step = int(steps.min())
    if (steps != step).any():
        expected = list(range(years[0], years[-1] + 1, step))
        gaps = [y for y in expected if y not in years]
        if gaps and all((y - years[0]) % step == 0 for y in years):
            return [
                f"years are not equally spaced: missing year(s) {_listing(map(str, gaps))} between "
                f"{years[0]} and {years[-1]} (step {step}). Add the missing periods."
            ]
        return [
            f"years are not equally spaced: {_listing(map(str, years))}. Use annual, decadal or "
            "other equally spaced periods."
        ]
    present = set(zip(table[region], table[year]))
    holes = [f"{r} {y}" for r in regions for y in years if (r, y) not in present]
    if not holes:
        return []
    return [
        f"unbalanced panel: region-year row(s) missing: {_listing(holes)}. Every region needs a "
        f"row for every period {years[0]}-{years[-1]} (cells may be empty with "
        'missing = "interpolate").'
    ]


def _interpolate(table: pd.DataFrame, cols, region, year, where):
    out = table.copy()
    rows = []
    edge = []
    for col in cols:
        for r, grp in out.groupby(region, sort=False):
            s = grp[col]
            if not s.isna().any():
                continue
            yrs = grp[year].to_numpy(dtype=float)
            ok = ~s.isna().to_numpy()
            if ok.sum() == 0:
                edge.append(f"{col} for {r} (no observed value)")
                continue
            lo, hi = yrs[ok].min(), yrs[ok].max()
            for idx, y, isna in zip(grp.index, yrs, ~ok):
                if isna and (y < lo or y > hi):
                    edge.append(f"{col} at ({r}, {int(y)})")
            if any(isna and lo <= y <= hi for y, isna in zip(yrs, ~ok)):
                filled_vals = np.interp(yrs, yrs[ok], s.to_numpy()[ok])
                for idx, y, isna, v in zip(grp.index, yrs, ~ok, filled_vals):
                    if isna and lo <= y <= hi:
                        out.at[idx, col] = v
                        rows.append((r, int(y), col, float(v)))
    if edge:
        raise InputError(
            f"missing cell(s) that interpolation cannot fill (before the first or after the last "
            f"observed year of the region, never extrapolated): {_listing(edge)}. Fill them in "
            "the data.",
            source=where,
        )
    filled = pd.DataFrame(rows, columns=[region, year, "indicator", "value"])
    return out, filled
