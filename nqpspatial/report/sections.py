"""Report sections of the core: data and weights (the report's own) and the Haken stage's.

The Haken stage contributes its sections through ``report_sections``
(:func:`haken_sections`); the report core orders and renders them.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..artifacts import HakenOutcome
from .html import Section, facts_html, table_html, text_html
from .tables import regression_html
from .view import ReportView, _table, escape, wide_values

__all__ = ["data_section", "weights_section", "haken_sections", "grade_order", "grade_colours"]


def _sec_data(S: ReportView) -> Section | None:
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


def _sec_weights(S: ReportView) -> Section | None:
    w = _table(S.ctx, "indicator_weights")
    if w is None:
        return None
    from .figures import weights_figure

    sec = Section("weights", S.t("s_weights"))
    labels = {}
    ind = S.ctx.indicators
    if isinstance(ind, pd.DataFrame) and {"indicator", "label"} <= set(ind.columns):
        labels = {
            i: (f"{i} {lab}" if isinstance(lab, str) and lab else i) for i, lab in zip(ind["indicator"], ind["label"])
        }
    if S.opts["figures"]:
        fig = weights_figure(w, S.fig_lang, labels, policy=S.writer.policy)
        sec.blocks.append(S.figure(fig, "weights", S.t("s_weights")))
    sec.blocks.append(table_html(w, name="indicator_weights", max_rows=200, lang=S.lang))
    return sec


def _potential_sources(S: ReportView):
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
    v = -lin * roots + 0.5 * A * roots**2 + 0.25 * B * roots**4
    return pd.DataFrame({"q1": roots, "V": v, "stable": (A + 3 * B * roots**2) > 0})


def _sec_haken(S: ReportView) -> Section | None:
    ident = _table(S.ctx, "haken_identification")
    est = _table(S.ctx, "haken_estimates")
    pot = _table(S.ctx, "haken_potential")
    if ident is None and est is None and pot is None:
        return None
    sec = Section("haken", S.t("s_haken"))
    if ident is not None:
        _identification_blocks(S, ident, sec)
    if est is not None:
        sec.blocks.append(table_html(est, name="haken_estimates", max_rows=80, lang=S.lang))
    sec.blocks.append(regression_html(S.ctx.tables or {}, S.lang))  # esttab-style (nqpspatial.report.tables)
    if pot is not None:
        facts = _potential_facts(S, pot)
        if facts is not None and len(pot) == 1:
            sec.blocks.append(facts_html(facts))
        sec.blocks.append(table_html(pot, name="haken_potential", max_rows=40, lang=S.lang))
    if S.opts["figures"]:
        sources = _potential_sources(S)
        if sources:
            sec.blocks.append(_potential_block(S, sources))
    return sec


def _identification_blocks(S: ReportView, ident: pd.DataFrame, sec: Section) -> None:
    """The chosen ordering (or that none passes) and the identification table with it highlighted."""
    chosen = (
        ident["chosen"].astype("boolean").fillna(False).astype(bool)
        if "chosen" in ident.columns
        else pd.Series(False, index=ident.index)
    )
    if S.pair is not None:
        sec.blocks.append(text_html(f"{S.t('chosen')}: q1 = {S.pair[0]}, q2 = {S.pair[1]}"))
    elif "chosen" in ident.columns:
        sec.blocks.append(text_html(S.t("none_passes"), "note"))
    sec.blocks.append(
        table_html(ident, name="haken_identification", max_rows=60, lang=S.lang, highlight=chosen.to_numpy())
    )


def _potential_facts(S: ReportView, pot: pd.DataFrame) -> dict | None:
    """Case (with its label), stable point and map stability of the first potential row."""
    if "case_label" not in pot.columns and "case" not in pot.columns:
        return None
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
    star_text = (
        S.t("none_exists")
        if star is None or pd.isna(star)
        else f"q1* = {float(star):.4f}, V* = {float(row.get('V_star')):.4f}"
    )
    facts = {S.t("case"): f"{case}: {lab}" if lab else case, S.t("stable_point"): star_text}
    if "map_stable" in pot.columns:
        facts["map_stable"] = row.get("map_stable")
    return facts


def _potential_block(S: ReportView, sources) -> str:
    """The potential figure: the curves, their stationary points and the regions in the last period."""
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
    curves = [(lab, q, lin * q + 0.5 * A * q**2 + 0.25 * B * q**4) for lab, lin, A, B in sources]
    stat = stat[(stat["q1"] >= q[0]) & (stat["q1"] <= q[-1])]
    if points is not None:
        if "V" in coev.columns and len(sources) == 1:
            points["V"] = coev.loc[coev[S.year] == last, "V"].astype(float).to_numpy()
        else:
            _lab, lin, A, B = sources[0]
            x = points["q1"].to_numpy()
            points["V"] = lin * x + 0.5 * A * x**2 + 0.25 * B * x**4
            if len(sources) > 1:
                points = None
    title = S.ft("potential") + (f" ({last})" if points is not None else "")
    fig = potential_figure(curves, stat, points, title=title, lang=S.fig_lang, names=S.fig_names)
    return S.figure(fig, "potential", S.t("potential"))


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


def _sec_coevolution(S: ReportView) -> Section | None:
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
                vals = wide_values(coev, var, R, Y, S.years)
                vals = {y: pd.to_numeric(v, errors="coerce").astype(float) for y, v in vals.items()}
                fig = choropleth(
                    S.geoms,
                    vals,
                    title=S.var_label(var, fig=True),
                    legend_title=f"{var} ({S.ft('index_unit')})" if var != "h" or _unit_interval(coev[var]) else var,
                    lang=S.fig_lang,
                    layout=S.layout,
                )
                sec.blocks.append(S.figure(fig, f"map_{var}", f"{S.var_label(var)}: {', '.join(map(str, S.years))}"))
            if "grade" in coev.columns and coev["grade"].notna().any():
                order, disp = _grade_order(coev, S.fig_lang)
                cols = _grade_colours(order)
                vals = wide_values(coev, "grade", R, Y, S.years)
                fig = categorical_map(
                    S.geoms,
                    vals,
                    categories=order,
                    colours=cols,
                    labels=disp,
                    title=S.ft("grade"),
                    legend_title=S.ft("grade"),
                    lang=S.fig_lang,
                    layout=S.layout,
                )
                sec.blocks.append(S.figure(fig, "map_grade", S.t("grade")))
        elif S.geoms is None:
            sec.blocks.append(text_html(S.t("no_geometry"), "note"))
        num = [c for c in ("q1", "q2", "V", "d", "h") if c in coev.columns]
        if num:
            means = coev.groupby(Y, sort=True)[num].mean().reset_index()
            sec.blocks.append("<h3>" + escape(f"{S.t('national')}: mean") + "</h3>")
            sec.blocks.append(table_html(means, name="coevolution", max_rows=60, lang=S.lang))
        if "grade" in coev.columns and coev["grade"].notna().any() and S.years:
            order, disp = _grade_order(coev, S.lang)
            sub = coev[coev[Y].isin(S.years)]
            counts = pd.crosstab(sub["grade"], sub[Y]).reindex(order).fillna(0).astype(int)
            counts.index = [disp.get(x, x) for x in counts.index]
            counts = counts.rename_axis(S.t("grade")).reset_index()
            counts.columns = [str(c) for c in counts.columns]
            sec.blocks.append("<h3>" + escape(S.t("grade")) + "</h3>")
            sec.blocks.append(table_html(counts, name="coevolution", max_rows=20, lang=S.lang))
        show = coev[coev[Y] == S.periods[-1]] if S.periods else coev
        show = show.assign(**{R: show[R].map(lambda r: S.names.get(str(r), r))}) if R in show.columns else show
        sec.blocks.append("<h3>" + escape(f"{S.periods[-1] if S.periods else ''}") + "</h3>")
        sec.blocks.append(table_html(show, name="coevolution", max_rows=60, lang=S.lang))
    if cc is not None:
        num = [c for c in ("U1", "U2", "C", "C_corrected", "T", "D", "D_corrected") if c in cc.columns]
        sec.blocks.append("<h3>" + escape("Coupling coordination (national mean)") + "</h3>")
        if num and Y in cc.columns:
            sec.blocks.append(
                table_html(
                    cc.groupby(Y, sort=True)[num].mean().reset_index(),
                    name="coupling_coordination",
                    max_rows=60,
                    lang=S.lang,
                )
            )
        else:
            sec.blocks.append(table_html(cc, name="coupling_coordination", lang=S.lang))
    return sec


def _unit_interval(s) -> bool:
    v = pd.to_numeric(s, errors="coerce").dropna()
    return bool(len(v)) and v.min() >= -1e-12 and v.max() <= 1 + 1e-12


def _sec_stages(S: ReportView) -> Section | None:
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


def data_section(S: ReportView) -> Section:
    """The data section (empty without a panel)."""
    return _sec_data(S) or Section("data", S.t("s_data"))


def weights_section(S: ReportView) -> Section:
    """The indicator-weights section (empty without the weights table)."""
    return _sec_weights(S) or Section("weights", S.t("s_weights"))


def haken_sections(S: ReportView) -> list[Section]:
    """The Haken stage's sections: identification and potential, co-evolution, stages (each empty without data)."""
    return [
        _sec_haken(S) or Section("haken", S.t("s_haken")),
        _sec_coevolution(S) or Section("coevolution", S.t("s_coevolution")),
        _sec_stages(S) or Section("stages", S.t("s_stages")),
    ]


#: Public names of the grade helpers (the interactive map uses them too).
grade_order = _grade_order
grade_colours = _grade_colours
