"""Coupling coordination degree of n subsystems (standard and corrected).

Standard form: ``C = n (prod U)^(1/n) / sum U``, ``T = sum_i w_i U_i``,
``D = sqrt(C T)``.  Corrected coupling degree (Wang Shujia, Kong Wei, Ren
Lang, Zhi Dandan & Dai Bingtao 2021, "Research on misuses and modification of
coupling coordination degree model in China", J. Natural Resources 36(3):
793-810):

.. math::

    C = \\sqrt{\\Big[1 - \\frac{\\sum_{i>j} |U_i - U_j|}{\\sum_{m=1}^{n-1} m}\\Big]
        \\Big(\\prod_i \\frac{U_i}{\\max_i U_i}\\Big)^{1/(n-1)}}

which for two subsystems is ``sqrt((1 - |U1 - U2|) U_min / U_max)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError
from .grades import grade

__all__ = ["coupling_coordination"]


def _coupling(U: np.ndarray, w: np.ndarray):
    n = U.shape[1]
    s = U.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        C = n * np.exp(np.log(U).mean(axis=1)) / s
        T = U @ w
        D = np.sqrt(C * T)
        iu, ju = np.triu_indices(n, 1)
        spread = np.abs(U[:, iu] - U[:, ju]).sum(axis=1) / (n * (n - 1) / 2)
        ratio = np.prod(U / U.max(axis=1, keepdims=True), axis=1) ** (1.0 / (n - 1))
        Cc = np.sqrt((1.0 - spread) * ratio)
        Dc = np.sqrt(Cc * T)
    return C, T, D, Cc, Dc


def coupling_coordination(U, weights=None, *, grades=None, labels=None, labels_zh=None) -> pd.DataFrame:
    """Coupling degree C, coordination index T and coordination degree D.

    Parameters
    ----------
    U : array_like or pandas.DataFrame, shape (n_obs, n_subsystems)
        Subsystem indices in [0, 1] (n_subsystems >= 2), one row per unit.
    weights : sequence of float, optional
        Weights of T (default equal weights); must be non-negative and sum
        to 1.
    grades, labels, labels_zh
        Bins and labels for grading D (see :func:`nqpspatial.haken.grades.grade`).

    Returns
    -------
    pandas.DataFrame
        ``C, C_corrected, T, D, D_corrected, grade, grade_zh, grade_class,
        grade_corrected`` (grades of D and of D_corrected), index as ``U``.

    Raises
    ------
    InputError
        Negative, missing or out-of-range values, a row of zeros, or bad
        weights.
    """
    index = U.index if isinstance(U, pd.DataFrame) else None
    arr = np.asarray(U, dtype=float)
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise InputError(f"U must be a 2-D table with at least two subsystem columns, got shape {arr.shape}")
    n = arr.shape[1]
    bad = ~np.isfinite(arr) | (arr < 0) | (arr > 1)
    if bad.any():
        rows = np.unique(np.nonzero(bad)[0])[:10].tolist()
        raise InputError(f"coupling coordination needs indices in [0, 1]; rows {rows} have missing or "
                         "out-of-range values")
    zero = arr.max(axis=1) == 0
    if zero.any():
        raise InputError(f"rows {np.nonzero(zero)[0][:10].tolist()} are all zero: the coupling degree is "
                         "undefined (0/0)")
    w = np.full(n, 1.0 / n) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (n,) or (w < 0).any() or not np.isclose(w.sum(), 1.0):
        raise InputError(f"weights {list(np.atleast_1d(w))} must be {n} non-negative numbers summing to 1")
    C, T, D, Cc, Dc = _coupling(arr, w)
    out = pd.DataFrame({"C": C, "C_corrected": Cc, "T": T, "D": D, "D_corrected": Dc}, index=index)
    g = grade(D, grades, labels, labels_zh, out_of_range="na")
    gc = grade(Dc, grades, labels, labels_zh, out_of_range="na")
    out["grade"] = g["grade"].to_numpy()
    out["grade_zh"] = g["grade_zh"].to_numpy()
    out["grade_class"] = g["grade_class"].to_numpy()
    out["grade_corrected"] = gc["grade"].to_numpy()
    return out
