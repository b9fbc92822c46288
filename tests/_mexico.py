"""libpysal's Mexico example, shared by the spatial and zone tests.

32 Mexican states with per-capita GDP per decade 1940-2000: the shapefile
mexicojoin.shp (columns PCGDP1940 ... PCGDP2000, HANSON98; no CRS declared,
the coordinates are lon/lat) and the table mexico.csv (State, pcgdp1940 ...
pcgdp2000, hanson98).  Callers skip first when geopandas or libpysal is
missing (``pytest.importorskip``).
"""

from __future__ import annotations

from pathlib import Path

DECADES = list(range(1940, 2001, 10))


def _folder() -> Path:
    import libpysal

    return Path(libpysal.__file__).parent / "examples" / "mexico"


def mexico_layer(*, crs: str | None = "EPSG:4326"):
    """The states indexed by ``NAME`` and the names of the PCGDP columns.

    ``crs`` is set on the layer (the file declares none); None leaves it unset.
    """
    import geopandas as gpd

    g = gpd.read_file(_folder() / "mexicojoin.shp")
    if crs is not None:
        g = g.set_crs(crs)
    g = g.set_index("NAME")
    return g, [c for c in g.columns if c.startswith("PCGDP")]


def mexico_long(g, cols, value_name: str = "pcgdp"):
    """Long panel ``region, year, <value_name>`` (rows in melt order: year, then state)."""
    panel = g[cols].reset_index().melt(id_vars="NAME", var_name="year", value_name=value_name)
    panel = panel.rename(columns={"NAME": "region"})
    panel["year"] = panel["year"].str[5:].astype(int)
    return panel


def mexico_csv():
    """mexico.csv as read (wide) and its long panel ``region, year, pcgdp`` (melt order)."""
    import pandas as pd

    wide = pd.read_csv(_folder() / "mexico.csv")
    long = wide.melt(id_vars=["State"], value_vars=[f"pcgdp{d}" for d in DECADES], var_name="year", value_name="pcgdp")
    long["year"] = long["year"].str[5:].astype(int)
    long = long.rename(columns={"State": "region"})
    return wide, long
