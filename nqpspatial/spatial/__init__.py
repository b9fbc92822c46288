"""Spatial weights in the core: specifications, the island policy, transforms and km geometry.

The raw graphs come from weights builders (plugins of the group
``nqpspatial.weights``, first-party ones in ``nqpspatial.plugins.weights``);
everything the stages share happens here once:

* :func:`build_weights` parses a specification (``"knn:k=5"``), builds the
  raw graph through the registry, applies the island policy and the
  transformation and returns a :class:`SpatialWeights`;
* :func:`link_islands` and :func:`connect_components` are the one routine
  that links regions without neighbours (weights, zone clustering, the
  bundled province neighbours);
* :func:`centroid_points` and :func:`pairwise_km` measure in kilometres.

Importing this package does not import libpysal or geopandas.
"""

from ._geometry import (
    EARTH_RADIUS_KM,
    centroid_points,
    graph_from_coo,
    graph_from_dense,
    knn_km,
    pairs_within_km,
    pairwise_km,
    require_geometry,
)
from ._islands import connect_components, link_islands, nearest_by_boundary
from ._weights import (
    ISLAND_POLICIES,
    NO_WEIGHTS,
    TRANSFORMS,
    SpatialWeights,
    build_weights,
    builder_params,
    canonical_ids,
    check_specs,
    get_builder,
    parse_spec,
    spec_slug,
)

__all__ = [
    "EARTH_RADIUS_KM",
    "ISLAND_POLICIES",
    "NO_WEIGHTS",
    "TRANSFORMS",
    "SpatialWeights",
    "build_weights",
    "builder_params",
    "canonical_ids",
    "check_specs",
    "centroid_points",
    "connect_components",
    "get_builder",
    "graph_from_coo",
    "graph_from_dense",
    "knn_km",
    "link_islands",
    "nearest_by_boundary",
    "pairs_within_km",
    "pairwise_km",
    "parse_spec",
    "require_geometry",
    "spec_slug",
]
