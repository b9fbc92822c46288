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

import functools
import math

import numpy as np
import pandas as pd

from .labels import label

__all__ = [
    "simplify_geometry",
    "classify",
    "fisher_jenks",
    "choropleth",
    "categorical_map",
    "svg_paths",
    "LISA_COLOURS",
    "SEQUENTIAL",
    "grade_colours",
    "MapLayout",
    "is_china",
    "CHINA_ALBERS",
    "svg_layers",
    "canvas_layers",
    "RASTERIZE_ABOVE",
]

#: LISA cluster colours (the GeoDa convention).
LISA_COLOURS = {
    "HH": "#d7191c",
    "LL": "#2c7bb6",
    "LH": "#abd9e9",
    "HL": "#fdae61",
    "ns": "#eeeeee",
    "isolated": "#ffffff",
}
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
    """Geometry simplified for drawing (a copy), shared boundaries simplified once.

    The regions are simplified together as a coverage (``shapely.coverage_simplify``, GEOS's
    topology-preserving Visvalingam-Whyatt simplification of coverages): every boundary two
    regions share is simplified once and used by both, so simplification opens no gap and
    makes no overlap between neighbours, and no simplified edge crosses another.  The
    tolerance is ``fraction`` times the larger side of the layer's bounding box; it is
    roughly the square root of the area of the triangles removed at each vertex
    (Visvalingam and Whyatt 1993).  A layer that is not polygonal (or a shapely before 2.1)
    is simplified geometry by geometry (Douglas-Peucker with ``preserve_topology``, same
    tolerance), which keeps each polygon valid but not the edges neighbours share.

    Parameters
    ----------
    geometry : geopandas.GeoDataFrame or GeoSeries
        Region boundaries.
    fraction : float
        Tolerance as a fraction of the larger side of the bounding box (0: no simplification).

    Returns
    -------
    geopandas.GeoSeries
        Simplified geometries, same index and CRS.  A region the simplification would
        empty or leave invalid keeps its own per-geometry simplification (an emptied one its
        original shape).
    """
    gs = geometry.geometry if hasattr(geometry, "geometry") else geometry
    if not len(gs):
        return gs.copy()
    x0, y0, x1, y1 = gs.total_bounds
    tol = fraction * max(x1 - x0, y1 - y0)
    if not (tol > 0 and math.isfinite(tol)):
        return gs.copy()
    geoms = gs.to_numpy()
    out = _coverage_simplified(geoms, tol)
    if out is None:
        out = gs.simplify(tol, preserve_topology=True).to_numpy()
    else:
        import shapely

        bad = ~shapely.is_valid(out) | shapely.is_empty(out)
        if bad.any():  # e.g. an input that is not a valid coverage (overlaps): that region on its own
            out[bad] = shapely.simplify(geoms[bad], tol, preserve_topology=True)
    import geopandas as gpd

    out = gpd.GeoSeries(out, index=gs.index, crs=gs.crs)
    # keep the original where simplification emptied a tiny region
    empty = out.is_empty | out.isna()
    if empty.any():
        out[empty] = gs[empty]
    return out


def _coverage_simplified(geoms, tol: float):
    """``shapely.coverage_simplify`` of polygonal ``geoms`` (None when not polygonal or not available)."""
    import shapely

    if not hasattr(shapely, "coverage_simplify"):  # pragma: no cover - shapely < 2.1
        return None
    kinds = shapely.get_type_id(geoms)
    if not np.isin(kinds, (3, 6)).all():  # Polygon, MultiPolygon only (no missing or other geometries)
        return None
    return np.asarray(shapely.coverage_simplify(geoms, tol), dtype=object)


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


def _panels(
    geoms, frames: dict, colour_of, title: str, legend: list[tuple[str, str]], legend_title: str, layout: "MapLayout"
):
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    keys = pd.Index(layout.ids)
    n = len(frames)
    nrows, ncols = _grid(n)
    x0, x1, y0, y1 = layout.extent
    ratio = (y1 - y0) * layout.aspect / max(x1 - x0, 1e-12)
    pw = 3.6
    ph = min(max(pw * ratio, 1.6), 4.6) + 0.3
    fig, axes = plt.subplots(nrows, ncols, figsize=(pw * ncols + 0.2, ph * nrows + 0.6), squeeze=False)
    for ax, (period, values) in zip(axes.ravel(), frames.items()):
        vals = _keyed(values)
        vals = vals[~vals.index.duplicated(keep="first")].reindex(keys)
        layout.draw(ax, [colour_of(v) for v in vals.to_numpy()])
        ax.set_title(str(period), fontsize=10)
    for ax in axes.ravel()[n:]:
        ax.set_axis_off()
    handles = [Patch(facecolor=c, edgecolor="#555555", linewidth=0.4, label=t) for t, c in legend]
    fig_w, fig_h = fig.get_size_inches()
    longest = max([len(t) for t, _ in legend] + [len(legend_title) // 2, 4])
    ncol = max(1, min(len(handles), int(fig_w / (0.45 + 0.068 * longest))))
    rows = math.ceil(len(handles) / ncol)
    fig.legend(
        handles=handles,
        title=legend_title,
        loc="lower center",
        ncol=ncol,
        fontsize=7.5,
        title_fontsize=8,
        frameon=False,
    )
    fig.suptitle(title, fontsize=11)
    bottom = min(0.6, (0.35 + 0.19 * rows) / fig_h)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=bottom, top=1 - 0.55 / fig_h, wspace=0.05, hspace=0.18)
    return fig


def _no_data_label(layout: "MapLayout", lang: str, any_missing: bool) -> str | None:
    """Legend text of the "no data" grey (naming the outline's units without data), or None."""
    units = layout.no_data_units
    if not units and not any_missing:
        return None
    text = label("no_value", lang)
    if units:
        sep = "、" if lang == "zh" else ", "
        named = sep.join(units) if len(units) <= 6 else f"{len(units)}"
        text = f"{text} ({named})"
    return text


def choropleth(
    geometry,
    values: dict,
    *,
    title: str,
    legend_title: str,
    lang: str = "en",
    k: int = 5,
    font: str | None = None,
    layout: "MapLayout | None" = None,
):
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
    layout : MapLayout, optional
        The prepared layout of ``geometry`` (built when not given).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    layout = layout if layout is not None else MapLayout(geometry, lang=lang)
    pooled = np.concatenate([np.asarray(v, dtype=float) for v in values.values()]) if values else np.array([])
    bins = classify(pooled, k)
    cmap = colormaps[SEQUENTIAL]
    m = len(bins)
    colours = [to_hex(cmap(0.15 + 0.8 * i / max(m - 1, 1))) for i in range(m)]
    finite = pooled[np.isfinite(pooled)]
    lows = [float(finite.min()) if finite.size else 0.0] + list(bins[:-1])
    legend = [(f"{_fmt(lo)} - {_fmt(hi)}" if lo != hi else _fmt(hi), c) for lo, hi, c in zip(lows, bins, colours)]
    missing = any(_keyed(v).reindex(layout.ids).isna().any() for v in values.values()) or bool(
        (~np.isfinite(pooled)).any()
    )
    nd = _no_data_label(layout, lang, missing)
    if nd:
        legend.append((nd, _MISSING))

    def colour_of(v):
        if v is None or not np.isfinite(v):
            return _MISSING
        return colours[int(_class_of(np.array([float(v)]), bins)[0])]

    return _panels(geometry, values, colour_of, title, legend, legend_title, layout)


def categorical_map(
    geometry,
    values: dict,
    *,
    categories: list,
    colours: dict,
    title: str,
    legend_title: str,
    lang: str = "en",
    labels: dict | None = None,
    font: str | None = None,
    layout: "MapLayout | None" = None,
):
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
    layout : MapLayout, optional
        The prepared layout of ``geometry`` (built when not given).

    Returns
    -------
    matplotlib.figure.Figure
    """
    layout = layout if layout is not None else MapLayout(geometry, lang=lang)
    present = set()
    for v in values.values():
        present |= {x for x in v.dropna().tolist()}
    labels = labels or {}
    legend = [(str(labels.get(c, c)), colours.get(c, _MISSING)) for c in categories if c in present]
    missing = any(_keyed(v).reindex(layout.ids).isna().any() for v in values.values())
    nd = _no_data_label(layout, lang, missing)
    if nd:
        legend.append((nd, _MISSING))

    def colour_of(v):
        if v is None or (isinstance(v, float) and v != v) or v is pd.NA:
            return _MISSING
        return colours.get(v, _MISSING)

    return _panels(geometry, values, colour_of, title, legend, legend_title, layout)


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
    geographic = bool(crs.is_geographic) if crs is not None else (-181 <= x0 and x1 <= 181 and -91 <= y0 and y1 <= 91)
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


def _svg_d(geom, tx) -> str:
    parts = []
    if geom is not None and not geom.is_empty:
        for ring in _rings(geom):
            px, py = tx(np.asarray(ring.coords)[:, :2])
            parts.append("M" + " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px, py)) + "Z")
    return "".join(parts)


def svg_layers(geometry, *, width: float = 800.0, fraction: float = 0.0015, lang: str = "en") -> dict:
    """Everything the interactive map draws: region paths and, for China, the outline and the inset.

    China maps (see :func:`is_china`) are projected as the static maps
    (:data:`CHINA_ALBERS`), drawn over the 34 province-level units of the
    national outline ("no data" grey where the panel has no region) with the
    maritime boundary line, and get the South China Sea inset in the lower
    right (``<g id="nqp-inset">``, the region shapes repeated with ``<use>``).
    Other maps are drawn as :func:`svg_paths` draws them.

    Parameters
    ----------
    geometry : geopandas.GeoDataFrame or GeoSeries
        Region boundaries.
    width : float
        Width of the SVG view box.
    fraction : float
        Simplification tolerance as a fraction of the bounding box.
    lang : str
        Language of the outline units' names.

    Returns
    -------
    dict
        ``paths`` (one ``d`` per region, in the geometry's order), ``width``,
        ``height``; for China also ``base`` (list of ``(code, name, d)``),
        ``line`` (``d`` of the maritime line) and ``inset`` (``x, y, w, h`` of
        the box in view-box units, ``transform`` of its content,
        ``regions`` and ``base``: indices of the shapes it repeats).
    """
    frame = _map_frame(geometry, width=width, fraction=fraction, lang=lang)
    if frame["base"] is None:
        paths, w, h = svg_paths(frame["geoms"], width=width, fraction=0.0)  # simplified once, in the frame
        return {"paths": paths, "width": w, "height": h, "base": [], "line": "", "inset": None}
    tx = frame["tx"]
    paths = [_svg_d(g, tx) for g in frame["geoms"]]
    base = [(c, n, _svg_d(g, tx)) for c, n, g in frame["base"]]
    line = "".join("M" + " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(*tx(seg))) for seg in frame["line"])
    ins = frame["inset"]
    transform = (
        f"translate({ins['x']:.2f} {ins['y']:.2f}) scale({ins['zoom']:.5f}) "
        f"translate({-ins['ox']:.2f} {-ins['oy']:.2f})"
    )
    inset = {
        "x": round(ins["x"], 1),
        "y": round(ins["y"], 1),
        "w": round(ins["w"], 1),
        "h": round(ins["h"], 1),
        "transform": transform,
        "regions": ins["regions"],
        "base": ins["base"],
    }
    return {
        "paths": paths,
        "width": round(width, 1),
        "height": frame["height"],
        "base": base,
        "line": line,
        "inset": inset,
    }


def _map_frame(geometry, *, width: float, fraction: float, lang: str) -> dict:
    """The interactive map's projection: the simplified geometries, ``tx`` (map coordinates -> view box
    units), the view box height and, for China, the outline, the maritime line and the inset."""
    import shapely

    gs = simplify_geometry(geometry, fraction)
    if not is_china(gs):
        x0, y0, x1, y1 = gs.total_bounds
        crs = getattr(gs, "crs", None)
        geographic = (
            bool(crs.is_geographic) if crs is not None else (-181 <= x0 and x1 <= 181 and -91 <= y0 and y1 <= 91)
        )
        kx = math.cos(math.radians((y0 + y1) / 2)) if geographic else 1.0
        scale = width / max((x1 - x0) * kx, 1e-12)

        def tx_plain(xy):
            return (xy[:, 0] - x0) * kx * scale, (y1 - xy[:, 1]) * scale

        height = round(max(y1 - y0, 1e-12) * scale, 1)
        return {"geoms": gs, "tx": tx_plain, "height": height, "base": None, "line": [], "inset": None}
    lay = MapLayout(gs, china=True, lang=lang, paths=False)
    x0, x1, y0, y1 = lay.extent
    scale = width / (x1 - x0)

    def tx(xy):
        return (xy[:, 0] - x0) * scale, (y1 - xy[:, 1]) * scale

    base = [(c, n[0 if lang == "zh" else 1], g) for c, n, g in zip(lay.base_ids, lay.base_names, lay.base_geoms)]
    bx, by, bw, bh = lay.inset["box"]
    ex0, ex1, ey0, ey1 = lay.inset["extent"]
    window = shapely.box(ex0, ey0, ex1, ey1)
    inset = {
        "x": (bx - x0) * scale,
        "y": (y1 - (by + bh)) * scale,
        "w": bw * scale,
        "h": bh * scale,
        "zoom": bw / (ex1 - ex0),
        "ox": (ex0 - x0) * scale,
        "oy": (y1 - ey1) * scale,
        "regions": [i for i, g in enumerate(lay.geoms) if g is not None and g.intersects(window)],
        "base": [j for j, g in enumerate(lay.base_geoms) if g.intersects(window)],
    }
    return {
        "geoms": lay.geoms,
        "tx": tx,
        "height": round((y1 - y0) * scale, 1),
        "base": base,
        "line": lay.lines,
        "inset": inset,
    }


def _pack_rings(geoms, tx, *, closed: bool = True) -> dict:
    """Projected rings (or lines) as base64 arrays: ``coords`` (uint16 x, y in units of 1/``scale``),
    ``rings`` (uint32 start of each ring in points, and the end), ``parts`` (uint32 first ring of each
    geometry, and the end)."""
    import base64

    import shapely

    if closed:  # polygons: every ring of every part, vectorised (one pass over the coordinates)
        geoms = np.asarray(list(geoms), dtype=object)
        missing = np.array([g is None for g in geoms], dtype=bool)
        geoms = np.where(missing, shapely.Polygon(), geoms)
        polys, owner = shapely.get_parts(geoms, return_index=True)
        rings, poly = shapely.get_rings(polys, return_index=True)
        xy, ring = shapely.get_coordinates(rings, return_index=True)
        last = np.r_[ring[1:] != ring[:-1], True]  # the closing point repeats the first: closePath draws it
        xy, ring = xy[~last], ring[~last]
        ring_len = np.bincount(ring, minlength=len(rings))
        per_geom = np.bincount(owner[poly], minlength=len(geoms))
        parts = np.r_[0, np.cumsum(per_geom)]
        x, y = tx(xy) if len(xy) else (np.zeros(0), np.zeros(0))
    else:  # lines (arrays of coordinates)
        lines = [np.asarray(g, dtype=float)[:, :2] for g in geoms]
        ring_len = np.array([len(g) for g in lines], dtype=np.int64)
        parts = np.arange(len(lines) + 1)
        xy = np.concatenate(lines) if lines else np.zeros((0, 2))
        x, y = tx(xy) if len(xy) else (np.zeros(0), np.zeros(0))
    top = max(float(x.max(initial=0.0)), float(y.max(initial=0.0)), 1.0)
    scale = min(20.0, 65535.0 / top)
    coords = np.empty(2 * len(x), dtype="<u2")
    coords[0::2] = np.clip(np.round(np.maximum(x, 0) * scale), 0, 65535)
    coords[1::2] = np.clip(np.round(np.maximum(y, 0) * scale), 0, 65535)
    starts = np.r_[0, np.cumsum(ring_len)].astype("<u4")

    def b64(a):
        return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")

    return {
        "scale": scale,
        "closed": closed,
        "coords": b64(coords),
        "rings": b64(starts),
        "parts": b64(np.asarray(parts, dtype="<u4")),
    }


def canvas_layers(geometry, *, width: float = 800.0, fraction: float = 0.0015, lang: str = "en") -> dict:
    """The interactive map's geometry for the canvas renderer of large layers (see
    :func:`nqpspatial.report.html.map_html`): the same projection, outline, maritime line and inset
    as :func:`svg_layers`, as packed arrays instead of SVG path strings.

    Parameters
    ----------
    geometry : geopandas.GeoDataFrame or GeoSeries
        Region boundaries.
    width : float
        Width of the view box.
    fraction : float
        Simplification tolerance as a fraction of the bounding box (0: as given).
    lang : str
        Language of the outline units' names.

    Returns
    -------
    dict
        ``width``, ``height``, ``regions`` (packed rings, see below), for China ``base`` (packed
        rings of the 34 outline units), ``base_names``, ``line`` (packed polylines) and ``inset``
        (``x, y, w, h`` of its box, ``zoom``, ``ox``, ``oy``: a point ``p`` of the main map is drawn at
        ``(x, y) + zoom * (p - (ox, oy))``; ``regions`` and ``base``: the indices it shows).  Packed
        rings hold base64 little-endian arrays: ``coords`` (uint16 x, y pairs in view box units times
        ``scale``), ``rings`` (uint32 first point of each ring, then the total) and ``parts`` (uint32
        first ring of each region, then the total).
    """
    frame = _map_frame(geometry, width=width, fraction=fraction, lang=lang)
    out = {
        "width": round(width, 1),
        "height": frame["height"],
        "regions": _pack_rings(list(frame["geoms"]), frame["tx"]),
        "base": None,
        "base_names": [],
        "line": None,
        "inset": None,
    }
    if frame["base"] is not None:
        out["base"] = _pack_rings([g for _, _, g in frame["base"]], frame["tx"])
        out["base_names"] = [str(n) for _, n, _ in frame["base"]]
        out["line"] = _pack_rings(list(frame["line"]), frame["tx"], closed=False)
        ins = frame["inset"]
        out["inset"] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in ins.items()}
    return out


# ------------------------------------------------------------------------------------------ map layout
#: The projection of every China map: Albers equal-area conic, central meridian 105 E, standard
#: parallels 25 N and 47 N (WGS84).  Scale is true along the standard parallels and within about
#: -2 % / +4 % along parallels between 18 N and 53.5 N.
CHINA_ALBERS = "+proj=aea +lat_0=0 +lon_0=105 +lat_1=25 +lat_2=47 +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs"
#: South edge of the main China map (Hainan Island reaches 18.1 N); the islands south of it are in the inset.
MAIN_LAT_MIN = 17.6
#: Longitude/latitude box of the South China Sea inset (the maritime line spans 108.2-122.8 E, 3.4-24.6 N).
SCS_BOX = (105.5, 2.5, 123.5, 24.8)
#: Width of the inset as a share of the main map's width.
INSET_WIDTH = 0.2
_EDGE = "#555555"
_BASE_EDGE = "#9a9a9a"
#: Simplification of the outline for drawing (a fraction of its extent, as the report's region maps).
_BASE_SIMPLIFY = 0.0025
#: Static maps of more regions than this draw the region polygons as an image inside SVG and PDF files
#: (``rasterized``; text, legend, outline, scale bar and north arrow stay vector): one vector path per
#: region and panel makes a county map's SVG several megabytes and slow to write and open.
RASTERIZE_ABOVE = 1000


def _segmentized_box(x0, y0, x1, y1, step=0.5):
    import shapely

    return shapely.segmentize(shapely.box(x0, y0, x1, y1), step)


@functools.lru_cache(maxsize=1)
def _china_outline_union():
    import shapely

    from ..geodata import china_outline

    return shapely.buffer(shapely.union_all(china_outline().geometry.to_numpy()), 0.05)


def is_china(geometry, share: float = 0.9) -> bool:
    """True when at least ``share`` of the regions lie inside China's national outline.

    Parameters
    ----------
    geometry : geopandas.GeoSeries or GeoDataFrame
        Region boundaries with a CRS (without one the answer is False).
    share : float
        Share of the regions' representative points that must fall inside.
    """
    import shapely

    gs = geometry.geometry if hasattr(geometry, "geometry") else geometry
    if gs.crs is None or not len(gs):
        return False
    try:
        pts = gs.representative_point().to_crs("EPSG:4326")
    except Exception:  # noqa: BLE001 - a CRS pyproj cannot transform: not a China map we can draw
        return False
    xy = shapely.get_coordinates(pts.to_numpy())
    if not len(xy):
        return False
    inside = shapely.contains_xy(_china_outline_union(), xy[:, 0], xy[:, 1])
    return bool(inside.mean() >= share)


def _metres_per_unit(crs, x: float, y: float, dx: float) -> float:
    """Ground metres per horizontal data unit at (x, y) (geodesic, WGS84)."""
    from pyproj import Geod, Transformer

    if crs is None:
        return float("nan")
    geod = Geod(ellps="WGS84")
    if crs.is_geographic:
        lon0, lat0, lon1, lat1 = x, y, x + dx, y
    else:
        t = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        (lon0, lon1), (lat0, lat1) = t.transform([x, x + dx], [y, y])
    return float(geod.inv(lon0, lat0, lon1, lat1)[2]) / dx


def _north_angle(crs, x: float, y: float, dy: float) -> float:
    """Angle (radians, clockwise from up) of true north at (x, y) in the map's coordinates."""
    from pyproj import Transformer

    if crs is None or crs.is_geographic:
        return 0.0
    to_geo = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    to_map = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    lon, lat = to_geo.transform(x, y)
    x1, y1 = to_map.transform(lon, min(lat + 0.5, 89.9))
    return float(math.atan2(x1 - x, y1 - y))


def _nice_length(target_m: float) -> float:
    """The largest of 1, 2, 5 x 10^k metres not above ``target_m``."""
    if not (target_m > 0 and math.isfinite(target_m)):
        return float("nan")
    k = math.floor(math.log10(target_m))
    return max(m * 10.0**k for m in (1, 2, 5) if m * 10.0**k <= target_m)


def _length_text(metres: float) -> str:
    return f"{metres / 1000:g} km" if metres >= 1000 else f"{metres:g} m"


class MapLayout:
    """Everything the static maps share: projected paths, extent, base layer, inset, scale bar, north arrow.

    China maps (regions inside China's outline, see :func:`is_china`) are drawn
    in :data:`CHINA_ALBERS` over the complete national outline (the 34
    province-level units of :func:`nqpspatial.geodata.china_outline`, "no
    data" grey where the panel has no region), with the maritime boundary
    line and the South China Sea islands in an inset box in the lower right
    with its own scale bar.  Other maps are drawn in their own CRS
    (longitude/latitude with the aspect of the middle latitude).  Every map
    gets a scale bar, true at its own position (its length is the geodesic
    distance between its ends), and a north arrow pointing to true north.

    Parameters
    ----------
    geometry : geopandas.GeoSeries or GeoDataFrame
        Region boundaries (already simplified), indexed by region id.
    china : bool, optional
        Force (or forbid) the China layout; default :func:`is_china`.
    lang : str
        Language of the unit names in ``no_data_units``.
    full : geopandas.GeoSeries, optional
        The unsimplified boundaries, to decide which units of the outline
        the panel covers (default ``geometry``).
    rasterize_above : int
        Above this many regions the region polygons are rasterized in SVG and PDF files
        (:data:`RASTERIZE_ABOVE`); PNG files are the same either way.
    paths : bool
        Build the matplotlib paths the static maps draw (False: only the projection, extent, outline,
        line and inset, as the interactive map needs).

    Attributes
    ----------
    china : bool
    crs : pyproj.CRS or None
        The CRS the map is drawn in.
    ids : list of str
        Region ids in drawing order.
    no_data_units : list of str
        Names of the outline's units with no region of the panel (China maps).
    rasterized : bool
        Whether the region polygons are drawn as an image in vector files (more than
        ``rasterize_above`` regions).
    """

    def __init__(
        self,
        geometry,
        *,
        china: bool | None = None,
        lang: str = "en",
        full=None,
        rasterize_above: int = RASTERIZE_ABOVE,
        paths: bool = True,
    ):
        self._draws = bool(paths)
        gs = geometry.geometry if hasattr(geometry, "geometry") else geometry
        self._full = full.geometry if hasattr(full, "geometry") else full
        self.china = is_china(gs) if china is None else bool(china)
        self.ids = [str(i) for i in gs.index]
        self.rasterized = len(self.ids) > rasterize_above
        self.base_paths, self.base_ids, self.base_geoms, self.lines, self.inset = [], [], [], [], None
        self.no_data_units: list[str] = []
        if self.china:
            from pyproj import CRS

            self.crs = CRS.from_proj4(CHINA_ALBERS)
            gs = gs.to_crs(self.crs)
            self._china_layers(gs, lang)
        else:
            self.crs = gs.crs
            x0, y0, x1, y1 = gs.total_bounds
            self.extent = (x0, x1, y0, y1)
        self.geoms = gs.to_numpy()
        self.paths = _paths(self.geoms) if self._draws else []
        self.aspect = 1.0
        if self.crs is not None and self.crs.is_geographic:
            y0, y1 = self.extent[2], self.extent[3]
            self.aspect = 1.0 / max(math.cos(math.radians((y0 + y1) / 2)), 0.05)

    def _china_layers(self, gs, lang: str) -> None:
        import geopandas as gpd
        import shapely

        from ..geodata import china_outline, maritime_boundary

        base = china_outline().to_crs(self.crs)
        self.base_ids = [str(c) for c in base.index]
        self.base_geoms = simplify_geometry(base.geometry, _BASE_SIMPLIFY).to_numpy()
        self.base_names = base[["name_zh_short", "name_en"]].astype(str).to_numpy().tolist()
        self.base_paths = _paths(self.base_geoms) if self._draws else []
        names = base["name_zh_short" if lang == "zh" else "name_en"].astype(str).tolist()
        full = self._full if self._full is not None else gs
        covered = _covered(china_outline().geometry.to_numpy(), full.to_crs("EPSG:4326").to_numpy())
        self.no_data_units = [n for n, c in zip(names, covered) if not c]
        # units without data are drawn again over the regions: simplified neighbours must not hide them
        self.no_data_paths = [p for p, c in zip(self.base_paths, covered) if not c]
        self.clipped = None
        self.lines = [
            np.asarray(g.coords)[:, :2] for g in shapely.get_parts(maritime_boundary().to_crs(self.crs).to_numpy())
        ]
        # the main map: every vertex north of MAIN_LAT_MIN (vertex bounds: robust to invalid inputs)
        lonlat = shapely.get_coordinates(np.r_[china_outline().geometry.to_numpy(), gs.to_crs("EPSG:4326").to_numpy()])
        xy = shapely.get_coordinates(np.r_[base.geometry.to_numpy(), gs.to_numpy()])
        xy = xy[lonlat[:, 1] >= MAIN_LAT_MIN]
        x0, y0 = xy.min(axis=0)
        x1, y1 = xy.max(axis=0)
        scs = gpd.GeoSeries([_segmentized_box(*SCS_BOX)], crs="EPSG:4326").to_crs(self.crs).total_bounds
        bw = INSET_WIDTH * (x1 - x0)
        bh = bw * (scs[3] - scs[1]) / (scs[2] - scs[0])
        pad = 0.012 * (x1 - x0)
        # the inset goes right of any land in its band of heights (Taiwan and its islands)
        band = xy[xy[:, 1] <= y0 + bh + 2 * pad]
        east = band[:, 0].max() if len(band) else x1 - bw
        bx0 = max(x1 - bw, east + 2 * pad)
        x1 = max(x1, bx0 + bw)
        self.extent = (x0 - pad, x1 + pad, y0 - pad, y1 + pad)
        self.inset = {"box": (bx0, y0 - pad, bw, bh), "extent": (scs[0], scs[2], scs[1], scs[3])}
        # each axes gets only what it shows: shapes clipped to its window (smaller files, faster drawing)
        main = (x0 - 2 * pad, y0 - 2 * pad, x1 + 2 * pad, y1 + 2 * pad)
        window = (scs[0], scs[1], scs[2], scs[3])
        nd = [g for g, c in zip(self.base_geoms, covered) if not c]
        if not self._draws:  # the interactive map's frame: no matplotlib paths
            return
        self.clipped = {
            "main": {
                "regions": _paths(_clip(gs.to_numpy(), main)),
                "base": _paths(_clip(self.base_geoms, main)),
                "nodata": _paths(_clip(nd, main)),
            },
            "inset": {
                "regions": _paths(_clip(gs.to_numpy(), window)),
                "base": _paths(_clip(self.base_geoms, window)),
                "nodata": _paths(_clip(nd, window)),
            },
        }

    # ---------------------------------------------------------------------------------------- drawing
    def draw(self, ax, colours, *, edge: str = _EDGE, linewidth: float = 0.25, decorations: bool = True) -> None:
        """Draw the map into ``ax``: base, regions coloured by ``colours`` (one per region), extras.

        Parameters
        ----------
        ax : matplotlib.axes.Axes
        colours : sequence
            One fill colour per region (in :attr:`ids` order).
        decorations : bool
            Scale bar, north arrow and (China) the South China Sea inset.
        """
        x0, x1, y0, y1 = self.extent
        self._layers(ax, colours, edge, linewidth)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_aspect(self.aspect)
        ax.set_axis_off()
        if not decorations:
            return
        self._scale_bar(ax, (x0, x1, y0, y1), fontsize=5.5)
        self._north_arrow(ax)
        if self.inset is not None:
            self._draw_inset(ax, colours, edge, linewidth)

    def _layers(self, ax, colours, edge, linewidth, which: str = "main") -> None:
        from matplotlib.collections import LineCollection, PathCollection

        clipped = (getattr(self, "clipped", None) or {}).get(which)
        base_paths = clipped["base"] if clipped else self.base_paths
        if base_paths:
            base = PathCollection(
                base_paths,
                facecolors=[_MISSING] * len(base_paths),
                edgecolors=_BASE_EDGE,
                linewidths=linewidth,
                zorder=1,
            )
            base.set_gid("nodata-base")
            base.nqp_ids = list(self.base_ids)
            ax.add_collection(base)
        regions = PathCollection(
            clipped["regions"] if clipped else self.paths,
            facecolors=list(colours),
            edgecolors=edge,
            linewidths=linewidth,
            zorder=2,
        )
        regions.set_gid("regions")
        regions.set_rasterized(self.rasterized)
        regions.nqp_ids = list(self.ids)
        ax.add_collection(regions)
        nodata = clipped["nodata"] if clipped else getattr(self, "no_data_paths", None)
        if nodata:
            ax.add_collection(
                PathCollection(nodata, facecolors=_MISSING, edgecolors=_BASE_EDGE, linewidths=linewidth, zorder=2.5)
            )
        if self.lines:
            line = LineCollection(self.lines, colors="#3b6ea8", linewidths=max(linewidth * 3, 0.6), zorder=3)
            line.set_gid("maritime-boundary")
            ax.add_collection(line)

    def _draw_inset(self, ax, colours, edge, linewidth) -> None:
        bx, by, bw, bh = self.inset["box"]
        ex0, ex1, ey0, ey1 = self.inset["extent"]
        ins = ax.inset_axes([bx, by, bw, bh], transform=ax.transData, zorder=6)
        ins.set_gid("south-china-sea-inset")
        ins.set_label("south-china-sea-inset")
        self._layers(ins, colours, edge, linewidth * 0.8, "inset")
        ins.set_xlim(ex0, ex1)
        ins.set_ylim(ey0, ey1)
        ins.set_xticks([])
        ins.set_yticks([])
        ins.set_facecolor("white")
        for sp in ins.spines.values():
            sp.set_linewidth(0.6)
            sp.set_edgecolor("#333333")
        self._scale_bar(ins, (ex0, ex1, ey0, ey1), fontsize=4.0, share=0.4)

    def _scale_bar(self, ax, extent, *, fontsize: float, share: float = 0.22) -> None:
        from matplotlib.patches import Rectangle

        x0, x1, y0, y1 = extent
        w, h = x1 - x0, y1 - y0
        bx, by = x0 + 0.05 * w, y0 + 0.05 * h
        per_unit = _metres_per_unit(self.crs, bx, by, share * w)
        metres = _nice_length(share * w * per_unit)
        if not math.isfinite(metres):
            return
        length = metres / per_unit
        bar_h = 0.012 * w / self.aspect
        for k, colour in enumerate(("black", "white")):
            r = Rectangle(
                (bx + k * length / 2, by),
                length / 2,
                bar_h,
                facecolor=colour,
                edgecolor="black",
                linewidth=0.5,
                zorder=7,
            )
            r.set_gid("scale-bar" if k == 0 else None)
            ax.add_patch(r)
        ax.nqp_scale_bar = {"x0": bx, "x1": bx + length, "y": by, "metres": metres, "crs": self.crs}
        if share >= 0.3:  # a short bar (the inset): its length beside it
            ax.text(
                bx + length * 1.08,
                by + bar_h / 2,
                _length_text(metres),
                ha="left",
                va="center",
                fontsize=fontsize,
                zorder=7,
            )
            return
        for x, text in ((bx, "0"), (bx + length, _length_text(metres))):
            ax.text(x, by + 1.6 * bar_h, text, ha="center", va="bottom", fontsize=fontsize, zorder=7)

    def _north_arrow(self, ax) -> None:
        from matplotlib.patches import Polygon

        x0, x1, y0, y1 = self.extent
        w = x1 - x0
        # China: on the central meridian (north straight up; the space above is Mongolia's); else upper left
        cx = 0.0 if self.china and x0 < 0 < x1 else x0 + 0.06 * w
        cy = y1 - 0.13 * (y1 - y0)
        angle = _north_angle(self.crs, cx, cy, 0.01 * (y1 - y0))
        s = 0.035 * w  # arrow length in x units (isotropic: y offsets divided by the aspect)
        c, sn = math.cos(angle), math.sin(angle)

        def pt(u, v):  # (u across, v along the arrow) -> data
            return cx + u * c + v * sn, cy + (-u * sn + v * c) / self.aspect

        tip, left, right, tail = pt(0, s / 2), pt(-s / 4, -s / 2), pt(s / 4, -s / 2), pt(0, -s / 4)
        ax.add_patch(Polygon([tip, left, tail], closed=True, facecolor="black", edgecolor="black", lw=0.5, zorder=7))
        ax.add_patch(
            Polygon(
                [tip, right, tail],
                closed=True,
                facecolor="white",
                edgecolor="black",
                lw=0.5,
                zorder=7,
                gid="north-arrow",
            )
        )
        nx, ny = pt(0, s / 2 + 0.02 * w)
        ax.text(nx, ny, "N", ha="center", va="bottom", fontsize=7, zorder=7, rotation=-math.degrees(angle))


def _covered(units, regions, grid: int = 15) -> list[bool]:
    """Whether each unit is mostly covered by the regions: more than half of a grid of sample points
    inside it (and its representative point) fall in some region."""
    import shapely

    tree = shapely.STRtree(regions)
    out = []
    for unit in units:
        x0, y0, x1, y1 = unit.bounds
        gx, gy = np.meshgrid(np.linspace(x0, x1, grid + 2)[1:-1], np.linspace(y0, y1, grid + 2)[1:-1])
        pts = shapely.points(np.c_[gx.ravel(), gy.ravel()])
        pts = np.r_[pts[shapely.contains(unit, pts)], [unit.representative_point()]]
        hit = np.unique(tree.query(pts, predicate="intersects")[0])
        out.append(len(hit) > 0.5 * len(pts))
    return out


def _clip(geoms, rect) -> list:
    """The geometries cut to a rectangle (``shapely.clip_by_rect``: fast, and tolerant of invalid input)."""
    import shapely

    return list(shapely.clip_by_rect(np.asarray(list(geoms), dtype=object), *rect)) if len(geoms) else []


def _paths(geoms) -> list:
    """matplotlib Paths of the geometries (one compound path each)."""
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
    return paths
