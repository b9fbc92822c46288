"""Reading user tables and writing the output folder's tables.

Readers accept CSV (UTF-8, with or without BOM, or an explicit encoding),
Excel (.xlsx, .xlsm) and Stata (.dta).  Every failure raises
:class:`~nqpspatial.errors.InputError` naming the file and the fix.
"""

from __future__ import annotations

import datetime
import errno
import os
import re
import stat
from pathlib import Path
from typing import Mapping

import pandas as pd

from .errors import InputError

__all__ = ["read_table", "write_csv", "write_workbook", "excel_sheet_name", "EXCEL_MAX_ROWS", "check_input_file",
           "read_output_table", "escape_formula", "unescape_formula"]

EXCEL_MAX_ROWS = 1_048_576
#: Document time stored in tables.xlsx (fixed, so that the same tables give the same bytes).
WORKBOOK_TIME = datetime.datetime(2000, 1, 1, 0, 0, 0)
_SUFFIXES = {".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".xlsx": "excel", ".xlsm": "excel",
             ".xls": "excel", ".dta": "stata"}


_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def check_input_file(path, what: str, key: str | None = None, error=InputError) -> Path:
    """Refuse anything but an existing regular file, without opening it.

    A FIFO would block forever and a device such as ``/dev/zero`` would be
    read until memory runs out, so the file's type is checked with
    :func:`os.stat` before anything reads it.

    Parameters
    ----------
    path : str or pathlib.Path
        The file (symbolic links are followed; a loop of links is refused).
    what : str
        What the file is, for messages (e.g. "panel").
    key : str, optional
        The config key that names the file (e.g. "[data] panel"), for the fix.
    error : type
        The exception class raised (:class:`InputError` or a subclass).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    InputError
        The path does not exist, is a folder, a FIFO, a device or a socket,
        or runs through a loop of symbolic links.
    """
    p = Path(path)
    fix = f" Fix {key} in the config." if key else ""
    if not str(path).strip():
        raise error(f"no {what} file given (the name is empty).{fix}", source=key or what)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise error(f"the {what} file does not exist. Check the path (relative paths in a config are resolved "
                    f"from the config file's folder).{fix}", source=str(p)) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise error(f"the {what} path is a loop of symbolic links; point it at the file itself.{fix}",
                        source=str(p)) from None
        if exc.errno == errno.ENAMETOOLONG:
            raise error(f"the {what} path is too long for the filesystem.{fix}", source=str(p)[:200]) from None
        if exc.errno == errno.ENOTDIR:
            raise error(f"the {what} path runs through a file as if it were a folder.{fix}", source=str(p)) \
                from None
        raise error(f"cannot access the {what} file: {exc.strerror}. Check the path and its permissions.{fix}",
                    source=str(p)) from None
    if stat.S_ISDIR(st.st_mode):
        raise error(f"expected a {what} file but found a folder. Name the file itself.{fix}", source=str(p))
    if not stat.S_ISREG(st.st_mode):
        kind = next((name for test, name in _KINDS if test(st.st_mode)), "not a regular file")
        raise error(f"the {what} is {kind}, not a regular file; nqpspatial reads only regular files. Save the "
                    f"data to a file and name that file.{fix}", source=str(p))
    return p


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
    p = check_input_file(path, what)
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


#: Characters that make a spreadsheet read a cell as a formula (OWASP, "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)", re.IGNORECASE)


def escape_formula(text: str) -> str:
    """``text`` with a leading apostrophe when a spreadsheet would read it as a formula.

    A text that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
    return (after any apostrophes) gets one more apostrophe in front, unless
    it is a number (``-0.5``, ``+1e-3``, ``-inf`` stay as they are).
    :func:`unescape_formula` inverts it exactly.
    """
    if not isinstance(text, str) or not text.lstrip("'").startswith(FORMULA_START) or _NUMBER.fullmatch(text):
        return text
    return "'" + text


def unescape_formula(text):
    """Invert :func:`escape_formula` (other values are returned unchanged)."""
    if isinstance(text, str) and text.startswith("'") and text[1:].lstrip("'").startswith(FORMULA_START):
        return text[1:]
    return text


def _escaped(table: pd.DataFrame) -> pd.DataFrame:
    cols = [escape_formula(str(c)) for c in table.columns]
    text_cols = [c for c in table.columns if table[c].dtype == object or pd.api.types.is_string_dtype(table[c])]
    if cols == [str(c) for c in table.columns] and not text_cols:
        return table
    out = table.copy()
    for c in text_cols:
        out[c] = out[c].map(escape_formula)
    out.columns = cols
    return out


def write_csv(table: pd.DataFrame, path, *, escape_formulas: bool = True) -> None:
    """Write a table as UTF-8 with BOM (so Excel shows Chinese text).

    Parameters
    ----------
    table : pandas.DataFrame
        Written without its index.
    path : str or pathlib.Path
        Target file.
    escape_formulas : bool, default True
        Write a text cell (or column name) that a spreadsheet would run as a
        formula with a leading apostrophe (see :func:`escape_formula`;
        ``[run] escape_csv_formulas``).  :func:`read_output_table` strips
        it again.
    """
    (_escaped(table) if escape_formulas else table).to_csv(path, index=False, encoding="utf-8-sig",
                                                          lineterminator="\n")


def read_output_table(path, table: str | None = None, *, source: str = "csv", dtype=None) -> pd.DataFrame:
    """Read a table of an nqpspatial output folder as it was computed.

    CSV cells (and column names) that were written with a leading
    apostrophe against formula injection (``[run] escape_csv_formulas``)
    are returned without it; empty cells are NaN.

    Parameters
    ----------
    path : str or pathlib.Path
        A ``tables/<name>.csv`` file, or an output folder.
    table : str, optional
        With a folder: the table name (e.g. ``"indices"``).
    source : {"csv", "xlsx"}
        With a folder: read ``tables/<table>.csv`` or the table's sheet of
        ``tables.xlsx`` (named in ``run.json``).
    dtype : optional
        Passed to :func:`pandas.read_csv` (e.g. ``{"region": str}``).

    Returns
    -------
    pandas.DataFrame
    """
    p = Path(path)
    if p.is_dir():
        if table is None:
            raise ValueError("give the table name when path is an output folder")
        if source == "xlsx":
            import json

            sheets = json.loads((p / "run.json").read_text(encoding="utf-8")).get("workbook", {}).get("sheets", {})
            if table not in sheets:
                raise KeyError(f"no sheet for table '{table}' in {p / 'tables.xlsx'}")
            return pd.read_excel(p / "tables.xlsx", sheet_name=sheets[table], dtype=dtype)
        if source != "csv":
            raise ValueError(f"source must be 'csv' or 'xlsx', not {source!r}")
        p = p / "tables" / f"{table}.csv"
    out = pd.read_csv(p, encoding="utf-8-sig", keep_default_na=False, na_values=[""], dtype=dtype)
    out.columns = [unescape_formula(str(c)) for c in out.columns]
    for c in out.columns:
        if out[c].dtype == object or pd.api.types.is_string_dtype(out[c]):
            out[c] = out[c].map(unescape_formula)
    return out


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
    wb.set_properties({"created": WORKBOOK_TIME})  # fixed: the same tables give the same bytes
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
    for j, c in enumerate(tab.columns):  # text, never a formula
        ws.write_string(0, j, str(c))
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
