"""Maps: static choropleth and LISA maps (matplotlib) and SVG paths for the interactive map.

Static maps share one classification across the periods shown, so colours
compare across panels: Fisher-Jenks natural breaks (Fisher 1958, J. Amer.
Statist. Assoc. 53: 789-798; Jenks 1977) on the pooled values of the periods
drawn.  :func:`fisher_jenks` is an exact dynamic program equal to
``mapclassify.FisherJenks`` (a test checks it); we do not import mapclassify
here because its import compiles numba code for several seconds in every
fresh process, which would dominate the report's run time.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .labels import label

__all__ = ["simplify_geometry", "classify", "fisher_jenks", "choropleth", "categorical_map", "svg_paths",
           "LISA_COLOURS", "SEQUENTIAL", "grade_colours"]

#: LISA cluster colours (the GeoDa convention).
LISA_COLOURS = {"HH": "#d7191c", "LL": "#2c7bb6", "LH": "#abd9e9", "HL": "#fdae61", "ns": "#eeeeee",
                "isolated": "#ffffff"}
#: Sequential palette of choropleth classes (light to dark).
SEQUENTIAL = "YlGnBu"
_MISSING = "#d9d9d9"


def grade_colours(n: int) -> list[str]:
    """``n`` colours from red (low grades) to green (high grades)."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    cmap = colormaps["RdYlGn"]
    return [to_hex(cmap(0.05 + 0.9 * i / max(n - 1, 1))) for i in range(n)]


def simplify_geometry(geometry, fraction: float = 0.002):
    """Geometry simplified for drawing (a copy).

    Parameters
    ----------
    geometry : geopandas.GeoDataFrame or GeoSeries
        Region boundaries.
    fraction : float
        Tolerance as a fraction of the larger side of the bounding box.

    Returns
    -------
    geopandas.GeoSeries
        Simplified geometries (topology preserved per geometry), same index.
    """
    gs = geometry.geometry if hasattr(geometry, "geometry") else geometry
    x0, y0, x1, y1 = gs.total_bounds
    tol = fraction * max(x1 - x0, y1 - y0)
    if not (tol > 0 and math.isfinite(tol)):
        return gs.copy()
    out = gs.simplify(tol, preserve_topology=True)
    # keep the original where simplification emptied a tiny region
    empty = out.is_empty | out.isna()
    if empty.any():
        out[empty] = gs[empty]
    return out


def fisher_jenks(values, k: int, *, max_points: int = 3000) -> np.ndarray:
    """Fisher-Jenks natural breaks: the partition into ``k`` classes of contiguous sorted values
    that minimises the within-class sum of squared deviations (Fisher 1958).

    Parameters
    ----------
    values : array-like
        Finite values.
    k : int
        Number of classes (at most the number of values).
    max_points : int
        Above this many values the optimum is computed on ``max_points``
        evenly spaced order statistics (the sorted values' quantiles), which
        keeps the cost bounded on county-scale panels.

    Returns
    -------
    numpy.ndarray
        The ``k`` upper bounds of the classes; the last is the maximum (the
        convention of ``mapclassify.FisherJenks(values, k).bins``).
    """
    x = np.sort(np.asarray(values, dtype=float))
    if x.size > max_points:
        x = x[np.round(np.linspace(0, x.size - 1, max_points)).astype(int)]
    n = x.size
    if k < 1 or k > n:
        raise ValueError(f"k = {k} classes need between 1 and {n} values")
    s1 = np.concatenate([[0.0], np.cumsum(x)])
    s2 = np.concatenate([[0.0], np.cumsum(x * x)])

    def ssd(a, b):  # sum of squared deviations of x[a:b] (a may be an array)
        cnt = b - a
        sm = s1[b] - s1[a]
        return (s2[b] - s2[a]) - sm * sm / cnt

    cost = np.full((k + 1, n + 1), np.inf)
    back = np.zeros((k + 1, n + 1), dtype=int)
    cost[1, 1:] = ssd(np.zeros(n, dtype=int), np.arange(1, n + 1))
    for j in range(2, k + 1):
        for i in range(j, n + 1):
            m = np.arange(j - 1, i)
            c = cost[j - 1, m] + ssd(m, i)
            a = int(np.argmin(c))
            cost[j, i] = c[a]
            back[j, i] = m[a]
    bounds, i = [], n
    for j in range(k, 0, -1):
        bounds.append(x[i - 1])
        i = back[j, i]
    return np.asarray(bounds[::-1])


def classify(values, k: int = 5):
    """Natural-breaks classes of the finite values (see :func:`fisher_jenks`).

    Parameters
    ----------
    values : array-like
        Pooled values (NaN ignored).
    k : int
        Wanted number of classes (fewer when there are fewer distinct values).

    Returns
    -------
    numpy.ndarray
        Upper bounds of the classes (increasing); the lower bound of the
        first class is the minimum.
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return np.array([])
    uniq = np.unique(v)
    if uniq.size <= k:
        return uniq
    return np.unique(fisher_jenks(v, k))


def _class_of(values: np.ndarray, bins: np.ndarray) -> np.ndarray:
    out = np.searchsorted(bins, values, side="left")
    out = np.minimum(out, len(bins) - 1)
    return np.where(np.isfinite(values), out, -1)


def _fmt(x: float) -> str:
    return f"{x:.3g}" if abs(x) >= 100 or (0 < abs(x) < 0.01) else f"{x:.3f}"


def _grid(n: int):
    ncols = min(n, 3)
    nrows = math.ceil(n / ncols)
    return nrows, ncols


def _keyed(series: pd.Series) -> pd.Series:
    s = series.copy()
    s.index = s.index.map(str)
    return s


def _mpl_paths(geoms):
    """matplotlib Paths of the geometries (one compound path each) and the axes aspect."""
    from matplotlib.path import Path

    paths = []
    for geom in geoms:
        verts, codes = [], []
        if geom is not None and not geom.is_empty:
            for ring in _rings(geom):
                xy = np.asarray(ring.coords)[:, :2]
                if len(xy) < 3:
                    continue
                verts.append(xy)
                c = np.full(len(xy), Path.LINETO, dtype=np.uint8)
                c[0] = Path.MOVETO
                c[-1] = Path.CLOSEPOLY
                codes.append(c)
        paths.append(Path(np.concatenate(verts), np.concatenate(codes)) if verts else Path(np.zeros((1, 2))))
    crs = getattr(geoms, "crs", None)
    y0, y1 = geoms.total_bounds[[1, 3]]
    aspect = 1.0
    if crs is not None and crs.is_geographic:
        aspect = 1.0 / max(math.cos(math.radians((y0 + y1) / 2)), 0.05)
    return paths, aspect


def _panels(geoms, frames: dict, colour_of, title: str, legend: list[tuple[str, str]], legend_title: str,
            font: str | None):
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    keys = geoms.index.map(str)
    n = len(frames)
    nrows, ncols = _grid(n)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols + 0.2, 3.1 * nrows + 0.6), squeeze=False)
    from matplotlib.collections import PathCollection

    mpl_paths, aspect = _mpl_paths(geoms)
    x0, y0, x1, y1 = geoms.total_bounds
    for ax, (period, values) in zip(axes.ravel(), frames.items()):
        vals = _keyed(values)
        vals = vals[~vals.index.duplicated(keep="first")].reindex(keys)
        colours = [colour_of(v) for v in vals.to_numpy()]
        ax.add_collection(PathCollection(mpl_paths, facecolors=colours, edgecolors="#555555", linewidths=0.25))
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_aspect(aspect)
        ax.set_title(str(period), fontsize=10)
        ax.set_axis_off()
    for ax in axes.ravel()[n:]:
        ax.set_axis_off()
    handles = [Patch(facecolor=c, edgecolor="#555555", linewidth=0.4, label=t) for t, c in legend]
    fig_w, fig_h = fig.get_size_inches()
    longest = max([len(t) for t, _ in legend] + [len(legend_title) // 2, 4])
    ncol = max(1, min(len(handles), int(fig_w / (0.45 + 0.068 * longest))))
    rows = math.ceil(len(handles) / ncol)
    fig.legend(handles=handles, title=legend_title, loc="lower center", ncol=ncol, fontsize=7.5, title_fontsize=8,
               frameon=False)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, min(0.6, (0.4 + 0.19 * rows) / fig_h), 1, 0.95))
    return fig


def choropleth(geometry, values: dict, *, title: str, legend_title: str, lang: str = "en", k: int = 5,
               font: str | None = None):
    """Choropleth panels of one numeric variable, one panel per period.

    Parameters
    ----------
    geometry : geopandas.GeoSeries
        Region boundaries (already simplified), indexed by region id.
    values : dict of period to pandas.Series
        Values indexed by region id, per period (in panel order).
    title, legend_title : str
        Figure title and legend title (with the unit).
    lang : str
        Label language.
    k : int
        Number of Fisher-Jenks classes, shared by all panels.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    pooled = np.concatenate([np.asarray(v, dtype=float) for v in values.values()]) if values else np.array([])
    bins = classify(pooled, k)
    cmap = colormaps[SEQUENTIAL]
    m = len(bins)
    colours = [to_hex(cmap(0.15 + 0.8 * i / max(m - 1, 1))) for i in range(m)]
    finite = pooled[np.isfinite(pooled)]
    lows = [float(finite.min()) if finite.size else 0.0] + list(bins[:-1])
    legend = [(f"{_fmt(lo)} - {_fmt(hi)}" if lo != hi else _fmt(hi), c) for lo, hi, c in zip(lows, bins, colours)]
    if (~np.isfinite(pooled)).any():
        legend.append((label("no_value", lang), _MISSING))

    def colour_of(v):
        if v is None or not np.isfinite(v):
            return _MISSING
        return colours[int(_class_of(np.array([float(v)]), bins)[0])]

    return _panels(geometry, values, colour_of, title, legend, legend_title, font)


def categorical_map(geometry, values: dict, *, categories: list, colours: dict, title: str,
                    legend_title: str, lang: str = "en", labels: dict | None = None, font: str | None = None):
    """Map panels of a categorical variable (grades, LISA clusters), one per period.

    Parameters
    ----------
    geometry : geopandas.GeoSeries
        Region boundaries indexed by region id.
    values : dict of period to pandas.Series
        Category per region, per period.
    categories : list
        Categories in legend order (only those present are listed).
    colours : dict
        Category -> colour.
    labels : dict, optional
        Category -> legend text (default the category itself).

    Returns
    -------
    matplotlib.figure.Figure
    """
    present = set()
    for v in values.values():
        present |= {x for x in v.dropna().tolist()}
    labels = labels or {}
    legend = [(str(labels.get(c, c)), colours.get(c, _MISSING)) for c in categories if c in present]
    if any(v.isna().any() for v in values.values()):
        legend.append((label("no_value", lang), _MISSING))

    def colour_of(v):
        if v is None or (isinstance(v, float) and v != v) or v is pd.NA:
            return _MISSING
        return colours.get(v, _MISSING)

    return _panels(geometry, values, colour_of, title, legend, legend_title, font)


def _rings(geom):
    kind = geom.geom_type
    if kind == "Polygon":
        yield geom.exterior
        yield from geom.interiors
    elif kind in ("MultiPolygon", "GeometryCollection"):
        for g in geom.geoms:
            yield from _rings(g)


def svg_paths(geometry, *, width: float = 800.0, fraction: float = 0.0015) -> tuple[list[str], float, float]:
    """SVG path data of the regions for the interactive map.

    Longitude/latitude (a geographic or missing CRS with coordinates in
    degree range) is projected simply: ``x = lon cos(lat0)``, ``y = -lat``
    with ``lat0`` the middle latitude (an equirectangular projection); a
    projected layer is drawn as is, north up.

    Parameters
    ----------
    geometry : geopandas.GeoDataFrame or GeoSeries
        Region boundaries.
    width : float
        Width of the SVG view box.
    fraction : float
        Simplification tolerance as a fraction of the bounding box.

    Returns
    -------
    (list of str, float, float)
        One path ``d`` string per region (in the geometry's order), the view
        box width and height.
    """
    gs = simplify_geometry(geometry, fraction)
    x0, y0, x1, y1 = gs.total_bounds
    crs = getattr(gs, "crs", None)
    geographic = bool(crs.is_geographic) if crs is not None else (-181 <= x0 and x1 <= 181 and -91 <= y0
                                                                   and y1 <= 91)
    kx = math.cos(math.radians((y0 + y1) / 2)) if geographic else 1.0
    span_x = max((x1 - x0) * kx, 1e-12)
    span_y = max(y1 - y0, 1e-12)
    scale = width / span_x
    height = span_y * scale
    paths = []
    for geom in gs:
        parts = []
        if geom is not None and not geom.is_empty:
            for ring in _rings(geom):
                xy = np.asarray(ring.coords)[:, :2]
                px = (xy[:, 0] - x0) * kx * scale
                py = (y1 - xy[:, 1]) * scale
                pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px, py))
                parts.append(f"M{pts}Z")
        paths.append("".join(parts))
    return paths, round(width, 1), round(height, 1)
