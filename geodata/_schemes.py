"""Region schemes: bundled groupings of the provinces and user CSV schemes."""

from __future__ import annotations

import functools
import importlib.resources
import io
from pathlib import Path

import pandas as pd

from nqpspatial.errors import InputError

from ._names import _panel_ids, _refuse_unmatched
from ._units import _describe as _describe_unit
from ._units import _match_one as _match_unit
from ._units import detect_level, match_units, province_codes, recognise_level

__all__ = ["SCHEMES", "scheme_table", "load_scheme"]

_PACKAGE = "nqpspatial.geodata"

#: Bundled schemes: name -> labels and source.
SCHEMES = {
    "eight-zones": {
        "label_en": "Eight comprehensive economic zones",
        "label_zh": "八大综合经济区",
        "reference": "Development Research Center of the State Council (Li Shantong & Hou Yongzhi, 2003)",
    },
    "four-regions": {
        "label_en": "Four regions (East, Central, West, Northeast; NBS 2011)",
        "label_zh": "四大区域（东部、中部、西部、东北；国家统计局 2011）",
        "reference": "National Bureau of Statistics of China (2011)",
    },
    "three-belts": {
        "label_en": "Three belts (East, Central, West)",
        "label_zh": "三大地带（东部、中部、西部）",
        "reference": "the common post-2000 east-central-west division",
    },
}


@functools.lru_cache(maxsize=None)
def _schemes_csv() -> pd.DataFrame:
    data = (importlib.resources.files(_PACKAGE) / "data" / "schemes.csv").read_bytes()
    return pd.read_csv(io.BytesIO(data), dtype={"code": "int64"})


def scheme_table(name: str) -> pd.DataFrame:
    """Membership table of a bundled scheme.

    Parameters
    ----------
    name : str
        One of ``eight-zones``, ``four-regions``, ``three-belts``.

    Returns
    -------
    pandas.DataFrame
        Columns ``code, name_zh, group, group_zh, group_order`` (one row per
        province), sorted by group order then code.
    """
    if name not in SCHEMES:
        raise InputError(
            f"unknown region scheme {name!r}; bundled schemes are {', '.join(SCHEMES)}, "
            "or give a CSV file with columns region and group.",
            source="config",
        )
    t = _schemes_csv()
    t = t[t["scheme"] == name].drop(columns="scheme")
    return t.sort_values(["group_order", "code"]).reset_index(drop=True)


def _unit_codes(regions, source):
    """Codes of the panel's units at their level (provinces, prefectures or counties) and the level.

    Ids that are not Chinese units raise the province matcher's error (with
    the closest province names), as before cities and counties were known.
    """
    level = recognise_level(regions, source=source)  # a near miss at any level raises here
    if level is None:
        level = "provinces"
    return match_units(regions, level, source=source), level


def _bundled(name: str, regions, source):
    t = scheme_table(name).set_index("code")
    if regions is None:
        out = t["group"].copy()
        out.index.name = "region"
    else:
        # cities and counties inherit their province's group through the code prefix
        codes, _ = _unit_codes(regions, source)
        provinces = province_codes(codes).to_numpy()
        out = pd.Series(t.loc[provinces, "group"].to_numpy(), index=codes.index, dtype=object)
    out.name = name
    out.attrs["group_zh"] = dict(zip(t["group"], t["group_zh"]))
    out.attrs["label_en"] = SCHEMES[name]["label_en"]
    out.attrs["label_zh"] = SCHEMES[name]["label_zh"]
    return out


def _read_user(path: Path, source: str) -> pd.DataFrame:
    from nqpspatial.io import check_input_file

    if not path.exists() and not path.is_symlink():
        raise InputError(
            f"region scheme file not found: {path}. Fix: check the path (relative paths "
            "are relative to the config file).",
            source=source,
        )
    check_input_file(path, "region scheme", "[regions] scheme")  # no FIFO, device or folder
    try:
        if path.suffix.lower() in (".xlsx", ".xls"):
            table = pd.read_excel(path, dtype=str, keep_default_na=False)
        else:  # leading "#" lines are comments (the synthetic demos say there that they are synthetic)
            comments = _comment_lines(path)
            table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig", skiprows=comments)
            table.index = table.index + comments  # row numbers in messages stay file line numbers
    except Exception as exc:  # noqa: BLE001 - any reader failure is a user-fixable file problem
        raise InputError(
            f"cannot read the region scheme file: {exc}. Fix: save it as UTF-8 CSV with columns region and group.",
            source=source,
        ) from None
    table.columns = [str(c).strip() for c in table.columns]
    missing = [c for c in ("region", "group") if c not in table.columns]
    if missing:
        raise InputError(
            f"column(s) {', '.join(missing)} missing; found {', '.join(map(str, table.columns))}. "
            "Fix: a scheme file needs the columns region and group.",
            source=source,
        )
    empty = (table["region"].str.strip() == "") | (table["group"].str.strip() == "")
    blank = [i + 2 for i in table.index[empty.to_numpy()]]
    if blank:
        raise InputError(
            f"empty region or group cell on row(s) {', '.join(map(str, blank))} "
            f"(row {table.index[0] + 1 if len(table) else 1} is the header). Fix: fill them or "
            "delete those rows.",
            source=source,
        )
    return table


def _comment_lines(path: Path) -> int:
    """Number of leading lines that start with ``#``."""
    n = 0
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        for line in fh:
            if not line.startswith("#"):
                break
            n += 1
    return n


def load_scheme(name_or_csv, regions=None, *, source: str | None = None) -> pd.Series:
    """A region scheme as a Series region id -> group.

    Parameters
    ----------
    name_or_csv : str or pathlib.Path
        A bundled scheme name (``eight-zones``, ``four-regions``,
        ``three-belts``) or a CSV/XLSX file with columns ``region`` and
        ``group``.
    regions : iterable, optional
        The panel's region ids.  The result is indexed by them (in order of
        first appearance) and every one must belong to exactly one group.
        A bundled scheme groups provinces; prefecture-level cities and
        counties (any form accepted by
        :func:`~nqpspatial.geodata.match_units`) take the group of their
        province, read from the first two digits of their GB/T 2260 code.
        When the ids are Chinese provinces, cities or counties, a scheme
        file may name them in any form the matcher accepts at that level;
        otherwise its ``region`` cells are matched exactly (as text) against
        the ids.  None returns the scheme as written (bundled: indexed by
        province code).
    source : str, optional
        File name used in error messages (defaults to the CSV path).

    Returns
    -------
    pandas.Series
        Index = region ids, values = group names (English for bundled
        schemes; ``attrs["group_zh"]`` maps them to Chinese), name = the
        scheme name (file stem for a CSV).

    Raises
    ------
    InputError
        Unknown scheme, unreadable file, missing columns, empty cells, a
        region listed more than once, panel regions without a group, or
        scheme regions that are not in the panel (each message names the
        regions and the file).
    """
    if isinstance(name_or_csv, str) and name_or_csv in SCHEMES:
        return _bundled(name_or_csv, regions, source)
    path = Path(name_or_csv)
    src = source or str(path)
    if path.suffix.lower() not in (".csv", ".xlsx", ".xls") and not path.exists():
        raise InputError(
            f"unknown region scheme {str(name_or_csv)!r}: bundled schemes are "
            f"{', '.join(SCHEMES)}; otherwise give a CSV file with columns region and group.",
            source=source or "config",
        )
    table = _read_user(path, src)
    raw = table["region"].str.strip()
    groups = table["group"].str.strip()
    if regions is None:
        dup = raw[raw.duplicated(keep=False)]
        if len(dup):
            raise InputError(_dup_message(dup), source=src)
        out = pd.Series(
            groups.to_numpy(), index=pd.Index(raw.to_numpy(), dtype=object, name="region"), dtype=object, name=path.stem
        )
        return out
    panel_ids = _panel_ids(regions)
    level = detect_level(panel_ids)
    if level is not None:  # Chinese provinces, cities or counties: the file may name them in any form
        panel_codes = match_units(panel_ids, level)
        keys = []
        for value in raw:
            keys.append(_match_unit(value, level)[0])
        if any(k is None for k in keys):
            # re-use the matcher for the message with closest matches and candidates
            try:
                match_units([v for v, k in zip(raw, keys) if k is None], level, source=src)
            except InputError as exc:
                raise InputError(exc.detail, source=src) from None
        keys = pd.Series(keys, index=raw.index, dtype=object)
        label = {c: _describe_unit(c, level) for c in set(keys)}
        panel_key = dict(zip(panel_ids, panel_codes.to_numpy().tolist()))
    else:
        keys = raw
        label = {k: repr(k) for k in set(keys)}
        panel_key = {r: str(r) for r in panel_ids}
    dup = keys[keys.duplicated(keep=False)]
    if len(dup):
        rows = {}
        for i, k in dup.items():
            rows.setdefault(k, []).append(f"row {i + 2} ('{raw[i]}' -> {groups[i]})")
        detail = "; ".join(f"{label[k]}: {', '.join(v)}" for k, v in rows.items())
        raise InputError(
            f"region(s) listed more than once: {detail}. Fix: each region must belong to "
            "exactly one group; keep one row per region.",
            source=src,
        )
    group_of = dict(zip(keys, groups))
    missing = [r for r in panel_ids if panel_key[r] not in group_of]
    wanted = set(panel_key.values())
    extra = [f"'{raw[i]}' (row {i + 2})" for i, k in keys.items() if k not in wanted]
    _refuse_unmatched(
        f"panel region(s) without a group: {', '.join(repr(m) for m in missing)}" if missing else None,
        f"scheme region(s) not in the panel: {', '.join(extra)}" if extra else None,
        "Fix: the scheme must list every panel region exactly once and nothing else (check spelling "
        "against the panel's region column).",
        src,
    )
    out = pd.Series(
        [group_of[panel_key[r]] for r in panel_ids],
        index=pd.Index(panel_ids, dtype=object, name="region"),
        dtype=object,
        name=path.stem,
    )
    return out


def _dup_message(dup: pd.Series) -> str:
    rows = {}
    for i, v in dup.items():
        rows.setdefault(v, []).append(str(i + 2))
    detail = "; ".join(f"'{v}' on rows {', '.join(r)}" for v, r in rows.items())
    return (
        f"region(s) listed more than once: {detail}. Fix: each region must belong to exactly one "
        "group; keep one row per region."
    )
