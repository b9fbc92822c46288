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

Relative development degree (two subsystems): ``E = U2 / U1``; with a band
``[lo, hi]`` (default ``[0.9, 1.1]``, parity within 10 %) the pair is
*U2 lagging* when ``E < lo``, *synchronous* when ``lo <= E <= hi`` and
*U1 lagging* when ``E > hi`` (see ``docs/haken.md``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError
from .grades import grade

__all__ = ["coupling_coordination", "relative_development", "DEFAULT_LAG_BAND", "LAG_TYPES"]

#: Default band of the relative development degree E = U2/U1 read as synchronous.
DEFAULT_LAG_BAND = (0.9, 1.1)
#: Lag types (English, Chinese) in the order U2 lagging, synchronous, U1 lagging.
LAG_TYPES = (("U2 lagging", "U2滞后型"), ("synchronous", "同步型"), ("U1 lagging", "U1滞后型"))


def _check_band(band) -> tuple[float, float]:
    try:
        lo, hi = (float(b) for b in band)
    except (TypeError, ValueError):
        raise InputError(f"lag band {band!r} must be two numbers [low, high], e.g. [0.9, 1.1]") from None
    if not (0 < lo <= 1 <= hi and np.isfinite(hi)):
        raise InputError(f"lag band {list(band)!r} must satisfy 0 < low <= 1 <= high (e.g. [0.9, 1.1])")
    return lo, hi


def relative_development(U1, U2, band=DEFAULT_LAG_BAND) -> pd.DataFrame:
    """Relative development degree ``E = U2 / U1`` and the lagging type.

    Parameters
    ----------
    U1, U2 : array_like
        Indices of the first and second subsystem (non-negative, same length;
        not both zero in a row).
    band : (float, float), default (0.9, 1.1)
        ``E`` in ``[low, high]`` is *synchronous*; below ``low`` the second
        subsystem lags, above ``high`` the first one does.

    Returns
    -------
    pandas.DataFrame
        ``relative_development`` (E; NaN when U1 = 0, a case read as *U1
        lagging*), ``lag_type`` (``"U2 lagging"``, ``"synchronous"``,
        ``"U1 lagging"``) and ``lag_type_zh``.

    Raises
    ------
    InputError
        Negative or missing values, a row with U1 = U2 = 0, or a bad band.

    Examples
    --------
    >>> relative_development([0.5, 0.5, 0.2], [0.3, 0.52, 0.4])["lag_type"].tolist()
    ['U2 lagging', 'synchronous', 'U1 lagging']
    """
    lo, hi = _check_band(band)
    u1 = np.asarray(U1, dtype=float).ravel()
    u2 = np.asarray(U2, dtype=float).ravel()
    if u1.shape != u2.shape:
        raise InputError(f"U1 and U2 must have the same length, got {u1.size} and {u2.size}")
    bad = ~np.isfinite(u1) | ~np.isfinite(u2) | (u1 < 0) | (u2 < 0) | ((u1 == 0) & (u2 == 0))
    if bad.any():
        raise InputError(
            f"relative development degree: rows {np.flatnonzero(bad)[:10].tolist()} have missing, "
            "negative or two zero indices (E = U2/U1 undefined)"
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        E = np.where(u1 > 0, u2 / np.where(u1 > 0, u1, 1.0), np.nan)
    code = np.where(u1 == 0, 2, np.where(E < lo, 0, np.where(E > hi, 2, 1)))
    return pd.DataFrame(
        {
            "relative_development": E,
            "lag_type": [LAG_TYPES[c][0] for c in code],
            "lag_type_zh": [LAG_TYPES[c][1] for c in code],
        }
    )


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


def coupling_coordination(U, weights=None, *, grades=None, labels=None, labels_zh=None, lag_band=None) -> pd.DataFrame:
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
    lag_band : (float, float), optional
        With two subsystems, also the relative development degree and lag
        type of :func:`relative_development` with this band.

    Returns
    -------
    pandas.DataFrame
        ``C, C_corrected, T, D, D_corrected, grade, grade_zh, grade_class,
        grade_corrected`` (grades of D and of D_corrected), index as ``U``;
        with ``lag_band`` and two subsystems also ``relative_development,
        lag_type, lag_type_zh``.

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
        raise InputError(
            f"coupling coordination needs indices in [0, 1]; rows {rows} have missing or out-of-range values"
        )
    zero = arr.max(axis=1) == 0
    if zero.any():
        raise InputError(
            f"rows {np.nonzero(zero)[0][:10].tolist()} are all zero: the coupling degree is undefined (0/0)"
        )
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
    if lag_band is not None:
        if n != 2:
            raise InputError(f"the relative development degree needs two subsystems, got {n}")
        rd = relative_development(arr[:, 0], arr[:, 1], lag_band)
        for c in rd.columns:
            out[c] = rd[c].to_numpy()
    return out
