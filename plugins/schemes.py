"""Bundled region schemes of China's 31 mainland provinces (and their cities and counties), as plugins.

Scheme plugin contract
----------------------
A scheme plugin is an object registered under the entry-point group
``nqpspatial.schemes`` with:

``name`` : str
    The name users write in ``[regions] scheme = "..."`` (also the entry
    point's name).
``label_en``, ``label_zh`` : str
    Human-readable titles for reports.
``groups`` : pandas.DataFrame
    One row per group: ``group`` (English), ``group_zh`` (Chinese),
    ``group_order`` (display order).
``example_regions`` : list
    A few region ids the scheme accepts (used by the conformance checks of
    :mod:`nqpspatial.testing`).
``load(regions=None)`` -> pandas.Series
    ``regions`` are the panel's region ids (repeats allowed).  Returns a
    Series indexed by the distinct ids, in order of first appearance, whose
    values are group names; every id belongs to exactly one group.  Raises
    :class:`~nqpspatial.errors.InputError` (naming the ids and the closest
    names) when an id is not a mainland province, prefecture-level unit or
    county.  With ``regions=None`` it returns the whole scheme indexed by
    GB/T 2260 province code.

The bundled schemes group provinces; prefecture-level cities and counties
take their province's group, read from the first two digits of their code.

The objects below wrap :func:`nqpspatial.geodata.load_scheme`; the
memberships live in the data table ``nqpspatial/geodata/data/schemes.csv``.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["RegionScheme", "EIGHT_ZONES", "FOUR_REGIONS", "THREE_BELTS"]


class RegionScheme:
    """A bundled grouping of the 31 provinces.

    Parameters
    ----------
    name : str
        Bundled scheme name (``eight-zones``, ``four-regions``,
        ``three-belts``).
    """

    example_regions = ["北京市", "Hebei", "Guangxi", "新疆", 460000]

    def __init__(self, name: str):
        from nqpspatial.geodata import SCHEMES

        meta = SCHEMES[name]
        self.name = name
        self.label_en = meta["label_en"]
        self.label_zh = meta["label_zh"]
        self.reference = meta["reference"]

    @property
    def groups(self) -> pd.DataFrame:
        """Groups of the scheme: ``group``, ``group_zh``, ``group_order``."""
        from nqpspatial.geodata import scheme_table

        t = scheme_table(self.name)
        return t[["group", "group_zh", "group_order"]].drop_duplicates().reset_index(drop=True)

    def load(self, regions=None, *, source: str | None = None) -> pd.Series:
        """Map region ids to groups.

        Parameters
        ----------
        regions : iterable, optional
            Panel region ids: provinces in any form accepted by
            :func:`nqpspatial.geodata.match_regions`, or prefecture-level
            cities or counties in any form accepted by
            :func:`nqpspatial.geodata.match_units` (names, pinyin, codes);
            None for all provinces indexed by code.
        source : str, optional
            File the ids come from (named in errors).

        Returns
        -------
        pandas.Series
            Region id -> group (English name); ``attrs["group_zh"]`` maps
            group names to Chinese.
        """
        from nqpspatial.geodata import load_scheme

        return load_scheme(self.name, regions, source=source)

    def __repr__(self) -> str:
        return f"RegionScheme({self.name!r})"


#: 八大综合经济区 - eight comprehensive economic zones.
EIGHT_ZONES = RegionScheme("eight-zones")
#: 四大区域 - East, Central, West, Northeast (NBS 2011).
FOUR_REGIONS = RegionScheme("four-regions")
#: 三大地带 - East, Central, West belts.
THREE_BELTS = RegionScheme("three-belts")
