"""GIS hand-off: ``regions.gpkg``, the boundaries with every per-region table, one row per region.

Each layer holds the region boundaries and one table made wide by year
(``<variable>_<year>``), so that QGIS or ArcGIS can map any column directly:

========================  =====================================================================
layer                     columns (besides ``region``, the names and the geometry)
========================  =====================================================================
``regions``               ``group`` (the region scheme), when one is set
``indices``               ``<subsystem>_<year>`` (and ``<subsystem>.<dimension>_<year>``)
``coevolution``           ``q1_<year>``, ``q2_<year>``, ``V_<year>``, ``d_<year>``, ``h_<year>``,
                          ``grade_<year>``, ``grade_class_<year>``
``coupling_coordination`` ``C_<year>``, ``D_<year>``, ... and the grades
``lisa``                  ``<variable>_<weights>_<year>``: the LISA cluster (HH, LL, LH, HL, ns, isolated)
``zones``                 ``group`` and ``cluster_<method>`` (``cluster_<method>_<variable>`` with several)
``steady_states``         the per-region rows of ``haken_potential`` (``q1_star``, ``V_star``, ``case``, ...)
========================  =====================================================================

A layer is written only when its table exists.  Above 10,000 regions the
geometry is simplified as in the report's static maps; a layer of more than
1,000,000 vertices is simplified lightly (0.01 % of its extent, about 600 m for
China's counties), which makes the county layer's file ten times smaller.  Both
simplify the regions as a coverage (:func:`nqpspatial.report.maps.simplify_geometry`):
neighbours keep their shared boundaries, without gaps or overlaps.  GDAL stamps the write time
into the GeoPackage; it is fixed through ``OGR_CURRENT_DATE`` so that two
runs give byte-identical files.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["write_regions_gpkg", "region_layers", "FIXED_DATE", "SIMPLIFY_ABOVE", "SIMPLIFY_VERTICES"]

#: The timestamp GDAL writes into the GeoPackage (``OGR_CURRENT_DATE``).
FIXED_DATE = "2000-01-01T00:00:00.000Z"
#: Simplify the geometry (as the report's maps) above this many regions.
SIMPLIFY_ABOVE = 10_000
#: Simplify the geometry lightly (:data:`LIGHT_SIMPLIFY` of the extent) above this many vertices.
SIMPLIFY_VERTICES = 1_000_000
LIGHT_SIMPLIFY = 0.0001

_COEV = ("q1", "q2", "V", "d", "h", "grade", "grade_class")
_CC = ("U1", "U2", "C", "C_corrected", "T", "D", "D_corrected", "grade", "grade_class", "grade_corrected")
_STEADY = ("q1", "q2", "case", "case_label", "q1_star", "V_star", "map_stable", "stable_point_source")


def _wide(table: pd.DataFrame, R: str, Y: str, columns, key: str | None = None) -> pd.DataFrame | None:
    """One row per region, ``<column>_<year>`` (``<column>_<key value>_<year>`` with ``key``)."""
    cols = [c for c in columns if c in table.columns]
    if not cols or R not in table.columns or Y not in table.columns:
        return None
    t = table[[R, Y, *cols, *([key] if key else [])]].copy()
    t[R] = t[R].map(str)
    keys = [Y] if key is None else [key, Y]
    out = None
    for c in cols:
        w = t.pivot_table(index=R, columns=keys, values=c, aggfunc="first", dropna=False, sort=True)
        w.columns = [f"{c}_" + "_".join(str(v) for v in (k if isinstance(k, tuple) else (k,))) for k in w.columns]
        out = w if out is None else out.join(w, how="outer")
    return out


def region_layers(tables: dict, *, region: str = "region", year: str = "year", scheme=None) -> dict:
    """The attribute tables of ``regions.gpkg``: layer name -> DataFrame indexed by region id (text).

    Parameters
    ----------
    tables : dict of str to pandas.DataFrame
        The run's tables (``ctx.tables``).
    region, year : str
        The panel's region and period columns (the tables' ``region`` and
        ``year`` are used when they differ).
    scheme : pandas.Series, optional
        Region id -> group of the region scheme.

    Returns
    -------
    dict of str to pandas.DataFrame
    """

    def tab(name):
        t = tables.get(name)
        return t if isinstance(t, pd.DataFrame) and len(t) else None

    def cols(t):
        return (region if region in t.columns else "region"), (year if year in t.columns else "year")

    out = {}
    if scheme is not None and len(scheme):
        g = pd.Series(scheme)
        out["regions"] = pd.DataFrame({"group": g.to_numpy()}, index=g.index.map(str))
    idx = tab("indices")
    if idx is not None:
        R, Y = cols(idx)
        w = _wide(idx, R, Y, [c for c in idx.columns if c not in (R, Y)])
        if w is not None:
            out["indices"] = w
    for name, columns in (("coevolution", _COEV), ("coupling_coordination", _CC)):
        t = tab(name)
        if t is not None:
            w = _wide(t, *cols(t), columns)
            if w is not None:
                out[name] = w
    lisa = tab("lisa")
    if lisa is not None and {"variable", "cluster"} <= set(lisa.columns):
        R, Y = cols(lisa)
        t = lisa.assign(
            __key=lisa["variable"].astype(str)
            + ("_" + lisa["weights"].astype(str) if "weights" in lisa.columns else "")
        )
        w = _wide(t.rename(columns={"cluster": ""}), R, Y, [""], key="__key")
        if w is not None:
            w.columns = [c[1:] for c in w.columns]
            out["lisa"] = w
    zones = _zones_layer(tab("clusters"), scheme)
    if zones is not None:
        out["zones"] = zones
    steady = _steady_layer(tab("haken_potential"), tab("steady_states"), year)
    if steady is not None:
        out["steady_states"] = steady
    return out


def _steady_layer(pot, steady, year):
    """Per-region steady states: a ``steady_states`` table when a stage writes one, else the
    per-region rows of ``haken_potential``."""
    if steady is not None and "region" in steady.columns:
        Y = year if year in steady.columns else "year"
        if Y in steady.columns:
            return _wide(steady, "region", Y, [c for c in steady.columns if c not in ("region", Y)])
        return steady.assign(region=steady["region"].map(str)).drop_duplicates("region").set_index("region")
    if pot is not None and "region" in pot.columns:
        t = pot.assign(region=pot["region"].map(str)).drop_duplicates("region").set_index("region")
        return t[[c for c in _STEADY if c in t.columns]]
    return None


def _zones_layer(clusters, scheme):
    parts = []
    if scheme is not None and len(scheme):
        g = pd.Series(scheme)
        parts.append(pd.DataFrame({"group": g.to_numpy()}, index=g.index.map(str)))
    if clusters is not None and {"region", "method", "cluster"} <= set(clusters.columns):
        c = clusters.assign(region=clusters["region"].map(str))
        several = "variable" in c.columns and c["variable"].nunique() > 1
        key = "cluster_" + c["method"].astype(str) + (("_" + c["variable"].astype(str)) if several else "")
        w = c.assign(__k=key).pivot_table(index="region", columns="__k", values="cluster", aggfunc="first", sort=True)
        w.columns = [str(x) for x in w.columns]
        parts.append(w)
    if not parts:
        return None
    out = parts[0]
    for p in parts[1:]:
        out = out.join(p, how="outer")
    return out


def write_regions_gpkg(
    path,
    geometry,
    tables: dict,
    *,
    region: str = "region",
    year: str = "year",
    scheme=None,
    names: dict | None = None,
    simplified=None,
    light=None,
) -> list[str]:
    """Write ``regions.gpkg``: the boundaries and a layer per per-region table.

    Parameters
    ----------
    path : str or pathlib.Path
        Target file (replaced when it exists).
    geometry : geopandas.GeoDataFrame or GeoSeries
        Region boundaries indexed by region id, with a CRS.
    tables : dict of str to pandas.DataFrame
        The run's tables.
    region, year : str
        The panel's region and period columns.
    scheme : pandas.Series, optional
        Region id -> group.
    names : dict, optional
        Region id (text) -> display name (a ``name`` column in every layer).
    simplified : geopandas.GeoSeries, optional
        The geometry already simplified as the report's static maps (used above
        :data:`SIMPLIFY_ABOVE` regions instead of simplifying again).
    light : geopandas.GeoSeries, optional
        The geometry already simplified lightly (:data:`LIGHT_SIMPLIFY`), used for a layer of more
        than :data:`SIMPLIFY_VERTICES` vertices.

    Returns
    -------
    list of str
        The layers written, in file order.
    """
    import geopandas as gpd
    import pyogrio
    import shapely

    from .maps import simplify_geometry

    gs = geometry.geometry if hasattr(geometry, "geometry") else geometry
    if len(gs) > SIMPLIFY_ABOVE:
        gs = simplified if simplified is not None else simplify_geometry(gs, 0.0025)
    elif light is not None:
        gs = light
    elif shapely.get_num_coordinates(gs.to_numpy()).sum() > SIMPLIFY_VERTICES:
        gs = simplify_geometry(gs, LIGHT_SIMPLIFY)
    ids = [str(i) for i in gs.index]
    base = pd.DataFrame({"region": ids}, index=ids)
    if names:
        base["name"] = [names.get(i, i) for i in ids]
    for col in ("code", "name_zh", "name_en"):
        if hasattr(geometry, "columns") and col in geometry.columns:
            base[col] = geometry[col].to_numpy()
    layers = region_layers(tables, region=region, year=year, scheme=scheme)
    layers.setdefault("regions", pd.DataFrame(index=ids))
    layers = {"regions": layers.pop("regions"), **layers}
    path = Path(path)
    if path.exists():
        path.unlink()
    written = []
    old = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": FIXED_DATE})
    try:
        for name, attrs in layers.items():
            frame = base.join(attrs.reindex(ids), how="left")
            frame.columns = [str(c) for c in frame.columns]
            gdf = gpd.GeoDataFrame(frame.reset_index(drop=True), geometry=list(gs.to_numpy()), crs=gs.crs)
            pyogrio.write_dataframe(gdf, path, layer=name, driver="GPKG", append=path.exists())
            written.append(name)
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": old})
    return written
