"""libpysal's Mexico example, shared by the spatial tests.

mexicojoin.shp: 32 Mexican states with per-capita GDP per decade 1940-2000
(columns PCGDP1940 ... PCGDP2000).  The shapefile declares no CRS; it is in
lon/lat, so EPSG:4326 is set here.  Callers skip first when geopandas or
libpysal is missing (``pytest.importorskip``).
"""

from __future__ import annotations

from pathlib import Path


def mexico_layer():
    """The states indexed by ``NAME`` (EPSG:4326 set) and the names of the PCGDP columns."""
    import geopandas as gpd
    import libpysal

    path = Path(libpysal.__file__).parent / "examples" / "mexico" / "mexicojoin.shp"
    g = gpd.read_file(path).set_crs("EPSG:4326").set_index("NAME")
    return g, [c for c in g.columns if c.startswith("PCGDP")]


def mexico_long(g, cols):
    """Long panel ``region, year, pcgdp`` (rows in melt order: year, then state)."""
    panel = g[cols].reset_index().melt(id_vars="NAME", var_name="year", value_name="pcgdp")
    panel = panel.rename(columns={"NAME": "region"})
    panel["year"] = panel["year"].str[5:].astype(int)
    return panel
