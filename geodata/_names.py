"""Province names table and name matching (pure pandas, no geometry)."""

from __future__ import annotations

import difflib
import functools
import importlib.resources
import io
import numbers
import unicodedata

import pandas as pd

from nqpspatial.errors import InputError

__all__ = ["province_names", "match_regions", "looks_like_provinces", "mostly_provinces", "normalize_name"]

_PACKAGE = "nqpspatial.geodata"

# Characters ignored when comparing names: spaces, hyphens, underscores, dots,
# apostrophes and brackets ("Inner-Mongolia", "Xi'an", "Guangxi (Zhuang)").
_DROP = dict.fromkeys(map(ord, " \t\r\n-_.'’‘`,()（）·・"), None)


def _read_data(name: str) -> bytes:
    return (importlib.resources.files(_PACKAGE) / "data" / name).read_bytes()


@functools.lru_cache(maxsize=None)
def _names_table() -> pd.DataFrame:
    table = pd.read_csv(
        io.BytesIO(_read_data("provinces.csv")), encoding="utf-8", dtype={"code": "int64"}, keep_default_na=False
    )
    return table


def province_names() -> pd.DataFrame:
    """The names table of the 31 mainland provinces.

    Returns
    -------
    pandas.DataFrame
        One row per province with columns ``code`` (GB/T 2260, int),
        ``name_zh`` (full Chinese name, e.g. 广西壮族自治区), ``name_zh_short``
        (without the 省/市/自治区 suffixes, e.g. 广西), ``abbr`` (one-character
        abbreviation, e.g. 桂), ``name_en``, ``pinyin`` (toneless, official
        romanisation: Shanxi = 山西, Shaanxi = 陕西), ``pinyin_tone`` and
        ``alt_names`` (``|``-separated alternative spellings).
    """
    return _names_table().copy()


def normalize_name(value) -> str:
    """The comparison key of a region name.

    Unicode NFKC (full-width to ASCII), case folded, with spaces, hyphens,
    underscores, dots, apostrophes and brackets removed.  Tone marks are kept,
    so ``Shǎnxī`` and ``Shānxī`` stay distinct.

    Parameters
    ----------
    value : object
        A name; converted with ``str``.

    Returns
    -------
    str
    """
    text = unicodedata.normalize("NFKC", str(value)).casefold()
    return text.translate(_DROP)


_EN_SUFFIX = {
    "省": ("province", "sheng"),
    "市": ("municipality", "shi", "city"),
    "自治区": ("autonomousregion", "ar", "zizhiqu"),
}


@functools.lru_cache(maxsize=None)
def _key_map() -> dict[str, frozenset]:
    """Map every accepted name key to the set of codes it names."""
    keys: dict[str, set] = {}

    def add(name, code):
        if name:
            keys.setdefault(normalize_name(name), set()).add(int(code))

    for row in _names_table().itertuples(index=False):
        code = int(row.code)
        for name in (
            row.name_zh,
            row.name_zh_short,
            row.abbr,
            row.name_en,
            row.pinyin,
            row.pinyin_tone,
            *str(row.alt_names).split("|"),
        ):
            add(name, code)
        suffix = next(s for s in ("自治区", "省", "市") if row.name_zh.endswith(s))
        for word in _EN_SUFFIX[suffix]:
            for base in {row.name_en, row.pinyin}:
                add(base + word, code)
    return {k: frozenset(v) for k, v in keys.items()}


def _describe(code: int) -> str:
    t = _names_table().set_index("code")
    return f"{t.at[code, 'name_en']} ({t.at[code, 'name_zh']}, {code})"


def _as_code(value):
    """A province code from an int/str code (2 or 6 digits), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        number = int(value)
    elif isinstance(value, numbers.Real):
        if value != value or not float(value).is_integer():
            return None
        number = int(value)
    else:
        text = unicodedata.normalize("NFKC", str(value)).strip()
        if not text.isdigit():
            return None
        number = int(text)
    if 11 <= number <= 99:
        number *= 10000
    return number if 100000 <= number <= 999999 else None


@functools.lru_cache(maxsize=None)
def _code_set() -> frozenset:
    return frozenset(int(c) for c in _names_table()["code"])


def _match_one(value):
    """(code or None, reason) for one value."""
    codes = _code_set()
    code = _as_code(value)
    if code is not None:
        if code in codes:
            return code, None
        return None, "is not the code of a mainland province (province codes end in 0000, e.g. 110000)"
    found = _key_map().get(normalize_name(value))
    if not found:
        return None, None
    if len(found) > 1:
        return None, "is ambiguous: it could name " + " or ".join(_describe(c) for c in sorted(found))
    return next(iter(found)), None


def _closest(value, n: int = 3) -> list[str]:
    keys = _key_map()
    close = difflib.get_close_matches(normalize_name(value), list(keys), n=12, cutoff=0.5)
    out: list[int] = []
    for k in close:
        for c in sorted(keys[k]):
            if c not in out:
                out.append(c)
    return [_describe(c) for c in out[:n]]


def _unique(values) -> list:
    if isinstance(values, (str, bytes, numbers.Number)):
        values = [values]
    return list(dict.fromkeys(pd.Series(list(values), dtype=object).tolist()))


def match_regions(values, *, source: str | None = None, allow_duplicates: bool = False) -> pd.Series:
    """Match region names or codes to the 31 mainland provinces.

    Accepted forms, mixed freely in one input: GB/T 2260 codes as int or
    string, 6-digit (``110000``) or 2-digit (``11``); Chinese names with or
    without the suffix (``广西壮族自治区``, ``广西``) and the one-character
    abbreviation (``桂``); English names (``Inner Mongolia``, ``Tibet``,
    ``Guangxi Zhuang Autonomous Region``, ``Hebei Province``); pinyin
    (``Neimenggu``, ``Nei Mongol``, ``Xizang``).  Comparison ignores case,
    spaces, hyphens, underscores and full-width forms.  The toneless
    ``Shanxi`` always means 山西 (140000); 陕西 (610000) is ``Shaanxi``.

    Parameters
    ----------
    values : iterable
        Region ids as they appear in the user's data (repeats are fine).
    source : str, optional
        The file the ids come from; named in error messages.
    allow_duplicates : bool, default False
        Allow two different ids to name the same province (useful for name
        look-ups; a panel must not do this).

    Returns
    -------
    pandas.Series
        Indexed by the distinct input ids (order of first appearance), values
        the province codes (int64), named ``code``.

    Raises
    ------
    InputError
        When a value is unknown or ambiguous (the message lists the closest
        matches), or when two different ids name the same province.
    """
    unique = _unique(values)
    if not unique:
        raise InputError("no region ids to match: the region column is empty.", source=source)
    matched, problems = {}, []
    for value in unique:
        code, reason = _match_one(value)
        if code is None:
            if reason is None:
                reason = "is not a known name or code of a mainland province"
            close = _closest(value)
            hint = f" Closest matches: {', '.join(close)}." if close else ""
            problems.append(f"'{value}' {reason}.{hint}")
        else:
            matched[value] = code
    if problems:
        raise InputError(
            "region ids not recognised as Chinese provinces: "
            + " ".join(problems)
            + " Fix: write each region as a code (e.g. 110000), a Chinese name with or without its "
            "suffix (北京市 / 北京), an English name (Beijing) or pinyin; for regions that are not "
            "Chinese provinces give a boundary file ([geometry] source and id).",
            source=source,
        )
    by_code: dict[int, list] = {}
    for value, code in matched.items():
        by_code.setdefault(code, []).append(value)
    clashes = [
        f"{' and '.join(repr(v) for v in vs)} both name {_describe(c)}" for c, vs in by_code.items() if len(vs) > 1
    ]
    if clashes and not allow_duplicates:
        raise InputError(
            "the same province appears under more than one id: "
            + "; ".join(clashes)
            + ". Fix: use one spelling per province.",
            source=source,
        )
    out = pd.Series(
        list(matched.values()),
        index=pd.Index(list(matched.keys()), dtype=object, name="region"),
        dtype="int64",
        name="code",
    )
    return out


def _panel_ids(regions) -> list:
    """The panel's region ids, each once, in order of first appearance."""
    return list(dict.fromkeys(pd.Series(list(regions), dtype=object).tolist()))


def _refuse_unmatched(missing: str | None, extra: str | None, fix: str, source) -> None:
    """Raise ``InputError`` when panel ids and a file's ids do not match one to one.

    ``missing`` describes panel ids the file lacks, ``extra`` file entries the
    panel lacks (None or empty when there are none); ``fix`` ends the message.
    """
    parts = [p for p in (missing, extra) if p]
    if parts:
        raise InputError("; ".join(parts) + ". " + fix, source=source)


def looks_like_provinces(values) -> bool:
    """Whether every id names a distinct mainland province.

    Parameters
    ----------
    values : iterable
        Region ids.

    Returns
    -------
    bool
        True when :func:`match_regions` succeeds on ``values``.
    """
    codes = []
    for value in _unique(values):  # match_regions without its messages (cheap on large non-Chinese panels)
        code, _ = _match_one(value)
        if code is None:
            return False
        codes.append(code)
    return bool(codes) and len(set(codes)) == len(codes)


def mostly_provinces(values) -> bool:
    """Whether most ids name a mainland province, each on its own.

    True when more than half of the distinct ids are province codes or names
    (any form accepted by :func:`match_regions`).  A panel for which this
    holds but :func:`looks_like_provinces` does not is meant to be a panel of
    provinces with a misspelt, unknown or repeated name: the pipeline then
    reports it with :func:`match_regions` instead of treating the regions as
    non-Chinese.

    Parameters
    ----------
    values : iterable
        Region ids.

    Returns
    -------
    bool
    """
    unique = _unique(values)
    if not unique:
        return False
    hits = sum(_match_one(v)[0] is not None for v in unique)
    return hits > len(unique) / 2
