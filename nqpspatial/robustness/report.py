"""The robustness section of the report (weight sensitivity and the robustness table)."""

from __future__ import annotations

from ..artifacts import RobustnessOutcome, SensitivityOutcome
from ..report.view import ReportView, Section, escape, table_html

__all__ = ["robustness_sections"]


def _sec_robustness(S: ReportView) -> Section | None:
    names = [n for n in sorted(S.ctx.tables or {}) if n.startswith("sensitivity_") or n.startswith("robustness")]
    tabs = {n: S.table(n) for n in names}
    tabs = {n: t for n, t in tabs.items() if t is not None}
    if not tabs:
        return None
    sec = Section("robustness", S.t("s_robustness"))
    sens = getattr(S.ctx.get(SensitivityOutcome), "results", None)
    rob = getattr(S.ctx.get(RobustnessOutcome), "results", None)
    if S.opts["figures"] and getattr(sens, "draws", None) is not None and len(sens.draws):
        from .stage import sensitivity_figure

        fig = sensitivity_figure(sens, ratio_label=S.ft("sens_ratio"), rank_label=S.ft("sens_rank"))
        sec.blocks.append(S.figure(fig, "sensitivity", S.t("sensitivity")))
    if S.opts["figures"] and getattr(rob, "table", None) is not None and len(rob.table):
        from .table import plot_robustness

        min_ratio = (S.ctx.config.get("haken") or {}).get("min_ratio", 1.0)  # the validated [haken] spec
        title = S.ft("rob_title", q1=rob.order[0], q2=rob.order[1]) if rob.order else None
        fig = plot_robustness(rob, None, min_ratio=min_ratio, xlabel=S.ft("rob_ratio"), title=title)
        sec.blocks.append(S.figure(fig, "robustness", S.t("robustness")))
    for n, t in tabs.items():
        sec.blocks.append(f"<h3>{escape(n)}</h3>")
        sec.blocks.append(table_html(t, name=n, max_rows=60, lang=S.lang))
    return sec


def robustness_sections(S) -> list:
    """The robustness section (the sensitivity and robustness stages both contribute it; the report keeps one)."""
    return [_sec_robustness(S) or Section("robustness", S.t("s_robustness"))]
