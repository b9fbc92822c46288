"""The report stage: figures, the self-contained HTML report and LaTeX exports.

Runs last (order 1000) and reads what earlier stages wrote (``ctx.tables``)
and provided (typed artifacts, ``ctx.get``).  Every section is built only from the
tables it needs; a section whose tables are absent is left out and listed
at the top of the report and in ``run.json``.
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import pandas as pd

from ..artifacts import HakenOutcome, RobustnessOutcome, SensitivityOutcome
from ..errors import ConfigError
from ..stage import Analysis, StageContext, StageOutput
from . import fonts
from .findings import TEXT as FINDINGS_TEXT
from .findings import findings, findings_html
from .html import Section, facts_html, figure_html, map_html, render_page, table_html, text_html
from .labels import label
from .tables import regression_html

__all__ = ["ReportStage", "report_stage", "build_report", "REPORT_KEYS", "SECTIONS"]

#: Keys of the ``[report]`` table and their defaults.
REPORT_KEYS = {"enabled": True, "language": "en", "years": [], "title": None, "figures": True,
               "formats": ["png", "svg"], "latex": True, "docx": True}

#: Sections in report order: key -> label key.
SECTIONS = ("data", "weights", "haken", "coevolution", "stages", "spatial", "spatial_haken", "zones",
            "robustness")

_FORMATS = ("png", "svg", "pdf")
_MAX_MAP_VARS = 4
_MAX_ZONE_VARS = 2  # zone figures per kind (keeps the report's run time bounded)


def _table(ctx, name):
    t = (ctx.tables or {}).get(name)
    return t if isinstance(t, pd.DataFrame) and len(t) else None


def _options(ctx: StageContext, cfg: dict | None) -> dict:
    """Merge defaults, the core ``[report]`` table and the stage table; check values."""
    opts = dict(REPORT_KEYS)
    opts.update({k: v for k, v in (ctx.config.get("report") or {}).items() if k in REPORT_KEYS})
    opts.update({k: v for k, v in (cfg or {}).items() if k in REPORT_KEYS})
    if opts["language"] not in ("en", "zh"):
        raise ConfigError(f"[report] language = {opts['language']!r} is not allowed; use 'en' or 'zh'.",
                          source="config")
    fmts = opts["formats"]
    if isinstance(fmts, str):
        fmts = [fmts]
    bad = [f for f in fmts if f not in _FORMATS]
    if bad or not isinstance(fmts, list):
        raise ConfigError(f"[report] formats = {opts['formats']!r}: use a list of {', '.join(_FORMATS)}, "
                          "e.g. formats = [\"png\", \"svg\"].", source="config")
    opts["formats"] = list(dict.fromkeys(fmts))
    years = opts["years"] or []
    if not isinstance(years, list) or not all(isinstance(y, int) and not isinstance(y, bool) for y in years):
        raise ConfigError(f"[report] years = {opts['years']!r}: give a list of periods of the panel, e.g. "
                          "years = [2014, 2020, 2023].", source="config")
    opts["years"] = years
    for key in ("latex", "docx"):
        if not isinstance(opts[key], bool):
            raise ConfigError(f"[report] {key} = {opts[key]!r}: use true or false.", source="config")
    return opts


class _Ctx:
    """Everything the section builders share."""

    def __init__(self, ctx: StageContext, opts: dict, lang: str, fig_lang: str, font, writer):
        self.ctx, self.opts, self.lang, self.fig_lang, self.font, self.writer = (
            ctx, opts, lang, fig_lang, font, writer)
        self.notes: list[str] = []
        self.pngs: dict[str, tuple[bytes, str]] = {}  # figure stem -> (PNG, caption), for report.docx
        self.region, self.year = ctx.region, ctx.year
        self.geometry = None
        self.geoms = None
        if ctx.geometry is not None and len(ctx.geometry):
            from .maps import simplify_geometry

            self.geometry = ctx.geometry
            self.geoms = simplify_geometry(ctx.geometry, 0.0025)
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

            self._layout = MapLayout(self.geoms, lang=self.fig_lang, full=self.geometry)
        return getattr(self, "_layout", None)

    def t(self, key, **fmt):
        return label(key, self.lang, **fmt)

    def ft(self, key, **fmt):
        return label(key, self.fig_lang, **fmt)

    def figure(self, fig, name, caption) -> str:
        if fig is None:
            return ""
        stem, png = self.writer.save_named(fig, name)
        self.pngs[stem] = (png, caption)
        return figure_html(png, caption, name=stem if self.writer.folder is not None else None)

    def var_label(self, var, fig=False) -> str:
        lang = self.fig_lang if fig else self.lang
        base = label(var, lang) if var in ("q1", "q2", "h", "V", "d", "grade") else str(var)
        if var in ("q1", "q2") and self.pair is not None:
            base = f"{base} ({self.pair[0] if var == 'q1' else self.pair[1]})"
        return base


def _region_names(ctx, lang) -> dict:
    geo = ctx.geometry
    out = {}
    if geo is not None:
        prefs = (["name_zh_short", "name_zh", "name", "NAME", "name_en"] if lang == "zh"
                 else ["name_en", "name", "NAME", "pinyin", "name_zh"])
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
            raise ConfigError(f"[report] years = {given}: {missing} not among the panel's periods "
                              f"({periods[0]}-{periods[-1]}); choose from {periods}.", source="config")
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


def _wide(table, value, R, Y, years) -> dict:
    """Period -> Series (region -> value) for the chosen periods."""
    out = {}
    for y in years:
        sub = table[table[Y] == y]
        out[y] = pd.Series(sub[value].to_numpy(), index=sub[R].map(str).to_numpy())
    return out


# --------------------------------------------------------------------------------------------- sections
def _sec_data(S: _Ctx) -> Section | None:
    ctx = S.ctx
    panel = ctx.panel
    if panel is None or not len(panel):
        return None
    sec = Section("data", S.t("s_data"))
    facts = {}
    if ctx.config.get("name"):
        facts[S.t("study")] = ctx.config.get("name")
    if ctx.config.get("description"):
        facts["description"] = ctx.config["description"]
    nreg = panel[ctx.region].nunique() if ctx.region in panel.columns else None
    facts[S.t("regions")] = nreg
    if S.periods:
        facts[S.t("periods")] = f"{len(S.periods)} ({S.periods[0]}-{S.periods[-1]})"
    if ctx.subsystems:
        facts[S.t("subsystems")] = ", ".join(map(str, ctx.subsystems))
    ind = ctx.indicators
    if isinstance(ind, pd.DataFrame) and len(ind):
        facts[S.t("indicators")] = len(ind)
    data_cfg = ctx.config.get("data") or {}
    if data_cfg.get("panel"):
        facts["panel"] = data_cfg.get("panel")
    sec.blocks.append(facts_html(facts))
    if isinstance(ind, pd.DataFrame) and len(ind):
        cols = [c for c in ("indicator", "subsystem", "dimension", "direction", "label", "unit") if c in ind.columns]
        show = ind[cols].copy()
        for c in ("dimension", "label", "unit"):
            if c in show.columns and show[c].fillna("").astype(str).eq("").all():
                show = show.drop(columns=c)
        sec.blocks.append(table_html(show, name="indicators", max_rows=200, lang=S.lang))
    return sec


def _sec_weights(S: _Ctx) -> Section | None:
    w = _table(S.ctx, "indicator_weights")
    if w is None:
        return None
    from .figures import weights_figure

    sec = Section("weights", S.t("s_weights"))
    labels = {}
    ind = S.ctx.indicators
    if isinstance(ind, pd.DataFrame) and {"indicator", "label"} <= set(ind.columns):
        labels = {i: (f"{i} {lab}" if isinstance(lab, str) and lab else i) for i, lab in
                  zip(ind["indicator"], ind["label"])}
    if S.opts["figures"]:
        fig = weights_figure(w, S.fig_lang, labels, policy=S.writer.policy)
        sec.blocks.append(S.figure(fig, "weights", S.t("s_weights")))
    sec.blocks.append(table_html(w, name="indicator_weights", max_rows=200, lang=S.lang))
    return sec


def _potential_sources(S: _Ctx):
    """(label, linear, quadratic, quartic) of each potential to draw."""
    pot_tab = _table(S.ctx, "haken_potential")
    out = []
    if pot_tab is not None and {"quadratic", "quartic"} <= set(pot_tab.columns):
        unit = next((c for c in ("region", "group", "unit") if c in pot_tab.columns), None)
        for _, row in pot_tab.head(12).iterrows():
            lab = "V(q1)" if unit is None else f"{S.fig_names.get(str(row[unit]), row[unit])}"
            lin = float(row["linear"]) if "linear" in row.index and pd.notna(row["linear"]) else 0.0
            if pd.notna(row["quadratic"]) and pd.notna(row["quartic"]):
                out.append((lab, lin, float(row["quadratic"]), float(row["quartic"])))
        if out:
            return out
    h = S.ctx.get(HakenOutcome)
    pot = h.potential if h is not None else None
    if pot is not None and all(hasattr(pot, a) for a in ("linear", "quadratic", "quartic")):
        vals = (float(pot.linear), float(pot.quadratic), float(pot.quartic))
        if all(math.isfinite(v) for v in vals):
            return [("V(q1)", *vals)]
    ident = _table(S.ctx, "haken_identification")
    if ident is not None and {"gamma1", "a", "gamma2", "b"} <= set(ident.columns) and S.pair is not None:
        row = ident[(ident["q1"].astype(str) == S.pair[0]) & (ident["q2"].astype(str) == S.pair[1])]
        if len(row):
            g1, a, g2, b = (float(row[c].iloc[0]) for c in ("gamma1", "a", "gamma2", "b"))
            if g2 > 0:  # V = gamma1 q^2/2 + a b q^4/(4 gamma2) (no intercepts)
                return [("V(q1)", 0.0, g1, a * b / g2)]
    return []


def _stationary(lin, A, B) -> pd.DataFrame:
    roots = np.polynomial.Polynomial([lin, A, 0.0, B]).trim().roots() if (A or B) else np.array([])
    roots = roots[np.abs(roots.imag) <= 1e-9 * np.maximum(1, np.abs(roots.real))].real
    roots = np.unique(np.round(roots, 12))
    v = -lin * roots + 0.5 * A * roots ** 2 + 0.25 * B * roots ** 4
    return pd.DataFrame({"q1": roots, "V": v, "stable": (A + 3 * B * roots ** 2) > 0})


def _sec_haken(S: _Ctx) -> Section | None:
    ident = _table(S.ctx, "haken_identification")
    est = _table(S.ctx, "haken_estimates")
    pot = _table(S.ctx, "haken_potential")
    if ident is None and est is None and pot is None:
        return None
    sec = Section("haken", S.t("s_haken"))
    if ident is not None:
        chosen = (ident["chosen"].astype("boolean").fillna(False).astype(bool) if "chosen" in ident.columns
                  else pd.Series(False, index=ident.index))
        if S.pair is not None:
            sec.blocks.append(text_html(f"{S.t('chosen')}: q1 = {S.pair[0]}, q2 = {S.pair[1]}"))
        elif "chosen" in ident.columns:
            sec.blocks.append(text_html(S.t("none_passes"), "note"))
        sec.blocks.append(table_html(ident, name="haken_identification", max_rows=60, lang=S.lang,
                                     highlight=chosen.to_numpy()))
    if est is not None:
        sec.blocks.append(table_html(est, name="haken_estimates", max_rows=80, lang=S.lang))
    sec.blocks.append(regression_html(S.ctx.tables or {}, S.lang))  # esttab-style (nqpspatial.report.tables)
    if pot is not None:
        if "case_label" in pot.columns or "case" in pot.columns:
            row = pot.iloc[0]
            case = row.get("case")
            lab = row.get("case_label") if "case_label" in pot.columns else None
            if lab is None or (isinstance(lab, float) and lab != lab):
                try:
                    from ..haken.potential import CASE_LABELS

                    lab = CASE_LABELS.get(int(case), "")
                except (ImportError, TypeError, ValueError):
                    lab = ""
            star = row.get("q1_star")
            star_text = (S.t("none_exists") if star is None or pd.isna(star)
                         else f"q1* = {float(star):.4f}, V* = {float(row.get('V_star')):.4f}")
            facts = {S.t("case"): f"{case}: {lab}" if lab else case, S.t("stable_point"): star_text}
            if "map_stable" in pot.columns:
                facts["map_stable"] = row.get("map_stable")
            if len(pot) == 1:
                sec.blocks.append(facts_html(facts))
        sec.blocks.append(table_html(pot, name="haken_potential", max_rows=40, lang=S.lang))
    if S.opts["figures"]:
        sources = _potential_sources(S)
        if sources:
            from .figures import potential_figure

            coev = S.coev
            last = S.periods[-1] if S.periods else None
            points = None
            qs = []
            if coev is not None and "q1" in coev.columns and last is not None:
                sub = coev[coev[S.year] == last]
                points = pd.DataFrame({"region": sub[S.region].map(str), "q1": sub["q1"].astype(float)})
                qs = coev["q1"].astype(float).dropna().tolist()
            stat = pd.concat([_stationary(*s[1:]) for s in sources[:1]], ignore_index=True)
            cand = qs + [q for q in stat["q1"] if -0.25 <= q <= 2.0]
            lo, hi = (min(cand + [0.0]), max(cand + [1.0])) if cand else (-0.1, 1.1)
            pad = 0.08 * (hi - lo)
            q = np.linspace(lo - pad, hi + pad, 300)
            curves = [(lab, q, lin * q + 0.5 * A * q ** 2 + 0.25 * B * q ** 4) for lab, lin, A, B in sources]
            stat = stat[(stat["q1"] >= q[0]) & (stat["q1"] <= q[-1])]
            if points is not None:
                if "V" in coev.columns and len(sources) == 1:
                    points["V"] = coev.loc[coev[S.year] == last, "V"].astype(float).to_numpy()
                else:
                    lab, lin, A, B = sources[0]
                    x = points["q1"].to_numpy()
                    points["V"] = lin * x + 0.5 * A * x ** 2 + 0.25 * B * x ** 4
                    if len(sources) > 1:
                        points = None
            title = S.ft("potential") + (f" ({last})" if points is not None else "")
            fig = potential_figure(curves, stat, points, title=title, lang=S.fig_lang, names=S.fig_names)
            sec.blocks.append(S.figure(fig, "potential", S.t("potential")))
    return sec


def _grade_order(coev: pd.DataFrame, lang: str):
    """Grade categories in scale order and (category -> display label)."""
    from ..haken.grades import DEFAULT_LABELS, DEFAULT_LABELS_ZH

    g = coev["grade"]
    present = [x for x in pd.unique(g.dropna())]
    if "grade_class" in coev.columns:
        cls = coev[["grade", "grade_class"]].dropna().drop_duplicates("grade")
        order = list(cls.sort_values("grade_class")["grade"])
        order += [x for x in present if x not in order]
    elif all(str(x) in DEFAULT_LABELS for x in present):
        order = [x for x in DEFAULT_LABELS if x in set(map(str, present))]
    elif all(str(x) in DEFAULT_LABELS_ZH for x in present):
        order = [x for x in DEFAULT_LABELS_ZH if x in set(map(str, present))]
    else:
        order = sorted(present, key=lambda x: (str(type(x)), x))
    disp = {}
    for x in order:
        s = str(x)
        if lang == "zh" and s in DEFAULT_LABELS:
            disp[x] = DEFAULT_LABELS_ZH[DEFAULT_LABELS.index(s)]
        elif lang == "en" and s in DEFAULT_LABELS_ZH:
            disp[x] = DEFAULT_LABELS[DEFAULT_LABELS_ZH.index(s)]
        else:
            disp[x] = s
    return order, disp


def _grade_colours(order) -> dict:
    from ..haken.grades import DEFAULT_LABELS, DEFAULT_LABELS_ZH
    from .maps import grade_colours

    if all(str(x) in DEFAULT_LABELS for x in order) or all(str(x) in DEFAULT_LABELS_ZH for x in order):
        scale = DEFAULT_LABELS if all(str(x) in DEFAULT_LABELS for x in order) else DEFAULT_LABELS_ZH
        pal = grade_colours(len(scale))
        return {x: pal[scale.index(str(x))] for x in order}
    pal = grade_colours(len(order))
    return dict(zip(order, pal))


def _sec_coevolution(S: _Ctx) -> Section | None:
    coev = S.coev
    cc = _table(S.ctx, "coupling_coordination")
    if coev is None and cc is None:
        return None
    sec = Section("coevolution", S.t("s_coevolution"))
    R, Y = S.region, S.year
    if coev is not None:
        if "strategy" in coev.columns and coev["strategy"].notna().any():
            sec.blocks.append(text_html(f"h strategy: {coev['strategy'].dropna().iloc[0]}"))
        if S.opts["figures"] and S.geoms is not None and S.years:
            from .maps import categorical_map, choropleth

            for var in ("q1", "q2", "h"):
                if var not in coev.columns or not coev[var].notna().any():
                    continue
                vals = _wide(coev, var, R, Y, S.years)
                vals = {y: pd.to_numeric(v, errors="coerce").astype(float) for y, v in vals.items()}
                fig = choropleth(S.geoms, vals, title=S.var_label(var, fig=True),
                                 legend_title=f"{var} ({S.ft('index_unit')})" if var != "h" or
                                 _unit_interval(coev[var]) else var, lang=S.fig_lang, layout=S.layout)
                sec.blocks.append(S.figure(fig, f"map_{var}", f"{S.var_label(var)}: {', '.join(map(str, S.years))}"))
            if "grade" in coev.columns and coev["grade"].notna().any():
                order, disp = _grade_order(coev, S.fig_lang)
                cols = _grade_colours(order)
                vals = _wide(coev, "grade", R, Y, S.years)
                fig = categorical_map(S.geoms, vals, categories=order, colours=cols, labels=disp,
                                      title=S.ft("grade"), legend_title=S.ft("grade"), lang=S.fig_lang,
                                      layout=S.layout)
                sec.blocks.append(S.figure(fig, "map_grade", S.t("grade")))
        elif S.geoms is None:
            sec.blocks.append(text_html(S.t("no_geometry"), "note"))
        num = [c for c in ("q1", "q2", "V", "d", "h") if c in coev.columns]
        if num:
            means = coev.groupby(Y, sort=True)[num].mean().reset_index()
            sec.blocks.append("<h3>" + _e(f"{S.t('national')}: mean") + "</h3>")
            sec.blocks.append(table_html(means, name="coevolution", max_rows=60, lang=S.lang))
        if "grade" in coev.columns and coev["grade"].notna().any() and S.years:
            order, disp = _grade_order(coev, S.lang)
            sub = coev[coev[Y].isin(S.years)]
            counts = pd.crosstab(sub["grade"], sub[Y]).reindex(order).fillna(0).astype(int)
            counts.index = [disp.get(x, x) for x in counts.index]
            counts = counts.rename_axis(S.t("grade")).reset_index()
            counts.columns = [str(c) for c in counts.columns]
            sec.blocks.append("<h3>" + _e(S.t("grade")) + "</h3>")
            sec.blocks.append(table_html(counts, name="coevolution", max_rows=20, lang=S.lang))
        show = coev[coev[Y] == S.periods[-1]] if S.periods else coev
        show = show.assign(**{R: show[R].map(lambda r: S.names.get(str(r), r))}) if R in show.columns else show
        sec.blocks.append("<h3>" + _e(f"{S.periods[-1] if S.periods else ''}") + "</h3>")
        sec.blocks.append(table_html(show, name="coevolution", max_rows=60, lang=S.lang))
    if cc is not None:
        num = [c for c in ("U1", "U2", "C", "C_corrected", "T", "D", "D_corrected") if c in cc.columns]
        sec.blocks.append("<h3>" + _e("Coupling coordination (national mean)") + "</h3>")
        if num and Y in cc.columns:
            sec.blocks.append(table_html(cc.groupby(Y, sort=True)[num].mean().reset_index(),
                                         name="coupling_coordination", max_rows=60, lang=S.lang))
        else:
            sec.blocks.append(table_html(cc, name="coupling_coordination", lang=S.lang))
    return sec


def _unit_interval(s) -> bool:
    v = pd.to_numeric(s, errors="coerce").dropna()
    return bool(len(v)) and v.min() >= -1e-12 and v.max() <= 1 + 1e-12


def _e(text) -> str:
    from .html import esc

    return esc(text)


def _sec_stages(S: _Ctx) -> Section | None:
    st = _table(S.ctx, "stages")
    scen = _table(S.ctx, "scenarios")
    coev = S.coev
    if st is None and coev is None and scen is None and _table(S.ctx, "stages_tests") is None:
        return None
    sec = Section("stages", S.t("s_stages"))
    traj = None
    if st is not None and {"year"} <= set(st.columns) and any(c in st.columns for c in ("q1", "q2", "h")):
        traj = st
    elif coev is not None:
        try:
            from ..haken.stages import trajectories

            traj = trajectories(coev.rename(columns={S.region: "region", S.year: "year"}), S.ctx.scheme)
        except Exception as exc:  # noqa: BLE001 - the figure is optional; say why it is missing
            S.notes.append(f"trajectories not drawn: {exc}")
    if S.turning is not None:
        ptext = f" (sup-F, bootstrap p = {S.turning_p:.3g})" if S.turning_p is not None else ""
        sec.blocks.append(text_html(f"{S.t('turning')}: {S.turning}{ptext}"))
    if traj is not None and S.opts["figures"]:
        from .figures import trajectories_figure

        cols = [c for c in ("q1", "q2", "h") if c in traj.columns]
        titles = {c: S.var_label(c, fig=True) for c in cols}
        fig = trajectories_figure(traj, cols, lang=S.fig_lang, turning=S.turning, titles=titles)
        sec.blocks.append(S.figure(fig, "trajectories", S.t("trajectories")))
    if st is not None:
        sec.blocks.append(table_html(st, name="stages", max_rows=40, lang=S.lang))
    elif traj is not None:
        sec.blocks.append(table_html(traj, name="stages", max_rows=40, lang=S.lang))
    tests = _table(S.ctx, "stages_tests")
    if tests is not None:
        sec.blocks.append("<h3>stages_tests</h3>")
        sec.blocks.append(table_html(tests, name="stages_tests", max_rows=40, lang=S.lang))
    if scen is not None:
        sec.blocks.append("<h3>scenarios</h3>")
        sec.blocks.append(table_html(scen, name="scenarios", max_rows=40, lang=S.lang))
    return sec


def _lisa_variables(lisa: pd.DataFrame, S: _Ctx) -> list:
    vars_ = list(pd.unique(lisa["variable"])) if "variable" in lisa.columns else []
    pref = ["h", "q1", "q2", *map(str, S.ctx.subsystems)]
    ordered = [v for v in pref if v in vars_] + [v for v in vars_ if v not in pref]
    return ordered[:_MAX_MAP_VARS]


def _sec_spatial(S: _Ctx) -> Section | None:
    mg = _table(S.ctx, "moran_global")
    lisa = _table(S.ctx, "lisa")
    if mg is None and lisa is None:
        return None
    sec = Section("spatial", S.t("s_spatial"))
    ws = _table(S.ctx, "weights_summary")
    if ws is not None:
        sec.blocks.append(table_html(ws, name="weights_summary", lang=S.lang))
    if mg is not None:
        w0 = mg["weights"].iloc[0] if "weights" in mg.columns else None
        if S.opts["figures"]:
            from .figures import moran_figure

            sec.blocks.append(S.figure(moran_figure(mg, lang=S.fig_lang), "moran_global", S.t("moran")))
        cols = [c for c in ("variable", "weights", "year", "I", "EI", "z_norm", "p_norm", "p_sim") if c in mg.columns]
        sec.blocks.append(table_html(mg[cols] if cols else mg, name="moran_global", max_rows=40, lang=S.lang))
    if lisa is not None and {"region", "cluster"} <= set(lisa.columns) or (
            lisa is not None and {S.region, "cluster"} <= set(lisa.columns)):
        rcol = "region" if "region" in lisa.columns else S.region
        w0 = lisa["weights"].iloc[0] if "weights" in lisa.columns else None
        sub = lisa[lisa["weights"] == w0] if w0 is not None else lisa
        from .maps import LISA_COLOURS

        order = ["HH", "LL", "LH", "HL", "ns", "isolated"]
        labels = {"ns": S.ft("ns"), "isolated": S.ft("isolated")}
        for var in _lisa_variables(sub, S):
            vs = sub[sub["variable"] == var]
            years = [y for y in S.years if y in set(vs["year"])] or sorted(vs["year"].unique())[-1:]
            if S.opts["figures"] and S.geoms is not None:
                from .maps import categorical_map

                vals = _wide(vs.rename(columns={rcol: "__r"}), "cluster", "__r", "year", years)
                fig = categorical_map(S.geoms, vals, categories=order, colours=LISA_COLOURS, labels=labels,
                                      title=f"{S.ft('lisa')}: {S.var_label(var, fig=True)}"
                                            + (f" ({w0})" if w0 else ""),
                                      legend_title=S.ft("lisa"), lang=S.fig_lang, layout=S.layout)
                sec.blocks.append(S.figure(fig, f"lisa_{var}", f"{S.t('lisa')}: {var}"))
        counts = pd.crosstab([sub["variable"], sub["year"]], sub["cluster"]).reset_index()
        counts.columns = [str(c) for c in counts.columns]
        sec.blocks.append("<h3>" + _e(S.t("lisa")) + "</h3>")
        sec.blocks.append(table_html(counts, name="lisa", max_rows=40, lang=S.lang))
    for name in ("moran_bivariate", "geary", "getis_ord"):
        t = _table(S.ctx, name)
        if t is not None:
            sec.blocks.append(f"<h3>{_e(name)}</h3>")
            sec.blocks.append(table_html(t, name=name, max_rows=20, lang=S.lang))
    return sec


def _spatial_reading(S: _Ctx) -> str:
    """The configured ``[spatial_haken] reading`` (default "system")."""
    sh = (getattr(S.ctx, "config", None) or {}).get("spatial_haken") or {}
    reading = sh.get("reading", "system") if isinstance(sh, dict) else "system"
    return reading if reading in ("system", "local") else "system"


def _sec_spatial_haken(S: _Ctx) -> Section | None:
    names = ["spatial_haken_identification", "spatial_haken_potential", "spatial_haken_estimates",
             "spatial_haken_effects", "spatial_haken_marginal_effects", "spatial_haken_diagnostics"]
    tabs = {n: _table(S.ctx, n) for n in names}
    if all(t is None for t in tabs.values()):
        return None
    sec = Section("spatial_haken", S.t("s_spatial_haken"))
    reading = _spatial_reading(S)
    if any(t is not None and "reading" in t.columns for t in tabs.values()):
        sec.blocks.append(text_html(S.t("spatial_reading").format(reading=reading,
                                                                  what=S.t(f"reading_{reading}"))))
    for n, t in tabs.items():
        if t is None:
            continue
        if "reading" in t.columns:   # the configured reading's rows (both are in the CSV)
            t = t[t["reading"].isna() | (t["reading"] == reading)]
        sec.blocks.append(f"<h3>{_e(n)}</h3>")
        hl = None
        if "p" in t.columns:
            hl = pd.to_numeric(t["p"], errors="coerce").lt(0.05).to_numpy()
        sec.blocks.append(table_html(t, name=n, max_rows=80, lang=S.lang, highlight=hl))
    return sec


def _zone_variables(table: pd.DataFrame, S: _Ctx) -> list:
    vars_ = list(pd.unique(table["variable"])) if "variable" in table.columns else []
    pref = ["h", "q1", "q2", *map(str, S.ctx.subsystems)]
    return ([v for v in pref if v in vars_] + [v for v in vars_ if v not in pref])[:_MAX_ZONE_VARS]


_ZONE_TABLES = ("zones_summary", "dagum_gini", "dagum_pairs", "theil", "theil_groups", "clusters",
                "clusters_vs_zones", "markov_transitions", "markov_classes", "spatial_markov", "density",
                "density_curves", "convergence", "obstacles", "zones_haken_fits", "zones_turning_points")


def _sec_zones(S: _Ctx) -> Section | None:
    tabs = {n: _table(S.ctx, n) for n in _ZONE_TABLES}
    if all(t is None for t in tabs.values()):
        return None
    from . import figures as F

    sec = Section("zones", S.t("s_zones"))
    if S.ctx.scheme_name:
        sec.blocks.append(text_html(f"scheme: {S.ctx.scheme_name}"))
    figs = S.opts["figures"]
    zs = tabs["zones_summary"]
    if zs is not None:
        sub = zs[zs["year"].isin(S.years)] if "year" in zs.columns and S.years else zs
        sec.blocks.append("<h3>zones_summary</h3>")
        sec.blocks.append(table_html(sub, name="zones_summary", max_rows=40, lang=S.lang))
    dg = tabs["dagum_gini"]
    if dg is not None:
        sec.blocks.append("<h3>" + _e(S.t("dagum")) + "</h3>")
        if figs:
            for v in _zone_variables(dg, S):
                sec.blocks.append(S.figure(F.dagum_figure(dg, v, lang=S.fig_lang), f"dagum_{v}",
                                           f"{S.t('dagum')}: {v}"))
        sec.blocks.append(table_html(dg, name="dagum_gini", max_rows=30, lang=S.lang))
    for n in ("dagum_pairs", "theil"):
        if tabs[n] is not None:
            t = tabs[n]
            if "year" in t.columns and S.years:
                t = t[t["year"] == S.years[-1]]
            sec.blocks.append(f"<h3>{_e(n)}</h3>")
            sec.blocks.append(table_html(t, name=n, max_rows=40, lang=S.lang))
    cl = tabs["clusters"]
    if cl is not None and {"method", "cluster"} <= set(cl.columns):
        rcol = "region" if "region" in cl.columns else S.region
        if figs and S.geoms is not None and rcol in cl.columns:
            from .maps import categorical_map

            cl_var = None
            if "variable" in cl.columns:
                cl_var = _zone_variables(cl, S)[0]
                cl = cl[cl["variable"] == cl_var]
            methods = list(pd.unique(cl["method"]))[:6]
            vals = {}
            for m in methods:
                s = cl[cl["method"] == m]
                vals[m] = pd.Series(s["cluster"].astype(str).to_numpy(), index=s[rcol].map(str).to_numpy())
            cats = sorted({c for v in vals.values() for c in v.dropna()}, key=lambda c: (len(c), c))
            from matplotlib import colormaps
            from matplotlib.colors import to_hex

            cmap = colormaps["tab20"]
            colours = {c: to_hex(cmap(i % 20)) for i, c in enumerate(cats)}
            ctitle = "clusters" + (f": {cl_var}" if cl_var is not None else "")
            fig = categorical_map(S.geoms, vals, categories=cats, colours=colours, title=ctitle,
                                  legend_title="cluster", lang=S.fig_lang, layout=S.layout)
            sec.blocks.append(S.figure(fig, "clusters", ctitle))
    if tabs["clusters_vs_zones"] is not None:
        t = tabs["clusters_vs_zones"]
        if "ari" in t.columns and "method" in t.columns:
            t = t.dropna(subset=["ari"]).drop_duplicates(["method", *(["variable"] if "variable" in t.columns else [])])
            t = t[[c for c in ("variable", "method", "scheme", "ari") if c in t.columns]]
        sec.blocks.append("<h3>clusters_vs_zones</h3>")
        sec.blocks.append(table_html(t, name="clusters_vs_zones", max_rows=30, lang=S.lang))
    mk = tabs["markov_transitions"]
    if mk is not None:
        sec.blocks.append("<h3>" + _e(S.t("markov")) + "</h3>")
        if figs:
            for i, v in enumerate(_zone_variables(mk, S)):
                for kind in ("classic", "lisa") if i == 0 else ("classic",):
                    fig = F.markov_figure(mk, v, kind, lang=S.fig_lang,
                                          title=f"{S.ft('markov')}: {v}" + (" (LISA)" if kind == "lisa" else ""))
                    sec.blocks.append(S.figure(fig, f"markov_{kind}_{v}", f"{S.t('markov')}: {v} ({kind})"))
        if not figs:
            sec.blocks.append(table_html(mk, name="markov_transitions", max_rows=40, lang=S.lang))
    sm = tabs["spatial_markov"]
    if sm is not None:
        t = sm[sm["row_type"] == "test"] if "row_type" in sm.columns else sm
        sec.blocks.append("<h3>spatial_markov</h3>")
        sec.blocks.append(table_html(t, name="spatial_markov", max_rows=40, lang=S.lang))
    dc = tabs["density_curves"]
    if dc is not None and figs:
        sec.blocks.append("<h3>" + _e(S.t("density")) + "</h3>")
        for v in _zone_variables(dc, S):
            sec.blocks.append(S.figure(F.density_figure(dc, v, lang=S.fig_lang), f"density_{v}",
                                       f"{S.t('density')}: {v}"))
    elif tabs["density"] is not None:
        sec.blocks.append("<h3>density</h3>")
        sec.blocks.append(table_html(tabs["density"], name="density", max_rows=30, lang=S.lang))
    for n in ("convergence", "obstacles", "zones_haken_fits", "zones_turning_points"):
        t = tabs[n]
        if t is not None:
            if n == "obstacles" and "year" in t.columns and S.periods:
                t = t[t["year"] == S.periods[-1]]
            sec.blocks.append(f"<h3>{_e(n)}</h3>")
            sec.blocks.append(table_html(t, name=n, max_rows=40, lang=S.lang))
    return sec


def _sec_robustness(S: _Ctx) -> Section | None:
    names = [n for n in sorted(S.ctx.tables or {}) if n.startswith("sensitivity_") or n.startswith("robustness")]
    tabs = {n: _table(S.ctx, n) for n in names}
    tabs = {n: t for n, t in tabs.items() if t is not None}
    if not tabs:
        return None
    sec = Section("robustness", S.t("s_robustness"))
    sens = getattr(S.ctx.get(SensitivityOutcome), "results", None)
    rob = getattr(S.ctx.get(RobustnessOutcome), "results", None)
    if S.opts["figures"] and getattr(sens, "draws", None) is not None and len(sens.draws):
        from ..robustness.stage import sensitivity_figure

        fig = sensitivity_figure(sens, ratio_label=S.ft("sens_ratio"), rank_label=S.ft("sens_rank"))
        sec.blocks.append(S.figure(fig, "sensitivity", S.t("sensitivity")))
    if S.opts["figures"] and getattr(rob, "table", None) is not None and len(rob.table):
        from ..robustness.table import plot_robustness

        min_ratio = (S.ctx.config.get("haken") or {}).get("min_ratio", 1.0)  # the validated [haken] spec
        title = S.ft("rob_title", q1=rob.order[0], q2=rob.order[1]) if rob.order else None
        fig = plot_robustness(rob, None, min_ratio=min_ratio, xlabel=S.ft("rob_ratio"), title=title)
        sec.blocks.append(S.figure(fig, "robustness", S.t("robustness")))
    for n, t in tabs.items():
        sec.blocks.append(f"<h3>{_e(n)}</h3>")
        sec.blocks.append(table_html(t, name=n, max_rows=60, lang=S.lang))
    return sec


_BUILDERS = {"data": _sec_data, "weights": _sec_weights, "haken": _sec_haken, "coevolution": _sec_coevolution,
             "stages": _sec_stages, "spatial": _sec_spatial, "spatial_haken": _sec_spatial_haken,
             "zones": _sec_zones, "robustness": _sec_robustness}


# ------------------------------------------------------------------------------------------ interactive map
def _map_data(S: _Ctx):
    """JSON data of the interactive map (or None without geometry or values)."""
    if S.geometry is None:
        return None
    R, Y = S.region, S.year
    ids = [str(r) for r in S.geometry.index]
    pos = {r: i for i, r in enumerate(ids)}
    periods = list(S.periods)
    if not periods:
        return None
    pidx = {p: i for i, p in enumerate(periods)}
    variables = {}

    def numeric(key, lab, frame, col, unit=""):
        vals = [[None] * len(ids) for _ in periods]
        sub = frame[[R, Y, col]].dropna()
        found = False
        for r, y, v in zip(sub[R].map(str), sub[Y], pd.to_numeric(sub[col], errors="coerce")):
            if r in pos and y in pidx and v == v and math.isfinite(v):
                vals[pidx[y]][pos[r]] = float(f"{float(v):.5g}")
                found = True
        if found:
            variables[key] = {"label": lab, "kind": "numeric", "unit": unit, "values": vals}

    def categorical(key, lab, frame, col, order, colours, disp):
        codes = {c: i for i, c in enumerate(order)}
        vals = [[None] * len(ids) for _ in periods]
        sub = frame[[R, Y, col]].dropna()
        for r, y, c in zip(sub[R].map(str), sub[Y], sub[col]):
            if r in pos and y in pidx and c in codes:
                vals[pidx[y]][pos[r]] = codes[c]
        variables[key] = {"label": lab, "kind": "categorical", "categories": [str(disp.get(c, c)) for c in order],
                          "colours": [colours.get(c, "#d9d9d9") for c in order], "values": vals}

    coev = S.coev
    if coev is not None:
        for c in ("h", "q1", "q2", "V", "d"):
            if c in coev.columns:
                numeric(c, S.var_label(c), coev, c)
        if "grade" in coev.columns and coev["grade"].notna().any():
            order, disp = _grade_order(coev, S.lang)
            categorical("grade", S.t("grade"), coev, "grade", order, _grade_colours(order), disp)
    idx = S.ctx.indices
    if isinstance(idx, pd.DataFrame):
        for s in S.ctx.subsystems:
            if s in idx.columns and str(s) not in variables:
                numeric(f"index:{s}", f"{s} ({S.t('index_unit')})", idx, s)
    lisa = _table(S.ctx, "lisa")
    if lisa is not None and {"variable", "cluster", "year"} <= set(lisa.columns):
        rcol = "region" if "region" in lisa.columns else R
        w0 = lisa["weights"].iloc[0] if "weights" in lisa.columns else None
        sub = lisa[lisa["weights"] == w0] if w0 is not None else lisa
        from .maps import LISA_COLOURS

        order = ["HH", "LL", "LH", "HL", "ns", "isolated"]
        disp = {"ns": S.t("ns"), "isolated": S.t("isolated")}
        for v in _lisa_variables(sub, S)[:2]:
            frame = sub[sub["variable"] == v].rename(columns={rcol: R, "year": Y})
            categorical(f"lisa:{v}", f"{S.t('lisa')}: {v}", frame, "cluster", order, LISA_COLOURS, disp)
    if not variables:
        return None
    initial = "h" if "h" in variables else next(iter(variables))
    regions = [{"id": r, "name": S.names.get(r, r)} for r in ids]
    return {"regions": regions, "periods": [p if isinstance(p, (int, str)) else str(p) for p in
                                            [int(p) if isinstance(p, (np.integer,)) else p for p in periods]],
            "variables": variables, "initial": initial, "labels": {"period": S.t("period")}}


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
    sections, missing, timing = [], [], {}
    import matplotlib.pyplot as plt

    with plt.rc_context(writer.rc()):
        mdata = _map_data(S)
        if mdata is not None:
            from .maps import svg_layers

            svg = svg_layers(S.geometry, lang=lang)
            msec = Section("map", S.t("s_map"), [map_html(mdata, svg["paths"], svg["width"], svg["height"],
                                                          lang=lang, layers=svg)])
            sections.append(msec)
        for key in ctx.progress(list(SECTIONS), total=len(SECTIONS), desc="report"):
            ts = time.perf_counter()
            try:
                sec = _BUILDERS[key](S)
            except ConfigError:
                raise
            except Exception as exc:  # noqa: BLE001 - one broken section must not lose the whole report
                plt.close("all")
                out.warnings.append(f"report section '{key}' could not be built ({type(exc).__name__}: {exc}); "
                                    "the other sections were written")
                sec = Section(key, S.t(f"s_{key}"), [text_html(
                    f"This section could not be built: {type(exc).__name__}: {exc}", "note")])
            timing[key] = round(time.perf_counter() - ts, 3)
            if sec is None:
                missing.append(S.t(f"s_{key}"))
            else:
                sec.blocks = [b for b in sec.blocks if b]
                sections.append(sec)
    gpkg = _write_gpkg(S, out_dir, out)
    font_warning = policy.warning()
    if font_warning:
        warnings.warn(font_warning, fonts.FontWarning, stacklevel=2)
    title = opts["title"] or ctx.config.get("name") or S.t("report")
    banner = S.t("synthetic") if _synthetic(ctx) else None
    latex_files = []
    if opts["latex"]:
        from .latex import write_latex

        latex_files = write_latex(ctx.tables or {}, out_dir / "latex", lang=lang)
        if latex_files:
            for sec in sections:
                if sec.key in ("haken", "spatial_haken"):
                    sec.blocks.append(text_html(S.t("latex"), "note"))
    from .._version import __version__

    found = _findings_first(S, sections)  # the findings section opens the page (nqpspatial.report.findings)
    page = render_page(title=str(title), sections=sections, missing=missing, banner=banner, lang=lang,
                       footer=f"{S.t('generated')} {__version__}")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.html").write_text(page, encoding="utf-8")
    docx_info = _write_docx(S, out_dir, found, str(title), banner, f"{S.t('generated')} {__version__}")
    out.notes.extend(S.notes)
    if missing:
        out.notes.append(f"report: sections without data: {', '.join(missing)}")
    out.info = {"html": "report.html", "bytes": len(page.encode("utf-8")), "language": lang,
                "figure_language": fig_lang, "font": font, "map_years": [int(y) if isinstance(y, (int, np.integer))
                                                                         else str(y) for y in S.years],
                "sections": [s.key for s in sections], "sections_without_data":
                    [k for k in SECTIONS if S.t(f"s_{k}") in missing],
                "figures": list(writer.written), "latex": latex_files, "synthetic_banner": banner is not None,
                "section_seconds": timing, "gpkg": gpkg, "docx": docx_info,
                "findings": [{"key": f.key, "kind": f.kind} for f in found],
                "seconds": round(time.perf_counter() - t0, 3)}
    return out


def _findings_first(S: _Ctx, sections: list) -> list:
    """The run's findings (:func:`nqpspatial.report.findings.findings`), inserted as the first section."""
    cfg = S.ctx.config or {}
    sh = cfg.get("spatial_haken") if isinstance(cfg.get("spatial_haken"), dict) else {}
    alpha = (cfg.get("haken") or {}).get("alpha", 0.05) if isinstance(cfg.get("haken"), dict) else 0.05
    found = findings(S.ctx.tables or {}, lang=S.lang, region_names=S.names, alpha=float(alpha),
                     reading=sh.get("reading"))
    sections.insert(0, Section("findings", FINDINGS_TEXT[S.lang]["heading"], [findings_html(found, S.lang)]))
    return found


def _write_docx(S: _Ctx, out_dir, found, title, banner, footer) -> dict | None:
    """``report.docx`` next to report.html (:mod:`nqpspatial.report.docx`) when ``[report] docx`` is true."""
    if not S.opts["docx"]:
        return None
    from .docx import docx_tables, main_figures, write_docx

    sh = (S.ctx.config or {}).get("spatial_haken")
    tabs = docx_tables(S.ctx.tables or {}, S.lang, reading=sh.get("reading") if isinstance(sh, dict) else None)
    figs = main_figures(S.pngs)
    size = write_docx(out_dir / "report.docx", title=title, findings=found, tables=tabs, figures=figs, lang=S.lang,
                      banner=banner, footer=footer)
    return {"file": "report.docx", "bytes": size, "tables": [t.name for t in tabs], "figures": [f[0] for f in figs]}


def _write_gpkg(S: _Ctx, out_dir, out: StageOutput) -> dict | None:
    """``regions.gpkg`` (see :mod:`nqpspatial.report.gis`) when boundaries are known."""
    if S.geometry is None or getattr(S.geometry, "crs", None) is None:
        return None
    from .gis import write_regions_gpkg

    try:
        layers = write_regions_gpkg(out_dir / "regions.gpkg", S.geometry, S.ctx.tables or {}, region=S.region,
                                    year=S.year, scheme=S.ctx.scheme, names=S.names)
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
