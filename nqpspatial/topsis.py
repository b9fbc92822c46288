"""TOPSIS aggregation: closeness to the ideal solution (Hwang & Yoon 1981).

A pure kernel used by :func:`nqpspatial.weighting.compute_weights` with
``aggregation="topsis"`` (entropy-TOPSIS, CRITIC-TOPSIS, ...): the rows of a
benefit-oriented normalized matrix ``R`` (rows = region-years, columns =
indicators) are weighted, ``v_ij = w_j r_ij``; the positive ideal is the
column maximum ``v_j^+``, the negative ideal the column minimum ``v_j^-``
(over all rows, or within each group of rows such as a year); the distances
are ``D_i^+ = sqrt(sum_j (v_ij - v_j^+)^2)`` and ``D_i^- = sqrt(sum_j (v_ij -
v_j^-)^2)`` and the closeness is ``C_i = D_i^- / (D_i^+ + D_i^-)`` in [0, 1].

See ``docs/weighting.md`` (section TOPSIS) for the conventions.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError

__all__ = ["topsis"]


def _closeness(V: np.ndarray, label: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pis = V.max(axis=0)
    nis = V.min(axis=0)
    d_plus = np.sqrt(((V - pis) ** 2).sum(axis=1))
    d_minus = np.sqrt(((V - nis) ** 2).sum(axis=1))
    total = d_plus + d_minus
    if not (total > 0).all():
        raise InputError(
            f"TOPSIS is undefined{label}: every row has the same weighted values, so the "
            "positive and negative ideals coincide (0/0 closeness); use aggregation = "
            '"sum" or pool the ideal over all years (topsis_ideal = "pooled")'
        )
    return d_minus / total, d_plus, d_minus


def topsis(matrix, weights, *, groups=None, distances: bool = False):
    """TOPSIS closeness of each row to the ideal solution.

    Parameters
    ----------
    matrix : array_like, shape (n, k)
        Normalized values where larger is better for every column (e.g.
        direction-aware min-max values in [0, 1]); no missing values.  Not
        modified.
    weights : array_like, shape (k,)
        Non-negative column weights (e.g. entropy or CRITIC weights); they
        multiply the columns before the ideals are taken.  Their scale
        cancels in the closeness.
    groups : array_like, shape (n,), optional
        Group label of each row (e.g. the year).  When given, the ideals
        (column maxima and minima) are taken within each group; by default
        over all rows (pooled).
    distances : bool, default False
        Also return ``D^+`` and ``D^-``.

    Returns
    -------
    numpy.ndarray or tuple of numpy.ndarray
        The closeness ``C = D^- / (D^+ + D^-)`` per row (in [0, 1]); with
        ``distances=True`` the tuple ``(C, D_plus, D_minus)``.

    Raises
    ------
    InputError
        Shapes that do not match, missing or infinite values, negative or
        all-zero weights, or a group whose rows all have the same weighted
        values (0/0 closeness).

    Notes
    -----
    Hwang, C.-L. & Yoon, K. (1981). *Multiple Attribute Decision Making:
    Methods and Applications*. Springer, Berlin. The normalization step of
    the textbook (vector normalization) is left to the caller: nqpspatial
    passes its own direction-aware normalized values, so cost indicators are
    already reversed and every column is a benefit column.

    Examples
    --------
    >>> import numpy as np
    >>> from nqpspatial.topsis import topsis
    >>> R = np.array([[0.0, 1.0], [0.5, 0.5], [1.0, 0.0]])
    >>> topsis(R, [0.75, 0.25]).round(4)
    array([0.25, 0.5 , 0.75])
    """
    R = np.asarray(matrix, dtype=float)
    w = np.asarray(weights, dtype=float)
    if R.ndim != 2 or w.ndim != 1 or R.shape[1] != w.shape[0]:
        raise InputError(f"TOPSIS needs an (n, k) matrix and k weights, got shapes {R.shape} and {w.shape}")
    if R.shape[0] < 2:
        raise InputError(f"TOPSIS needs at least 2 rows, got {R.shape[0]}")
    if not np.isfinite(R).all() or not np.isfinite(w).all():
        raise InputError("TOPSIS needs finite values and weights (no missing cells)")
    if (w < 0).any() or not w.sum() > 0:
        raise InputError(f"TOPSIS weights must be >= 0 and not all zero, got {w.tolist()}")
    V = R * w
    if groups is None:
        out = _closeness(V, "")
    else:
        g = np.asarray(groups)
        if g.shape != (R.shape[0],):
            raise InputError(f"groups must have one label per row ({R.shape[0]}), got shape {g.shape}")
        out = tuple(np.empty(R.shape[0]) for _ in range(3))
        for label in dict.fromkeys(g.tolist()):
            rows = np.flatnonzero(g == label)
            if rows.size < 2:
                raise InputError(
                    f"TOPSIS by group: group {label!r} has a single row, so its ideal solution "
                    "is that row itself (0/0 closeness); pool the ideal over all rows"
                )
            part = _closeness(V[rows], f" within group {label!r}")
            for arr, val in zip(out, part):
                arr[rows] = val
    return out if distances else out[0]
