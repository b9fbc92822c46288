"""What the report's section builders share: the :class:`ReportView` of a run.

A stage contributes its report sections through ``report_sections(view)``
(see :class:`nqpspatial.contracts.Analysis`), where ``view`` is a
:class:`ReportView`: the run's context (tables, artifacts, geometry,
config), the report's language and translation, the figure writer and the
maps' layout.  The builders return :class:`~nqpspatial.report.html.Section`
objects; the report core only orders and renders them.
"""

from __future__ import annotations

import html as _html

import numpy as np
import pandas as pd

from ..artifacts import HakenOutcome
from ..errors import ConfigError
from ..stage import StageContext
from .html import Section, figure_html, table_html, text_html
from .labels import label
from .maps import RASTERIZE_ABOVE

#: Simplification tolerances (fractions of the layer's extent) of the interactive map and the static maps.
MAP_SIMPLIFY = 0.0015
STATIC_SIMPLIFY = 0.0025

__all__ = ["ReportView", "Section", "table_html", "text_html", "escape", "preferred_variables", "wide_values"]


def escape(text) -> str:
    """HTML-escaped text."""
    return _html.escape(str(text), quote=True)


def preferred_variables(table: pd.DataFrame, view, limit: int) -> list:
    """The table's ``variable`` values, h, q1, q2 and the subsystems first, at most ``limit`` of them."""
    vars_ = list(pd.unique(table["variable"])) if "variable" in table.columns else []
    pref = ["h", "q1", "q2", *map(str, view.ctx.subsystems)]
    return ([v for v in pref if v in vars_] + [v for v in vars_ if v not in pref])[:limit]


def _table(ctx, name):
    t = (ctx.tables or {}).get(name)
    return t if isinstance(t, pd.DataFrame) and len(t) else None


class ReportView:
    """Everything the section builders share (see the module doc).

    Attributes
    ----------
    ctx : nqpspatial.stage.StageContext
        The run's context.
    opts : Mapping
        The resolved ``[report]`` table.
    lang, fig_lang : str
        Languages of the page and of the figures.
    geometry : geopandas.GeoDataFrame or None
        The run's boundaries as read.
    gis_geoms, map_geoms, geoms : geopandas.GeoSeries or None
        The boundaries simplified as a coverage (:func:`nqpspatial.report.maps.simplify_geometry`):
        lightly for regions.gpkg when the layer has more than
        :data:`nqpspatial.report.gis.SIMPLIFY_VERTICES` vertices (else None), from those for the
        interactive map (:data:`MAP_SIMPLIFY`) and from those for the static maps
        (:data:`STATIC_SIMPLIFY`).
    names : dict
        Region id -> display name.
    years : list
        The periods the maps show.
    pair : tuple or None
        The chosen ordering (q1, q2).
    """

    def __init__(self, ctx: StageContext, opts: dict, lang: str, fig_lang: str, font, writer):
        self.ctx, self.opts, self.lang, self.fig_lang, self.font, self.writer = (
            ctx,
            opts,
            lang,
            fig_lang,
            font,
            writer,
        )
        self.notes: list[str] = []
        self.pngs: dict[str, tuple[bytes, str]] = {}  # figure stem -> (PNG, caption), for report.docx
        self.region, self.year = ctx.region, ctx.year
        self.geometry = None
        self.geoms = None
        self.map_geoms = None
        self.gis_geoms = None
        if ctx.geometry is not None and len(ctx.geometry):
            import shapely

            from .gis import LIGHT_SIMPLIFY, SIMPLIFY_VERTICES
            from .maps import simplify_geometry

            self.geometry = ctx.geometry
            # one pass over the full layer, each later one from the previous one's few vertices: lightly for
            # regions.gpkg (large layers only), then for the interactive map, then for the static maps
            gs = ctx.geometry.geometry if hasattr(ctx.geometry, "geometry") else ctx.geometry
            heavy = shapely.get_num_coordinates(gs.to_numpy()).sum() > SIMPLIFY_VERTICES
            self.gis_geoms = simplify_geometry(gs, LIGHT_SIMPLIFY) if heavy else None
            self.map_geoms = simplify_geometry(self.gis_geoms if heavy else gs, MAP_SIMPLIFY)
            self.geoms = simplify_geometry(self.map_geoms, STATIC_SIMPLIFY)
        self.names = _region_names(ctx, lang)
        self.fig_names = _region_names(ctx, fig_lang)
        self.coev = _table(ctx, "coevolution")
        self.periods = _periods(ctx, self.coev)
        self.turning, self.turning_p = _turning_year(ctx)
        self.years = _map_years(opts["years"], self.periods, self.turning)
        self.pair = _chosen_pair(ctx)

    @property
    def layout(self):
        """The static maps' layout (projection, outline, inset), built once per report."""
        if getattr(self, "_layout", None) is None and self.geoms is not None:
            from .maps import MapLayout

            self._layout = MapLayout(
                self.geoms,
                lang=self.fig_lang,
                full=self.geometry,
                rasterize_above=int(self.opts.get("rasterize_above", RASTERIZE_ABOVE)),
            )
        return getattr(self, "_layout", None)

    def t(self, key, **fmt):
        """The report text ``key`` in the page's language."""
        return label(key, self.lang, **fmt)

    def ft(self, key, **fmt):
        """The report text ``key`` in the figures' language."""
        return label(key, self.fig_lang, **fmt)

    def table(self, name):
        """The output table ``name`` (None when absent or empty)."""
        return _table(self.ctx, name)

    def figure(self, fig, name, caption) -> str:
        """Save ``fig`` (figure files named like the output folder) and return its HTML."""
        if fig is None:
            return ""
        stem, png = self.writer.save_named(fig, name)
        self.pngs[stem] = (png, caption)
        return figure_html(png, caption, name=stem if self.writer.folder is not None else None)

    def var_label(self, var, fig=False) -> str:
        """A variable's display label (q1 and q2 with the subsystem they stand for)."""
        lang = self.fig_lang if fig else self.lang
        base = label(var, lang) if var in ("q1", "q2", "h", "V", "d", "grade") else str(var)
        if var in ("q1", "q2") and self.pair is not None:
            base = f"{base} ({self.pair[0] if var == 'q1' else self.pair[1]})"
        return base


def _region_names(ctx, lang) -> dict:
    geo = ctx.geometry
    out = {}
    if geo is not None:
        prefs = (
            ["name_zh_short", "name_zh", "name", "NAME", "name_en"]
            if lang == "zh"
            else ["name_en", "name", "NAME", "pinyin", "name_zh"]
        )
        col = next((c for c in prefs if c in getattr(geo, "columns", [])), None)
        if col is not None:
            out = {str(k): str(v) for k, v in zip(geo.index, geo[col]) if pd.notna(v)}
    if ctx.panel is not None and ctx.region in ctx.panel.columns:
        for r in pd.unique(ctx.panel[ctx.region]):
            out.setdefault(str(r), str(r))
    return out


def _periods(ctx, coev) -> list:
    for src in (coev, ctx.indices, ctx.panel):
        if isinstance(src, pd.DataFrame) and ctx.year in src.columns:
            return sorted(pd.unique(src[ctx.year]).tolist())
        if isinstance(src, pd.DataFrame) and "year" in src.columns:
            return sorted(pd.unique(src["year"]).tolist())
    return []


_TURN_COLUMNS = ("turning_point", "turning_year", "break_year", "sup_f_year", "tau", "year_break")


def _turning_year(ctx):
    """(turning year, p-value or None) found by the stages analysis, or (None, None)."""
    tests = _table(ctx, "stages_tests")
    if tests is not None and {"test", "break_year"} <= set(tests.columns):
        sup = tests[tests["test"].astype(str).str.lower().isin(["sup-f", "supf", "sup_f"])]
        years = pd.to_numeric(sup["break_year"], errors="coerce")
        if years.notna().any():
            i = years.first_valid_index()
            p = pd.to_numeric(sup.loc[i, "p"], errors="coerce") if "p" in sup.columns else None
            return int(years[i]), (None if p is None or pd.isna(p) else float(p))
    st = _table(ctx, "stages")
    if st is not None:
        for c in _TURN_COLUMNS:
            if c in st.columns:
                vals = pd.to_numeric(st[c], errors="coerce").dropna()
                if len(vals):
                    return int(vals.iloc[0]), None
    h = ctx.get(HakenOutcome)
    bt = h.breaks if h is not None else None
    if bt is not None and isinstance(bt.turning_point, (int, np.integer)) and not isinstance(bt.turning_point, bool):
        p = bt.p_value
        return int(bt.turning_point), (float(p) if isinstance(p, (float, np.floating)) else None)
    return None, None


def _map_years(given, periods, turning) -> list:
    if given:
        missing = [y for y in given if y not in periods]
        if missing and periods:
            raise ConfigError(
                f"[report] years = {given}: {missing} not among the panel's periods "
                f"({periods[0]}-{periods[-1]}); choose from {periods}.",
                source="config",
            )
        return [y for y in periods if y in given]
    if not periods:
        return []
    out = [periods[0]]
    if turning is not None and turning in periods[1:-1]:
        out.append(turning)
    if periods[-1] not in out:
        out.append(periods[-1])
    return out


def _chosen_pair(ctx):
    ident = _table(ctx, "haken_identification")
    if ident is not None and {"q1", "q2"} <= set(ident.columns):
        if "chosen" in ident.columns:
            ch = ident[ident["chosen"].astype("boolean").fillna(False).astype(bool)]
            if len(ch):
                return str(ch["q1"].iloc[0]), str(ch["q2"].iloc[0])
    h = ctx.get(HakenOutcome)
    return h.order if h is not None else None


def wide_values(table, value, R, Y, years) -> dict:
    """Period -> Series (region -> value) for the chosen periods."""
    out = {}
    for y in years:
        sub = table[table[Y] == y]
        out[y] = pd.Series(sub[value].to_numpy(), index=sub[R].map(str).to_numpy())
    return out


# --------------------------------------------------------------------------------------------- sections
