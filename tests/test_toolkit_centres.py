"""Gravity centres and standard deviational ellipses against pointpats, pyproj and closed forms."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from nqpspatial.errors import InputError

gpd = pytest.importorskip("geopandas")
pointpats = pytest.importorskip("pointpats")
from pointpats.centrography import ellipse as pp_ellipse  # noqa: E402
from pointpats.centrography import weighted_mean_center  # noqa: E402

from nqpspatial.plugins.toolkit.centres import (  # noqa: E402
    CHINA_ALBERS,
    deviational_ellipse,
    gravity_centres,
    plot_centres,
    region_points,
    weighted_mean_centre,
)

PP_FORMS = {
    "textbook": dict(method="yuill", crimestatCorr=False, degfreedCorr=False),
    "arcgis": dict(method="yuill", crimestatCorr=True, degfreedCorr=False),
    "crimestat": dict(method="crimestat"),
}


@pytest.fixture(scope="module")
def provinces():
    import nqpspatial.geodata as geodata
    from nqpspatial.demo import load_demo

    return geodata.province_layer(load_demo()["panel"]["region"].unique().tolist())


@pytest.fixture(scope="module")
def demo_indices():
    from nqpspatial.demo import load_demo
    from nqpspatial.weighting import compute_weights

    d = load_demo()
    ind = d["indicators"].assign(direction=d["indicators"]["direction"].map({"+": 1, "-": -1}))
    return compute_weights(d["panel"], ind).indices


def _angle_diff(a, b):
    d = abs(a - b) % 180.0
    return min(d, 180.0 - d)


def _cases(provinces, demo_indices):
    pts, _, _ = region_points(provinces)
    yield "demo", pts, demo_indices.rename(columns={"NQP": "w"})
    rng = np.random.default_rng(11)
    xy = pd.DataFrame(
        rng.normal(size=(40, 2)) * [9e5, 4e5] + [2e5, 3.6e6], columns=["x", "y"], index=[f"r{i}" for i in range(40)]
    )
    panel = pd.DataFrame(
        {"region": np.repeat(xy.index, 3), "year": np.tile([2001, 2002, 2003], 40), "w": rng.gamma(2.0, size=120)}
    )
    yield "random", xy, panel


def test_centres_and_ellipses_equal_pointpats(provinces, demo_indices):
    """Weighted mean centre and the three ellipse forms, to 1e-9 projected metres."""
    for label, pts, panel in _cases(provinces, demo_indices):
        for year, g in panel.groupby("year"):
            xy = pts.loc[g["region"], ["x", "y"]].to_numpy()
            w = g["w"].to_numpy()
            np.testing.assert_allclose(weighted_mean_centre(xy, w), weighted_mean_center(xy, w), rtol=0, atol=1e-9)
            for form, kw in PP_FORMS.items():
                e = deviational_ellipse(xy, w, form)
                major, minor, theta = pp_ellipse(xy, w, **kw)
                assert abs(e["major"] - major) <= 1e-9 and abs(e["minor"] - minor) <= 1e-9, (label, year, form)
                assert _angle_diff(e["rotation"], 90.0 - math.degrees(theta)) < 1e-9, (label, year, form)
            # unweighted too (pointpats' default)
            e = deviational_ellipse(xy, None, "crimestat")
            assert abs(e["major"] - pp_ellipse(xy)[0]) <= 1e-9


def test_ellipse_closed_forms():
    """Axis-aligned points: textbook semi-axes are the population sds; forms differ by sqrt(2), sqrt(n/(n-2))."""
    xy = np.array([[-3.0, 0], [3, 0], [0, -1], [0, 1], [0, 0]])
    t = deviational_ellipse(xy, form="textbook")
    assert t["major"] == pytest.approx(math.sqrt(18 / 5)) and t["minor"] == pytest.approx(math.sqrt(2 / 5))
    assert t["rotation"] == pytest.approx(90.0)  # major axis east-west
    a = deviational_ellipse(xy, form="arcgis")
    c = deviational_ellipse(xy, form="crimestat")
    assert a["major"] == pytest.approx(math.sqrt(2) * t["major"])
    assert c["minor"] == pytest.approx(math.sqrt(2) * math.sqrt(5 / 3) * t["minor"])
    assert a["area"] == pytest.approx(math.pi * a["major"] * a["minor"])
    assert a["flattening"] == pytest.approx(1 - t["minor"] / t["major"])
    rot = deviational_ellipse(xy[:, ::-1], form="textbook")  # swap axes: major north-south
    assert rot["rotation"] == pytest.approx(0.0) or rot["rotation"] == pytest.approx(180.0)
    diag = deviational_ellipse(np.array([[1.0, 1], [-1, -1], [2, 2.1], [-2, -2.05]]), form="textbook")
    assert diag["rotation"] == pytest.approx(45.0, abs=1.0)  # north-east


def test_projection_is_equal_area(provinces):
    """Region areas on the chosen projection equal their geodesic areas on the WGS84 ellipsoid."""
    from pyproj import CRS, Geod

    _, crs, note = region_points(provinces)
    assert crs == CRS.from_proj4(CHINA_ALBERS) and "105E" in note
    proj_area = provinces.to_crs(crs).area.to_numpy()
    geod = Geod(ellps="WGS84")
    true = np.array([abs(geod.geometry_area_perimeter(g)[0]) for g in provinces.geometry])
    # edges are straight in lon/lat, geodesics on the ellipsoid: a few 1e-6 apart on equal-area maps
    np.testing.assert_allclose(proj_area, true, rtol=1e-5)
    merc = provinces.to_crs("EPSG:3857").area.to_numpy()  # a conformal map is far off
    assert np.abs(merc / true - 1).max() > 0.1


def test_mexico_uses_a_centred_lambert_equal_area(tmp_path):
    from _mexico import mexico_layer, mexico_long

    g, cols = mexico_layer()
    pts, crs, note = region_points(g)
    assert "Lambert azimuthal equal-area" in note and crs.coordinate_operation.method_name.startswith("Lambert")
    panel = mexico_long(g, cols)
    res = gravity_centres(panel, "pcgdp", pts, crs=crs)
    c = res.centres
    assert len(c) == 7 and c["lon"].between(-118, -86).all() and c["lat"].between(14, 33).all()
    assert len(res.ellipses) == 7 and (res.ellipses["major_km"] >= res.ellipses["minor_km"]).all()
    fig = plot_centres(res, g)
    fig.savefig(tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 1000


def test_shifts_are_geodesic(provinces, demo_indices):
    from pyproj import Geod

    pts, crs, _ = region_points(provinces)
    res = gravity_centres(demo_indices, ["NQP", "NTU"], pts, crs=crs)
    c = res.centres
    assert list(c.columns[:8]) == ["variable", "year", "x", "y", "lon", "lat", "n", "total"]
    geod = Geod(ellps="WGS84")
    for v, g in c.groupby("variable"):
        g = g.sort_values("year")
        az, _, dist = geod.inv(
            g["lon"].to_numpy()[:-1], g["lat"].to_numpy()[:-1], g["lon"].to_numpy()[1:], g["lat"].to_numpy()[1:]
        )
        np.testing.assert_allclose(g["shift_km"].to_numpy()[1:], dist / 1000, rtol=1e-12)
        np.testing.assert_allclose(g["bearing"].to_numpy()[1:], np.mod(az, 360), atol=1e-9)
        assert np.isnan(g["shift_km"].iloc[0]) and g["direction"].iloc[0] == ""
    # scaling the weights does not move the centre
    again = gravity_centres(demo_indices.assign(NQP=demo_indices["NQP"] * 7), "NQP", pts, crs=crs)
    np.testing.assert_allclose(again.centres["x"], c[c.variable == "NQP"]["x"], rtol=1e-13)
    # the summary renders
    assert "Gravity centres" in res.summary().as_text()


def test_a_centre_moving_east_has_an_eastern_bearing():
    from pyproj import CRS

    crs = CRS.from_proj4(CHINA_ALBERS)
    pts = pd.DataFrame({"x": [0.0, 500e3, 0.0, 500e3], "y": [3.0e6, 3.0e6, 3.4e6, 3.4e6]}, index=list("abcd"))
    panel = pd.DataFrame({"region": list("abcd") * 2, "year": [1] * 4 + [2] * 4, "w": [1.0, 1, 1, 1, 1, 3, 1, 3]})
    c = gravity_centres(panel, "w", pts, crs=crs).centres
    assert c["direction"].iloc[1] == "E" and 80 < c["bearing"].iloc[1] < 100
    assert c["dx_km"].iloc[1] == pytest.approx(125.0) and c["dy_km"].iloc[1] == pytest.approx(0.0, abs=1e-9)


def test_bad_input(provinces, demo_indices):
    pts, crs, _ = region_points(provinces)
    bad = demo_indices.copy()
    bad.loc[3, "NQP"] = -0.1
    with pytest.raises(InputError, match="negative value for region"):
        gravity_centres(bad, "NQP", pts, crs=crs)
    with pytest.raises(InputError, match="no CRS"):
        region_points(provinces.set_crs(None, allow_override=True))
    with pytest.raises(InputError, match="geographic"):
        region_points(provinces, crs="EPSG:4326")
    with pytest.raises(InputError, match="form"):
        deviational_ellipse(np.zeros((4, 2)) + np.arange(4)[:, None], form="esri")
    with pytest.raises(InputError, match="sum to 0"):
        weighted_mean_centre(np.ones((3, 2)), [0, 0, 0])
    with pytest.raises(InputError, match="no geometry"):
        gravity_centres(
            demo_indices.assign(region=demo_indices["region"].replace({"北京市": "Atlantis"})), "NQP", pts, crs=crs
        )
