"""Name matching of Chinese provinces (nqpspatial.geodata.match_regions)."""

from __future__ import annotations

import pandas as pd
import pytest

from nqpspatial.errors import InputError
from nqpspatial.geodata import (
    looks_like_provinces,
    match_regions,
    mostly_provinces,
    normalize_name,
    province_layer,
    province_names,
)
from nqpspatial.geodata._names import _key_map

# GB/T 2260 province codes of the 31 mainland provinces (methods note, section 5).
CODES = [
    110000,
    120000,
    130000,
    140000,
    150000,
    210000,
    220000,
    230000,
    310000,
    320000,
    330000,
    340000,
    350000,
    360000,
    370000,
    410000,
    420000,
    430000,
    440000,
    450000,
    460000,
    500000,
    510000,
    520000,
    530000,
    540000,
    610000,
    620000,
    630000,
    640000,
    650000,
]


def one(value):
    return int(match_regions([value]).iloc[0])


def test_table_has_the_31_provinces():
    t = province_names()
    assert sorted(t["code"]) == CODES
    for col in ("name_zh", "name_zh_short", "abbr", "name_en", "pinyin"):
        assert t[col].is_unique, col
    assert not t["name_zh_short"].str.contains("省|自治区|特别行政区").any()


def test_every_name_key_names_one_province():
    clashes = {k: sorted(v) for k, v in _key_map().items() if len(v) > 1}
    assert clashes == {}


@pytest.mark.parametrize(
    "value, code",
    [
        (110000, 110000),
        ("110000", 110000),
        ("11", 110000),
        (11, 110000),
        (650000.0, 650000),
        ("北京市", 110000),
        ("北京", 110000),
        ("京", 110000),
        ("广西壮族自治区", 450000),
        ("广西", 450000),
        ("广西自治区", 450000),
        ("宁夏回族自治区", 640000),
        ("宁夏", 640000),
        ("新疆维吾尔自治区", 650000),
        ("新疆", 650000),
        ("内蒙古自治区", 150000),
        ("内蒙古", 150000),
        ("西藏", 540000),
        ("Beijing", 110000),
        ("beijing", 110000),
        ("BEIJING", 110000),
        (" Bei-jing ", 110000),
        ("Ｂｅｉｊｉｎｇ", 110000),
        ("Inner Mongolia", 150000),
        ("Nei Mongol", 150000),
        ("Neimenggu", 150000),
        ("Nei Menggu", 150000),
        ("inner-mongolia", 150000),
        ("Inner Mongolia Autonomous Region", 150000),
        ("Tibet", 540000),
        ("Xizang", 540000),
        ("Tibet Autonomous Region", 540000),
        ("Guangxi Zhuang Autonomous Region", 450000),
        ("Guangxi", 450000),
        ("Xinjiang Uygur Autonomous Region", 650000),
        ("Xinjiang Uyghur Autonomous Region", 650000),
        ("Ningxia Hui Autonomous Region", 640000),
        ("Hebei Province", 130000),
        ("Hebei Sheng", 130000),
        ("Shanghai Municipality", 310000),
        ("Chongqing Shi", 500000),
        ("Heilongjiang", 230000),
        # Shanxi (山西) and Shaanxi (陕西) must not be confused
        ("Shanxi", 140000),
        ("山西", 140000),
        ("山西省", 140000),
        ("Shānxī", 140000),
        ("Shaanxi", 610000),
        ("陕西", 610000),
        ("陕西省", 610000),
        ("Shǎnxī", 610000),
    ],
)
def test_single_forms(value, code):
    assert one(value) == code


def test_mixed_forms_in_one_input_keep_input_ids_and_order():
    values = ["北京市", "Tianjin", 130000, "山西", "Shaanxi", "nei mongol", "桂", "Tibet", "北京市", "Tianjin"]
    out = match_regions(values, source="panel.csv")
    assert list(out.index) == ["北京市", "Tianjin", 130000, "山西", "Shaanxi", "nei mongol", "桂", "Tibet"]
    assert out.tolist() == [110000, 120000, 130000, 140000, 610000, 150000, 450000, 540000]
    assert out.dtype == "int64"


def test_all_forms_of_all_provinces_round_trip():
    t = province_names()
    for col in ("code", "name_zh", "name_zh_short", "abbr", "name_en", "pinyin", "pinyin_tone"):
        assert match_regions(t[col]).tolist() == t["code"].tolist(), col


def test_misspelt_name_lists_nearest_matches_and_file():
    with pytest.raises(InputError) as exc:
        match_regions(["Beijing", "Gwangdong", "Shanxy"], source="panel.csv")
    msg = str(exc.value)
    assert msg.startswith("panel.csv:")
    assert "'Gwangdong'" in msg and "Guangdong (广东省, 440000)" in msg
    assert "'Shanxy'" in msg and "Shanxi (山西省, 140000)" in msg and "Shaanxi (陕西省, 610000)" in msg
    assert "'Beijing'" not in msg.split("Fix:")[0]


def test_misspelt_chinese_name_suggests_nearest():
    with pytest.raises(InputError) as exc:
        match_regions(["黑龙江省", "黑龙省"])
    assert "Heilongjiang (黑龙江省, 230000)" in str(exc.value)


def test_unknown_codes_are_refused():
    with pytest.raises(InputError, match="110100.*not the code of a mainland province"):
        match_regions([110100])
    with pytest.raises(InputError, match="'710000'"):
        match_regions(["710000"])  # Taiwan is not in the 31-province layer
    with pytest.raises(InputError, match="'Hong Kong'"):
        match_regions(["Hong Kong"])


def test_two_ids_for_one_province_are_ambiguous():
    with pytest.raises(InputError, match="'Beijing' and '北京市' both name Beijing"):
        match_regions(["Beijing", "北京市"], source="panel.csv")
    assert match_regions(["Beijing", "北京市"], allow_duplicates=True).tolist() == [110000, 110000]


def test_empty_input_is_an_error():
    with pytest.raises(InputError, match="empty"):
        match_regions([], source="panel.csv")


def test_looks_like_provinces():
    assert looks_like_provinces(province_names()["name_zh"])
    assert not looks_like_provinces(["Aguascalientes", "Baja California"])
    assert not looks_like_provinces(["Beijing", "北京"])


def test_mostly_provinces():
    names = province_names()["name_zh"].tolist()
    assert mostly_provinces(names)
    assert mostly_provinces(names[:-1] + ["Gwangdong"])  # one misspelt name: still meant as provinces
    assert mostly_provinces(["Beijing", "北京市", "Tianjin"])  # repeated province
    assert not mostly_provinces(["Aguascalientes", "Baja California", "Beijing"])  # 1 of 3
    assert not mostly_provinces(["R1", "R2"])
    assert not mostly_provinces([])


def test_normalize_name():
    assert normalize_name(" Inner-Mongolia ") == "innermongolia"
    assert normalize_name("Ｘｉｚａｎｇ") == "xizang"


def test_province_layer_keeps_the_callers_ids():
    ids = ["Shaanxi", "北京", 440000, "Shaanxi"]
    gdf = province_layer(ids, source="panel.csv")
    assert list(gdf.index) == ["Shaanxi", "北京", 440000]
    assert gdf["code"].tolist() == [610000, 110000, 440000]
    assert gdf["name_zh"].tolist() == ["陕西省", "北京市", "广东省"]
    assert gdf.crs.to_epsg() == 4326
    full = province_layer()
    assert len(full) == 31 and list(full.index) == CODES
    # the same geometry whatever the id
    assert gdf.geometry.iloc[0].equals(full.geometry.loc[610000])
    assert isinstance(gdf.index, pd.Index)
