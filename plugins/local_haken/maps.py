"""Maps of GW-Haken results: local parameters, local verdicts and stability cases.

Reusable figure functions on the report's map primitives
(:func:`nqpspatial.report.maps.choropleth` and
:func:`~nqpspatial.report.maps.categorical_map`); each takes the boundaries
and the ``local_haken`` table and returns a matplotlib Figure.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["local_parameter_map", "local_category_map", "local_haken_figures", "CASE_COLOURS", "VERDICT_COLOURS"]

#: Colours of the stability cases (0: undefined).
CASE_COLOURS = {1: "#1a9641", 2: "#a6d96a", 3: "#d7191c", 4: "#fdae61", 0: "#bdbdbd"}
#: Colours of the local adiabatic verdict.
VERDICT_COLOURS = {True: "#2c7bb6", False: "#d7191c"}
_CASE_TEXT = {
    1: "case 1: ordered state (stable +-q1*)",
    2: "case 2: only q1 = 0, stable",
    3: "case 3: no stable point",
    4: "case 4: q1 = 0 stable, +-q1* unstable",
    0: "undefined (gamma2 <= 0)",
}
_CASE_TEXT_ZH = {
    1: "情形1：有序态（稳定点±q1*）",
    2: "情形2：仅q1 = 0稳定",
    3: "情形3：无稳定点",
    4: "情形4：q1 = 0稳定，±q1*不稳定",
    0: "未定义（gamma2 ≤ 0）",
}


def _aligned(geometry, table: pd.DataFrame):
    from nqpspatial.report.maps import simplify_geometry

    gs = geometry.geometry if hasattr(geometry, "geometry") else geometry
    missing = [r for r in table["region"] if r not in gs.index]
    if missing:
        from nqpspatial.errors import InputError

        raise InputError(f"the boundaries have no geometry for region(s) {missing[:10]}")
    return simplify_geometry(gs.loc[list(table["region"])])


def local_parameter_map(
    geometry,
    table: pd.DataFrame,
    term: str = "gamma1",
    *,
    significant_only: bool = False,
    lang: str = "en",
    k: int = 5,
    title: str | None = None,
    font: str | None = None,
):
    """Choropleth of one local parameter (or any numeric column of ``local_haken``).

    Parameters
    ----------
    geometry : geopandas.GeoDataFrame or GeoSeries
        Boundaries indexed by region id.
    table : pandas.DataFrame
        The ``local_haken`` table (:attr:`GWHakenResults.table`).
    term : str
        Column to map, e.g. ``"gamma1"``, ``"a"``, ``"q1_star"``, ``"r2_q1"``.
    significant_only : bool
        Leave regions whose estimate is not significant at the adjusted
        level (``sig_<term>`` false) uncoloured.
    lang, k, title, font
        Label language, number of natural-breaks classes, title, CJK font.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from nqpspatial.report.maps import choropleth

    values = table.set_index("region")[term].astype(float)
    if significant_only and f"sig_{term}" in table:
        values = values.where(table.set_index("region")[f"sig_{term}"].astype(bool))
    zh = lang == "zh"
    default = f"局部 {term}（地理加权Haken）" if zh else f"Local {term} (GW-Haken)"
    return choropleth(
        _aligned(geometry, table), {term: values}, title=title or default, legend_title=term, lang=lang, k=k, font=font
    )


def local_category_map(
    geometry,
    table: pd.DataFrame,
    column: str = "verdict",
    *,
    lang: str = "en",
    title: str | None = None,
    font: str | None = None,
):
    """Map of the local adiabatic verdict (``column="verdict"``) or stability case (``"case"``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from nqpspatial.report.maps import categorical_map

    zh = lang == "zh"
    values = table.set_index("region")[column]
    if column == "verdict":
        values = values.astype(bool)
        cats, colours = [True, False], VERDICT_COLOURS
        labels = {True: "成立" if zh else "holds", False: "不成立" if zh else "fails"}
        default = "局部绝热近似判定" if zh else "Local adiabatic verdict"
        legend = "判定" if zh else "verdict"
    elif column == "case":
        values = values.astype(int)
        cats, colours = [1, 2, 4, 3, 0], CASE_COLOURS
        labels = _CASE_TEXT_ZH if zh else _CASE_TEXT
        default = "局部势函数稳定性情形" if zh else "Local stability case"
        legend = "情形" if zh else "case"
    else:
        from nqpspatial.errors import InputError

        raise InputError(f"column = {column!r}: map 'verdict' or 'case' (numeric columns: local_parameter_map)")
    return categorical_map(
        _aligned(geometry, table),
        {column: values},
        categories=cats,
        colours=colours,
        title=title or default,
        legend_title=legend,
        lang=lang,
        labels=labels,
        font=font,
    )


def local_haken_figures(geometry, table: pd.DataFrame, *, lang: str = "en", font: str | None = None) -> dict:
    """Every GW-Haken map: one per local parameter, the verdict and the case.

    Returns
    -------
    dict
        ``{"local_gamma1": Figure, ..., "local_verdict": Figure, "local_case": Figure}``.
    """
    terms = [t for t in ("gamma1", "a", "gamma2", "b", "k1", "k2") if t in table]
    figs = {f"local_{t}": local_parameter_map(geometry, table, t, lang=lang, font=font) for t in terms}
    figs["local_verdict"] = local_category_map(geometry, table, "verdict", lang=lang, font=font)
    figs["local_case"] = local_category_map(geometry, table, "case", lang=lang, font=font)
    return figs
