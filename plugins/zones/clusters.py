"""Spatially constrained clustering of regions on their trajectories.

Rows are regions; the features are a variable's values over the periods,
standardized per period (z-scores across regions, population sd; a period
with no spread gets 0 for every region), so that every period weighs the
same.  Methods:

``skater``  SKATER (Assuncao et al. 2006) through :class:`spopt.region.Skater`.
``ward``    Ward agglomeration with a contiguity connectivity constraint
            (:class:`sklearn.cluster.AgglomerativeClustering`).
``maxp``    max-p regions (Duque, Anselin & Rey 2012) through
            :class:`spopt.region.MaxPHeuristic`, with a floor of
            ``min_region_size`` regions per cluster.
``kmeans``  aspatial k-means (:class:`sklearn.cluster.KMeans`) for contrast.

The contiguity graph is queen contiguity with every island (any connected
component apart from the largest, typically Hainan) linked to its nearest
region by boundary distance, because spopt fails or misbehaves with
isolates.  Each clustering is compared with the scheme's groups by the
adjusted Rand index (Hubert & Arabie 1985) and a contingency table.
"""

from __future__ import annotations

import warnings
from typing import Iterable, NamedTuple

import numpy as np
import pandas as pd

from nqpspatial.errors import InputError
from nqpspatial.results import Results, Summary

from ._common import SOURCE, check_data, check_groups, global_numpy_seed, seed_from, wide

__all__ = ["contiguity_graph", "ContiguityGraph", "cluster_regions", "ClusterResults", "trajectory_features", "METHODS"]

METHODS = ("skater", "ward", "maxp", "kmeans")


class ContiguityGraph(NamedTuple):
    """A connected contiguity graph and the links added to make it connected.

    Attributes
    ----------
    graph : libpysal.graph.Graph
        Binary, symmetric; ``graph.unique_ids`` in the order of the ids
        asked for.
    links : pandas.DataFrame
        ``region, neighbor, distance`` for every added link (distance
        between boundaries, in metres when the layer has a CRS, else in the
        layer's units).
    """

    graph: object
    links: pd.DataFrame


def contiguity_graph(geometry, ids: Iterable | None = None, *, rook: bool = False) -> ContiguityGraph:
    """Queen (or rook) contiguity with islands linked to their nearest region.

    Parameters
    ----------
    geometry : geopandas.GeoDataFrame or geopandas.GeoSeries
        Boundaries indexed by region id.
    ids : iterable, optional
        Region ids to keep, in this order (default: the layer's index).
    rook : bool, default False
        Rook instead of queen contiguity.

    Returns
    -------
    ContiguityGraph
        The connected binary graph and the table of added links.

    Raises
    ------
    InputError
        A region id without boundary, or duplicate ids in the layer.

    Notes
    -----
    While the graph has more than one connected component, the smallest
    component (ties: the one holding the earliest id) is linked to the
    nearest region outside it, measured between boundaries (not centroids)
    by :func:`nqpspatial.spatial.connect_components` (the suite's one
    island-linking routine), reported in metres.
    """
    from nqpspatial.spatial import connect_components, graph_from_coo
    from nqpspatial.spatial._geometry import vertex_contiguity

    geoms = geometry.geometry if hasattr(geometry, "columns") else geometry
    if geoms.index.duplicated().any():
        raise InputError(
            f"the boundary layer lists region '{geoms.index[geoms.index.duplicated()][0]}' "
            "twice; keep one boundary per region",
            source=SOURCE,
        )
    ids = list(geoms.index) if ids is None else list(ids)
    missing = [r for r in ids if r not in geoms.index]
    if missing:
        raise InputError(
            f"no boundary for region(s) {missing[:10]}; the boundary layer's ids must match the panel's region ids",
            source=SOURCE,
        )
    if len(ids) < 2:
        raise InputError("contiguity needs at least two regions", source=SOURCE)
    frame = geoms.loc[ids].to_frame("geometry").set_geometry("geometry", crs=geoms.crs)
    # exactly Graph.build_contiguity's links, in O(V log V) (libpysal's sets took a minute on the counties)
    i, j = vertex_contiguity(frame.geometry.reset_index(drop=True), rook=rook)
    raw = graph_from_coo(i, j, np.ones(len(i)), ids)
    graph, added = connect_components(raw, ids, frame)
    links = pd.DataFrame(
        {
            "region": added["island"],
            "neighbor": added["neighbor"],
            "distance": added["km"].to_numpy(dtype=float) * 1000.0,
        }
    )
    return ContiguityGraph(graph, links)


def trajectory_features(
    data: pd.DataFrame, variable: str, *, region: str = "region", year: str = "year"
) -> pd.DataFrame:
    """Region x period matrix of ``variable``, standardized per period.

    Each period's column is centred on its cross-regional mean and divided
    by its population standard deviation; a period whose values are all
    equal becomes a column of zeros.

    Returns
    -------
    pandas.DataFrame
        Index = region ids (sorted), columns = periods.
    """
    frame = check_data(data, [variable], region, year, balanced=True)
    X = wide(frame, variable, region, year).astype(float)
    sd = X.std(axis=0, ddof=0)
    Z = (X - X.mean(axis=0)) / sd.where(sd > 0, 1.0)
    return Z


def _relabel(labels) -> np.ndarray:
    """Relabel to 1..K in order of first appearance."""
    labels = np.asarray(labels)
    _, first = np.unique(labels, return_index=True)
    order = labels[np.sort(first)]
    mapping = {lab: i + 1 for i, lab in enumerate(order)}
    return np.array([mapping[lab] for lab in labels], dtype=int)


def _run_method(method: str, Z: pd.DataFrame, graph, geoms, k: int, min_region_size: int, seed: int) -> np.ndarray:
    X = Z.to_numpy()
    attrs = [f"t{i}" for i in range(X.shape[1])]
    if method == "kmeans":
        from sklearn.cluster import KMeans

        return KMeans(n_clusters=k, n_init=10, random_state=seed).fit(X).labels_
    if method == "ward":
        from sklearn.cluster import AgglomerativeClustering

        conn = graph.sparse
        return AgglomerativeClustering(n_clusters=k, linkage="ward", connectivity=conn).fit(X).labels_
    frame = pd.DataFrame(X, columns=attrs, index=Z.index)
    if geoms is not None:
        import geopandas as gpd

        frame = gpd.GeoDataFrame(frame, geometry=geoms.loc[Z.index].to_numpy(), crs=geoms.crs)
    w = _positional_w(graph, list(Z.index))
    if method == "skater":
        from spopt.region import Skater

        with global_numpy_seed(seed):
            model = Skater(frame.reset_index(drop=True), w, attrs, n_clusters=k)
            model.solve()
        return np.asarray(model.labels_)
    if method == "maxp":
        from spopt.region import MaxPHeuristic

        frame["__count"] = 1.0
        with global_numpy_seed(seed), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*inplace keyword.*", module="spopt")
            model = MaxPHeuristic(frame.reset_index(drop=True), w, attrs, "__count", float(min_region_size), top_n=2)
            model.solve()
        return np.asarray(model.labels_)
    raise InputError(f"unknown cluster method '{method}'; use any of {list(METHODS)}", source=SOURCE)


class ClusterResults(Results):
    """Cluster memberships and their comparison with the scheme (immutable).

    Attributes
    ----------
    clusters : pandas.DataFrame
        ``variable, region, method, cluster`` (``clusters.csv``); clusters
        are numbered 1..K in order of first appearance over the sorted
        region ids.
    comparison : pandas.DataFrame
        ``clusters_vs_zones.csv`` in long form: ``variable, method, scheme,
        kind, group, cluster, count, ari``.  One ``kind = "ari"`` row per
        method holds the adjusted Rand index; ``kind = "contingency"`` rows
        hold the number of regions of each (group, cluster) cell, zeros
        included.
    links : pandas.DataFrame
        Links added to connect islands (``region, neighbor, distance``).
    """

    def __init__(self, clusters, comparison, links, scheme, k, seed):
        self.clusters = clusters
        self.comparison = comparison
        self.links = links
        self.scheme = scheme
        self.k = k
        self.seed = seed
        self._freeze()

    def summary(self) -> Summary:
        """Adjusted Rand index of each method and variable."""
        ari = self.comparison.query("kind == 'ari'")[["variable", "method", "ari"]]
        n_found = self.clusters.groupby(["variable", "method"])["cluster"].nunique().rename("clusters").reset_index()
        tab = ari.merge(n_found, on=["variable", "method"])
        notes = [f"islands linked: {r.region} -> {r.neighbor} ({r.distance:.0f})" for r in self.links.itertuples()]
        return Summary(
            title="Clustering of regional trajectories",
            facts={"k": self.k, "scheme": self.scheme or "", "seed": self.seed},
            tables={"adjusted Rand index vs scheme": tab},
            notes=tuple(notes),
        )


def _compare(labels: np.ndarray, groups: np.ndarray) -> tuple[float, pd.DataFrame]:
    from sklearn.metrics import adjusted_rand_score

    ari = float(adjusted_rand_score(groups, labels))
    tab = pd.crosstab(pd.Series(groups, name="group"), pd.Series(labels, name="cluster"))
    long = tab.stack().rename("count").reset_index()
    return ari, long


def cluster_regions(
    data: pd.DataFrame,
    variables: str | Iterable[str],
    geometry=None,
    *,
    graph=None,
    groups: pd.Series | None = None,
    k: int = 8,
    methods: Iterable[str] = METHODS,
    min_region_size: int = 3,
    seed: int | np.random.Generator | None = None,
    region: str = "region",
    year: str = "year",
    scheme_name: str | None = None,
) -> ClusterResults:
    """Cluster regions on the trajectories of each variable.

    Parameters
    ----------
    data : pandas.DataFrame
        Balanced region-year table with the variables as columns.
    variables : str or iterable of str
        Each variable is clustered separately.
    geometry : geopandas.GeoDataFrame, optional
        Boundaries indexed by region id; needed by the spatial methods unless
        ``graph`` is given.
    graph : libpysal.graph.Graph, optional
        A connected contiguity graph over the regions (default: built from
        ``geometry`` with :func:`contiguity_graph`).
    groups : pandas.Series, optional
        Region id -> group; when given, every result is compared with it.
    k : int, default 8
        Number of clusters of SKATER, Ward and k-means.
    methods : iterable of str
        Any of ``"skater", "ward", "maxp", "kmeans"``.
    min_region_size : int, default 3
        max-p floor: minimum regions per cluster.
    seed : int or numpy.random.Generator
        Required; the same seed gives the same clusters.
    region, year : str
        Column names.
    scheme_name : str, optional
        Written to the comparison table.

    Returns
    -------
    ClusterResults

    Raises
    ------
    InputError
        Bad data, an unknown method, ``k`` or ``min_region_size`` outside
        1..n, a spatial method with neither geometry nor graph, or a graph
        that is not connected.
    """
    variables = [variables] if isinstance(variables, str) else list(variables)
    methods = list(methods)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise InputError(f"unknown cluster method(s) {unknown}; use any of {list(METHODS)}", source=SOURCE)
    base_seed = seed_from(seed)
    frame = check_data(data, variables, region, year, balanced=True)
    ids = sorted(frame[region].unique())
    n = len(ids)
    if not (isinstance(k, (int, np.integer)) and 2 <= k <= n):
        raise InputError(
            f"clusters = {k!r} must be an integer between 2 and the number of regions ({n})", source=SOURCE
        )
    if not (isinstance(min_region_size, (int, np.integer)) and 1 <= min_region_size <= n):
        raise InputError(
            f"min_region_size = {min_region_size!r} must be an integer between 1 and the number of regions ({n})",
            source=SOURCE,
        )
    spatial = [m for m in methods if m != "kmeans"]
    links = pd.DataFrame(columns=["region", "neighbor", "distance"])
    geoms = None
    if geometry is not None:
        geoms = geometry.geometry if hasattr(geometry, "columns") else geometry
    if spatial:
        if graph is None:
            if geometry is None:
                raise InputError(f"method(s) {spatial} need boundaries: pass `geometry` or `graph`", source=SOURCE)
            graph, links = contiguity_graph(geometry, ids)
        else:
            if sorted(graph.unique_ids) != ids:
                raise InputError("the graph's region ids differ from the data's", source=SOURCE)
            if graph.n_components > 1:
                raise InputError(
                    f"the graph has {graph.n_components} connected components; link "
                    "islands first (see contiguity_graph)",
                    source=SOURCE,
                )
            # spopt and sklearn read the sparse matrix in the graph's id order
            graph = _reorder(graph, ids)
    grp = check_groups(groups, ids, scheme_name).to_numpy() if groups is not None else None
    c_rows, cmp_rows = [], []
    for v in variables:
        Z = trajectory_features(frame, v, region=region, year=year).loc[ids]
        for m in methods:
            labels = _relabel(_run_method(m, Z, graph, geoms, int(k), int(min_region_size), base_seed))
            c_rows.append(pd.DataFrame({"variable": v, "region": ids, "method": m, "cluster": labels}))
            if grp is not None:
                ari, cont = _compare(labels, grp)
                cmp_rows.append(
                    pd.DataFrame([{"variable": v, "method": m, "scheme": scheme_name, "kind": "ari", "ari": ari}])
                )
                cont.insert(0, "kind", "contingency")
                cont.insert(0, "scheme", scheme_name)
                cont.insert(0, "method", m)
                cont.insert(0, "variable", v)
                cmp_rows.append(cont)
    clusters = pd.concat(c_rows, ignore_index=True)
    cols = ["variable", "method", "scheme", "kind", "group", "cluster", "count", "ari"]
    if cmp_rows:
        comparison = pd.concat(cmp_rows, ignore_index=True).reindex(columns=cols)
        comparison["cluster"] = comparison["cluster"].astype("Int64")
        comparison["count"] = comparison["count"].astype("Int64")
    else:
        comparison = pd.DataFrame(columns=cols)
    return ClusterResults(clusters, comparison, links, scheme_name, int(k), base_seed)


def _reorder(graph, ids):
    """The same graph with ``unique_ids`` in the order ``ids``."""
    from libpysal.graph import Graph

    adj = graph.adjacency
    adj = adj[adj > 0]
    pos = {r: i for i, r in enumerate(ids)}
    f = adj.index.get_level_values(0)
    nb = adj.index.get_level_values(1)
    order = np.lexsort((np.array([pos[x] for x in nb]), np.array([pos[x] for x in f])))
    return Graph.from_arrays(
        np.asarray(f, dtype=object)[order], np.asarray(nb, dtype=object)[order], adj.to_numpy()[order]
    )


def _positional_w(graph, ids):
    """A binary libpysal ``W`` whose ids are positions 0..n-1 in ``ids`` (as spopt expects)."""
    from libpysal.weights import W

    pos = {r: i for i, r in enumerate(ids)}
    neighbors = {i: [] for i in range(len(ids))}
    adj = graph.adjacency
    adj = adj[adj > 0]
    for f, nb in adj.index:
        neighbors[pos[f]].append(pos[nb])
    return W(neighbors, id_order=list(range(len(ids))), silence_warnings=True)
