"""Gravity (weighted mean) centres and standard deviational ellipses.

Pure functions: no pipeline context, no config dicts.

* :func:`region_points` places each region at a point of an equal-area
  projection (:func:`equal_area_crs`: Albers 105E / 25N / 47N for China,
  otherwise a Lambert azimuthal equal-area projection centred on the data).
* :func:`weighted_mean_centre` and :func:`deviational_ellipse` are the two
  kernels (one variable, one period).
* :func:`gravity_centres` runs them for every variable and year of a panel and
  adds each centre's yearly shift (great-circle distance and bearing);
  :func:`plot_centres` draws the path and the ellipses.

Formulas and conventions: ``docs/centres.md``.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from nqpspatial.errors import InputError
from nqpspatial.results import Results, Summary

__all__ = [
    "CHINA_ALBERS",
    "ELLIPSE_FORMS",
    "DEFAULT_FORM",
    "equal_area_crs",
    "region_points",
    "weighted_mean_centre",
    "deviational_ellipse",
    "gravity_centres",
    "CentresResults",
    "plot_centres",
    "compass",
]

#: Albers equal-area conic for China: central meridian 105E, standard parallels 25N and 47N, WGS84.
CHINA_ALBERS = "+proj=aea +lat_0=0 +lon_0=105 +lat_1=25 +lat_2=47 +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs"
#: China's extent (lon, lat) inside which :func:`equal_area_crs` picks :data:`CHINA_ALBERS`.
CHINA_EXTENT = (73.0, 3.0, 136.0, 54.0)
#: Corrections of the ellipse's standard deviations.
ELLIPSE_FORMS = {
    "textbook": "Lefever (1926) / Yuill (1971): sigma = sqrt(sum w d^2 / sum w)",
    "arcgis": "ArcGIS Directional Distribution: sqrt(2) * textbook",
    "crimestat": "CrimeStat: sqrt(2) * sqrt(n / (n - 2)) * textbook (degrees-of-freedom correction)",
}
#: The default form (ArcGIS's, the one most studies in the field report).
DEFAULT_FORM = "arcgis"
_COMPASS = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")
_COMPASS_ZH = ("北", "东北", "东", "东南", "南", "西南", "西", "西北")


def compass(bearing: float, zh: bool = False) -> str:
    """Eight-point compass label of a bearing in degrees clockwise from north ("" for NaN)."""
    if bearing is None or not np.isfinite(bearing):
        return ""
    i = int(((bearing % 360.0) + 22.5) // 45.0) % 8
    return (_COMPASS_ZH if zh else _COMPASS)[i]


# --------------------------------------------------------------------------- projection and points
def equal_area_crs(lon: Sequence[float], lat: Sequence[float]):
    """The equal-area projection used for the centres of regions at ``lon, lat``.

    Parameters
    ----------
    lon, lat : sequence of float
        Longitudes and latitudes (degrees, WGS84) of the layer's extent or of
        its regions.

    Returns
    -------
    (pyproj.CRS, str)
        The CRS and a sentence saying which one and why.  Within China's
        extent (73-136E, 3-54N): Albers equal-area conic with central
        meridian 105E and standard parallels 25N and 47N (WGS84), the usual
        projection of Chinese national maps.  Elsewhere: a Lambert azimuthal
        equal-area projection centred on the middle of the extent (WGS84).
    """
    from pyproj import CRS

    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    x0, y0, x1, y1 = CHINA_EXTENT
    if lon.size and (lon >= x0).all() and (lon <= x1).all() and (lat >= y0).all() and (lat <= y1).all():
        return CRS.from_proj4(CHINA_ALBERS), "Albers equal-area conic 105E, 25N/47N, WGS84 (China)"
    lon0 = round(float((lon.min() + lon.max()) / 2), 6)
    lat0 = round(float((lat.min() + lat.max()) / 2), 6)
    crs = CRS.from_proj4(f"+proj=laea +lat_0={lat0} +lon_0={lon0} +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs")
    return crs, f"Lambert azimuthal equal-area centred on {lat0}N {lon0}E (WGS84), the middle of the layer's extent"


def _is_equal_area(crs) -> bool:
    try:
        name = (crs.coordinate_operation.method_name or "").lower()
    except AttributeError:
        return False
    return any(
        k in name
        for k in ("equal area", "equal-area", "mollweide", "equal earth", "sinusoidal", "eckert iv", "eckert vi")
    )


def region_points(geometry, *, crs="auto", points: str = "centroid", source: str = "geometry"):
    """One point per region on an equal-area projection.

    Parameters
    ----------
    geometry : geopandas.GeoDataFrame or GeoSeries
        Region polygons (or points) indexed by region id, with a CRS.  Not
        modified.
    crs : "auto" or CRS-like, default "auto"
        ``"auto"``: :func:`equal_area_crs` of the layer's extent.  Anything
        :class:`pyproj.CRS` accepts: a projected CRS to use instead (a
        non-equal-area one is accepted but named in the returned note).
    points : {"centroid", "representative"}
        The polygon's area centroid on the projection, or a point guaranteed
        inside the polygon (shapely's ``representative_point``).
    source : str
        Name of the geometry in error messages.

    Returns
    -------
    (pandas.DataFrame, pyproj.CRS, str)
        ``x, y`` (projected metres) and ``lon, lat`` (degrees) indexed by
        region id; the CRS; a note naming the projection.

    Raises
    ------
    InputError
        No CRS on the layer, a geographic ``crs``, empty geometries, or an
        unknown ``points``.
    """
    from pyproj import CRS, Transformer

    if points not in ("centroid", "representative"):
        raise InputError(f'points = {points!r}: use "centroid" or "representative"', source=source)
    if getattr(geometry, "crs", None) is None:
        raise InputError(
            "the boundary layer has no CRS, so its coordinates cannot be projected: set "
            '[geometry] crs (e.g. "EPSG:4326" for longitude/latitude)',
            source=source,
        )
    geo = geometry.geometry if hasattr(geometry, "geometry") else geometry
    empty = geo.index[geo.is_empty | geo.isna()].tolist()
    if empty:
        raise InputError(f"regions {empty[:10]} have empty geometries: fix or remove them", source=source)
    ll = geo.to_crs("EPSG:4326")
    if crs == "auto":
        b = ll.bounds
        target, note = equal_area_crs(np.r_[b["minx"], b["maxx"]], np.r_[b["miny"], b["maxy"]])
    else:
        try:
            target = CRS.from_user_input(crs)
        except Exception as exc:  # pyproj.exceptions.CRSError
            raise InputError(
                f'crs = {crs!r} is not a CRS pyproj understands ({exc}); give e.g. "EPSG:6933" or "auto"', source=source
            ) from None
        if not target.is_projected:
            raise InputError(
                f'crs = {crs!r} is geographic (degrees); give a projected equal-area CRS or "auto"', source=source
            )
        note = f"user CRS {target.name}" + (
            ""
            if _is_equal_area(target)
            else " (not an equal-area projection: centres are weighted in its distorted plane)"
        )
    proj = geo.to_crs(target)
    pts = proj.centroid if points == "centroid" else proj.representative_point()
    x = pts.x.to_numpy(float)
    y = pts.y.to_numpy(float)
    to_ll = Transformer.from_crs(target, "EPSG:4326", always_xy=True)
    lon, lat = to_ll.transform(x, y)
    out = pd.DataFrame({"x": x, "y": y, "lon": np.asarray(lon, float), "lat": np.asarray(lat, float)}, index=geo.index)
    return out, target, note


# --------------------------------------------------------------------------- kernels
def _check_xy_w(xy, weights):
    xy = np.asarray(xy, dtype=float)
    w = np.asarray(weights, dtype=float)
    if xy.ndim != 2 or xy.shape[1] != 2 or w.shape != (xy.shape[0],):
        raise InputError(f"need (n, 2) coordinates and n weights, got shapes {xy.shape} and {w.shape}")
    if not np.isfinite(xy).all() or not np.isfinite(w).all():
        raise InputError("coordinates and weights must be finite (no missing values)")
    if (w < 0).any():
        raise InputError("weights must be >= 0 (a centre of gravity needs non-negative masses)")
    if not w.sum() > 0:
        raise InputError("the weights sum to 0: the weighted centre is undefined")
    return xy, w


def weighted_mean_centre(xy, weights) -> np.ndarray:
    """Weighted mean centre ``(sum w x / sum w, sum w y / sum w)``.

    Parameters
    ----------
    xy : array_like, shape (n, 2)
        Projected coordinates.
    weights : array_like, shape (n,)
        Non-negative masses, not all zero.

    Returns
    -------
    numpy.ndarray, shape (2,)
    """
    xy, w = _check_xy_w(xy, weights)
    return np.dot(w / w.sum(), xy)


def deviational_ellipse(xy, weights=None, form: str = DEFAULT_FORM) -> dict:
    """Standard deviational ellipse (one standard deviation) of weighted points.

    With deviations ``(dx, dy)`` from the weighted mean centre, the weighted
    moments ``Sxx = sum w dx^2 / W``, ``Syy``, ``Sxy`` (``W = sum w``) give the
    principal axes: the semi-axes are ``f * sqrt(lambda)`` for the two
    eigenvalues ``lambda = (Sxx + Syy)/2 +- sqrt(((Sxx - Syy)/2)^2 + Sxy^2)``
    and the major axis points at angle ``theta = atan2(2 Sxy, Sxx - Syy) / 2``
    from the x axis.  ``f`` is 1 (``"textbook"``), ``sqrt(2)``
    (``"arcgis"``) or ``sqrt(2) sqrt(n / (n - 2))`` (``"crimestat"``).

    Parameters
    ----------
    xy : array_like, shape (n, 2)
        Projected coordinates (metres).
    weights : array_like, shape (n,), optional
        Non-negative weights (default 1).
    form : {"arcgis", "crimestat", "textbook"}

    Returns
    -------
    dict
        ``x, y`` (centre), ``major, minor`` (semi-axes, coordinate units),
        ``rotation`` (azimuth of the major axis, degrees clockwise from the
        projection's north, in [0, 180)), ``theta`` (radians counterclockwise
        from the x axis), ``area`` (pi * major * minor), ``flattening``
        (1 - minor / major), ``n``.
    """
    if form not in ELLIPSE_FORMS:
        raise InputError(f"ellipse form {form!r}: use one of {list(ELLIPSE_FORMS)}")
    xy = np.asarray(xy, dtype=float)
    xy, w = _check_xy_w(xy, np.ones(len(xy)) if weights is None else weights)
    n = xy.shape[0]
    if n < 3:
        raise InputError(f"a deviational ellipse needs at least 3 points, got {n}")
    c = np.dot(w / w.sum(), xy)
    d = xy - c
    W = w.sum()
    sxx = np.sum(w * d[:, 0] ** 2) / W
    syy = np.sum(w * d[:, 1] ** 2) / W
    sxy = np.sum(w * d[:, 0] * d[:, 1]) / W
    half = 0.5 * (sxx - syy)
    root = math.hypot(half, sxy)
    lam1 = 0.5 * (sxx + syy) + root
    lam2 = max(0.5 * (sxx + syy) - root, 0.0)
    f = {"textbook": 1.0, "arcgis": math.sqrt(2.0), "crimestat": math.sqrt(2.0) * math.sqrt(n / (n - 2))}[form]
    major, minor = f * math.sqrt(lam1), f * math.sqrt(lam2)
    theta = 0.5 * math.atan2(2.0 * sxy, sxx - syy)
    rotation = (90.0 - math.degrees(theta)) % 180.0
    return {
        "x": float(c[0]),
        "y": float(c[1]),
        "major": major,
        "minor": minor,
        "rotation": rotation,
        "theta": theta,
        "area": math.pi * major * minor,
        "flattening": 1.0 - minor / major if major > 0 else float("nan"),
        "n": int(n),
    }


# --------------------------------------------------------------------------- panel driver
class CentresResults(Results):
    """Gravity centres and deviational ellipses of a panel.

    Attributes
    ----------
    centres : pandas.DataFrame
        One row per variable and year: ``variable, year, x, y, lon, lat, n,
        total, shift_km, bearing, direction, direction_zh,
        speed_km_per_year, dx_km, dy_km``.
    ellipses : pandas.DataFrame
        ``variable, year, x, y, form, major_km, minor_km, rotation,
        area_km2, flattening, n``.
    points : pandas.DataFrame
        The region points used (``x, y, lon, lat`` by region).
    options : dict
        ``crs`` (WKT-free PROJ string), ``projection`` note, ``form``.
    """

    def __init__(self, centres, ellipses, points, options):
        self._set("centres", centres)
        self._set("ellipses", ellipses)
        self._set("points", points)
        self._set("options", dict(options))
        self._freeze()

    def summary(self) -> Summary:
        """Centres with their shifts and the ellipses' axes."""
        c = object.__getattribute__(self, "centres")
        e = object.__getattribute__(self, "ellipses")
        o = object.__getattribute__(self, "options")
        facts = {
            "projection": o["projection"],
            "ellipse form": o["form"],
            "variables": ", ".join(o["variables"]),
            "years": f"{c['year'].min()}-{c['year'].max()}" if len(c) else "",
        }
        tables = {
            "Gravity centres": c[["variable", "year", "lon", "lat", "shift_km", "bearing", "direction"]],
            "Standard deviational ellipses": e[
                ["variable", "year", "major_km", "minor_km", "rotation", "area_km2", "flattening"]
            ],
        }
        return Summary(
            title="Gravity centres and standard deviational ellipses",
            facts=facts,
            tables=tables,
            notes=(
                ELLIPSE_FORMS[o["form"]],
                "shift: great-circle (WGS84 geodesic) distance and initial bearing from the previous year's centre",
            ),
        )

    def __repr__(self) -> str:
        o = object.__getattribute__(self, "options")
        return f"<CentresResults variables={o['variables']!r} form={o['form']!r}>"


def _check_panel(data, variables, region, year, points):
    if not isinstance(data, pd.DataFrame):
        raise InputError("data must be a pandas DataFrame with region, year and variable columns")
    missing = [c for c in (region, year, *variables) if c not in data.columns]
    if missing:
        raise InputError(f"data has no column(s) {missing}: name existing columns")
    dup = data.duplicated([region, year])
    if dup.any():
        r = data.loc[dup, [region, year]].iloc[0].tolist()
        raise InputError(f"region {r[0]!r} appears twice in year {r[1]!r}: one row per region and year")
    unknown = sorted(set(data[region]) - set(points.index), key=str)
    if unknown:
        raise InputError(f"regions {unknown[:10]} have no geometry: add them to the boundary layer")


def _shift_rows(tab: pd.DataFrame, geod) -> pd.DataFrame:
    """Add shift_km, bearing, direction, speed, dx_km, dy_km per variable (sorted by year)."""
    parts = []
    for _, g in tab.groupby("variable", sort=False):
        g = g.sort_values("year").copy()
        lon0, lat0 = g["lon"].shift().to_numpy(), g["lat"].shift().to_numpy()
        ok = np.isfinite(lon0)
        az = np.full(len(g), np.nan)
        dist = np.full(len(g), np.nan)
        if ok.any():
            a, _, s = geod.inv(lon0[ok], lat0[ok], g["lon"].to_numpy()[ok], g["lat"].to_numpy()[ok])
            az[ok] = np.mod(a, 360.0)
            dist[ok] = np.asarray(s) / 1000.0
            az[ok & (dist == 0)] = np.nan
        g["shift_km"] = dist
        g["bearing"] = az
        g["direction"] = [compass(b) for b in az]
        g["direction_zh"] = [compass(b, zh=True) for b in az]
        g["speed_km_per_year"] = dist / g["year"].diff().to_numpy(float)
        g["dx_km"] = g["x"].diff() / 1000.0
        g["dy_km"] = g["y"].diff() / 1000.0
        parts.append(g)
    return pd.concat(parts, ignore_index=True)


def gravity_centres(
    data: pd.DataFrame,
    variables: str | Iterable[str],
    points: pd.DataFrame,
    *,
    crs,
    region: str = "region",
    year: str = "year",
    form: str = DEFAULT_FORM,
    years: Iterable | None = None,
    projection: str = "",
) -> CentresResults:
    """Weighted mean centre and deviational ellipse of each variable per year.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per region and year with the variables as columns (the
        weights: non-negative, e.g. subsystem indices or h).  Not modified.
    variables : str or iterable of str
        Columns to use as weights.
    points : pandas.DataFrame
        ``x, y`` (projected metres) by region id (from :func:`region_points`).
    crs : pyproj.CRS or CRS-like
        The projection of ``points`` (for the centres' longitude and
        latitude).
    region, year : str
        Column names in ``data``.
    form : {"arcgis", "crimestat", "textbook"}, default "arcgis"
        Correction of the ellipse's standard deviations (see
        :func:`deviational_ellipse`).
    years : iterable, optional
        Years to use (default all).
    projection : str
        Description of the projection (recorded in ``options``).

    Returns
    -------
    CentresResults

    Raises
    ------
    InputError
        Missing columns or regions without a point, duplicated region-years,
        missing or negative values, a year whose weights sum to 0.
    """
    from pyproj import CRS, Geod, Transformer

    variables = [variables] if isinstance(variables, str) else list(variables)
    if not variables:
        raise InputError("no variable given: name at least one column whose values weight the regions")
    if form not in ELLIPSE_FORMS:
        raise InputError(f"ellipse form {form!r}: use one of {list(ELLIPSE_FORMS)}")
    _check_panel(data, variables, region, year, points)
    crs = CRS.from_user_input(crs)
    to_ll = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    keep = data if years is None else data[data[year].isin(list(years))]
    if not len(keep):
        raise InputError(f"no rows for the years {list(years) if years is not None else []}")
    crow, erow = [], []
    for v in variables:
        vals = pd.to_numeric(keep[v], errors="coerce")
        bad = keep.loc[~np.isfinite(vals.to_numpy(float)) | (vals.to_numpy(float) < 0), [region, year]]
        if len(bad):
            r = bad.iloc[0].tolist()
            raise InputError(
                f"variable {v!r}: missing or negative value for region {r[0]!r} in year {r[1]!r}; "
                "centres need non-negative weights (e.g. indices in [0, 1])"
            )
        for y, g in keep.assign(_w=vals).groupby(year, sort=True):
            xy = points.loc[g[region], ["x", "y"]].to_numpy(float)
            w = g["_w"].to_numpy(float)
            if not w.sum() > 0:
                raise InputError(f"variable {v!r}: every value is 0 in year {y!r}, so its centre is undefined")
            c = weighted_mean_centre(xy, w)
            lon, lat = to_ll.transform(c[0], c[1])
            crow.append(
                {
                    "variable": v,
                    "year": y,
                    "x": c[0],
                    "y": c[1],
                    "lon": float(lon),
                    "lat": float(lat),
                    "n": int(len(g)),
                    "total": float(w.sum()),
                }
            )
            e = deviational_ellipse(xy, w, form)
            erow.append(
                {
                    "variable": v,
                    "year": y,
                    "x": e["x"],
                    "y": e["y"],
                    "form": form,
                    "major_km": e["major"] / 1000.0,
                    "minor_km": e["minor"] / 1000.0,
                    "rotation": e["rotation"],
                    "area_km2": e["area"] / 1e6,
                    "flattening": e["flattening"],
                    "n": e["n"],
                }
            )
    centres = _shift_rows(pd.DataFrame(crow), Geod(ellps="WGS84"))
    centres = centres.rename(columns={"year": year}) if year != "year" else centres
    ellipses = pd.DataFrame(erow)
    ellipses = ellipses.rename(columns={"year": year}) if year != "year" else ellipses
    return CentresResults(
        centres,
        ellipses,
        points[["x", "y"] + [c for c in ("lon", "lat") if c in points]].copy(),
        {
            "crs": crs.srs or crs.to_string(),
            "projection": projection or crs.name,
            "form": form,
            "variables": variables,
            "year": year,
        },
    )


# --------------------------------------------------------------------------- figure
def plot_centres(
    results: CentresResults,
    geometry=None,
    *,
    variable: str | None = None,
    years: Sequence | None = None,
    ax=None,
    language: str = "en",
):
    """Map of a variable's centre path and its ellipses in selected years.

    Parameters
    ----------
    results : CentresResults
    geometry : geopandas.GeoDataFrame, optional
        Boundaries drawn underneath (re-projected to the results' CRS).
    variable : str, optional
        Default: the first variable.
    years : sequence, optional
        Years whose ellipses are drawn (default: the first and the last).
    ax : matplotlib Axes, optional
    language : {"en", "zh"}

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Ellipse

    o = results.options
    c, e = results.centres, results.ellipses
    Y = o.get("year", "year")
    variable = variable or o["variables"][0]
    c = c[c["variable"] == variable].sort_values(Y)
    e = e[e["variable"] == variable]
    allyears = c[Y].tolist()
    years = [allyears[0], allyears[-1]] if years is None and allyears else list(years or [])
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 6))
    else:
        fig = ax.figure
    if geometry is not None:
        geometry.to_crs(o["crs"]).plot(ax=ax, color="#f2f2f2", edgecolor="#b0b0b0", linewidth=0.3)
    ax.plot(c["x"], c["y"], "-", color="#444444", linewidth=1, zorder=3)
    sc = ax.scatter(c["x"], c["y"], c=np.arange(len(c)), cmap="viridis", s=18, zorder=4)
    cmap = plt.get_cmap("tab10")
    for i, y in enumerate(years):
        r = e[e[Y] == y]
        if not len(r):
            continue
        r = r.iloc[0]
        ax.add_patch(
            Ellipse(
                (r["x"], r["y"]),
                2000 * r["major_km"],
                2000 * r["minor_km"],
                angle=90.0 - r["rotation"],
                fill=False,
                color=cmap(i % 10),
                linewidth=1.4,
                label=str(y),
                zorder=2,
            )
        )
    for t, (x, yv) in zip(
        (allyears[0], allyears[-1]) if allyears else (),
        ((c["x"].iloc[0], c["y"].iloc[0]), (c["x"].iloc[-1], c["y"].iloc[-1])),
    ):
        ax.annotate(str(t), (x, yv), textcoords="offset points", xytext=(4, 4), fontsize=8)
    zh = language == "zh"
    title = "重心迁移轨迹与标准差椭圆" if zh else "centre of gravity path and deviational ellipses"
    ax.set_title(f"{variable}: {title}")
    if years:
        ax.legend(title="椭圆" if zh else "ellipse", fontsize=8)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    fig.colorbar(sc, ax=ax, shrink=0.6, label="年份序号" if zh else "year (order)")
    return fig
