"""User boundary files (any regions, not only China)."""

from __future__ import annotations

import difflib
from pathlib import Path

import pandas as pd

from nqpspatial.errors import InputError

from ._names import _panel_ids, _refuse_unmatched

__all__ = ["read_boundaries"]


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
        raise InputError(f"boundary file not found: {p}. Fix: check [geometry] source (relative paths "
                         "are relative to the config file).", source=src)
    from nqpspatial.io import check_input_file

    check_input_file(p, "boundary file", "[geometry] source")  # no FIFO, device or folder
    if p.suffix.lower() in (".csv", ".txt", ".tsv", ".xlsx", ".xls", ".xlsm", ".dta"):
        raise InputError(f"a boundary file holds polygons (GeoJSON, GeoPackage or Shapefile), but this is a "
                         f"{p.suffix} table. Fix: set [geometry] source to the boundary file; the panel goes in "
                         "[data] panel.", source=src)
    try:
        gdf = gpd.read_file(p, layer=layer) if layer is not None else gpd.read_file(p)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a user-fixable file problem
        raise InputError(f"cannot read the boundary file: {exc}. Fix: give a GeoJSON, GeoPackage or "
                         "Shapefile (with its .shx/.dbf/.prj beside it).", source=src) from None
    if id_field not in gdf.columns or id_field == gdf.geometry.name:
        fields = [c for c in gdf.columns if c != gdf.geometry.name]
        close = difflib.get_close_matches(str(id_field), [str(f) for f in fields], n=1, cutoff=0.4)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise InputError(f"id field '{id_field}' not found; the file's fields are {', '.join(map(str, fields))}."
                         f"{hint} Fix: set [geometry] id to the field holding the panel's region ids.",
                         source=src)
    ids = gdf[id_field]
    empty = ids.isna() | (ids.astype(str).str.strip() == "")
    if empty.any():
        raise InputError(f"{int(empty.sum())} feature(s) have an empty '{id_field}' (feature number(s) "
                         f"{_show((empty[empty].index + 1).tolist())}). Fix: fill in their ids.", source=src)
    dup = ids[ids.duplicated(keep=False)]
    if len(dup):
        raise InputError(f"duplicate ids in field '{id_field}': {_show(dict.fromkeys(dup.tolist()))}. "
                         "Fix: each region must be one feature (dissolve multi-part regions into one "
                         "feature, e.g. geopandas dissolve).", source=src)
    nogeom = gdf.geometry.isna() | gdf.geometry.is_empty
    if nogeom.any():
        raise InputError(f"feature(s) without geometry: {_show(ids[nogeom].tolist())}. Fix: give them a "
                         "boundary or remove them (and their rows from the panel).", source=src)
    if gdf.crs is None:
        if crs is None:
            minx, miny, maxx, maxy = gdf.total_bounds
            lonlat = -180 <= minx and maxx <= 180 and -90 <= miny and maxy <= 90
            hint = (" Its coordinates lie within longitude/latitude ranges; if they are degrees, "
                    "set crs = \"EPSG:4326\"." if lonlat else "")
            raise InputError("the boundary file declares no coordinate reference system (CRS)." + hint
                             + " Fix: add crs = \"EPSG:...\" to [geometry] (or pass crs=...), or save "
                               "the file with its CRS (a .prj file for a Shapefile).", source=src)
        gdf = gdf.set_crs(crs)
    elif crs is not None:
        from pyproj import CRS

        if not gdf.crs.equals(CRS.from_user_input(crs)):
            raise InputError(f"the file declares CRS {gdf.crs.to_string()} but crs = {crs!r} was given. "
                             "Fix: drop the crs option (the file's own CRS is used) or reproject the file.",
                             source=src)
    gdf = gdf.set_index(id_field, drop=True)
    gdf.index.name = "region"
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
        "(check spelling, or choose another id field).", src)
    out = gdf.loc[[file_key[panel_key[r]] for r in panel_ids]].copy()
    out.index = pd.Index(panel_ids, dtype=object, name="region")
    return out
