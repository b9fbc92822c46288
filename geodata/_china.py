"""The complete national outline of China for maps: 34 province-level units and the maritime boundary."""

from __future__ import annotations

import functools
import io

from ._layers import _data_bytes, _provinces_copy

__all__ = ["china_outline", "maritime_boundary", "EXTRA_CODES"]

#: Province-level units outside the 31-province layer: Taiwan, Hong Kong, Macao.
EXTRA_CODES = (710000, 810000, 820000)


@functools.cache
def _extras():
    import geopandas as gpd

    gdf = gpd.read_file(io.BytesIO(_data_bytes("china_extras.geojson")))
    gdf["code"] = gdf["code"].astype("int64")
    return gdf.set_index("code").sort_index().set_crs("EPSG:4326", allow_override=True)


def china_outline():
    """All 34 province-level units of China: the 31 provinces, Taiwan, Hong Kong and Macao.

    The map background of every China map of the report: a unit without
    data is drawn in the "no data" grey, so the national outline is always
    complete.  Simplified layers (see geodata/README.md); not an officially
    reviewed base map (no map review number).

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, indexed by GB/T 2260 code; columns ``code``, ``name_zh``,
        ``name_zh_short``, ``name_en``, ``geometry``.
    """
    import geopandas as gpd
    import pandas as pd

    prov = _provinces_copy()[["name_zh", "name_zh_short", "name_en", "geometry"]]
    ext = _extras()[["name_zh", "name_zh_short", "name_en", "geometry"]]
    out = gpd.GeoDataFrame(pd.concat([prov, ext]), geometry="geometry", crs="EPSG:4326")
    out.insert(0, "code", out.index.astype("int64"))
    out.index.name = "code"
    return out


@functools.cache
def _maritime():
    import geopandas as gpd

    return gpd.read_file(io.BytesIO(_data_bytes("maritime_boundary.geojson"))).set_crs("EPSG:4326", allow_override=True)


def maritime_boundary():
    """China's maritime boundary line (the South China Sea dashes and the dash east of Taiwan).

    Returns
    -------
    geopandas.GeoSeries
        One MultiLineString of ten segments, EPSG:4326.
    """
    return _maritime().geometry.copy()
