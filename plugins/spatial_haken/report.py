"""The spatial Haken stage's report section."""

from __future__ import annotations

import pandas as pd

from nqpspatial.artifacts import SpatialHakenOutcome
from nqpspatial.report.view import ReportView, Section, escape, table_html, text_html

__all__ = ["spatial_haken_sections"]


def _spatial_reading(S: ReportView) -> str:
    """The spatial Haken stage's reading (``[spatial_haken] reading``, default "system")."""
    sh = S.ctx.get(SpatialHakenOutcome)
    if sh is not None:
        return sh.reading
    cfg = (S.ctx.config or {}).get("spatial_haken") or {}
    return cfg.get("reading", "system") if cfg.get("reading") in ("system", "local") else "system"


def _sec_spatial_haken(S: ReportView) -> Section | None:
    names = [
        "model_selection",
        "spatial_haken_identification",
        "spatial_haken_potential",
        "spatial_haken_estimates",
        "spatial_haken_effects",
        "spatial_haken_marginal_effects",
        "spatial_haken_diagnostics",
        "spatial_haken_bootstrap",
    ]
    tabs = {n: S.table(n) for n in names}
    ms = tabs["model_selection"]
    if ms is not None and {"scope", "test"} <= set(ms.columns):  # the decisions and the LR tests
        tabs["model_selection"] = ms[(ms["scope"] == "system") | ms["test"].astype(str).str.startswith("lr_")]
    if all(t is None for t in tabs.values()):
        return None
    sec = Section("spatial_haken", S.t("s_spatial_haken"))
    reading = _spatial_reading(S)
    if any(t is not None and "reading" in t.columns for t in tabs.values()):
        sec.blocks.append(text_html(S.t("spatial_reading").format(reading=reading, what=S.t(f"reading_{reading}"))))
    for n, t in tabs.items():
        if t is None:
            continue
        if "reading" in t.columns:  # the configured reading's rows (both are in the CSV)
            t = t[t["reading"].isna() | (t["reading"] == reading)]
        sec.blocks.append(f"<h3>{escape(n)}</h3>")
        hl = None
        if "p" in t.columns:
            hl = pd.to_numeric(t["p"], errors="coerce").lt(0.05).to_numpy()
        sec.blocks.append(table_html(t, name=n, max_rows=80, lang=S.lang, highlight=hl))
    return sec


def spatial_haken_sections(S) -> list:
    """The spatial Haken stage's report section (empty without its tables)."""
    return [_sec_spatial_haken(S) or Section("spatial_haken", S.t("s_spatial_haken"))]
