"""Panel validation, weights alignment and the lagged Haken design.

Private helpers: the public entry points are in :mod:`.models`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from nqpspatial.errors import InputError

__all__ = ["PanelData", "prepare_panel", "graph_to_sparse", "split_weights", "EquationDesign",
           "build_equation"]


@dataclass(frozen=True)
class PanelData:
    """A balanced region x year panel of two indices aligned to a weights matrix.

    Attributes
    ----------
    ids : numpy.ndarray
        Region ids in the row order of ``W`` and of the columns of ``Q1``/``Q2``.
    years : numpy.ndarray
        Sorted periods.
    Q1, Q2 : numpy.ndarray
        ``(T, N)`` arrays of the two indices.
    W : scipy.sparse.csr_array
        ``N x N`` spatial weights (row-standardized unless the caller chose otherwise).
    """

    ids: np.ndarray
    years: np.ndarray
    Q1: np.ndarray
    Q2: np.ndarray
    W: sp.csr_array


def graph_to_sparse(graph, ids) -> sp.csr_array:
    """Sparse ``N x N`` matrix of a :class:`libpysal.graph.Graph` in the order ``ids``.

    Zero-weight self-loops (libpysal's encoding of isolates) are dropped.
    """
    adj = graph.adjacency
    focal = adj.index.get_level_values(0)
    neigh = adj.index.get_level_values(1)
    pos = pd.Index(ids)
    fi = pos.get_indexer(focal)
    ni = pos.get_indexer(neigh)
    if (fi < 0).any() or (ni < 0).any():  # pragma: no cover - guarded by prepare_panel
        raise InputError("weights graph refers to regions that are not in the panel")
    w = np.asarray(adj.to_numpy(), dtype=float)
    keep = w != 0
    n = len(ids)
    mat = sp.csr_array((w[keep], (fi[keep], ni[keep])), shape=(n, n))
    mat.sum_duplicates()
    mat.sort_indices()
    return mat


def _row_standardize(W: sp.csr_array) -> sp.csr_array:
    rs = np.asarray(W.sum(axis=1)).ravel()
    inv = np.divide(1.0, rs, out=np.zeros_like(rs), where=rs != 0)
    return sp.csr_array(sp.diags_array(inv) @ W)


def prepare_panel(data: pd.DataFrame, q1: str, q2: str, graph, *, region: str = "region",
                  year: str = "year", transform: str = "r") -> PanelData:
    """Validate a long region-year table and align it with ``graph``.

    Parameters
    ----------
    data : pandas.DataFrame
        Long table with columns ``region``, ``year``, ``q1`` and ``q2``.
    q1, q2 : str
        Columns of the two indices (order parameter candidate first).
    graph : libpysal.graph.Graph
        Spatial weights over exactly the panel's regions.
    region, year : str
        Names of the id and period columns.
    transform : {"r", "none"}
        ``"r"`` row-standardizes the weights (rows of isolates stay zero).

    Returns
    -------
    PanelData

    Raises
    ------
    InputError
        Missing columns, duplicated or missing region-years, missing values,
        fewer than three periods, or regions that are not in the weights.
    """
    if not isinstance(data, pd.DataFrame):
        raise InputError("the panel must be a pandas DataFrame with region, year and index columns")
    for col in (region, year, q1, q2):
        if col not in data.columns:
            raise InputError(f"column '{col}' is missing from the panel (columns: "
                             f"{', '.join(map(str, data.columns))}); pass the right name or add it")
    if q1 == q2:
        raise InputError(f"q1 and q2 are the same column '{q1}'; name two different indices")
    df = data[[region, year, q1, q2]]
    dup = df.duplicated([region, year])
    if dup.any():
        row = df.index[dup.to_numpy()][0]
        raise InputError(f"region-year ({df.loc[row, region]}, {df.loc[row, year]}) appears more "
                         f"than once (row {row}); keep one row per region and year")
    for col in (q1, q2):
        vals = pd.to_numeric(df[col], errors="coerce")
        bad = vals.isna().to_numpy()
        if bad.any():
            row = df.index[bad][0]
            raise InputError(f"column '{col}' has a missing or non-numeric value at row {row} "
                             f"(region {df.loc[row, region]}, year {df.loc[row, year]}); "
                             "the spatial Haken models need a complete balanced panel")
    years = np.sort(pd.unique(df[year]))
    if len(years) < 3:
        raise InputError(f"the panel has {len(years)} period(s) in column '{year}'; the spatial "
                         "Haken models need at least 3")
    gids = pd.Index(graph.unique_ids)
    regions = pd.unique(df[region])
    missing = pd.Index(regions).difference(gids)
    if len(missing):
        raise InputError(f"regions {list(missing[:5])} of column '{region}' are not in the weights "
                         "graph; build the weights for the panel's regions (ids must match exactly, "
                         "including their type)")
    extra = gids.difference(pd.Index(regions))
    if len(extra):
        raise InputError(f"the weights graph has regions {list(extra[:5])} that are not in column "
                         f"'{region}' of the panel; take the subgraph of the panel's regions")
    ids = np.asarray(gids)
    wide1 = df.pivot(index=year, columns=region, values=q1)
    wide2 = df.pivot(index=year, columns=region, values=q2)
    wide1 = wide1.reindex(index=years, columns=ids)
    wide2 = wide2.reindex(index=years, columns=ids)
    if wide1.isna().to_numpy().any():
        t, i = np.argwhere(wide1.isna().to_numpy())[0]
        raise InputError(f"the panel is unbalanced: region {ids[i]} has no row for year {years[t]}; "
                         "the spatial Haken models need every region in every year")
    W = graph_to_sparse(graph, ids)
    if transform == "r":
        W = _row_standardize(W)
    elif transform != "none":
        raise InputError(f"transform must be 'r' or 'none', got {transform!r}")
    return PanelData(ids=ids, years=years, Q1=wide1.to_numpy(dtype=float),
                     Q2=wide2.to_numpy(dtype=float), W=W)


def split_weights(W: sp.csr_array, groups) -> tuple[sp.csr_array, sp.csr_array]:
    """Split ``W`` into links inside the same group and links across groups.

    Parameters
    ----------
    W : scipy.sparse array
        ``N x N`` weights (already row-standardized).
    groups : array-like of length N
        Group label of each row's region.

    Returns
    -------
    (W_within, W_across)
        Two sparse matrices with ``W_within + W_across == W`` exactly.
    """
    coo = sp.coo_array(W)
    g = pd.factorize(np.asarray(groups))[0]
    same = g[coo.row] == g[coo.col]
    n = W.shape[0]
    Ww = sp.csr_array((coo.data[same], (coo.row[same], coo.col[same])), shape=(n, n))
    Wa = sp.csr_array((coo.data[~same], (coo.row[~same], coo.col[~same])), shape=(n, n))
    return Ww, Wa


def lag(W, X: np.ndarray) -> np.ndarray:
    """Spatial lag of a ``(T, N)`` array period by period: row t -> W x_t."""
    return np.asarray((W @ X.T).T)


@dataclass(frozen=True)
class EquationDesign:
    """Stacked (time-major) design of one Haken equation.

    Attributes
    ----------
    equation : str
        ``"q1"`` or ``"q2"``.
    y : numpy.ndarray
        ``(T-1, N)`` next-period values.
    X : list of numpy.ndarray
        ``(T-1, N)`` regressors (own Haken terms, then constant).
    names : list of str
        Haken term names of ``X``.
    slx : list of numpy.ndarray
        The raw terms whose spatial lags enter SLX/SDM (same order as Haken terms).
    slx_names : list of str
        ``theta_<term>`` names.
    """

    equation: str
    y: np.ndarray
    X: list
    names: list
    slx: list
    slx_names: list


def build_equation(panel: PanelData, equation: str, intercept: bool = False) -> EquationDesign:
    """The lagged design of one Haken equation (periods t -> t+1)."""
    x1 = panel.Q1[:-1]
    x2 = panel.Q2[:-1]
    if equation == "q1":
        y = panel.Q1[1:]
        X = [x1, x1 * x2]
        names = ["q1", "q1q2"]
    elif equation == "q2":
        y = panel.Q2[1:]
        X = [x2, x1 ** 2]
        names = ["q2", "q1sq"]
    else:  # pragma: no cover
        raise ValueError(equation)
    slx = list(X)
    slx_names = [f"theta_{n}" for n in names]
    if intercept:
        X = X + [np.ones_like(y)]
        names = names + ["const"]
    return EquationDesign(equation, y, X, names, slx, slx_names)
