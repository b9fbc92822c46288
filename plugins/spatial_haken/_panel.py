"""Panel validation, weights alignment and the lagged Haken design.

Private helpers: the public entry points are in :mod:`.models`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from nqpspatial.errors import InputError
from nqpspatial.haken.model import haken_terms
from nqpspatial.haken.model import prepare_panel as prepare_long

__all__ = [
    "PanelData",
    "prepare_panel",
    "align_panel",
    "graph_to_sparse",
    "split_weights",
    "EquationDesign",
    "build_equation",
]


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


def prepare_panel(
    data: pd.DataFrame,
    q1: str,
    q2: str,
    graph,
    *,
    region: str = "region",
    year: str = "year",
    transform: str = "r",
    window=None,
) -> PanelData:
    """Validate a long region-year table and align it with ``graph``.

    The table is validated by the aspatial model's
    :func:`nqpspatial.haken.model.prepare_panel` (the same rules and
    messages), then aligned with the weights by :func:`align_panel`.

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
    window : (int, int), optional
        First and last year (inclusive) to keep.

    Returns
    -------
    PanelData

    Raises
    ------
    InputError
        Missing columns, duplicated or missing region-years, missing values,
        fewer than three periods, or regions that are not in the weights.
    """
    long = prepare_long(data, q1, q2, region=region, year=year, window=window)
    return align_panel(long, graph, region=region, year=year, transform=transform)


def align_panel(
    panel: pd.DataFrame, graph, *, region: str = "region", year: str = "year", transform: str = "r"
) -> PanelData:
    """Align a validated long panel with ``graph`` as a balanced ``(T, N)`` panel.

    Parameters
    ----------
    panel : pandas.DataFrame
        Columns ``region, year, q1, q2`` as returned by
        :func:`nqpspatial.haken.model.prepare_panel`.
    graph : libpysal.graph.Graph
        Spatial weights over exactly the panel's regions.
    region, year : str
        Names of the user's id and period columns (for messages).
    transform : {"r", "none"}
        ``"r"`` row-standardizes the weights.

    Returns
    -------
    PanelData
        Regions in the order of ``graph.unique_ids``.

    Raises
    ------
    InputError
        Regions missing from (or only in) the weights, or an unbalanced panel.
    """
    if transform not in ("r", "none"):
        raise InputError(f"transform must be 'r' or 'none', got {transform!r}")
    years = np.sort(pd.unique(panel["year"]))
    gids = pd.Index(graph.unique_ids)
    regions = pd.unique(panel["region"])
    missing = pd.Index(regions).difference(gids)
    if len(missing):
        raise InputError(
            f"regions {list(missing[:5])} of column '{region}' are not in the weights "
            "graph; build the weights for the panel's regions (ids must match exactly, "
            "including their type)"
        )
    extra = gids.difference(pd.Index(regions))
    if len(extra):
        raise InputError(
            f"the weights graph has regions {list(extra[:5])} that are not in column "
            f"'{region}' of the panel; take the subgraph of the panel's regions"
        )
    ids = np.asarray(gids)
    wide1 = panel.pivot(index="year", columns="region", values="q1").reindex(index=years, columns=ids)
    wide2 = panel.pivot(index="year", columns="region", values="q2").reindex(index=years, columns=ids)
    if wide1.isna().to_numpy().any():
        t, i = np.argwhere(wide1.isna().to_numpy())[0]
        raise InputError(
            f"the panel is unbalanced: region {ids[i]} has no row for {year} "
            f"{years[t]}; the spatial Haken models need every region in every year"
        )
    W = graph_to_sparse(graph, ids)
    if transform == "r":
        W = _row_standardize(W)
    return PanelData(ids=ids, years=years, Q1=wide1.to_numpy(dtype=float), Q2=wide2.to_numpy(dtype=float), W=W)


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
    terms = haken_terms(panel.Q1[:-1], panel.Q2[:-1])
    if equation == "q1":
        y = panel.Q1[1:]
        names = ["q1", "q1q2"]
    elif equation == "q2":
        y = panel.Q2[1:]
        names = ["q2", "q1sq"]
    else:  # pragma: no cover
        raise ValueError(equation)
    X = list(terms[equation])
    slx = list(X)
    slx_names = [f"theta_{n}" for n in names]
    if intercept:
        X = X + [np.ones_like(y)]
        names = names + ["const"]
    return EquationDesign(equation, y, X, names, slx, slx_names)
