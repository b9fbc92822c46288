"""The GW-Haken report section: maps of the local parameters, verdicts and cases, and the tests."""

from __future__ import annotations

from nqpspatial.report.view import Section, escape, table_html

__all__ = ["local_haken_sections"]


def local_haken_sections(S) -> list:
    """The local Haken section (empty without the ``local_haken`` table)."""
    title = "地理加权哈肯模型" if S.lang == "zh" else "Geographically weighted Haken model"
    sec = Section("local_haken", title)
    tab = S.table("local_haken")
    if tab is None:
        return [sec]
    if S.opts["figures"] and S.geometry is not None:
        from .maps import local_haken_figures

        for name, fig in local_haken_figures(S.geometry, tab, lang=S.fig_lang, font=S.font).items():
            sec.blocks.append(S.figure(fig, name, f"{title}: {name.removeprefix('local_')}"))
    for n in ("local_haken_tests", "local_haken"):
        t = S.table(n)
        if t is not None:
            sec.blocks.append(f"<h3>{escape(n)}</h3>")
            sec.blocks.append(table_html(t, name=n, max_rows=40, lang=S.lang))
    return [sec]
