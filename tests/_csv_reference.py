"""Frozen copy of nqpspatial/io.py's CSV writer before the fast path (issue 19): the slow reference.

Only the tests import it (tests/test_io_fast.py compares the new writer with it, byte for byte).
"""

from __future__ import annotations

import re

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)", re.IGNORECASE)


def escape_formula(text: str) -> str:
    """``text`` with a leading apostrophe when a spreadsheet would read it as a formula (old code)."""
    if not isinstance(text, str) or not text.lstrip("'").startswith(FORMULA_START) or _NUMBER.fullmatch(text):
        return text
    return "'" + text


def escaped(table: pd.DataFrame) -> pd.DataFrame:
    """The table with every text cell and column name escaped (old ``nqpspatial.io._escaped``)."""
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
    """Write a table as UTF-8 with BOM through :meth:`pandas.DataFrame.to_csv` (old ``nqpspatial.io.write_csv``)."""
    (escaped(table) if escape_formulas else table).to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n")
