"""Reading user tables and writing the output folder's tables.

Readers accept CSV (UTF-8, with or without BOM, or an explicit encoding),
Excel (.xlsx, .xlsm) and Stata (.dta).  Every failure raises
:class:`~nqpspatial.errors.InputError` naming the file and the fix.
"""

from __future__ import annotations

import csv
import datetime
import errno
import io as _io
import os
import re
import stat
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from .errors import InputError

__all__ = [
    "read_table",
    "write_csv",
    "write_workbook",
    "excel_sheet_name",
    "EXCEL_MAX_ROWS",
    "check_input_file",
    "read_output_table",
    "escape_formula",
    "unescape_formula",
]

EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_COLUMNS = 16_384
#: Document time stored in tables.xlsx (fixed, so that the same tables give the same bytes).
WORKBOOK_TIME = datetime.datetime(2000, 1, 1, 0, 0, 0)
_SUFFIXES = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "tsv",
    ".xlsx": "excel",
    ".xlsm": "excel",
    ".xls": "excel",
    ".dta": "stata",
}


_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


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
        raise error(
            f"the {what} file does not exist. Check the path (relative paths in a config are resolved "
            f"from the config file's folder).{fix}",
            source=str(p),
        ) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise error(
                f"the {what} path is a loop of symbolic links; point it at the file itself.{fix}", source=str(p)
            ) from None
        if exc.errno == errno.ENAMETOOLONG:
            raise error(f"the {what} path is too long for the filesystem.{fix}", source=str(p)[:200]) from None
        if exc.errno == errno.ENOTDIR:
            raise error(f"the {what} path runs through a file as if it were a folder.{fix}", source=str(p)) from None
        raise error(
            f"cannot access the {what} file: {exc.strerror}. Check the path and its permissions.{fix}", source=str(p)
        ) from None
    if stat.S_ISDIR(st.st_mode):
        raise error(f"expected a {what} file but found a folder. Name the file itself.{fix}", source=str(p))
    if not stat.S_ISREG(st.st_mode):
        kind = next((name for test, name in _KINDS if test(st.st_mode)), "not a regular file")
        raise error(
            f"the {what} is {kind}, not a regular file; nqpspatial reads only regular files. Save the "
            f"data to a file and name that file.{fix}",
            source=str(p),
        )
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


def read_table(path, *, encoding: str = "utf-8-sig", sheet=None, what: str = "table", text_columns=()) -> pd.DataFrame:
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
        raise InputError(f"unknown file type '{p.suffix}' for the {what}; use .csv, .xlsx or .dta.", source=str(p))
    _check_magic(p, kind, what)
    key = "indicators_encoding" if what == "indicator list" else "encoding"
    try:
        if kind in ("csv", "tsv"):
            return _read_csv(p, kind, encoding, what, key, text_columns)
        if kind == "excel":
            return _read_excel(p, sheet, what)
        return pd.read_stata(p)
    except InputError:
        raise
    except pd.errors.EmptyDataError:
        raise InputError(f"the {what} file is empty.", source=str(p)) from None
    except PermissionError:
        raise InputError(
            f"the {what} file cannot be opened: permission denied. Give yourself read permission "
            "(or copy the file to a folder you own).",
            source=str(p),
        ) from None
    except (ValueError, OSError, KeyError, pd.errors.ParserError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(
            f"cannot read the {what}: {msg[:200]}. Check that the file is a valid "
            f"{kind.upper() if kind != 'excel' else 'Excel'} file.",
            source=str(p),
        ) from None


_MAGIC = {
    b"PK\x03\x04": "an Excel workbook (.xlsx) or another zip archive",
    b"\xd0\xcf\x11\xe0": "an old Excel workbook (.xls)",
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"SQLite format 3": "a SQLite database or GeoPackage",
}


def _check_magic(p: Path, kind: str, what: str) -> None:
    """Refuse a file whose first bytes contradict its suffix (an xlsx named .csv, a CSV named .xlsx)."""
    with open(p, "rb") as fh:
        head = fh.read(16)
    found = next((name for magic, name in _MAGIC.items() if head.startswith(magic)), None)
    if kind in ("csv", "tsv") and found:
        fix = " Rename it to .xlsx (or save it as CSV)." if "Excel" in found else " Give the CSV file instead."
        raise InputError(f"the {what} is named {p.suffix} but is {found}, not a text table.{fix}", source=str(p))
    if kind == "excel":
        zip_ok = head.startswith(b"PK\x03\x04") and p.suffix.lower() in (".xlsx", ".xlsm")
        ole_ok = head.startswith(b"\xd0\xcf\x11\xe0") and p.suffix.lower() == ".xls"
        if not (zip_ok or ole_ok):
            what_it_is = found or ("a text file (CSV?)" if _looks_text(head) else "not an Excel workbook")
            raise InputError(
                f"the {what} is named {p.suffix} but is {what_it_is}. Rename a CSV file to .csv, or "
                "save the workbook again from Excel as .xlsx.",
                source=str(p),
            )


def _looks_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        try:
            head.decode("gb18030")
        except UnicodeDecodeError:
            return False
    return b"\x00" not in head


def _read_csv(p: Path, kind: str, encoding: str, what: str, key: str, text_columns) -> pd.DataFrame:
    sep = "\t" if kind == "tsv" else ","
    try:
        comments = _leading_comment_lines(p, encoding)
        header = _header_fields(p, encoding, sep, comments)
        _check_header(header, p, what, sep)
        try:
            table = pd.read_csv(
                p,
                encoding=encoding,
                sep=sep,
                skipinitialspace=True,
                keep_default_na=False,
                na_values=[""],
                skiprows=comments,
                dtype={c: str for c in text_columns} or None,
            )
        except pd.errors.ParserError as exc:
            if "EOF inside string" in str(exc):
                raise InputError(
                    'a double quote (") opens a value that is never closed. Remove the stray quote '
                    'or close it (a value containing a quote is written with two: "").',
                    source=str(p),
                ) from None
            line = _ragged_line(p, encoding, sep, comments, len(header))
            if line is None:
                raise
            raise InputError(
                f"line {line[0]} of the file has {line[1]} fields but the header has {len(header)}. "
                "Remove the extra separator (a value containing a comma needs double quotes).",
                source=str(p),
            ) from None
        table.attrs["header_line"] = comments + 1
        return table
    except LookupError:  # codec name unknown
        raise InputError(
            f"unknown text encoding {encoding!r} for the {what}. Set [data] {key} to a "
            'Python codec name such as "utf-8-sig" (the default) or "gb18030".',
            source=str(p),
        ) from None
    except UnicodeDecodeError as exc:
        raise InputError(
            f"the {what} is not valid {encoding} text ({exc.reason} at byte {exc.start}). "
            "Save it as UTF-8 (Excel: 'CSV UTF-8'), or set the file's encoding with "
            f'`{key} = "gb18030"` (for example) in the [data] table.',
            source=str(p),
        ) from None


def _header_fields(p: Path, encoding: str, sep: str, skip: int) -> list[str]:
    import csv

    with open(p, encoding=encoding, newline="") as fh:
        for _ in range(skip):
            fh.readline()
        line = fh.readline(1 << 20)
    if not line.strip():
        return []
    return next(csv.reader([line.lstrip("\ufeff")], delimiter=sep), [])


def _check_header(header: list[str], p: Path, what: str, sep: str) -> None:
    """Refuse a header that is not one (binary data, another separator) or names a column twice."""
    if not header:
        return
    joined = sep.join(header)
    if any(ord(ch) < 32 and ch not in "\t" for ch in joined):
        raise InputError(
            f"the {what} does not look like a text table (its first line holds control characters). "
            "Give a CSV file with a header line of column names.",
            source=str(p),
        )
    if len(header) == 1:
        for cand, name in ((";", "semicolons (;)"), ("\t", "tabs"), ("|", "vertical bars (|)")):
            if cand != sep and len(header[0].split(cand)) >= 2:
                fix = (
                    "rename the file to .tsv"
                    if cand == "\t"
                    else "save it comma-separated (Excel: 'CSV UTF-8 (comma delimited)')"
                )
                raise InputError(
                    f"the {what} is separated by {name}, not commas: its header line splits into "
                    f"{len(header[0].split(cand))} columns at {name}. Fix: {fix}.",
                    source=str(p),
                )
        if len(header[0]) > 60 or any(ch in header[0] for ch in "<>{}[]="):
            raise InputError(
                f"the {what}'s first line is one field of {len(header[0])} characters, not a header of "
                "column names. Give a comma-separated table with a header line.",
                source=str(p),
            )
    names = [h.strip() for h in header]
    unnamed = [i + 1 for i, n in enumerate(names) if not n]
    if unnamed and len(names) > 1:
        raise InputError(
            f"column(s) {', '.join(map(str, unnamed[:10]))} of the {what}'s header have no name (a "
            "trailing comma, or an empty header cell). Name the column(s) or delete them.",
            source=str(p),
        )
    seen, dup = set(), []
    for i, n in enumerate(names):
        if n in seen and n not in dup:
            dup.append(n)
        seen.add(n)
    if dup:
        where = "; ".join(
            f"'{d[:60]}' in columns {', '.join(str(i + 1) for i, n in enumerate(names) if n == d)}" for d in dup[:5]
        )
        raise InputError(
            f"the {what}'s header names a column more than once: {where}. Give every column a unique name.",
            source=str(p),
        )


def _ragged_line(p: Path, encoding: str, sep: str, skip: int, width: int):
    """(file line, fields) of the first record with more fields than the header, counting physical lines."""
    import csv

    with open(p, encoding=encoding, newline="") as fh:
        reader = csv.reader(fh, delimiter=sep)
        for i, rec in enumerate(reader):
            if i <= skip:
                continue
            if len(rec) > width:
                return reader.line_num, len(rec)
    return None


def _read_excel(p: Path, sheet, what: str) -> pd.DataFrame:
    book = pd.ExcelFile(p)
    names = book.sheet_names
    if sheet is not None and not isinstance(sheet, int):
        if sheet not in names:
            raise InputError(
                f"the {what} workbook has no sheet {sheet!r}; its sheets: "
                f'{", ".join(map(repr, names))}. Set sheet = "<name>" in [data] to one '
                "of them.",
                source=str(p),
            )
    chosen = 0 if sheet is None else sheet
    header = pd.read_excel(book, sheet_name=chosen, header=None, nrows=1)
    label = names[chosen] if isinstance(chosen, int) and chosen < len(names) else chosen
    if header.empty:
        others = [n for n in names if n != label]
        raise InputError(
            f"sheet {label!r} of the {what} workbook is empty. The workbook's sheets: "
            f"{', '.join(map(repr, names))}."
            + (' Set sheet = "<name>" in [data] to the one with the data.' if others else ""),
            source=str(p),
        )
    _check_header([("" if pd.isna(v) else str(v)) for v in header.iloc[0].tolist()], p, what, ",")
    table = pd.read_excel(book, sheet_name=chosen)
    if table.isna().to_numpy().any():
        _check_formulas(p, label, what)
    return table


def _check_formulas(p: Path, sheet: str, what: str) -> None:
    """Refuse formula cells saved without their computed values (they would read as empty)."""
    if p.suffix.lower() not in (".xlsx", ".xlsm"):
        return
    import openpyxl

    wb = openpyxl.load_workbook(p, read_only=True, data_only=False)
    try:
        ws = wb[sheet]
        cells = []
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c.value, str) and c.value.startswith("="):
                    cells.append(c.coordinate)
        if not cells:
            return
        wbv = openpyxl.load_workbook(p, read_only=True, data_only=True)
        try:
            wsv = wbv[sheet]
            empty = [ref for ref in cells if wsv[ref].value is None]
        finally:
            wbv.close()
    finally:
        wb.close()
    if empty:
        raise InputError(
            f"cell(s) {', '.join(empty[:10])}{' ...' if len(empty) > 10 else ''} of sheet {sheet!r} hold "
            "formulas saved without their results (the file was written by a program that does not "
            "compute formulas). Open the file in Excel or LibreOffice and save it, or replace the "
            "formulas by values.",
            source=str(p),
        )


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


def _escape_column(s: pd.Series) -> pd.Series:
    """``s.map(escape_formula)``, with the Python call made once per distinct text of a string column."""
    if not isinstance(s.dtype, pd.StringDtype):
        return s.map(escape_formula)
    codes, uniques = pd.factorize(s)
    new = [escape_formula(u) for u in uniques.tolist()]
    changed = np.array([a is not b for a, b in zip(uniques.tolist(), new)], dtype=bool)
    if not changed.any():
        return s.copy()
    values = s.to_numpy(dtype=object, copy=True)
    hit = codes >= 0
    hit[hit] = changed[codes[hit]]
    values[hit] = np.array(new, dtype=object)[codes[hit]]
    return pd.Series(values, index=s.index, name=s.name, dtype=s.dtype)


def _escaped(table: pd.DataFrame) -> pd.DataFrame:
    cols = [escape_formula(str(c)) for c in table.columns]
    text_cols = [c for c in table.columns if table[c].dtype == object or pd.api.types.is_string_dtype(table[c])]
    if cols == [str(c) for c in table.columns] and not text_cols:
        return table
    out = table.copy()
    unique_names = table.columns.is_unique
    for c in text_cols:
        out[c] = _escape_column(out[c]) if unique_names else out[c].map(escape_formula)
    out.columns = cols
    return out


#: Cells with one of these characters are quoted as Python's csv writer decides (',', '"' and a newline make it
#: quote; a carriage return and NUL are written as they are by Python 3.11).
_CSV_QUOTED_CHARS = ',"\r\n\x00'
_CSV_QUOTED = re.compile(f"[{_CSV_QUOTED_CHARS}]")
#: Rows written per piece by :func:`_fast_csv` (bounds the memory of the cell texts).
_CSV_CHUNK = 200_000


def _csv_quote(text: str) -> str:
    """One cell as pandas' csv writer writes it (quoted, inner quotes doubled, when it must be)."""
    buf = _io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([text, ""])
    return buf.getvalue()[:-2]


def _csv_handled(s: pd.Series) -> bool:
    """Whether :func:`_csv_texts` formats this column (numbers, booleans, text)."""
    dtype = s.dtype
    if isinstance(dtype, np.dtype):
        if dtype.kind in "iubf":
            return True
        return dtype.kind == "O" and pd.api.types.infer_dtype(s.to_numpy(), skipna=True) in ("string", "empty")
    return isinstance(dtype, pd.StringDtype) or isinstance(s.array, (pd.arrays.IntegerArray, pd.arrays.BooleanArray))


def _csv_texts(s: pd.Series) -> list[str]:
    """The cells of one column as :meth:`pandas.DataFrame.to_csv` writes them (see :func:`_csv_handled`).

    Missing cells are empty.  A float64 is written by Python's ``repr``,
    which is the text numpy's ``astype(str)`` (what pandas uses) gives for
    every double (tests/test_io_fast.py checks millions of bit patterns).
    """
    dtype = s.dtype
    if isinstance(dtype, np.dtype):
        values = s.to_numpy()
        if dtype.kind in "iub":
            codes, uniques = pd.factorize(values)
            if len(uniques) * 4 < len(values):  # few distinct values (years, region ids): format each once
                return np.array(uniques.astype(str), dtype=object)[codes].tolist()
            return values.astype(str).tolist() if dtype.kind == "b" else list(map(str, values.tolist()))
        if dtype.kind == "f":
            texts = list(map(repr, values.tolist())) if dtype == np.float64 else values.astype(str).tolist()
            missing = np.isnan(values)
        else:  # object column of text
            texts = values.tolist()
            missing = pd.isna(values)
        for i in np.flatnonzero(missing).tolist():
            texts[i] = ""
    elif isinstance(dtype, pd.StringDtype):
        texts = s.to_numpy(dtype=object, na_value="").tolist()
    else:  # nullable integers and booleans
        codes, uniques = pd.factorize(s.array)  # missing cells -> -1 -> the appended ""
        return np.array([str(u) for u in uniques.tolist()] + [""], dtype=object)[codes].tolist()
    joined = "".join(texts)
    if any(ch in joined for ch in _CSV_QUOTED_CHARS):  # a substring test is many times faster than a regex
        texts = [_csv_quote(t) if _CSV_QUOTED.search(t) else t for t in texts]
    return texts


def _fast_csv(table: pd.DataFrame, path) -> bool:
    """Write ``table`` as :func:`write_csv` does without :meth:`~pandas.DataFrame.to_csv`; False if not handled.

    The bytes are those of ``to_csv(path, index=False, encoding="utf-8-sig",
    lineterminator="\\n")`` (tests/test_io_fast.py compares the two): the cells of a
    column are formatted at once, the rows joined and the text encoded in
    pieces.  Tables with fewer than two columns, labels that are not all text
    or columns of another dtype (datetimes, categoricals, ...) are left to
    pandas, and so are files not named ``*.csv`` (pandas compresses a
    ``.csv.gz`` or ``.zip``).
    """
    k = table.shape[1]
    if k < 2 or not isinstance(path, (str, os.PathLike)) or isinstance(table.columns, pd.MultiIndex):
        return False
    path = os.path.expanduser(os.fspath(path))  # as pandas does
    if not isinstance(path, str) or not path.lower().endswith(".csv"):
        return False
    if not all(type(c) is str for c in table.columns):
        return False
    if not all(_csv_handled(table.iloc[:, j]) for j in range(k)):
        return False
    header = _io.StringIO()
    csv.writer(header, lineterminator="\n").writerow(list(table.columns))
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        fh.write(header.getvalue())
        for a in range(0, len(table), _CSV_CHUNK):
            part = table.iloc[a : a + _CSV_CHUNK]
            cols = [_csv_texts(part.iloc[:, j]) for j in range(k)]
            fh.write("\n".join(map(",".join, zip(*cols))) + "\n")
    return True


def write_csv(table: pd.DataFrame, path, *, escape_formulas: bool = True) -> None:
    """Write a table as UTF-8 with BOM (so Excel shows Chinese text).

    The bytes are those of :meth:`pandas.DataFrame.to_csv` (``index=False``,
    ``lineterminator="\\n"``); numbers, text and empty cells of the common
    dtypes are formatted a column at a time (a few times faster), other tables
    are written by pandas itself.

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
    tab = _escaped(table) if escape_formulas else table
    if not _fast_csv(tab, path):
        tab.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n")


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

    Tables longer or wider than Excel's limits (1,048,576 rows, 16,384
    columns) are left out.  Numbers are written
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
    from ._xlsx import write_xlsx

    sheets: dict[str, str] = {}
    left_out: dict[str, str] = {}
    taken: set[str] = set()
    parts = []
    for name, tab in tables.items():
        if len(tab) + 1 > EXCEL_MAX_ROWS:
            left_out[name] = f"{len(tab)} rows exceed Excel's limit of {EXCEL_MAX_ROWS - 1} data rows"
            continue
        if tab.shape[1] > EXCEL_MAX_COLUMNS:
            left_out[name] = f"{tab.shape[1]} columns exceed Excel's limit of {EXCEL_MAX_COLUMNS}"
            continue
        sheet = excel_sheet_name(name, taken)
        taken.add(sheet)
        sheets[name] = sheet
        parts.append((sheet, tab))
    if not parts:
        parts.append(("note", pd.DataFrame({"no table fits in a workbook": []})))
    write_xlsx(path, parts, created=WORKBOOK_TIME.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return {"sheets": sheets, "left_out": left_out}
