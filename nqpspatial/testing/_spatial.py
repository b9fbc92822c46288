"""Named behavioural checks of ``weights`` and ``statistics`` plugins.

Each check takes the plugin object and raises :class:`AssertionError`
explaining what is broken.  libpysal and geopandas are imported inside the
checks.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from ..contracts import output_problems

__all__ = ["WEIGHTS_CHECKS", "STATISTICS_CHECKS"]

_NEEDS = {"geometry", "panel", "scheme"}


def _who(obj) -> str:
    return f"plugin {getattr(obj, 'name', obj)!r}"


def _tiny_inputs(side: int = 3, periods: int = 3):
    import geopandas as gpd
    from shapely.geometry import box

    w = len(str(side - 1))  # r00 .. r99 up to side 10; zero-padded (unique) above
    ids = [f"r{i:0{w}d}{j:0{w}d}" for i in range(side) for j in range(side)]
    polys = [box(j, i, j + 1, i + 1) for i in range(side) for j in range(side)]
    geometry = gpd.GeoDataFrame({"region": ids}, geometry=polys, crs="EPSG:4326").set_index("region")
    rng = np.random.default_rng(7)
    years = list(range(2015, 2015 + periods))
    panel = pd.DataFrame(
        {
            "region": np.repeat(ids, periods),
            "year": np.tile(years, len(ids)),
            "x": rng.uniform(1, 10, len(ids) * periods),
        }
    )
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
    return Graph.from_sparse(mat, ids=np.array(ids, dtype=object)).transform("R")


# --------------------------------------------------------------------------
# weights
# --------------------------------------------------------------------------


def check_weights_declarations(obj) -> None:
    """``params`` is a dict of key -> default; ``needs`` a subset of geometry, panel, scheme."""
    who = _who(obj)
    assert isinstance(getattr(obj, "params", None), dict), f"{who}: 'params' must be a dict of accepted key -> default"
    needs = set(getattr(obj, "needs", set()) or set())
    assert needs <= _NEEDS, f"{who}: 'needs' must be a subset of {sorted(_NEEDS)}, got {sorted(needs)}"
    flag = getattr(obj, "handles_islands", False)
    assert isinstance(flag, bool), f"{who}: 'handles_islands' must be a bool"


def _build_both_orders(obj):
    """Build on the 3 x 3 lattice with the ids in two orders; returns (ids, graphs, panel, panel_before)."""
    ids, geometry, panel, scheme = _tiny_inputs()
    params = dict(getattr(obj, "params", {}) or {})
    kwargs = {}
    tmp = None
    if "variable" in params and params["variable"] is None:
        kwargs["variable"] = "x"
    if "path" in params and params["path"] is None:
        tmp = tempfile.TemporaryDirectory()
        path = Path(tmp.name) / "w.csv"
        pd.DataFrame({"focal": ids, "neighbor": ids[1:] + ids[:1], "weight": 1.0}).to_csv(path, index=False)
        kwargs["path"] = str(path)
    try:
        before = panel.copy()
        graphs = [
            obj.build(
                list(order), geometry=geometry, panel=panel, scheme=scheme, region="region", year="year", **kwargs
            )
            for order in (ids, ids[::-1])
        ]
        return ids, graphs, panel, before
    finally:
        if tmp is not None:
            tmp.cleanup()


def check_weights_build_returns_graph(obj) -> None:
    """``build`` returns a libpysal Graph over exactly ``ids`` in order, finite, non-negative, no self-weights."""
    from libpysal.graph import Graph

    who = _who(obj)
    ids, graphs, _, _ = _build_both_orders(obj)
    for order, g in zip((ids, ids[::-1]), graphs):
        assert isinstance(g, Graph), f"{who}: build() must return a libpysal.graph.Graph, got {type(g).__name__}"
        got = list(g.unique_ids)
        assert got == list(order), (
            f"{who}: build() must return a graph over exactly `ids` in that order; "
            f"asked {list(order)[:4]}..., got {got[:4]}..."
        )
        adj = g.adjacency
        w = adj.to_numpy(dtype=float)
        assert np.all(np.isfinite(w)), f"{who}: weights must be finite"
        assert np.all(w >= 0), f"{who}: weights must be non-negative"
        selfw = w[np.asarray(adj.index.get_level_values(0) == adj.index.get_level_values(1))]
        assert np.all(selfw == 0), f"{who}: the raw graph must have no self-weights (isolates: weight 0)"


def check_weights_independent_of_id_order(obj) -> None:
    """The graph does not depend on the order of ``ids`` beyond reordering."""
    who = _who(obj)
    ids, graphs, _, _ = _build_both_orders(obj)
    a = graphs[0].sparse.toarray()
    rev = np.arange(len(ids))[::-1]
    b = graphs[1].sparse.toarray()[np.ix_(rev, rev)]
    assert np.allclose(a, b), f"{who}: the graph depends on the order of `ids` (beyond reordering)"


def check_weights_does_not_mutate_inputs(obj) -> None:
    """``build`` leaves the panel it reads unchanged."""
    _, _, panel, before = _build_both_orders(obj)
    pd.testing.assert_frame_equal(panel, before, obj=f"{_who(obj)}: build() mutated the panel")


WEIGHTS_CHECKS = (
    check_weights_declarations,
    check_weights_build_returns_graph,
    check_weights_independent_of_id_order,
    check_weights_does_not_mutate_inputs,
)


# --------------------------------------------------------------------------
# statistics
# --------------------------------------------------------------------------

_YEARS = [2001, 2002, 2003]


def _stat_inputs(obj):
    graph = _lattice_graph(4)
    ids = list(graph.unique_ids)
    rng = np.random.default_rng(3)
    values = pd.DataFrame(rng.normal(size=(len(ids), 3)).cumsum(0) + 10, index=ids, columns=_YEARS)
    yvals = pd.DataFrame(rng.normal(size=(len(ids), 3)) + 5, index=ids, columns=_YEARS)
    return graph, ids, values, yvals


def _compute(obj, graph, values, yvals, seed=1, perm=None):
    extra = {}
    if obj.bivariate:
        extra["y"] = yvals if perm is None else yvals.iloc[perm]
    vals = values if perm is None else values.iloc[perm]
    return obj.compute(vals, graph, rng=np.random.default_rng(seed), permutations=19, alpha=0.05, fdr=False, **extra)


def check_statistic_table_name(obj) -> None:
    """``table`` is a valid table name that no other statistics plugin or stage (but the spatial stage) writes."""
    from .. import registry
    from ..contracts import table_name_problems

    taken = {}
    for name in registry.names("statistics"):
        if name == obj.name:
            continue
        try:
            taken[registry.get("statistics", name).table] = f"statistics plugin '{name}'"
        except Exception:  # noqa: BLE001 - a broken plugin is reported by its own checks
            continue
    for name in registry.names("analyses"):
        if name == "spatial":  # the stage that writes the statistics' tables
            continue
        try:
            declared = getattr(registry.get("analyses", name), "tables", ()) or ()
        except Exception:  # noqa: BLE001
            continue
        taken.update({t: f"stage '{name}'" for t in declared})
    probs = table_name_problems(getattr(obj, "table", None), owner=f"statistics plugin '{obj.name}'", taken=taken)
    assert not probs, f"{_who(obj)}: {probs[0]}"


def check_statistic_output(obj) -> None:
    """``compute`` returns what the spatial stage accepts: ``year`` over every period, no variable/weights."""
    graph, ids, values, yvals = _stat_inputs(obj)
    before = values.copy()
    out = _compute(obj, graph, values, yvals)
    pd.testing.assert_frame_equal(values, before, obj=f"{_who(obj)}: compute() mutated its input")
    probs = output_problems("statistics", out, name=obj.table, years=_YEARS, regions=ids)
    assert not probs, f"{_who(obj)}: {probs[0]}"


def check_statistic_seeded(obj) -> None:
    """The same seed gives the same result."""
    graph, _, values, yvals = _stat_inputs(obj)
    out = _compute(obj, graph, values, yvals)
    again = _compute(obj, graph, values, yvals)
    pd.testing.assert_frame_equal(
        out.reset_index(drop=True),
        again.reset_index(drop=True),
        obj=f"{_who(obj)}: the same seed must give the same result",
    )


def check_statistic_aligns_regions(obj) -> None:
    """Shuffling the input rows does not change the result (values are aligned to the graph's ids)."""
    graph, ids, values, yvals = _stat_inputs(obj)
    out = _compute(obj, graph, values, yvals)
    perm = np.random.default_rng(5).permutation(len(ids))
    shuffled = _compute(obj, graph, values, yvals, perm=perm)
    key = ["year", "region"] if "region" in out.columns else ["year"]
    a = out.sort_values(key).reset_index(drop=True)
    b = shuffled.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(
        a,
        b,
        check_exact=False,
        rtol=1e-9,
        obj=f"{_who(obj)}: the result changes when the input rows are shuffled (align values to graph.unique_ids)",
    )


STATISTICS_CHECKS = (
    check_statistic_table_name,
    check_statistic_output,
    check_statistic_seeded,
    check_statistic_aligns_regions,
)
