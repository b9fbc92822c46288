"""Behavioural contract checks for ``weights`` and ``statistics`` plugins.

Used by :mod:`nqpspatial.testing` (``check_plugin("weights", obj)`` and
``check_plugin("statistics", obj)``).  Each check runs the plugin on a tiny
synthetic case and raises :class:`AssertionError` explaining the first
broken part of the contract.  The contracts themselves are documented in
``nqpspatial.plugins.weights`` and ``nqpspatial.plugins.statistics`` and in
docs/spatial.md.

This module imports numpy and pandas only at import time; libpysal and
geopandas are imported inside the checks.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["check_weights_plugin", "check_statistic_plugin"]

_NEEDS = {"geometry", "panel", "scheme"}


def _label(obj) -> str:
    return f"plugin {getattr(obj, 'name', obj)!r}"


def _named(obj) -> str:
    """Check that ``obj`` has a non-empty str ``name``; return its label for messages."""
    who = _label(obj)
    assert isinstance(getattr(obj, "name", None), str) and obj.name, f"{who}: 'name' must be a non-empty str"
    return who


def _tiny_inputs(side: int = 3, periods: int = 3):
    import geopandas as gpd
    from shapely.geometry import box

    ids = [f"r{i}{j}" for i in range(side) for j in range(side)]
    polys = [box(j, i, j + 1, i + 1) for i in range(side) for j in range(side)]
    geometry = gpd.GeoDataFrame({"region": ids}, geometry=polys, crs="EPSG:4326").set_index("region")
    rng = np.random.default_rng(7)
    years = list(range(2015, 2015 + periods))
    panel = pd.DataFrame({"region": np.repeat(ids, periods), "year": np.tile(years, len(ids)),
                          "x": rng.uniform(1, 10, len(ids) * periods)})
    scheme = pd.Series(["a" if int(r[2]) < 2 else "b" for r in ids], index=ids, name="group")
    return ids, geometry, panel, scheme


def _lattice_graph(side: int = 4):
    from libpysal.graph import Graph
    from scipy import sparse

    n = side * side
    rows, cols = [], []
    for i in range(side):
        for j in range(side):
            a = i * side + j
            for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                if 0 <= i + di < side and 0 <= j + dj < side:
                    rows.append(a)
                    cols.append((i + di) * side + j + dj)
    mat = sparse.csr_array((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    ids = np.array([f"s{k:02d}" for k in range(n)], dtype=object)
    return Graph.from_sparse(mat, ids=ids).transform("R")


def check_weights_plugin(obj) -> None:
    """Check a weights builder against the contract.

    Checks the attributes (``name`` str, ``params`` dict, ``needs`` a subset
    of {"geometry", "panel", "scheme"}, ``build`` callable), then builds it
    with its default parameters on a 3 x 3 lattice of one-degree squares
    (with a panel column ``x`` and a two-group scheme; a ``variable``
    parameter is set to ``"x"`` and a ``path`` parameter to a small CSV) in
    two id orders, and checks that a libpysal ``Graph`` over exactly the
    requested ids, in that order, with finite non-negative weights and no
    self-weights is returned, the same both times.

    Raises
    ------
    AssertionError
        The first broken part of the contract.
    """
    from libpysal.graph import Graph

    who = _named(obj)
    params = getattr(obj, "params", None)
    assert isinstance(params, dict), f"{who}: 'params' must be a dict of accepted key -> default"
    needs = set(getattr(obj, "needs", set()) or set())
    assert needs <= _NEEDS, f"{who}: 'needs' must be a subset of {sorted(_NEEDS)}, got {sorted(needs)}"
    assert callable(getattr(obj, "build", None)), f"{who}: 'build' must be callable"

    ids, geometry, panel, scheme = _tiny_inputs()
    kwargs = {}
    tmp = None
    if "variable" in params and params["variable"] is None:
        kwargs["variable"] = "x"
    if "path" in params and params["path"] is None:
        tmp = tempfile.TemporaryDirectory()
        path = Path(tmp.name) / "w.csv"
        ring = pd.DataFrame({"focal": ids, "neighbor": ids[1:] + ids[:1], "weight": 1.0})
        ring.to_csv(path, index=False)
        kwargs["path"] = str(path)
    try:
        panel_before = panel.copy()
        graphs = []
        for order in (ids, ids[::-1]):
            g = obj.build(list(order), geometry=geometry, panel=panel, scheme=scheme, region="region",
                          year="year", **kwargs)
            assert isinstance(g, Graph), f"{who}: build() must return a libpysal.graph.Graph, got {type(g).__name__}"
            got = list(g.unique_ids)
            assert got == list(order), (f"{who}: build() must return a graph over exactly `ids` in that order; "
                                        f"asked {list(order)[:4]}..., got {got[:4]}...")
            adj = g.adjacency
            w = adj.to_numpy(dtype=float)
            assert np.all(np.isfinite(w)), f"{who}: weights must be finite"
            assert np.all(w >= 0), f"{who}: weights must be non-negative"
            focal = adj.index.get_level_values(0)
            neigh = adj.index.get_level_values(1)
            selfw = w[np.asarray(focal == neigh)]
            assert np.all(selfw == 0), f"{who}: the raw graph must have no self-weights (isolates: weight 0)"
            graphs.append(g)
        pd.testing.assert_frame_equal(panel, panel_before, obj=f"{who}: build() mutated the panel")
        a = graphs[0].sparse.toarray()
        rev = np.arange(len(ids))[::-1]
        b = graphs[1].sparse.toarray()[np.ix_(rev, rev)]
        assert np.allclose(a, b), f"{who}: the graph depends on the order of `ids` (beyond reordering)"
    finally:
        if tmp is not None:
            tmp.cleanup()


def check_statistic_plugin(obj) -> None:
    """Check a statistics plugin against the contract.

    Checks the attributes (``name`` and ``table`` non-empty str, ``bivariate``
    bool, ``compute`` callable), then computes it on a 4 x 4 rook lattice with
    three periods and 19 permutations and checks that the result is a
    DataFrame with a ``year`` column covering every period, without
    ``variable``/``weights`` columns, with one row per region and period when
    it has a ``region`` column, identical for the same seed, unchanged when
    the input rows are shuffled, and that the input is not mutated.

    Raises
    ------
    AssertionError
        The first broken part of the contract.
    """
    who = _named(obj)
    table = getattr(obj, "table", None)
    assert isinstance(table, str) and table.replace("_", "").isalnum(), \
        f"{who}: 'table' must be a file-name-safe str (letters, digits, _)"
    assert isinstance(getattr(obj, "bivariate", None), bool), f"{who}: 'bivariate' must be a bool"
    assert callable(getattr(obj, "compute", None)), f"{who}: 'compute' must be callable"

    graph = _lattice_graph(4)
    ids = list(graph.unique_ids)
    rng = np.random.default_rng(3)
    years = [2001, 2002, 2003]
    values = pd.DataFrame(rng.normal(size=(len(ids), 3)).cumsum(0) + 10, index=ids, columns=years)
    yvals = pd.DataFrame(rng.normal(size=(len(ids), 3)) + 5, index=ids, columns=years)
    extra = {"y": yvals} if obj.bivariate else {}

    def run(vals, seed, **kw):
        return obj.compute(vals, graph, rng=np.random.default_rng(seed), permutations=19, alpha=0.05,
                           fdr=False, **kw)

    before = values.copy()
    out = run(values, 1, **extra)
    assert isinstance(out, pd.DataFrame), f"{who}: compute() must return a pandas DataFrame"
    pd.testing.assert_frame_equal(values, before, obj=f"{who}: compute() mutated its input")
    assert "year" in out.columns, f"{who}: the result needs a 'year' column"
    assert set(out["year"]) == set(years), f"{who}: the result must cover every period {years}"
    for col in ("variable", "weights"):
        assert col not in out.columns, f"{who}: the result must not have a '{col}' column (the stage adds it)"
    if "region" in out.columns:
        assert len(out) == len(ids) * len(years), f"{who}: a local statistic needs one row per region and period"
        assert set(out["region"]) == set(ids), f"{who}: 'region' must hold the graph's ids"
    again = run(values, 1, **extra)
    pd.testing.assert_frame_equal(out.reset_index(drop=True), again.reset_index(drop=True),
                                  obj=f"{who}: the same seed must give the same result")
    perm = rng.permutation(len(ids))
    shuffled_extra = {"y": yvals.iloc[perm]} if obj.bivariate else {}
    shuffled = run(values.iloc[perm], 1, **shuffled_extra)
    key = ["year", "region"] if "region" in out.columns else ["year"]
    a = out.sort_values(key).reset_index(drop=True)
    b = shuffled.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9,
                                  obj=f"{who}: the result changes when the input rows are shuffled "
                                      "(align values to graph.unique_ids)")
