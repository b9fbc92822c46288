"""Frozen copy of nqpspatial/panel.py's ``_parse_values`` before the vectorised checks (issue 19): the reference.

Only the tests import it (tests/test_io_fast.py compares the new function with it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nqpspatial.panel import _listing


def parse_values(raw, value_cols, region, year, line_of):
    """The numeric table, the missing cells and the problems of non-numeric and infinite cells (old code)."""

    def loc(idx):
        return f"row {line_of[idx]}" if line_of else f"{raw.at[idx, region]} {raw.at[idx, year]}"

    nonnum, missing_cells = [], []
    table = pd.DataFrame({region: raw[region].to_numpy(), year: raw[year].to_numpy()})
    for col in value_cols:
        s = raw[col]
        num = pd.to_numeric(s, errors="coerce")
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
    inf_cells = [
        f"{c} ({r}, {y})" for c in value_cols for r, y, v in zip(table[region], table[year], table[c]) if np.isinf(v)
    ]
    if inf_cells:
        problems.append(f"infinite value(s): {_listing(inf_cells)}.")
    return table, missing_cells, problems
