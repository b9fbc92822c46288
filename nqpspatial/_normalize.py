"""Direction-aware min-max normalization of an indicator panel.

A benefit indicator (direction ``+1``, higher is better) is mapped to
``r = (x - min) / (max - min)``, a cost indicator (direction ``-1``) to
``r = (max - x) / (max - min)``, so that after normalization higher is
always better.  The minimum and maximum are taken over all rows (the
*pooled* normalization, which keeps scores comparable across years) or
within groups of rows (e.g. within each year).  An optional ``shift`` maps
the result into ``[shift, 1 - shift]`` (``r' = shift + (1 - 2 shift) r``),
the usual device that keeps logarithms finite in the entropy method.

A column whose range is zero carries no information and cannot be
normalized: it is refused with an :class:`~nqpspatial.errors.InputError`.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from .errors import InputError

__all__ = ["normalize", "zero_range_columns"]


def _zero_range_fix(n: int) -> str:
    it = "it" if n == 1 else "them"
    return (
        f"remove {it} from the indicator list, or set the weighting option "
        f'zero_variance = "zero-weight" to give {it} weight 0'
    )


def _as_float_matrix(values: pd.DataFrame) -> np.ndarray:
    """Columns of ``values`` as a float matrix; refuse non-numeric or missing cells."""
    bad = [
        c
        for c in values.columns
        if not pd.api.types.is_numeric_dtype(values[c]) or pd.api.types.is_bool_dtype(values[c])
    ]
    if bad:
        raise InputError(
            f"indicator column(s) {', '.join(map(repr, bad))} are not numeric: "
            "convert them to numbers before normalizing"
        )
    mat = values.to_numpy(dtype=float, na_value=np.nan)
    nonfinite = ~np.isfinite(mat)
    if nonfinite.any():
        cols = [values.columns[j] for j in np.flatnonzero(nonfinite.any(axis=0))]
        raise InputError(
            f"indicator column(s) {', '.join(map(repr, cols))} contain missing or "
            "infinite values: fill or remove them before normalizing"
        )
    return mat


def _is_direction(d) -> bool:
    """True when ``d`` reads as the number +1 (benefit) or -1 (cost)."""
    try:
        return float(d) in (1.0, -1.0)
    except (TypeError, ValueError):
        return False


def _direction_vector(columns, directions: Mapping[str, int]) -> np.ndarray:
    """Directions of ``columns`` as a +1/-1 integer vector (validated)."""
    missing = [c for c in columns if c not in directions]
    if missing:
        raise InputError(
            f"no direction given for indicator(s) {', '.join(map(repr, missing))}: "
            "give each indicator direction +1 (benefit) or -1 (cost)"
        )
    out = np.empty(len(columns), dtype=int)
    for j, c in enumerate(columns):
        d = directions[c]
        if not _is_direction(d):
            raise InputError(f"indicator {c!r} has direction {d!r}: use +1 (benefit) or -1 (cost)")
        out[j] = int(float(d))
    return out


def _check_shift(shift: float) -> float:
    try:
        s = float(shift)
    except (TypeError, ValueError):
        raise InputError(f"shift must be a number in [0, 0.5), got {shift!r}") from None
    if not (np.isfinite(s) and 0.0 <= s < 0.5):
        raise InputError(
            f"shift must be a number in [0, 0.5), got {shift!r} (e.g. 0.002 maps the values into [0.002, 0.998])"
        )
    return s


def _group_min_max(mat: np.ndarray, codes: np.ndarray, n_groups: int):
    """Per-group column minima and maxima, broadcast back to the rows."""
    k = mat.shape[1]
    gmin = np.full((n_groups, k), np.inf)
    gmax = np.full((n_groups, k), -np.inf)
    np.minimum.at(gmin, codes, mat)
    np.maximum.at(gmax, codes, mat)
    return gmin, gmax


def zero_range_columns(values: pd.DataFrame, *, by: pd.Series | None = None) -> dict:
    """Find the columns that cannot be min-max normalized.

    Parameters
    ----------
    values : pandas.DataFrame
        Numeric indicator columns.
    by : pandas.Series, optional
        One group label per row (in row order).  When given, a column is
        also reported when its range is zero within some group.

    Returns
    -------
    dict
        Column name -> ``None`` when the column is constant over all rows,
        or the list of group labels (in order of first appearance) within
        which it is constant.  Columns that are fine are absent.
    """
    mat = _as_float_matrix(values)
    out: dict = {}
    pooled_zero = mat.max(axis=0) == mat.min(axis=0) if len(mat) else np.ones(mat.shape[1], bool)
    for j in np.flatnonzero(pooled_zero):
        out[values.columns[j]] = None
    if by is not None:
        codes, uniques = _codes(by, len(values))
        gmin, gmax = _group_min_max(mat, codes, len(uniques))
        zero = gmin == gmax
        for j in range(mat.shape[1]):
            col = values.columns[j]
            if col in out or not zero[:, j].any():
                continue
            out[col] = [uniques[g] for g in np.flatnonzero(zero[:, j])]
    return out


def _codes(by, n_rows: int):
    labels = np.asarray(by.to_numpy() if isinstance(by, pd.Series) else by)
    if labels.shape != (n_rows,):
        raise InputError(f"`by` must give one group label per row ({n_rows} rows), got shape {labels.shape}")
    if pd.isna(labels).any():
        raise InputError("`by` contains missing group labels (e.g. a missing year): fill them")
    codes, uniques = pd.factorize(labels, sort=False)
    return codes, list(uniques)


def _to_python(v):
    return v.item() if isinstance(v, np.generic) else v


def _zero_range_message(problems: dict, group_name: str = "group") -> str:
    parts = []
    for col, groups in problems.items():
        if groups is None:
            parts.append(f"{col!r} (the same value in every row)")
        else:
            shown = ", ".join(str(_to_python(g)) for g in groups[:8])
            more = f" and {len(groups) - 8} more" if len(groups) > 8 else ""
            parts.append(f"{col!r} (the same value in every row of {group_name} {shown}{more})")
    return (
        "zero range, so no information and no min-max normalization possible, in indicator(s) "
        + "; ".join(parts)
        + ": "
        + _zero_range_fix(len(parts))
    )


def normalize(
    values: pd.DataFrame,
    directions: Mapping[str, int],
    *,
    by: pd.Series | None = None,
    shift: float = 0.0,
    group_name: str = "year",
) -> pd.DataFrame:
    """Direction-aware min-max normalization.

    Parameters
    ----------
    values : pandas.DataFrame
        One numeric column per indicator, no missing values.  Other columns
        (region, year) must not be included.
    directions : mapping of str to int
        Indicator name -> ``+1`` (benefit: higher is better) or ``-1`` (cost).
    by : pandas.Series, optional
        One group label per row of ``values``, in row order (e.g. the year of
        each row).  When given, minimum and maximum are taken within each
        group ("by-year" normalization); otherwise over all rows (pooled).
    shift : float, default 0.0
        Map the normalized values into ``[shift, 1 - shift]`` with
        ``r' = shift + (1 - 2 shift) r``.  Must lie in ``[0, 0.5)``.
    group_name : str, default "year"
        What a group of ``by`` is called in error messages.

    Returns
    -------
    pandas.DataFrame
        Same index and columns as ``values``; benefit columns
        ``(x - min)/(max - min)``, cost columns ``(max - x)/(max - min)``,
        then shifted.

    Raises
    ------
    InputError
        A column is not numeric or has missing values, a direction is
        missing or not +-1, ``shift`` is outside ``[0, 0.5)``, or a column
        has zero range over all rows or within a group of ``by`` (the
        message names the column and the groups, and the fixes).

    Examples
    --------
    >>> import pandas as pd
    >>> x = pd.DataFrame({"gdp": [1.0, 2.0, 3.0], "unemp": [4.0, 5.0, 6.0]})
    >>> normalize(x, {"gdp": 1, "unemp": -1})["unemp"].tolist()
    [1.0, 0.5, 0.0]
    """
    if not isinstance(values, pd.DataFrame):
        raise InputError("values must be a pandas DataFrame with one column per indicator")
    s = _check_shift(shift)
    dirs = _direction_vector(list(values.columns), directions)
    problems = zero_range_columns(values, by=by)
    if problems:
        raise InputError(_zero_range_message(problems, group_name))
    mat = _as_float_matrix(values)
    if by is None:
        lo = mat.min(axis=0)
        hi = mat.max(axis=0)
    else:
        codes, uniques = _codes(by, len(values))
        gmin, gmax = _group_min_max(mat, codes, len(uniques))
        lo = gmin[codes]
        hi = gmax[codes]
    r = np.where(dirs > 0, mat - lo, hi - mat) / (hi - lo)
    if s:
        r = s + (1.0 - 2.0 * s) * r
    return pd.DataFrame(r, index=values.index, columns=values.columns)
