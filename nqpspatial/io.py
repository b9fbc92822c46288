"""Reading user tables and writing the output folder's tables.

Readers accept CSV (UTF-8, with or without BOM, or an explicit encoding),
Excel (.xlsx, .xlsm) and Stata (.dta).  Every failure raises
:class:`~nqpspatial.errors.InputError` naming the file and the fix.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

import pandas as pd

from .errors import InputError

__all__ = ["read_table", "write_csv", "write_workbook", "excel_sheet_name", "EXCEL_MAX_ROWS"]

EXCEL_MAX_ROWS = 1_048_576
_SUFFIXES = {".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".xlsx": "excel", ".xlsm": "excel",
             ".xls": "excel", ".dta": "stata"}


def _leading_comment_lines(path: Path, encoding: str) -> int:
    """Number of lines at the top of a text file that start with ``#``."""
    n = 0
    with open(path, encoding=encoding, newline="") as fh:
        for line in fh:
            if not line.lstrip("\ufeff").startswith("#"):
                break
            n += 1
    return n


def first_data_row(table: pd.DataFrame) -> int:
    """File line of the first data row of a table from :func:`read_table` (2 without comment lines)."""
    return int(table.attrs.get("header_line", 1)) + 1


def read_table(path, *, encoding: str = "utf-8-sig", sheet=None, what: str = "table",
               text_columns=()) -> pd.DataFrame:
    """Read a CSV, Excel or Stata file into a DataFrame.

    Parameters
    ----------
    path : str or pathlib.Path
        The file.  Its suffix decides the format: ``.csv``/``.txt``
        (comma-separated), ``.tsv``, ``.xlsx``/``.xlsm``/``.xls``, ``.dta``.
    encoding : str, default "utf-8-sig"
        Text encoding of CSV files; the default reads UTF-8 with or without
        the byte-order mark that Excel writes.
    sheet : str or int, optional
        Excel sheet (default: the first).
    what : str
        What the file is (used in messages, e.g. "panel").
    text_columns : sequence of str, optional
        CSV columns read as text, so that ids such as ``"01001"`` keep
        their leading zeros (absent columns are ignored).

    Returns
    -------
    pandas.DataFrame
        The table as read; no rows are dropped.  Cells that are empty in
        the file are NaN.  Lines at the top of a CSV that start with ``#``
        are comments (the bundled demo says there that it is synthetic);
        ``attrs["header_line"]`` is the file line of the header.

    Raises
    ------
    InputError
        Missing or unreadable file, unknown format, bad encoding.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"the {what} file does not exist. Check the path (relative paths in a config "
                         f"are resolved from the config file's folder).", source=str(p))
    if p.is_dir():
        raise InputError(f"expected a {what} file but found a folder.", source=str(p))
    kind = _SUFFIXES.get(p.suffix.lower())
    if kind is None:
        raise InputError(f"unknown file type '{p.suffix}' for the {what}; use .csv, .xlsx or .dta.",
                         source=str(p))
    try:
        if kind in ("csv", "tsv"):
            try:
                comments = _leading_comment_lines(p, encoding)
                table = pd.read_csv(p, encoding=encoding, sep="\t" if kind == "tsv" else ",",
                                    skipinitialspace=True, keep_default_na=False, na_values=[""],
                                    skiprows=comments, dtype={c: str for c in text_columns} or None)
                table.attrs["header_line"] = comments + 1
                return table
            except LookupError:  # codec name unknown
                raise InputError(f"unknown text encoding {encoding!r} for the {what}. Set [data] encoding to a "
                                 "Python codec name such as \"utf-8-sig\" (the default) or \"gb18030\".",
                                 source=str(p)) from None
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"the {what} is not valid {encoding} text ({exc.reason} at byte {exc.start}). "
                    "Save it as UTF-8 (Excel: 'CSV UTF-8'), or set the file's encoding with "
                    "`encoding = \"gb18030\"` (for example) in the [data] table.", source=str(p)) from None
        if kind == "excel":
            if sheet is not None and not isinstance(sheet, int):
                names = pd.ExcelFile(p).sheet_names
                if sheet not in names:
                    raise InputError(f"the {what} workbook has no sheet {sheet!r}; its sheets: "
                                     f"{', '.join(map(repr, names))}. Set sheet = \"<name>\" in [data] to one "
                                     "of them.", source=str(p))
            return pd.read_excel(p, sheet_name=0 if sheet is None else sheet)
        return pd.read_stata(p)
    except InputError:
        raise
    except pd.errors.EmptyDataError:
        raise InputError(f"the {what} file is empty.", source=str(p)) from None
    except (ValueError, OSError, KeyError, pd.errors.ParserError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot read the {what}: {msg}. Check that the file is a valid "
                         f"{kind.upper() if kind != 'excel' else 'Excel'} file.", source=str(p)) from None


def write_csv(table: pd.DataFrame, path) -> None:
    """Write a table as UTF-8 with BOM (so Excel shows Chinese text).

    Parameters
    ----------
    table : pandas.DataFrame
        Written without its index.
    path : str or pathlib.Path
        Target file.
    """
    table.to_csv(path, index=False, encoding="utf-8-sig")


_BAD_SHEET = re.compile(r"[\[\]:*?/\\]")


def excel_sheet_name(name: str, taken: set[str]) -> str:
    """A valid, unique Excel sheet name: at most 31 characters, none of ``[]:*?/\\``.

    Parameters
    ----------
    name : str
        Desired name.
    taken : set of str
        Names already used (compared case-insensitively, as Excel does).

    Returns
    -------
    str
    """
    base = _BAD_SHEET.sub("_", name)[:31] or "sheet"
    candidate, i = base, 1
    lowered = {t.lower() for t in taken}
    while candidate.lower() in lowered:
        suffix = f"~{i}"
        candidate = base[: 31 - len(suffix)] + suffix
        i += 1
    return candidate


def write_workbook(tables: Mapping[str, pd.DataFrame], path) -> dict[str, str]:
    """Write tables to one Excel workbook, one sheet per table.

    Tables longer than Excel's row limit are left out.  Numbers are written
    as numbers (NaN as an empty cell), booleans as booleans, everything else
    as text.

    Parameters
    ----------
    tables : mapping of str to pandas.DataFrame
        Table name -> table.
    path : str or pathlib.Path
        The ``.xlsx`` file.

    Returns
    -------
    dict
        ``{"sheets": {table: sheet}, "left_out": {table: reason}}``.
    """
    import xlsxwriter

    sheets: dict[str, str] = {}
    left_out: dict[str, str] = {}
    taken: set[str] = set()
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False,
                                        "strings_to_formulas": False, "strings_to_urls": False})
    try:
        for name, tab in tables.items():
            if len(tab) + 1 > EXCEL_MAX_ROWS:
                left_out[name] = f"{len(tab)} rows exceed Excel's limit of {EXCEL_MAX_ROWS - 1} data rows"
                continue
            sheet = excel_sheet_name(name, taken)
            taken.add(sheet)
            sheets[name] = sheet
            _write_sheet(wb.add_worksheet(sheet), tab)
        if not sheets:
            wb.add_worksheet("note").write_string(0, 0, "no table fits in a workbook")
    finally:
        wb.close()
    return {"sheets": sheets, "left_out": left_out}


def _write_sheet(ws, tab: pd.DataFrame) -> None:
    ws.write_row(0, 0, [str(c) for c in tab.columns])
    cols = []
    for c in tab.columns:
        s = tab[c]
        if pd.api.types.is_bool_dtype(s):
            cols.append((ws.write_boolean, [None if pd.isna(v) else bool(v) for v in s.astype(object)], None))
        elif pd.api.types.is_numeric_dtype(s):
            arr = s.to_numpy(dtype=float, na_value=float("nan"))
            cols.append((ws.write_number, arr.tolist(), True))
        else:
            vals = [None if (v is None or (isinstance(v, float) and v != v) or v is pd.NA) else str(v)
                    for v in s.astype(object).to_numpy()]
            cols.append((ws.write_string, vals, False))
    for i in range(len(tab)):
        row = i + 1
        for j, (write, vals, numeric) in enumerate(cols):
            v = vals[i]
            if v is None or (numeric and (v != v or v in (float("inf"), float("-inf")))):
                continue
            write(row, j, v)
