"""Ten-class grading of [0, 1] indices (coordination / co-evolution levels).

The default scale is the one widely used for coupling coordination in the
Chinese regional-science literature (e.g. Wang Shujia et al. 2021, J. Natural
Resources 36(3)): ten classes of width 0.1 on ``(lower, upper]``, the first
class also including 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError

__all__ = ["DEFAULT_EDGES", "DEFAULT_LABELS", "DEFAULT_LABELS_ZH", "grade", "validate_edges"]

DEFAULT_EDGES = tuple(round(0.1 * i, 1) for i in range(11))
DEFAULT_LABELS = (
    "extreme imbalance",
    "serious imbalance",
    "moderate imbalance",
    "mild imbalance",
    "near imbalance",
    "barely coordinated",
    "primary coordination",
    "intermediate coordination",
    "good coordination",
    "high-quality coordination",
)
DEFAULT_LABELS_ZH = (
    "极度失调",
    "严重失调",
    "中度失调",
    "轻度失调",
    "濒临失调",
    "勉强协调",
    "初级协调",
    "中级协调",
    "良好协调",
    "优质协调",
)


def validate_edges(edges, labels=None, labels_zh=None, key="grades"):
    """Check bin edges and labels; return them as tuples.

    Edges must be strictly increasing, at least two, inside [0, 1].  With
    custom edges and no labels, labels are the intervals ``"(lo, hi]"``.

    Raises
    ------
    InputError
        Naming ``key`` and the fix.
    """
    if edges is None:
        edges = DEFAULT_EDGES
    try:
        e = tuple(float(x) for x in edges)
    except (TypeError, ValueError):
        raise InputError(f"{key} must be a list of numbers (bin edges), got {edges!r}") from None
    if len(e) < 2 or any(b <= a for a, b in zip(e, e[1:])):
        raise InputError(
            f"{key} = {list(e)}: give at least two strictly increasing bin edges, e.g. [0, 0.1, 0.2, ..., 1]"
        )
    if e[0] < 0 or e[-1] > 1:
        raise InputError(f"{key} = {list(e)}: grades apply to [0, 1] values; keep the edges inside [0, 1]")
    default = e == DEFAULT_EDGES
    n = len(e) - 1
    if labels is None:
        labels = DEFAULT_LABELS if default else tuple(f"({lo:g}, {hi:g}]" for lo, hi in zip(e, e[1:]))
    if labels_zh is None:
        labels_zh = DEFAULT_LABELS_ZH if default else tuple(labels)
    labels, labels_zh = tuple(map(str, labels)), tuple(map(str, labels_zh))
    if len(labels) != n or len(labels_zh) != n:
        raise InputError(f"{key}: {n} classes need {n} labels (got {len(labels)} and {len(labels_zh)})")
    return e, labels, labels_zh


def grade(values, edges=None, labels=None, labels_zh=None, *, out_of_range="error") -> pd.DataFrame:
    """Grade values on ``(lower, upper]`` bins, the first bin closed at its lower edge.

    Parameters
    ----------
    values : array_like
        Values in [edges[0], edges[-1]] (NaN stays ungraded).
    edges : sequence of float, optional
        Bin edges (default ten classes of 0.1).
    labels, labels_zh : sequence of str, optional
        English and Chinese class labels.
    out_of_range : {"error", "na"}
        Raise :class:`InputError` for values outside the edges, or leave
        them ungraded (NA).

    Returns
    -------
    pandas.DataFrame
        ``grade_class`` (1-based, nullable Int64), ``grade``, ``grade_zh``.
    """
    e, lab, labzh = validate_edges(edges, labels, labels_zh)
    v = np.asarray(values, dtype=float)
    tol = 1e-12
    outside = np.isfinite(v) & ((v < e[0] - tol) | (v > e[-1] + tol))
    if outside.any() and out_of_range == "error":
        bad = v[outside][:5]
        raise InputError(
            f"{int(outside.sum())} value(s) outside [{e[0]:g}, {e[-1]:g}] cannot be graded "
            f"(e.g. {bad.tolist()}); grades apply to [0, 1] forms only"
        )
    cls = np.searchsorted(np.asarray(e), v - tol, side="left")  # (lo, hi] -> index of hi
    cls = np.where(cls == 0, 1, cls)
    ok = np.isfinite(v) & ~outside
    out = pd.DataFrame({"grade_class": pd.array(np.where(ok, cls, 0), dtype="Int64")})
    out.loc[~ok, "grade_class"] = pd.NA
    idx = out["grade_class"]
    out["grade"] = [lab[i - 1] if i is not pd.NA else pd.NA for i in idx]
    out["grade_zh"] = [labzh[i - 1] if i is not pd.NA else pd.NA for i in idx]
    return out
