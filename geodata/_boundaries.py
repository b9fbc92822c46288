"""User boundary files (any regions, not only China)."""

from __future__ import annotations

import difflib
from pathlib import Path

import pandas as pd

from nqpspatial.errors import InputError

from ._names import _panel_ids, _refuse_unmatched

__all__ = ["read_boundaries", "repair_polygons"]

#: Geometry types accepted as region boundaries.
POLYGONAL = ("Polygon", "MultiPolygon")


def repair_polygons(gdf, src: str, ids=None):
    """Check that every geometry is a polygon and repair invalid ones with ``shapely.make_valid``.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        The boundaries (not modified).
    src : str
        The file (or layer) named in messages.
    ids : sequence, optional
        Region ids of the rows for messages (default: the index).

    Returns
    -------
    (geopandas.GeoDataFrame, list)
        The boundaries with repaired geometries, and the ids of the regions
        whose polygons were repaired (for a note in run.json).

    Raises
    ------
    InputError
        Point or line geometries, or a polygon that the repair makes empty
        or non-polygonal (the message names the regions).
    """
    import shapely

    ids = list(gdf.index if ids is None else ids)
    types = gdf.geometry.geom_type.to_numpy()
    wrong = [(i, t) for i, t in zip(ids, types) if t not in POLYGONAL]
    if wrong:
        kinds = sorted({str(t) for _, t in wrong})
        raise InputError(
            f"region boundaries must be polygons, but {len(wrong)} feature(s) are {', '.join(kinds)}: "
            f"{_show([i for i, _ in wrong])}. Fix: give a file of region polygons (points or lines "
            "are not boundaries; for point locations use a polygon layer of the same regions).",
            source=src,
        )
    geoms = gdf.geometry.to_numpy()
    invalid = ~shapely.is_valid(geoms)
    if not invalid.any():
        return gdf, []
    fixed = geoms.copy()
    bad = []
    for k in invalid.nonzero()[0]:
        g = shapely.make_valid(geoms[k])
        if g.geom_type == "GeometryCollection":  # keep the polygonal parts
            parts = [p for p in shapely.get_parts(g) if p.geom_type in POLYGONAL]
            g = shapely.union_all(parts) if parts else shapely.Polygon()
        if g.is_empty or g.geom_type not in POLYGONAL or g.area == 0:
            bad.append(ids[k])
        fixed[k] = g
    if bad:
        raise InputError(
            f"the polygon(s) of {_show(bad)} are invalid and repairing them (shapely.make_valid) leaves "
            "no area. Fix: redraw these boundaries in a GIS (e.g. QGIS 'Fix geometries').",
            source=src,
        )
    out = gdf.copy()
    out[out.geometry.name] = fixed
    return out, [ids[k] for k in invalid.nonzero()[0]]


def _show(values, limit: int = 20) -> str:
    values = list(values)
    text = ", ".join(repr(v) for v in values[:limit])
    return text + (f" ... ({len(values)} in all)" if len(values) > limit else "")


def read_boundaries(path, id_field: str, regions=None, *, crs=None, layer=None):
    """Read a boundary file (GeoJSON, GeoPackage, Shapefile, ...) indexed by an id field.

    Parameters
    ----------
    path : str or pathlib.Path
        The boundary file.
    id_field : str
        The attribute field holding the region ids.
    regions : iterable, optional
        The panel's region ids.  When given, the ids must match the file's ids
        one to one (compared as text, so ``12`` matches ``"12"``); the result
        is indexed by the panel's ids in their order.
    crs : str or pyproj.CRS, optional
        CRS to assign when the file declares none (e.g. ``"EPSG:4326"`` for
        longitude/latitude).  Never guessed: a file without a CRS and without
        this option is an error.  Giving a CRS that contradicts the file's
        own is an error too (reproject the file instead).
    layer : str, optional
        Layer name for multi-layer files (GeoPackage).

    Returns
    -------
    geopandas.GeoDataFrame
        Indexed by region id (named ``region``), with the file's other fields
        and its geometry, in the file's (or the given) CRS.

    Raises
    ------
    InputError
        Missing or unreadable file, missing id field, empty or duplicate
        ids, missing geometries, no CRS, or panel regions without geometry
        and boundary features without panel data.
    """
    import geopandas as gpd

    p = Path(path)
    src = str(p)
    if not p.exists() and not p.is_symlink():
        raise InputError(
            f"boundary file not found: {p}. Fix: check [geometry] source (relative paths "
            "are relative to the config file).",
            source=src,
        )
    from nqpspatial.io import check_input_file

    check_input_file(p, "boundary file", "[geometry] source")  # no FIFO, device or folder
    if p.suffix.lower() in (".csv", ".txt", ".tsv", ".xlsx", ".xls", ".xlsm", ".dta"):
        raise InputError(
            f"a boundary file holds polygons (GeoJSON, GeoPackage or Shapefile), but this is a "
            f"{p.suffix} table. Fix: set [geometry] source to the boundary file; the panel goes in "
            "[data] panel.",
            source=src,
        )
    try:
        gdf = gpd.read_file(p, layer=layer) if layer is not None else gpd.read_file(p)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a user-fixable file problem
        raise InputError(
            f"cannot read the boundary file: {exc}. Fix: give a GeoJSON, GeoPackage or "
            "Shapefile (with its .shx/.dbf/.prj beside it).",
            source=src,
        ) from None
    if id_field not in gdf.columns or id_field == gdf.geometry.name:
        fields = [c for c in gdf.columns if c != gdf.geometry.name]
        close = difflib.get_close_matches(str(id_field), [str(f) for f in fields], n=1, cutoff=0.4)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise InputError(
            f"id field '{id_field}' not found; the file's fields are {', '.join(map(str, fields))}."
            f"{hint} Fix: set [geometry] id to the field holding the panel's region ids.",
            source=src,
        )
    ids = gdf[id_field]
    empty = ids.isna() | (ids.astype(str).str.strip() == "")
    if empty.any():
        raise InputError(
            f"{int(empty.sum())} feature(s) have an empty '{id_field}' (feature number(s) "
            f"{_show((empty[empty].index + 1).tolist())}). Fix: fill in their ids.",
            source=src,
        )
    dup = ids[ids.duplicated(keep=False)]
    if len(dup):
        raise InputError(
            f"duplicate ids in field '{id_field}': {_show(dict.fromkeys(dup.tolist()))}. "
            "Fix: each region must be one feature (dissolve multi-part regions into one "
            "feature, e.g. geopandas dissolve).",
            source=src,
        )
    nogeom = gdf.geometry.isna() | gdf.geometry.is_empty
    if nogeom.any():
        raise InputError(
            f"feature(s) without geometry: {_show(ids[nogeom].tolist())}. Fix: give them a "
            "boundary or remove them (and their rows from the panel).",
            source=src,
        )
    gdf, repaired = repair_polygons(gdf, src, ids.tolist())
    _check_crs_value(crs)
    if gdf.crs is None:
        if crs is None:
            minx, miny, maxx, maxy = gdf.total_bounds
            lonlat = -180 <= minx and maxx <= 180 and -90 <= miny and maxy <= 90
            hint = (
                ' Its coordinates lie within longitude/latitude ranges; if they are degrees, set crs = "EPSG:4326".'
                if lonlat
                else ""
            )
            raise InputError(
                "the boundary file declares no coordinate reference system (CRS)."
                + hint
                + ' Fix: add crs = "EPSG:..." to [geometry] (or pass crs=...), or save '
                "the file with its CRS (a .prj file for a Shapefile).",
                source=src,
            )
        gdf = gdf.set_crs(crs)
        _check_degrees(gdf, src)
    elif crs is not None:
        from pyproj import CRS

        if not gdf.crs.equals(CRS.from_user_input(crs)):
            raise InputError(
                f"the file declares CRS {gdf.crs.to_string()} but crs = {crs!r} was given. "
                "Fix: drop the crs option (the file's own CRS is used) or reproject the file.",
                source=src,
            )
    else:
        _check_degrees(gdf, src)
    gdf = gdf.set_index(id_field, drop=True)
    gdf.index.name = "region"
    notes = (
        [f"invalid polygons repaired with shapely.make_valid for {len(repaired)} region(s): {_show(repaired)}"]
        if repaired
        else []
    )
    gdf.attrs["nqpspatial_notes"] = notes
    if regions is None:
        return gdf
    panel_ids = _panel_ids(regions)
    file_key = {str(i).strip(): i for i in gdf.index}
    panel_key = {r: str(r).strip() for r in panel_ids}
    missing = [r for r in panel_ids if panel_key[r] not in file_key]
    wanted = set(panel_key.values())
    extra = [i for k, i in file_key.items() if k not in wanted]
    _refuse_unmatched(
        f"panel region(s) without geometry in field '{id_field}': {_show(missing)}" if missing else None,
        f"boundary feature(s) with no panel data: {_show(extra)}" if extra else None,
        f"Fix: the panel's region ids and the boundary file's '{id_field}' values must match one to one "
        "(check spelling, or choose another id field).",
        src,
    )
    out = gdf.loc[[file_key[panel_key[r]] for r in panel_ids]].copy()
    out.index = pd.Index(panel_ids, dtype=object, name="region")
    out.attrs["nqpspatial_notes"] = notes
    return out


def _check_crs_value(crs) -> None:
    """A ``crs`` option pyproj cannot read is a config error (not a crash)."""
    if crs is None:
        return
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        CRS.from_user_input(crs)
    except CRSError:
        raise InputError(
            f"[geometry] crs = {crs!r} is not a coordinate reference system pyproj knows. Fix: give "
            'an EPSG code such as crs = "EPSG:4326" (longitude/latitude) or "EPSG:4547".',
            source="config",
        ) from None


def _check_degrees(gdf, src: str) -> None:
    """A geographic CRS with coordinates outside longitude/latitude bounds: the file is not in degrees."""
    if gdf.crs is None or not gdf.crs.is_geographic or gdf.empty:
        return
    minx, miny, maxx, maxy = (float(v) for v in gdf.total_bounds)
    if minx < -180 or maxx > 360 or miny < -90 or maxy > 90:
        raise InputError(
            f"the file is read as longitude/latitude degrees ({gdf.crs.to_string()}; GeoJSON always "
            f"is), but its coordinates run from x = {minx:.6g} to {maxx:.6g} and y = {miny:.6g} to "
            f"{maxy:.6g}, outside those bounds: they are projected coordinates (e.g. metres). Fix: "
            "reproject the file to EPSG:4326 (QGIS: Export > Save Features As, CRS EPSG:4326), or "
            "save it as a GeoPackage or Shapefile that declares its projected CRS.",
            source=src,
        )
