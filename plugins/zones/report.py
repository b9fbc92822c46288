"""The zones stage's report section."""

from __future__ import annotations

import pandas as pd

from nqpspatial.report.view import ReportView, Section, escape, preferred_variables, table_html, text_html

__all__ = ["zones_sections"]

_MAX_ZONE_VARS = 2  # zone figures per kind (keeps the report's run time bounded)


_ZONE_TABLES = (
    "zones_summary",
    "dagum_gini",
    "dagum_pairs",
    "theil",
    "theil_groups",
    "clusters",
    "clusters_vs_zones",
    "markov_transitions",
    "markov_classes",
    "spatial_markov",
    "density",
    "density_curves",
    "convergence",
    "obstacles",
    "zones_haken_fits",
    "zones_turning_points",
)


def _sec_zones(S: ReportView) -> Section | None:
    tabs = {n: S.table(n) for n in _ZONE_TABLES}
    if all(t is None for t in tabs.values()):
        return None
    sec = Section("zones", S.t("s_zones"))
    if S.ctx.scheme_name:
        sec.blocks.append(text_html(f"scheme: {S.ctx.scheme_name}"))
    for part in (_inequality_blocks, _cluster_blocks, _markov_blocks, _distribution_blocks):
        sec.blocks.extend(part(S, tabs))
    return sec


def _inequality_blocks(S: ReportView, tabs: dict) -> list:
    """Zone summary, Dagum Gini (figures and table), Dagum pairs and Theil of the last mapped year."""
    from nqpspatial.report import figures as F

    blocks = []
    zs = tabs["zones_summary"]
    if zs is not None:
        sub = zs[zs["year"].isin(S.years)] if "year" in zs.columns and S.years else zs
        blocks += ["<h3>zones_summary</h3>", table_html(sub, name="zones_summary", max_rows=40, lang=S.lang)]
    dg = tabs["dagum_gini"]
    if dg is not None:
        blocks.append("<h3>" + escape(S.t("dagum")) + "</h3>")
        if S.opts["figures"]:
            for v in preferred_variables(dg, S, _MAX_ZONE_VARS):
                blocks.append(S.figure(F.dagum_figure(dg, v, lang=S.fig_lang), f"dagum_{v}", f"{S.t('dagum')}: {v}"))
        blocks.append(table_html(dg, name="dagum_gini", max_rows=30, lang=S.lang))
    for n in ("dagum_pairs", "theil"):
        if tabs[n] is not None:
            t = tabs[n]
            if "year" in t.columns and S.years:
                t = t[t["year"] == S.years[-1]]
            blocks += [f"<h3>{escape(n)}</h3>", table_html(t, name=n, max_rows=40, lang=S.lang)]
    return blocks


def _cluster_blocks(S: ReportView, tabs: dict) -> list:
    """The cluster map (up to six methods, one variable) and the clusters-versus-zones agreement."""
    blocks = []
    cl = tabs["clusters"]
    if cl is not None and {"method", "cluster"} <= set(cl.columns):
        rcol = "region" if "region" in cl.columns else S.region
        if S.opts["figures"] and S.geoms is not None and rcol in cl.columns:
            blocks.append(_cluster_map(S, cl, rcol))
    if tabs["clusters_vs_zones"] is not None:
        t = tabs["clusters_vs_zones"]
        if "ari" in t.columns and "method" in t.columns:
            t = t.dropna(subset=["ari"]).drop_duplicates(["method", *(["variable"] if "variable" in t.columns else [])])
            t = t[[c for c in ("variable", "method", "scheme", "ari") if c in t.columns]]
        blocks += ["<h3>clusters_vs_zones</h3>", table_html(t, name="clusters_vs_zones", max_rows=30, lang=S.lang)]
    return blocks


def _cluster_map(S: ReportView, cl: pd.DataFrame, rcol: str) -> str:
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    from nqpspatial.report.maps import categorical_map

    cl_var = None
    if "variable" in cl.columns:
        cl_var = preferred_variables(cl, S, _MAX_ZONE_VARS)[0]
        cl = cl[cl["variable"] == cl_var]
    methods = list(pd.unique(cl["method"]))[:6]
    vals = {}
    for m in methods:
        s = cl[cl["method"] == m]
        vals[m] = pd.Series(s["cluster"].astype(str).to_numpy(), index=s[rcol].map(str).to_numpy())
    cats = sorted({c for v in vals.values() for c in v.dropna()}, key=lambda c: (len(c), c))
    cmap = colormaps["tab20"]
    colours = {c: to_hex(cmap(i % 20)) for i, c in enumerate(cats)}
    ctitle = "clusters" + (f": {cl_var}" if cl_var is not None else "")
    fig = categorical_map(
        S.geoms,
        vals,
        categories=cats,
        colours=colours,
        title=ctitle,
        legend_title="cluster",
        lang=S.fig_lang,
        layout=S.layout,
    )
    return S.figure(fig, "clusters", ctitle)


def _markov_blocks(S: ReportView, tabs: dict) -> list:
    """Markov transition figures (classic; LISA for the first variable) or the table, and spatial Markov tests."""
    from nqpspatial.report import figures as F

    blocks = []
    mk = tabs["markov_transitions"]
    if mk is not None:
        blocks.append("<h3>" + escape(S.t("markov")) + "</h3>")
        if S.opts["figures"]:
            for i, v in enumerate(preferred_variables(mk, S, _MAX_ZONE_VARS)):
                for kind in ("classic", "lisa") if i == 0 else ("classic",):
                    fig = F.markov_figure(
                        mk,
                        v,
                        kind,
                        lang=S.fig_lang,
                        title=f"{S.ft('markov')}: {v}" + (" (LISA)" if kind == "lisa" else ""),
                    )
                    blocks.append(S.figure(fig, f"markov_{kind}_{v}", f"{S.t('markov')}: {v} ({kind})"))
        else:
            blocks.append(table_html(mk, name="markov_transitions", max_rows=40, lang=S.lang))
    sm = tabs["spatial_markov"]
    if sm is not None:
        t = sm[sm["row_type"] == "test"] if "row_type" in sm.columns else sm
        blocks += ["<h3>spatial_markov</h3>", table_html(t, name="spatial_markov", max_rows=40, lang=S.lang)]
    return blocks


def _distribution_blocks(S: ReportView, tabs: dict) -> list:
    """Kernel densities (figures or table), convergence, obstacle degrees and per-zone Haken tables."""
    from nqpspatial.report import figures as F

    blocks = []
    dc = tabs["density_curves"]
    if dc is not None and S.opts["figures"]:
        blocks.append("<h3>" + escape(S.t("density")) + "</h3>")
        for v in preferred_variables(dc, S, _MAX_ZONE_VARS):
            blocks.append(S.figure(F.density_figure(dc, v, lang=S.fig_lang), f"density_{v}", f"{S.t('density')}: {v}"))
    elif tabs["density"] is not None:
        blocks += ["<h3>density</h3>", table_html(tabs["density"], name="density", max_rows=30, lang=S.lang)]
    for n in ("convergence", "obstacles", "zones_haken_fits", "zones_turning_points"):
        t = tabs[n]
        if t is not None:
            if n == "obstacles" and "year" in t.columns and S.periods:
                t = t[t["year"] == S.periods[-1]]
            blocks += [f"<h3>{escape(n)}</h3>", table_html(t, name=n, max_rows=40, lang=S.lang)]
    return blocks


def zones_sections(S) -> list:
    """The zones stage's report section (empty without its tables)."""
    return [_sec_zones(S) or Section("zones", S.t("s_zones"))]
