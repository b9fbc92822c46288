"""Spatial weights from a specification: parsing, the island policy, transforms, :class:`SpatialWeights`.

The raw graph comes from a weights builder found through the registry
(group ``nqpspatial.weights``; the first-party builders register exactly as
a third party's would).  Everything after the raw graph happens here, once,
for every stage: the island policy (:mod:`nqpspatial.spatial._islands`) and
the libpysal transformation.

Specifications
--------------
``"name"`` or ``"name:key=value,key=value"``; values are parsed as int,
float, bool (``true``/``false``), ``none`` or str.  The nested builder takes
a geographic specification as ``geo=<spec>``; separate the inner
parameters with ``;`` (``nested:phi=0.4,geo=inverse_distance:power=2;cutoff=1500``).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from .._util import closest
from ..errors import ConfigError, InputError, PluginError
from ..results import Results, Summary
from ._geometry import graph_from_coo
from ._islands import empty_links, link_islands

__all__ = [
    "ISLAND_POLICIES",
    "TRANSFORMS",
    "SpatialWeights",
    "build_weights",
    "parse_spec",
    "spec_slug",
    "get_builder",
    "builder_params",
    "check_specs",
    "canonical_ids",
]

ISLAND_POLICIES = ("nearest", "keep", "drop")
TRANSFORMS = ("r", "b", "o", "d", "v")
_SOURCE = "config [spatial] weights"


#: The note of a stage that needs spatial weights when none could be built.
NO_WEIGHTS = (
    "no spatial weights: without region boundaries only specifications that need none (economic, a "
    "weights file) can be built; set [geometry] source and id (a GeoJSON, GeoPackage or Shapefile with "
    "an id field)"
)


def canonical_ids(ids) -> list:
    """Sorted distinct region ids (by their text when they do not compare): the order of every graph."""
    uniq = list(dict.fromkeys(ids))
    try:
        return sorted(uniq)
    except TypeError:
        return sorted(uniq, key=str)


def _nearest(word, choices) -> str:
    found = closest(word, choices, cutoff=0.0)
    return found[0] if found else ""


def _parse_value(text: str) -> Any:
    t = text.strip()
    low = t.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    try:
        return int(t)
    except ValueError:
        pass
    try:
        return float(t)
    except ValueError:
        return t


def parse_spec(spec: str) -> tuple[str, dict]:
    """Split a weights specification into a builder name and parameters.

    Parameters
    ----------
    spec : str
        ``"name"`` or ``"name:key=value,key=value"``.

    Returns
    -------
    name : str
    params : dict
        Values parsed as int, float, bool, None or str.

    Raises
    ------
    ConfigError
        Empty name or a pair without ``=``.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(
            f'weights specification {spec!r} is empty; write e.g. "queen" or "knn:k=5"',
            source="config [spatial] weights",
        )
    name, _, rest = spec.strip().partition(":")
    name = name.strip()
    params: dict[str, Any] = {}
    if rest.strip():
        for part in rest.split(","):
            key, eq, value = part.partition("=")
            if not eq or not key.strip():
                raise ConfigError(
                    f'weights specification {spec!r}: {part!r} is not a key=value pair; write e.g. "knn:k=5"',
                    source="config [spatial] weights",
                )
            params[key.strip()] = _parse_value(value)
    return name, params


def spec_slug(spec: str) -> str:
    """File-name slug of a specification: letters, digits and ``_`` only.

    ``"knn:k=5"`` -> ``"knn_k_5"``; ``"distance_band:threshold=250.5"`` ->
    ``"distance_band_threshold_250_5"``.
    """
    slug = re.sub(r"[^0-9A-Za-z]+", "_", spec.strip())
    return slug.strip("_") or "weights"


def _graph_table(graph) -> pd.DataFrame:
    adj = graph.adjacency.reset_index()
    adj = adj[~((adj["focal"] == adj["neighbor"]) & (adj["weight"] == 0))]
    return adj[["focal", "neighbor", "weight"]].reset_index(drop=True)


class SpatialWeights(Results):
    """A spatial weights matrix built from a specification.

    Attributes
    ----------
    graph : libpysal.graph.Graph
        The transformed graph used by the statistics, over :attr:`ids`.
    raw_graph : libpysal.graph.Graph
        The graph after the island policy, before the transformation.
    spec : str
        The specification as given (e.g. ``"knn:k=5"``).
    name : str
        The builder's name.
    params : dict
        The parameters used (defaults filled in).
    slug : str
        File-name slug (e.g. ``"knn_k_5"``).
    transform : str
        libpysal transformation code applied (``"r"`` by default).
    island_policy : str
        ``"nearest"``, ``"keep"`` or ``"drop"``.
    islands : tuple
        Region ids without neighbours in the builder's raw graph.
    links : pandas.DataFrame
        Links added by the ``nearest`` policy: ``island, neighbor, km``.
    ids : tuple
        Regions of :attr:`graph`, in order (``drop`` removes the islands).
    table : pandas.DataFrame
        ``focal, neighbor, weight`` of :attr:`graph` (the ``weights_<slug>`` table).
    summary_row : dict
        ``name, n, islands, island_policy, mean_neighbors, components`` plus
        ``slug, transform, island_ids, dropped``.
    """

    def __init__(
        self, *, graph, raw_graph, spec, name, params, transform, island_policy, islands, links, ids, notes=()
    ):
        self.graph = graph
        self.raw_graph = raw_graph
        self.spec = spec
        self.name = name
        self.params = dict(params)
        self.slug = spec_slug(spec)
        self.transform = transform
        self.island_policy = island_policy
        self.islands = tuple(islands)
        self.links = links
        self.ids = tuple(ids)
        self.notes = tuple(notes)
        card = np.asarray(graph.cardinalities.to_numpy(), dtype=float)
        self.summary_row = {
            "name": spec,
            "n": int(graph.n),
            "islands": len(self.islands),
            "island_policy": island_policy,
            "mean_neighbors": float(card.mean()) if len(card) else float("nan"),
            "components": int(graph.n_components),
            "slug": self.slug,
            "transform": transform,
            "island_ids": ";".join(map(str, self.islands)),
            "dropped": ";".join(map(str, self.islands)) if island_policy == "drop" else "",
        }
        self._freeze()

    @property
    def table(self) -> pd.DataFrame:
        """``focal, neighbor, weight`` rows of the transformed graph (no isolate self-loops)."""
        return _graph_table(self.graph)

    def summary(self) -> Summary:
        """Key facts: size, islands and how they were handled, mean neighbours, components."""
        facts = dict(self.summary_row)
        tables = {}
        if len(self.links):
            tables["island links (nearest by boundary distance)"] = self.links
        return Summary(title=f"Spatial weights {self.spec}", facts=facts, tables=tables, notes=self.notes)


def get_builder(name: str):
    """The weights builder registered under ``name`` (group ``nqpspatial.weights``).

    Raises
    ------
    ConfigError
        No builder of that name (the message suggests the nearest and lists
        the available ones).
    PluginError
        The builder fails to load or breaks its contract.
    """
    from .. import registry

    known = registry.names("weights")
    if name not in known:
        raise ConfigError(
            f"unknown weights builder '{name}' (did you mean '{_nearest(name, known)}'?); "
            f"available: {', '.join(known)}",
            source=_SOURCE,
        )
    return registry.get("weights", name)


def builder_params(builder, params: dict) -> dict:
    """``params`` checked against ``builder.params``; returns the full parameters (defaults filled in).

    Raises
    ------
    ConfigError
        A key the builder does not accept (with the nearest accepted key).
    """
    accepted = dict(getattr(builder, "params", {}) or {})
    for k in params:
        if k not in accepted:
            hint = _nearest(k, accepted)
            raise ConfigError(
                f"weights '{getattr(builder, 'name', builder)}' has no parameter '{k}'"
                + (f" (did you mean '{hint}'?)" if hint else "")
                + f"; accepted: {', '.join(accepted) or '(none)'}",
                source=_SOURCE,
            )
    return {**accepted, **params}


def build_weights(
    spec: str,
    ids,
    *,
    geometry=None,
    panel=None,
    scheme=None,
    islands: str = "nearest",
    transform: str = "r",
    region: str = "region",
    year: str = "year",
    base_dir=None,
) -> SpatialWeights:
    """Build spatial weights from a specification string.

    Parameters
    ----------
    spec : str
        ``"name"`` or ``"name:key=value,..."``, e.g. ``"queen"``, ``"knn:k=5"``,
        ``"economic:variable=gdp_pc"``.
    ids : sequence
        Region ids, in the order of the graph.
    geometry : geopandas.GeoDataFrame, optional
        Boundaries indexed by region id (needed by geographic builders and by
        the ``nearest`` island policy).
    panel : pandas.DataFrame, optional
        Long panel with ``region`` and ``year`` columns (economic, nested).
    scheme : pandas.Series, optional
        Region id -> group (block).
    islands : {"nearest", "keep", "drop"}
        What to do with regions that have no neighbour: link each to its
        nearest region by boundary distance (both directions), keep them
        isolated (zero lag; local statistics label them ``isolated``), or
        drop them from the weights (statistics then run on the other regions
        and the dropped ids are listed in ``weights_summary``).  Not applied
        to a builder with ``handles_islands = True`` (its ``island_policy``
        is then ``"builder"``).
    transform : str, default "r"
        libpysal transformation: ``r`` row-standardized, ``b`` binary,
        ``o`` original, ``d`` doubly standardized, ``v`` variance stabilizing.
    region, year : str
        Column names in ``panel``.
    base_dir : path, optional
        Folder that relative ``matrix:path=`` values are resolved against.

    Returns
    -------
    SpatialWeights

    Raises
    ------
    ConfigError
        Unknown builder, parameter, island policy or transform.
    InputError
        Missing inputs for the builder (boundaries, panel column, scheme).
    """
    if islands not in ISLAND_POLICIES:
        raise ConfigError(
            f"islands = {islands!r} is not a policy (did you mean '{_nearest(islands, ISLAND_POLICIES)}'?); "
            f"use one of {', '.join(ISLAND_POLICIES)}",
            source="config [spatial] islands",
        )
    t = str(transform).lower()
    if t not in TRANSFORMS:
        raise ConfigError(
            f"transform = {transform!r} is not a libpysal transformation; use one of {', '.join(TRANSFORMS)}",
            source="config [spatial] transform",
        )
    ids = list(ids)
    if len(set(ids)) != len(ids):
        raise InputError("region ids passed to the weights builder are not unique", source="panel")
    from .. import registry

    name, given = parse_spec(spec)
    builder = get_builder(name)
    full = builder_params(builder, given)
    kwargs = dict(geometry=geometry, panel=panel, scheme=scheme, region=region, year=year)
    if "base_dir" in registry.keywords("weights", builder):
        kwargs["base_dir"] = base_dir
    raw = builder.build(ids, **kwargs, **given)
    raw_ids = list(raw.unique_ids)
    if raw_ids != ids:
        raise PluginError(
            f"weights builder '{name}' returned a graph over different ids or order than "
            "requested (contract: exactly `ids`, in that order)"
        )
    isolated = set(raw.isolates)
    found = [i for i in ids if i in isolated]
    notes = []
    links = empty_links()
    graph_raw = raw
    kept_ids = ids
    if found and getattr(builder, "handles_islands", False):
        notes.append(
            f"weights '{name}' decides about regions without neighbours itself (no island policy): "
            f"{', '.join(map(str, found))} kept without neighbours"
        )
        islands = "builder"
    elif found:
        if islands == "nearest":
            if geometry is None:
                raise InputError(
                    f"weights '{spec}' leaves region(s) {found[:10]} without neighbours and the "
                    "island policy 'nearest' needs boundaries to find their nearest region; give "
                    'boundaries or set [spatial] islands = "keep" or "drop"',
                    source="config [spatial] islands",
                )
            graph_raw, links = link_islands(raw, ids, geometry, found)
            notes.append(
                "islands linked to their nearest region by boundary distance: "
                + ", ".join(f"{a}-{b} ({km:.1f} km)" for a, b, km in links.itertuples(index=False))
            )
        elif islands == "drop":
            found_set = set(found)
            kept_ids = [i for i in ids if i not in found_set]
            if len(kept_ids) < 3:
                raise InputError(
                    f"island policy 'drop' leaves {len(kept_ids)} regions; use 'nearest' or 'keep'",
                    source="config [spatial] islands",
                )
            sub = sparse.coo_array(raw.subgraph(kept_ids).sparse)
            graph_raw = graph_from_coo(sub.row, sub.col, sub.data, kept_ids)
            notes.append(
                f"islands dropped from the weights (statistics use the other {len(kept_ids)} regions; "
                f"dropped: {', '.join(map(str, found))})"
            )
        else:
            notes.append(f"islands kept without neighbours: {', '.join(map(str, found))}")
    graph = graph_raw if t == "o" else graph_raw.transform(t.upper())
    return SpatialWeights(
        graph=graph,
        raw_graph=graph_raw,
        spec=spec.strip(),
        name=name,
        params=full,
        transform=t,
        island_policy=islands,
        islands=found,
        links=links,
        ids=kept_ids,
        notes=notes,
    )


def check_specs(value, label: str = "[spatial] weights", where: str = "config") -> list[str]:
    """A list of weights specifications checked before anything is built.

    Each must parse, name an installed builder and use only its
    parameters.  A lone string is read as a list of one.

    Raises
    ------
    ConfigError
        Naming ``label`` and the specification.
    """
    specs = [value] if isinstance(value, str) else value
    if not isinstance(specs, list) or not specs or not all(isinstance(s, str) for s in specs):
        raise ConfigError(
            f'{label} = {value!r} must be a non-empty list of weights specifications, e.g. ["queen", "knn:k=5"]',
            source=where,
        )
    for spec in specs:
        try:
            name, params = parse_spec(spec)
            builder = get_builder(name)
            builder_params(builder, params)
        except ConfigError as exc:
            raise ConfigError(f"{label}: {exc.detail}", source=where) from None
    return list(specs)
