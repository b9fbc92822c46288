"""Region schemes: bundled memberships, user CSV schemes, plugin objects."""

from __future__ import annotations

import pandas as pd
import pytest

from nqpspatial.errors import InputError
from nqpspatial.geodata import SCHEMES, load_scheme, province_names, scheme_table

# Memberships copied from the methods note, section 5 (eight zones: DRC of the State Council, Li & Hou
# 2003; four regions: NBS 2011; three belts: the common post-2000 scheme).
EXPECTED = {
    "eight-zones": {
        "Northeast": "Liaoning, Jilin, Heilongjiang",
        "Northern Coast": "Beijing, Tianjin, Hebei, Shandong",
        "Eastern Coast": "Shanghai, Jiangsu, Zhejiang",
        "Southern Coast": "Fujian, Guangdong, Hainan",
        "Middle Yellow River": "Shanxi, Inner Mongolia, Henan, Shaanxi",
        "Middle Yangtze River": "Anhui, Jiangxi, Hubei, Hunan",
        "Great Southwest": "Guangxi, Chongqing, Sichuan, Guizhou, Yunnan",
        "Great Northwest": "Gansu, Qinghai, Ningxia, Xinjiang, Tibet",
    },
    "four-regions": {
        "East": "Beijing, Tianjin, Hebei, Shanghai, Jiangsu, Zhejiang, Fujian, Shandong, Guangdong, Hainan",
        "Central": "Shanxi, Anhui, Jiangxi, Henan, Hubei, Hunan",
        "West": "Inner Mongolia, Guangxi, Chongqing, Sichuan, Guizhou, Yunnan, Tibet, Shaanxi, Gansu, "
        "Qinghai, Ningxia, Xinjiang",
        "Northeast": "Liaoning, Jilin, Heilongjiang",
    },
    "three-belts": {
        "East": "Beijing, Tianjin, Hebei, Liaoning, Shanghai, Jiangsu, Zhejiang, Fujian, Shandong, Guangdong, Hainan",
        "Central": "Shanxi, Jilin, Heilongjiang, Anhui, Jiangxi, Henan, Hubei, Hunan",
        "West": "Inner Mongolia, Guangxi, Chongqing, Sichuan, Guizhou, Yunnan, Tibet, Shaanxi, Gansu, Qinghai, "
        "Ningxia, Xinjiang",
    },
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_bundled_memberships_match_methods_note(name):
    en = province_names().set_index("name_en")["code"]
    expected = {int(en[p]): g for g, members in EXPECTED[name].items() for p in members.split(", ")}
    got = load_scheme(name)
    assert dict(zip(got.index.astype(int), got)) == expected
    # every province in exactly one group
    assert sorted(got.index) == sorted(province_names()["code"])
    assert got.index.is_unique
    t = scheme_table(name)
    assert t["group_zh"].notna().all() and (t["group_zh"].str.len() > 0).all()
    assert t.groupby("group")["group_zh"].nunique().eq(1).all()
    assert set(SCHEMES[name]) >= {"label_en", "label_zh"}


def test_eight_zone_chinese_names():
    t = scheme_table("eight-zones").drop_duplicates("group").set_index("group")["group_zh"]
    assert t["Middle Yellow River"] == "黄河中游综合经济区"
    assert t["Great Southwest"] == "大西南综合经济区"
    assert SCHEMES["eight-zones"]["label_zh"] == "八大综合经济区"


def test_bundled_scheme_indexed_by_panel_ids():
    regions = ["北京市", "Shaanxi", "山西", 460000, "北京市"]
    s = load_scheme("eight-zones", regions)
    assert list(s.index) == ["北京市", "Shaanxi", "山西", 460000]
    assert s.tolist() == ["Northern Coast", "Middle Yellow River", "Middle Yellow River", "Southern Coast"]
    assert s.attrs["group_zh"]["Southern Coast"] == "南部沿海综合经济区"
    with pytest.raises(InputError, match="Closest matches"):
        load_scheme("eight-zones", ["北京市", "Shanxy"], source="panel.csv")


def test_unknown_scheme_name():
    with pytest.raises(InputError, match="eight-zones"):
        load_scheme("nine-zones")


def _write(tmp_path, rows, name="scheme.csv"):
    p = tmp_path / name
    pd.DataFrame(rows, columns=["region", "group"]).to_csv(p, index=False, encoding="utf-8-sig")
    return p


def test_user_scheme_with_mixed_province_names(tmp_path):
    panel_ids = ["北京市", "天津市", "河北省", "广东省"]
    p = _write(tmp_path, [("Beijing", "north"), ("120000", "north"), ("冀", "north"), ("Guangdong Province", "south")])
    s = load_scheme(p, panel_ids)
    assert list(s.index) == panel_ids
    assert s.tolist() == ["north", "north", "north", "south"]
    assert s.name == "scheme"


def test_user_scheme_missing_and_extra_regions_named(tmp_path):
    p = _write(tmp_path, [("Beijing", "north"), ("Tianjin", "north"), ("Hainan", "south")])
    with pytest.raises(InputError) as exc:
        load_scheme(p, ["北京市", "天津市", "河北省"])
    msg = str(exc.value)
    assert str(p) in msg
    assert "without a group: '河北省'" in msg
    assert "not in the panel: 'Hainan' (row 4)" in msg


def test_user_scheme_duplicate_region_named(tmp_path):
    p = _write(tmp_path, [("Beijing", "north"), ("北京", "south"), ("Tianjin", "north")])
    with pytest.raises(InputError) as exc:
        load_scheme(p, ["北京市", "天津市"])
    msg = str(exc.value)
    assert "more than once" in msg and "Beijing (北京市, 110000)" in msg and "row 2" in msg and "row 3" in msg


def test_user_scheme_unknown_province_lists_closest(tmp_path):
    p = _write(tmp_path, [("Beijing", "north"), ("Tianjn", "north")])
    with pytest.raises(InputError) as exc:
        load_scheme(p, ["北京市", "天津市"])
    assert "'Tianjn'" in str(exc.value) and "Tianjin (天津市, 120000)" in str(exc.value)
    assert str(p) in str(exc.value)


def test_user_scheme_non_chinese_regions_match_exactly(tmp_path):
    p = _write(tmp_path, [("r1", "A"), ("r2", "B"), ("3", "B")])
    s = load_scheme(p, ["r2", "r1", 3])
    assert list(s.index) == ["r2", "r1", 3] and s.tolist() == ["B", "A", "B"]
    with pytest.raises(InputError, match="without a group: 'R1'"):
        load_scheme(p, ["R1", "r2", 3])


def test_user_scheme_file_problems(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_scheme(tmp_path / "nope.csv", ["a"])
    bad = tmp_path / "bad.csv"
    bad.write_text("region,zone\na,1\n", encoding="utf-8")
    with pytest.raises(InputError, match="group missing"):
        load_scheme(bad, ["a"])
    blank = tmp_path / "blank.csv"
    blank.write_text("region,group\na,1\nb,\n", encoding="utf-8")
    with pytest.raises(InputError, match="row\\(s\\) 3"):
        load_scheme(blank, ["a", "b"])
    p = _write(tmp_path, [("a", "1"), ("a", "2")], name="dup.csv")
    with pytest.raises(InputError, match="'a' on rows 2, 3"):
        load_scheme(p)


@pytest.mark.parametrize("attr", ["EIGHT_ZONES", "FOUR_REGIONS", "THREE_BELTS"])
def test_scheme_plugins_fit_the_contract(attr):
    import nqpspatial.plugins.schemes as mod
    from nqpspatial.registry import contract_problems
    from nqpspatial.testing import check_scheme

    obj = getattr(mod, attr)
    assert contract_problems("schemes", obj) == []
    check_scheme(obj)
    assert obj.name in SCHEMES
    assert obj.label_zh and obj.label_en
    assert obj.load(None).equals(load_scheme(obj.name))
    assert len(obj.groups) == len(EXPECTED[obj.name])


def test_haken_per_group_fits_accept_a_scheme_by_name_or_csv(tmp_path):
    """The Haken model's per-group fits take a bundled scheme name or a scheme CSV like a mapping."""
    import nqpspatial.demo as demo
    from nqpspatial.haken import HakenModel

    latent = pd.read_csv(demo.demo_file("latent.csv"), comment="#")
    regions = latent["region"]
    mapping = load_scheme("eight-zones", regions)
    ref = HakenModel(latent, "q1", "q2", by="group", groups=mapping).fit(bootstrap=0).estimates
    by_name = HakenModel(latent, "q1", "q2", by="group", groups="eight-zones").fit(bootstrap=0).estimates
    pd.testing.assert_frame_equal(by_name, ref)
    assert set(ref["group"]) == set(mapping)
    csv = tmp_path / "zones.csv"
    pd.DataFrame({"region": mapping.index, "group": mapping.to_numpy()}).to_csv(csv, index=False)
    by_csv = HakenModel(latent, "q1", "q2", by="group", groups=csv).fit(bootstrap=0).estimates
    pd.testing.assert_frame_equal(by_csv, ref)
