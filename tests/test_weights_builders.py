"""Weights builders: direct dense computations, libpysal, specs, island policies.

Reference data: libpysal's Mexico example (mexicojoin.shp, lon/lat without a
CRS: EPSG:4326 set here) and the bundled 31-province layer
(``nqpspatial.geodata.province_layer``).  Distances in the dense references
are haversine great-circle distances between centroids taken in an
equal-area projection (EPSG:6933), written out independently below.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

gpd = pytest.importorskip("geopandas")
libpysal = pytest.importorskip("libpysal")

from _mexico import mexico_layer, mexico_long  # noqa: E402
from nqpspatial.errors import ConfigError, InputError  # noqa: E402
from nqpspatial.plugins import weights as W  # noqa: E402

R = 6371.0088


@pytest.fixture(scope="module")
def mexico():
    g, cols = mexico_layer()
    return g, mexico_long(g, cols)


@pytest.fixture(scope="module")
def provinces():
    geodata = pytest.importorskip("nqpspatial.geodata")
    g = geodata.province_layer(None)
    rng = np.random.default_rng(8)
    ids = list(g.index)
    panel = pd.DataFrame(
        {
            "region": np.repeat(ids, 4),
            "year": np.tile([2020, 2021, 2022, 2023], len(ids)),
            "gdp_pc": rng.lognormal(11, 0.4, 4 * len(ids)),
        }
    )
    return g, panel


def _dense_km(g, ids):
    # independent reference: equal-area centroids back in lon/lat, haversine distance
    c = g.loc[ids].geometry.to_crs("EPSG:6933").centroid.to_crs("EPSG:4326")
    lon, lat = np.radians(c.x.to_numpy()), np.radians(c.y.to_numpy())
    dlat = lat[:, None] - lat[None, :]
    dlon = lon[:, None] - lon[None, :]
    a = np.sin(dlat / 2) ** 2 + np.cos(lat)[:, None] * np.cos(lat)[None, :] * np.sin(dlon / 2) ** 2
    return 2 * R * np.arcsin(np.sqrt(a))


def _dense(sw):
    return sw.raw_graph.sparse.toarray()


def _rowstd(m):
    s = m.sum(1, keepdims=True)
    return np.divide(m, s, out=np.zeros_like(m), where=s > 0)


@pytest.fixture(scope="module", params=["mexico", "provinces"])
def layer(request, mexico, provinces):
    return mexico if request.param == "mexico" else provinces


def test_inverse_distance_equals_dense(layer):
    g, _ = layer
    ids = list(g.index)[::-1]  # any order
    d = _dense_km(g, ids)
    with np.errstate(divide="ignore"):
        ref = np.where(np.eye(len(ids), dtype=bool), 0.0, d**-2.0)
    sw = W.build_weights("inverse_distance:power=2", ids, geometry=g)
    np.testing.assert_allclose(_dense(sw), ref, rtol=1e-9)
    np.testing.assert_allclose(sw.graph.sparse.toarray(), _rowstd(ref), rtol=1e-9)
    cut = W.build_weights("inverse_distance:cutoff=800", ids, geometry=g, islands="keep")
    ref_cut = np.where((d <= 800) & (d > 0), 1.0 / np.where(d > 0, d, 1), 0.0)
    np.testing.assert_allclose(_dense(cut), ref_cut, rtol=1e-9)


def test_kernel_equals_dense(layer):
    g, _ = layer
    ids = list(g.index)
    d = _dense_km(g, ids)
    n = len(ids)
    # fixed triangular kernel, bandwidth 900 km: K(z) = 1 - z for z = d/h <= 1
    sw = W.build_weights("kernel:kernel=triangular,bandwidth=900", ids, geometry=g, islands="keep")
    ref = np.where((d <= 900) & ~np.eye(n, dtype=bool), 1 - d / 900, 0.0)
    np.testing.assert_allclose(_dense(sw), ref, rtol=1e-9, atol=1e-12)
    # adaptive gaussian kernel, k = 4: h_i = distance to the 4th nearest region
    sw = W.build_weights("kernel:kernel=gaussian,k=4", ids, geometry=g)
    dd = d + np.diag(np.full(n, np.inf))
    order = np.argsort(dd, axis=1)[:, :4]
    h = np.take_along_axis(dd, order, 1)[:, -1] * (1 + 1e-7)
    ref = np.zeros((n, n))
    rows = np.repeat(np.arange(n), 4)
    z = dd[rows, order.ravel()] / h[rows]
    ref[rows, order.ravel()] = np.exp(-0.5 * z**2) / np.sqrt(2 * np.pi)
    np.testing.assert_allclose(_dense(sw), ref, rtol=1e-9)


def test_economic_and_nested_equal_dense(layer):
    g, panel = layer
    ids = list(g.index)
    var = "pcgdp" if "pcgdp" in panel.columns else "gdp_pc"
    xbar = panel.groupby("region")[var].mean().loc[ids].to_numpy()
    diff = np.abs(xbar[:, None] - xbar[None, :])
    with np.errstate(divide="ignore"):
        econ = np.where(np.eye(len(ids), dtype=bool), 0.0, 1.0 / diff)
    sw = W.build_weights(f"economic:variable={var}", ids, panel=panel.sample(frac=1, random_state=0))
    np.testing.assert_allclose(_dense(sw), econ, rtol=1e-9)
    nested = W.build_weights(
        f"nested:phi=0.3,variable={var},geo=inverse_distance:power=1", ids, geometry=g, panel=panel
    )
    d = _dense_km(g, ids)
    with np.errstate(divide="ignore"):
        geo = np.where(np.eye(len(ids), dtype=bool), 0.0, 1.0 / d)
    ref = 0.3 * _rowstd(geo) + 0.7 * _rowstd(econ)
    np.testing.assert_allclose(_dense(nested), ref, rtol=1e-9)


def test_economic_ties_get_the_largest_finite_weight():
    w, ties = W.economic_matrix(np.array([1.0, 1.0, 3.0, 7.0]))
    assert ties == 2
    assert w[0, 1] == w[1, 0] == pytest.approx(1 / 2.0)  # smallest positive |difference| is 2
    assert w[2, 3] == pytest.approx(1 / 4.0)
    with pytest.raises(InputError, match="same period mean"):
        W.economic_matrix(np.ones(3))


def test_contiguity_and_knn_equal_libpysal(mexico):
    from libpysal.graph import Graph

    g, _ = mexico
    ids = list(g.index)
    for rook in (False, True):
        ref = Graph.build_contiguity(g.geometry, rook=rook)
        sw = W.build_weights("rook" if rook else "queen", ids, geometry=g, transform="b")
        np.testing.assert_array_equal(sw.graph.sparse.toarray(), ref.sparse.toarray())
    # knn on projected (equal-distance enough at this scale? no: use our own km) -> compare with a dense search
    d = _dense_km(g, ids) + np.diag(np.full(len(ids), np.inf))
    sw = W.build_weights("knn:k=3", ids, geometry=g, transform="b")
    ref = np.zeros_like(d)
    np.put_along_axis(ref, np.argsort(d, axis=1)[:, :3], 1.0, axis=1)
    np.testing.assert_array_equal(sw.graph.sparse.toarray(), ref)


def test_distance_band_default_threshold_leaves_no_island(mexico):
    g, _ = mexico
    ids = list(g.index)
    d = _dense_km(g, ids) + np.diag(np.full(len(ids), np.inf))
    sw = W.build_weights("distance_band", ids, geometry=g, transform="b")
    thr = d.min(1).max()
    np.testing.assert_array_equal(sw.graph.sparse.toarray(), (d <= thr * (1 + 1e-9)).astype(float))
    assert sw.islands == ()


def test_block_weights(mexico):
    g, _ = mexico
    ids = list(g.index)
    scheme = pd.Series(np.where(np.arange(len(ids)) % 3 == 0, "a", "b"), index=ids)
    sw = W.build_weights("block", ids, scheme=scheme, transform="b")
    same = (scheme.to_numpy()[:, None] == scheme.to_numpy()[None, :]) & ~np.eye(len(ids), dtype=bool)
    np.testing.assert_array_equal(sw.graph.sparse.toarray(), same.astype(float))


def test_missing_inputs_name_the_config_keys_that_fix_them(mexico):
    g, _ = mexico
    ids = list(g.index)
    with pytest.raises(InputError, match=r"\[regions\] scheme.*eight-zones"):
        W.build_weights("block", ids)
    for spec in ("queen", "knn:k=3", "inverse_distance"):
        with pytest.raises(InputError, match=r"\[geometry\] source and id"):
            W.build_weights(spec, ids)


def test_user_matrix_csv_gal_gwt(tmp_path, mexico):
    g, _ = mexico
    ids = list(g.index)
    queen = W.build_weights("queen", ids, geometry=g, transform="b")
    t = queen.table
    t.to_csv(tmp_path / "w.csv", index=False)
    from_csv = W.build_weights("matrix:path=w.csv", ids, base_dir=tmp_path, transform="b")
    np.testing.assert_array_equal(from_csv.graph.sparse.toarray(), queen.graph.sparse.toarray())
    # GAL/GWT need ids without spaces: use the integer POLY_ID of the same layer
    gi = g.reset_index().set_index("POLY_ID")
    iids = list(gi.index)[::-1]
    qi = W.build_weights("queen", iids, geometry=gi, transform="b")
    qi.raw_graph.to_gal(tmp_path / "w.gal")
    qi.raw_graph.to_gwt(tmp_path / "w.gwt")
    for name in ("w.gal", "w.gwt"):
        sw = W.build_weights(f"matrix:path={tmp_path / name}", iids, transform="b")
        np.testing.assert_array_equal(sw.graph.sparse.toarray(), qi.graph.sparse.toarray())
    bad = t.copy()
    bad.loc[0, "neighbor"] = "Atlantis"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(InputError, match="Atlantis"):
        W.build_weights("matrix:path=bad.csv", ids, base_dir=tmp_path)


def test_spec_parsing_slug_and_errors(mexico):
    g, _ = mexico
    assert W.parse_spec("knn:k=5") == ("knn", {"k": 5})
    assert W.parse_spec("kernel:bandwidth=2.5,kernel=gaussian") == ("kernel", {"bandwidth": 2.5, "kernel": "gaussian"})
    assert W.parse_spec("x:a=true,b=none")[1] == {"a": True, "b": None}
    assert W.spec_slug("knn:k=5") == "knn_k_5"
    assert W.spec_slug("economic:variable=gdp_pc") == "economic_variable_gdp_pc"
    with pytest.raises(ConfigError, match="no parameter 'kk'.*did you mean 'k'.*accepted: k"):
        W.build_weights("knn:kk=5", list(g.index), geometry=g)
    with pytest.raises(ConfigError, match="'power'"):
        W.build_weights("inverse_distance:pwer=2", list(g.index), geometry=g)
    with pytest.raises(ConfigError, match="islands"):
        W.build_weights("queen", list(g.index), geometry=g, islands="nearst")
    with pytest.raises(InputError, match="boundaries"):
        W.build_weights("queen", list(g.index))


def test_transforms(mexico):
    g, _ = mexico
    ids = list(g.index)
    raw = W.build_weights("queen", ids, geometry=g, transform="o").graph.sparse.toarray()
    r = W.build_weights("queen", ids, geometry=g).graph.sparse.toarray()
    np.testing.assert_allclose(r, _rowstd(raw))
    v = W.build_weights("queen", ids, geometry=g, transform="v")
    assert v.transform == "v" and v.graph.transformation == "V"


def _islands_layer():
    from shapely.geometry import box

    # a 3 x 3 block of unit squares plus one square 0.5 degrees off its east side
    polys = [box(j, i, j + 1, i + 1) for i in range(3) for j in range(3)] + [box(3.5, 1.25, 4.5, 1.75)]
    ids = [f"c{k}" for k in range(9)] + ["isle"]
    return gpd.GeoDataFrame(geometry=polys, index=pd.Index(ids, name="region"), crs="EPSG:4326"), ids


def test_island_policies_on_a_synthetic_layer():
    g, ids = _islands_layer()
    near = W.build_weights("queen", ids, geometry=g)
    adj = near.table
    # nearest by boundary distance: c5 (east edge, middle row) at 0.5 degrees ~ 55.6 km
    assert set(map(tuple, adj.loc[adj.focal == "isle", ["focal", "neighbor"]].to_numpy())) == {("isle", "c5")}
    assert ((adj.focal == "c5") & (adj.neighbor == "isle")).any()
    assert near.links["km"].iloc[0] == pytest.approx(0.5 * np.pi / 180 * R * np.cos(np.radians(1.5)), rel=0.01)
    keep = W.build_weights("queen", ids, geometry=g, islands="keep")
    assert keep.islands == ("isle",) and keep.summary_row["components"] == 2
    drop = W.build_weights("queen", ids, geometry=g, islands="drop")
    assert "isle" not in drop.ids and drop.summary_row["dropped"] == "isle" and drop.summary_row["n"] == 9


def test_hainan_links_to_guangdong(provinces):
    g, _ = provinces
    ids = list(g.index)
    sw = W.build_weights("queen", ids, geometry=g)
    adj = sw.table
    # codes: 460000 Hainan, 440000 Guangdong (GB/T 2260)
    assert adj[(adj.focal == 460000)].neighbor.tolist() == [440000]
    assert ((adj.focal == 440000) & (adj.neighbor == 460000)).any()
    # boundary distance about 14 km (methods note, section 5), Guangxi is farther (about 107 km)
    assert sw.links["km"].iloc[0] < 40
    keep = W.build_weights("queen", ids, geometry=g, islands="keep")
    assert keep.islands == (460000,)


def test_first_party_builders_pass_the_contract_check():
    from nqpspatial.testing import check_weights as check_weights_plugin

    for builder in W.BUILDERS.values():
        check_weights_plugin(builder)


def test_broken_builder_is_named_by_the_contract_check():
    from nqpspatial.testing import check_weights as check_weights_plugin

    class Reversed(W.WeightsBuilder):
        name = "backwards"
        params: dict = {}

        def build(self, ids, **kw):
            return W.queen.build(list(ids)[::-1], **kw)

    with pytest.raises(AssertionError, match="'backwards'.*exactly `ids`"):
        check_weights_plugin(Reversed())
