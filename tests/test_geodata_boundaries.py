"""User boundary files: libpysal's Mexico states as a non-Chinese example, and the error cases."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from nqpspatial.errors import InputError
from nqpspatial.geodata import load_scheme, looks_like_provinces, read_boundaries


@pytest.fixture(scope="module")
def mexico():
    import libpysal

    folder = Path(libpysal.__file__).parent / "examples" / "mexico"
    shp = folder / "mexicojoin.shp"
    if not shp.exists():  # pragma: no cover - libpysal ships it
        pytest.skip("libpysal's Mexico example is not installed")
    return folder


def _panel_from_shapefile(shp):
    import geopandas as gpd

    table = gpd.read_file(shp).drop(columns="geometry")
    decades = [1940, 1950, 1960, 1970, 1980, 1990, 2000]
    long = table.melt(id_vars=["NAME"], value_vars=[f"PCGDP{y}" for y in decades], var_name="year", value_name="pcgdp")
    long["year"] = long["year"].str[-4:].astype(int)
    return long.rename(columns={"NAME": "state"}).sort_values(["state", "year"]).reset_index(drop=True), table


def test_mexico_states_as_user_boundaries_with_user_scheme(mexico, tmp_path):
    shp = mexico / "mexicojoin.shp"
    panel, table = _panel_from_shapefile(shp)
    assert panel.shape == (32 * 7, 3)
    assert not looks_like_provinces(panel["state"])

    # the shapefile declares no CRS: refused unless the user sets one
    with pytest.raises(InputError) as exc:
        read_boundaries(shp, "NAME", regions=panel["state"])
    assert "no coordinate reference system" in str(exc.value) and 'crs = "EPSG:4326"' in str(exc.value)
    gdf = read_boundaries(shp, "NAME", regions=panel["state"], crs="EPSG:4326")
    assert gdf.crs.to_epsg() == 4326
    assert list(gdf.index) == list(dict.fromkeys(panel["state"]))
    assert len(gdf) == 32

    # user scheme built from the hanson98 column
    scheme_csv = tmp_path / "hanson98.csv"
    pd.DataFrame({"region": table["NAME"], "group": "H" + table["HANSON98"].astype(int).astype(str)}).to_csv(
        scheme_csv, index=False
    )
    scheme = load_scheme(scheme_csv, regions=panel["state"])
    assert list(scheme.index) == list(gdf.index)
    assert scheme.nunique() == table["HANSON98"].nunique()
    assert scheme["Baja California Norte"] == "H" + str(
        int(table.loc[table["NAME"] == "Baja California Norte", "HANSON98"].item())
    )

    # contiguity works on the result (libpysal Graph), indexed by the panel's ids
    from libpysal.graph import Graph

    g = Graph.build_contiguity(gdf, rook=False)
    assert set(g.unique_ids) == set(gdf.index)
    assert len(g.isolates) == 0


def test_mexico_csv_spellings_are_reported(mexico):
    """libpysal's mexico.csv spells 5 states differently from the shapefile: the error names them."""
    csv = pd.read_csv(mexico / "mexico.csv")
    with pytest.raises(InputError) as exc:
        read_boundaries(mexico / "mexicojoin.shp", "NAME", regions=csv["State"], crs="EPSG:4326")
    msg = str(exc.value)
    for name in ("Baja California", "Coahuila", "Michoacan", "Quertaro", "Veracruz"):
        assert f"'{name}'" in msg.split("boundary feature")[0]
    for name in (
        "Baja California Norte",
        "Coahuila De Zaragoza",
        "Michoacan de Ocampo",
        "Queretaro de Arteaga",
        "Veracruz-Llave",
    ):
        assert f"'{name}'" in msg.split("boundary feature")[1]


def _square_file(tmp_path, ids, crs="EPSG:4326", name="b.geojson"):
    import geopandas as gpd
    from shapely.geometry import box

    gdf = gpd.GeoDataFrame(
        {"rid": ids, "other": range(len(ids))}, geometry=[box(i, 0, i + 1, 1) for i in range(len(ids))], crs=crs
    )
    p = tmp_path / name
    gdf.to_file(p)
    return p


def test_missing_id_field_suggests(tmp_path):
    p = _square_file(tmp_path, ["a", "b"])
    with pytest.raises(InputError) as exc:
        read_boundaries(p, "ridd")
    assert "'ridd' not found" in str(exc.value) and "Did you mean 'rid'" in str(exc.value)
    assert str(p) in str(exc.value)


def test_duplicate_ids(tmp_path):
    p = _square_file(tmp_path, ["a", "b", "a"])
    with pytest.raises(InputError, match="duplicate ids in field 'rid': 'a'"):
        read_boundaries(p, "rid")


def test_panel_regions_without_geometry_and_vice_versa(tmp_path):
    p = _square_file(tmp_path, ["a", "b", "c"])
    with pytest.raises(InputError) as exc:
        read_boundaries(p, "rid", regions=["a", "b", "z"])
    msg = str(exc.value)
    assert "without geometry in field 'rid': 'z'" in msg
    assert "no panel data: 'c'" in msg


def test_ids_match_as_text_and_keep_panel_ids(tmp_path):
    p = _square_file(tmp_path, [11, 12, 13], name="n.gpkg")
    gdf = read_boundaries(p, "rid", regions=["13", "11", "12"])
    assert list(gdf.index) == ["13", "11", "12"]
    assert gdf["other"].tolist() == [2, 0, 1]


def test_crs_rules(tmp_path):
    p = _square_file(tmp_path, ["a", "b"], crs="EPSG:3857")
    assert read_boundaries(p, "rid").crs.to_epsg() == 3857
    with pytest.raises(InputError, match="declares CRS EPSG:3857"):
        read_boundaries(p, "rid", crs="EPSG:4326")


def test_missing_and_unreadable_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_boundaries(tmp_path / "none.geojson", "rid")
    bad = tmp_path / "bad.geojson"
    bad.write_text("not json", encoding="utf-8")
    with pytest.raises(InputError, match="cannot read"):
        read_boundaries(bad, "rid")
