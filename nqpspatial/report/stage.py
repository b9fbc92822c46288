"""The report stage: figures, the self-contained HTML report and LaTeX exports.

Runs last (order 1000) and reads what earlier stages wrote (``ctx.tables``)
and provided (typed artifacts, ``ctx.get``).  Every section is built only from the
tables it needs; a section whose tables are absent is left out and listed
at the top of the report and in ``run.json``.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..stage import Analysis, StageContext, StageOutput
from . import fonts
from .findings import TEXT as FINDINGS_TEXT
from .findings import findings, findings_html
from .html import CANVAS_ABOVE, Section, map_html, render_page, table_html, text_html
from .sections import data_section, grade_colours, grade_order, weights_section
from .view import ReportView, _table, escape, preferred_variables

_Ctx = ReportView  # the 0.1.0 name

__all__ = ["ReportStage", "report_stage", "build_report", "report_analyses", "REPORT_KEYS", "SECTIONS"]

#: Keys of the ``[report]`` table and their defaults.
REPORT_KEYS = {
    "enabled": True,
    "language": "en",
    "years": [],
    "title": None,
    "figures": True,
    "formats": ["png", "svg"],
    "latex": True,
    "docx": True,
    "rasterize_above": 1000,
}

#: The first-party sections in report order (the core's data and weights, then the stages' in run order).
SECTIONS = (
    "data",
    "weights",
    "haken",
    "coevolution",
    "stages",
    "spatial",
    "zones",
    "spatial_haken",
    "local_haken",
    "robustness",
    "centres",
    "detector",
    "network",
)

_FORMATS = ("png", "svg", "pdf")
_MAX_MAP_VARS = 4
_MAX_ZONE_VARS = 2  # zone figures per kind (keeps the report's run time bounded)


def _options(ctx: StageContext, cfg: dict | None) -> dict:
    """Merge defaults, the core ``[report]`` table and the stage table; check values."""
    opts = dict(REPORT_KEYS)
    opts.update({k: v for k, v in (ctx.config.get("report") or {}).items() if k in REPORT_KEYS})
    opts.update({k: v for k, v in (cfg or {}).items() if k in REPORT_KEYS})
    if opts["language"] not in ("en", "zh"):
        raise ConfigError(
            f"[report] language = {opts['language']!r} is not allowed; use 'en' or 'zh'.", source="config"
        )
    fmts = opts["formats"]
    if isinstance(fmts, str):
        fmts = [fmts]
    bad = [f for f in fmts if f not in _FORMATS]
    if bad or not isinstance(fmts, list):
        raise ConfigError(
            f"[report] formats = {opts['formats']!r}: use a list of {', '.join(_FORMATS)}, "
            'e.g. formats = ["png", "svg"].',
            source="config",
        )
    opts["formats"] = list(dict.fromkeys(fmts))
    years = opts["years"] or []
    if not isinstance(years, list) or not all(isinstance(y, int) and not isinstance(y, bool) for y in years):
        raise ConfigError(
            f"[report] years = {opts['years']!r}: give a list of periods of the panel, e.g. "
            "years = [2014, 2020, 2023].",
            source="config",
        )
    opts["years"] = years
    for key in ("latex", "docx"):
        if not isinstance(opts[key], bool):
            raise ConfigError(f"[report] {key} = {opts[key]!r}: use true or false.", source="config")
    ras = opts["rasterize_above"]
    if not isinstance(ras, int) or isinstance(ras, bool) or ras < 0:
        raise ConfigError(
            f"[report] rasterize_above = {ras!r}: give a number of regions (0 or more), e.g. rasterize_above = 1000.",
            source="config",
        )
    return opts


# ------------------------------------------------------------------------------------------ interactive map
class _MapValues:
    """The interactive map's variables: one value (or category code) per period and region.

    Values are held as period x region arrays (NaN or -1 where missing) and written either as JSON
    lists (five significant digits, :meth:`as_json`) or, for the canvas map of large layers, as packed
    arrays (:meth:`packed`).
    """

    def __init__(self, S: _Ctx, ids: list[str], periods: list):
        self.R, self.Y = S.region, S.year
        self.ids, self.periods = ids, periods
        self.pos = pd.Index(ids)
        self.pidx = pd.Index(periods)
        self.variables: dict = {}

    def _cells(self, frame, col):
        """(period index, region index, value) arrays of the table's cells on the map."""
        sub = frame[[self.R, self.Y, col]].dropna()
        j = self.pos.get_indexer(sub[self.R].map(str))
        i = self.pidx.get_indexer(sub[self.Y])
        ok = (i >= 0) & (j >= 0)
        return i[ok], j[ok], sub[col].to_numpy()[ok]

    def numeric(self, key, lab, frame, col, unit=""):
        i, j, v = self._cells(frame.assign(**{col: pd.to_numeric(frame[col], errors="coerce")}), col)
        v = v.astype(float)
        ok = np.isfinite(v)
        if ok.any():
            grid = np.full((len(self.periods), len(self.ids)), np.nan)
            grid[i[ok], j[ok]] = v[ok]
            self.variables[key] = {"label": lab, "kind": "numeric", "unit": unit, "grid": grid}

    def categorical(self, key, lab, frame, col, order, colours, disp):
        codes = {c: k for k, c in enumerate(order)}
        i, j, v = self._cells(frame, col)
        code = np.array([codes.get(c, -1) for c in v], dtype=np.int64)
        grid = np.full((len(self.periods), len(self.ids)), -1, dtype=np.int64)
        ok = code >= 0
        grid[i[ok], j[ok]] = code[ok]
        self.variables[key] = {
            "label": lab,
            "kind": "categorical",
            "categories": [str(disp.get(c, c)) for c in order],
            "colours": [colours.get(c, "#d9d9d9") for c in order],
            "grid": grid,
        }

    def as_json(self) -> dict:
        """The variables with ``values`` as JSON lists (None where missing)."""
        out = {}
        for key, var in self.variables.items():
            var = dict(var)
            grid = var.pop("grid")
            if var["kind"] == "numeric":
                var["values"] = [[float(f"{x:.5g}") if x == x else None for x in row] for row in grid.tolist()]
            else:
                var["values"] = [[int(c) if c >= 0 else None for c in row] for row in grid.tolist()]
            out[key] = var
        return out

    def packed(self) -> dict:
        """The variables with ``packed`` values: one base64 little-endian array per period, numeric
        values as uint16 steps of ``[lo, hi]`` (``lo + q (hi - lo) / 65534``; 65535 missing), categories
        as uint8 codes (255 missing), with ``present`` (the codes that occur, for the legend)."""
        import base64

        def b64(a):
            return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")

        out = {}
        for key, var in self.variables.items():
            var = dict(var)
            grid = var.pop("grid")
            if var["kind"] == "numeric":
                lo, hi = float(np.nanmin(grid)), float(np.nanmax(grid))
                q = np.round((grid - lo) / (hi - lo) * 65534) if hi > lo else np.zeros_like(grid)
                q = np.where(np.isfinite(grid), q, 65535).astype("<u2")
                var.update(lo=lo, hi=hi)
            else:
                q = np.where(grid >= 0, grid, 255).astype("u1")
                var["present"] = sorted(int(c) for c in np.unique(grid[grid >= 0]))
            var["packed"] = [b64(row) for row in q]
            out[key] = var
        return out


def _map_data(S: _Ctx, *, packed: bool = False):
    """JSON data of the interactive map (or None without geometry or values); ``packed`` for the canvas map."""
    if S.geometry is None:
        return None
    ids = [str(r) for r in S.geometry.index]
    periods = list(S.periods)
    if not periods:
        return None
    m = _MapValues(S, ids, periods)
    coev = S.coev
    if coev is not None:
        for c in ("h", "q1", "q2", "V", "d"):
            if c in coev.columns:
                m.numeric(c, S.var_label(c), coev, c)
        if "grade" in coev.columns and coev["grade"].notna().any():
            order, disp = grade_order(coev, S.lang)
            m.categorical("grade", S.t("grade"), coev, "grade", order, grade_colours(order), disp)
    idx = S.ctx.indices
    if isinstance(idx, pd.DataFrame):
        for s in S.ctx.subsystems:
            if s in idx.columns and str(s) not in m.variables:
                m.numeric(f"index:{s}", f"{s} ({S.t('index_unit')})", idx, s)
    _lisa_map_values(S, m)
    if not m.variables:
        return None
    initial = "h" if "h" in m.variables else next(iter(m.variables))
    regions = [{"id": r, "name": S.names.get(r, r)} for r in ids]
    return {
        "regions": regions,
        "periods": [
            p if isinstance(p, (int, str)) else str(p)
            for p in [int(p) if isinstance(p, (np.integer,)) else p for p in periods]
        ],
        "variables": m.packed() if packed else m.as_json(),
        "initial": initial,
        "labels": {"period": S.t("period")},
    }


def _lisa_map_values(S: _Ctx, m: _MapValues) -> None:
    """LISA clusters of up to two variables (first weights specification) as categorical map layers."""
    lisa = _table(S.ctx, "lisa")
    if lisa is None or not {"variable", "cluster", "year"} <= set(lisa.columns):
        return
    rcol = "region" if "region" in lisa.columns else S.region
    w0 = lisa["weights"].iloc[0] if "weights" in lisa.columns else None
    sub = lisa[lisa["weights"] == w0] if w0 is not None else lisa
    from .maps import LISA_COLOURS

    order = ["HH", "LL", "LH", "HL", "ns", "isolated"]
    disp = {"ns": S.t("ns"), "isolated": S.t("isolated")}
    for v in preferred_variables(sub, S, 2):
        frame = sub[sub["variable"] == v].rename(columns={rcol: S.region, "year": S.year})
        m.categorical(f"lisa:{v}", f"{S.t('lisa')}: {v}", frame, "cluster", order, LISA_COLOURS, disp)


# ------------------------------------------------------------------------------------------------- build
def _synthetic(ctx) -> bool:
    data = ctx.config.get("data") or {}
    return bool(data.get("synthetic")) or "synthetic" in str(ctx.config.get("name") or "").lower()


def build_report(ctx: StageContext, cfg: dict | None = None) -> StageOutput:
    """Write figures, ``report.html`` and LaTeX tables for a run into ``ctx.out_dir``.

    Parameters
    ----------
    ctx : nqpspatial.stage.StageContext
        The run's context: ``tables`` (every table written so far),
        ``results``, ``geometry``, ``config``, ``out_dir``.
    cfg : dict, optional
        The ``[report]`` table (defaults: :data:`REPORT_KEYS`, then
        ``ctx.config["report"]``).

    Returns
    -------
    nqpspatial.stage.StageOutput
        No tables; ``info`` lists the sections shown and those without data,
        the figures and LaTeX files written, the language and font used;
        ``warnings`` holds the CJK-font fallback warning when it applies.

    Raises
    ------
    nqpspatial.errors.ConfigError
        A ``[report]`` value that cannot be used (language, formats, years).
    """
    t0 = time.perf_counter()
    opts = _options(ctx, cfg)
    out = StageOutput()
    if ctx.out_dir is None:
        out.notes.append("no output folder: report not written")
        return out
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg", force=False)
    from .figures import FigureWriter

    out_dir = Path(ctx.out_dir)
    lang = opts["language"]
    font = fonts.find_cjk_font()
    fig_lang = lang if font is not None else "en"
    policy = fonts.GlyphPolicy(font, lang, {s: f"S{i + 1}" for i, s in enumerate(ctx.subsystems or [])})
    writer = FigureWriter(out_dir / "figures" if opts["figures"] else None, opts["formats"], policy=policy)
    S = _Ctx(ctx, opts, lang, fig_lang, font, writer)
    import matplotlib.pyplot as plt

    with plt.rc_context(writer.rc()):
        sections, missing, timing = _sections(S, ctx, out)
    tg = time.perf_counter()
    gpkg = _write_gpkg(S, out_dir, out)
    timing["regions.gpkg"] = round(time.perf_counter() - tg, 3)
    font_warning = policy.warning()
    if font_warning:
        warnings.warn(font_warning, fonts.FontWarning, stacklevel=2)
    title = opts["title"] or ctx.config.get("name") or S.t("report")
    banner = S.t("synthetic") if _synthetic(ctx) else None
    latex_files = _write_latex(S, out_dir, sections)
    from .._version import __version__

    found = _findings_first(S, sections)  # the findings section opens the page (nqpspatial.report.findings)
    page = render_page(
        title=str(title),
        sections=sections,
        missing=[t for _, t in missing],
        banner=banner,
        lang=lang,
        footer=f"{S.t('generated')} {__version__}",
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.html").write_text(page, encoding="utf-8")
    td = time.perf_counter()
    docx_info = _write_docx(S, out_dir, found, str(title), banner, f"{S.t('generated')} {__version__}")
    timing["report.docx"] = round(time.perf_counter() - td, 3)
    out.notes.extend(S.notes)
    if missing:
        out.notes.append(f"report: sections without data: {', '.join(t for _, t in missing)}")
    out.info = {
        "html": "report.html",
        "bytes": len(page.encode("utf-8")),
        "language": lang,
        "figure_language": fig_lang,
        "font": font,
        "map_years": [int(y) if isinstance(y, (int, np.integer)) else str(y) for y in S.years],
        "sections": [s.key for s in sections],
        "sections_without_data": [k for k, _ in missing],
        "figures": list(writer.written),
        "latex": latex_files,
        "synthetic_banner": banner is not None,
        "section_seconds": timing,
        "map": "canvas" if S.geometry is not None and len(S.geometry) > CANVAS_ABOVE else "svg",
        "gpkg": gpkg,
        "docx": docx_info,
        "findings": [{"key": f.key, "kind": f.kind} for f in found],
        "seconds": round(time.perf_counter() - t0, 3),
    }
    return out


def _sections(S: _Ctx, ctx, out: StageOutput):
    """The report's sections in run order (the map first), the sections without data and each builder's time."""
    sections, missing, timing = [], [], {}
    tm = time.perf_counter()
    canvas = S.geometry is not None and len(S.geometry) > CANVAS_ABOVE
    mdata = _map_data(S, packed=canvas)
    if mdata is not None:
        from .maps import canvas_layers, svg_layers

        if canvas:  # a canvas and packed arrays: thousands of SVG paths would make the page slow to open
            mdata["geometry"] = canvas_layers(S.map_geoms, lang=S.lang, fraction=0.0)
            block = map_html(mdata, [], mdata["geometry"]["width"], mdata["geometry"]["height"], lang=S.lang)
        else:
            svg = svg_layers(S.map_geoms, lang=S.lang, fraction=0.0)  # simplified once, in the view
            block = map_html(mdata, svg["paths"], svg["width"], svg["height"], lang=S.lang, layers=svg)
        sections.append(Section("map", S.t("s_map"), [block]))
    timing["map"] = round(time.perf_counter() - tm, 3)
    builders = [("data", lambda v: [data_section(v)]), ("weights", lambda v: [weights_section(v)])]
    shared = set()  # stages that share one report_sections function (sensitivity, robustness) build it once
    for st in report_analyses(ctx):
        fn = getattr(st.report_sections, "__func__", st.report_sections)
        if fn not in shared:
            shared.add(fn)
            builders.append((st.name, st.report_sections))
    for owner, build in ctx.progress(builders, total=len(builders), desc="report"):
        ts = time.perf_counter()
        for sec in _built(owner, build, S, out):
            if any(x.key == sec.key for x in sections):
                continue  # a section two stages contribute (e.g. robustness) is shown once
            sec.blocks = [b for b in sec.blocks if b]
            if sec.blocks:
                sections.append(sec)
                missing = [m for m in missing if m[0] != sec.key]
            elif all(k != sec.key for k, _ in missing):
                missing.append((sec.key, sec.title))
        timing[owner] = round(time.perf_counter() - ts, 3)
    sections += _generic_sections(S, ctx, sections)
    return sections, missing, timing


def _write_latex(S: _Ctx, out_dir, sections: list) -> list:
    """The LaTeX tables (``[report] latex``); the Haken sections say where they are."""
    if not S.opts["latex"]:
        return []
    from .latex import write_latex

    latex_files = write_latex(S.ctx.tables or {}, out_dir / "latex", lang=S.lang)
    if latex_files:
        for sec in sections:
            if sec.key in ("haken", "spatial_haken"):
                sec.blocks.append(text_html(S.t("latex"), "note"))
    return latex_files


def report_analyses(ctx) -> list:
    """The analyses whose report sections the report shows, in run order.

    The ones that ran (``ctx.analyses``, set by the pipeline), else every
    installed analysis that contributes sections, in the order of
    :func:`nqpspatial.runner.plan`.
    """
    ran = getattr(ctx, "analyses", None)
    if ran is None:
        from .. import registry, runner

        ran = runner.plan(list(registry.load_all("analyses").values()))
    return [st for st in ran if callable(getattr(st, "report_sections", None))]


def _built(owner: str, build, S: ReportView, out: StageOutput) -> list:
    """The sections one builder returns; a builder that raises loses only its own sections."""
    import matplotlib.pyplot as plt

    try:
        return [sec for sec in (build(S) or []) if sec is not None]
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - one broken section must not lose the whole report
        plt.close("all")
        out.warnings.append(
            f"report section '{owner}' could not be built ({type(exc).__name__}: {exc}); "
            "the other sections were written"
        )
        return [
            Section(owner, owner, [text_html(f"This section could not be built: {type(exc).__name__}: {exc}", "note")])
        ]


def _generic_sections(S: ReportView, ctx, shown: list) -> list:
    """A section listing the tables of each stage that ran without contributing sections (a third party's)."""
    out = []
    written = getattr(ctx, "written", None) or {}
    keys = {s.key for s in shown}
    for st in getattr(ctx, "analyses", None) or []:
        if callable(getattr(st, "report_sections", None)) or st.name in keys:
            continue
        names = [t for t, owner in written.items() if owner == st.name and _table(ctx, t) is not None]
        if not names:
            continue
        sec = Section(st.name, st.name)
        for n in names:
            sec.blocks.append(f"<h3>{escape(n)}</h3>")
            sec.blocks.append(table_html(_table(ctx, n), name=n, max_rows=40, lang=S.lang))
        out.append(sec)
    return out


def _findings_first(S: _Ctx, sections: list) -> list:
    """The run's findings (:func:`nqpspatial.report.findings.findings`), inserted as the first section."""
    from ..artifacts import SpatialHakenOutcome

    haken = (S.ctx.config or {}).get("haken") or {}
    alpha = haken.get("alpha", 0.05) if hasattr(haken, "get") else 0.05
    sh = S.ctx.get(SpatialHakenOutcome)
    found = findings(
        S.ctx.tables or {},
        lang=S.lang,
        region_names=S.names,
        alpha=float(alpha),
        reading=sh.reading if sh is not None else None,
    )
    sections.insert(0, Section("findings", FINDINGS_TEXT[S.lang]["heading"], [findings_html(found, S.lang)]))
    return found


def _write_docx(S: _Ctx, out_dir, found, title, banner, footer) -> dict | None:
    """``report.docx`` next to report.html (:mod:`nqpspatial.report.docx`) when ``[report] docx`` is true."""
    if not S.opts["docx"]:
        return None
    from ..artifacts import SpatialHakenOutcome
    from .docx import docx_tables, main_figures, write_docx

    sh = S.ctx.get(SpatialHakenOutcome)
    tabs = docx_tables(S.ctx.tables or {}, S.lang, reading=sh.reading if sh is not None else None)
    figs = main_figures(S.pngs)
    size = write_docx(
        out_dir / "report.docx",
        title=title,
        findings=found,
        tables=tabs,
        figures=figs,
        lang=S.lang,
        banner=banner,
        footer=footer,
    )
    return {"file": "report.docx", "bytes": size, "tables": [t.name for t in tabs], "figures": [f[0] for f in figs]}


def _write_gpkg(S: _Ctx, out_dir, out: StageOutput) -> dict | None:
    """``regions.gpkg`` (see :mod:`nqpspatial.report.gis`) when boundaries are known."""
    if S.geometry is None or getattr(S.geometry, "crs", None) is None:
        return None
    from .gis import write_regions_gpkg

    try:
        layers = write_regions_gpkg(
            out_dir / "regions.gpkg",
            S.geometry,
            S.ctx.tables or {},
            region=S.region,
            year=S.year,
            scheme=S.ctx.scheme,
            names=S.names,
            simplified=S.geoms,
            light=S.gis_geoms,
        )
    except Exception as exc:  # noqa: BLE001 - the GIS hand-off must not lose the report
        out.warnings.append(f"regions.gpkg could not be written ({type(exc).__name__}: {exc})")
        return None
    return {"file": "regions.gpkg", "layers": layers}


class ReportStage(Analysis):
    """Pipeline stage writing ``figures/``, ``report.html`` and ``latex/``.

    Config (``[report]``; defaults in :data:`REPORT_KEYS`): ``enabled``,
    ``language`` ("en" | "zh"), ``years`` (periods mapped; default first,
    turning year when found, last), ``title`` (default the study name),
    ``figures`` (write figure files and embed them), ``formats`` (any of
    "png", "svg", "pdf"), ``latex`` (write booktabs tables).  ``--no-report``
    sets ``enabled = false``.  See docs/report.md.
    """

    name = "report"
    order = 1000
    min_periods = 2
    optional = False
    requires: tuple[str, ...] = ()
    config_keys = dict(REPORT_KEYS)

    def run(self, ctx: StageContext, cfg: dict) -> StageOutput:
        """Build the report (see :func:`build_report`)."""
        return build_report(ctx, cfg)


#: The stage instance registered under the ``nqpspatial.analyses`` entry point ``report``.
report_stage = ReportStage()
