"""Report sections of the field's toolkit: centres and ellipses, the geographical detector, the networks."""

from __future__ import annotations

from nqpspatial.report.view import Section, escape, table_html, text_html

__all__ = ["centres_sections", "detector_sections", "network_sections"]

_TITLES = {
    "centres": {"en": "Gravity centres and standard deviational ellipses", "zh": "重心迁移与标准差椭圆"},
    "detector": {"en": "Geographical detector", "zh": "地理探测器"},
    "network": {"en": "Spatial association network", "zh": "空间关联网络"},
}


def _section(key: str, S) -> Section:
    return Section(key, _TITLES[key]["zh" if S.lang == "zh" else "en"])


def _tables(sec: Section, S, names, max_rows: int = 30) -> None:
    for n in names:
        t = S.table(n)
        if t is not None:
            sec.blocks.append(f"<h3>{escape(n)}</h3>")
            sec.blocks.append(table_html(t, name=n, max_rows=max_rows, lang=S.lang))


def centres_sections(S) -> list:
    """The centres section: the centre paths and ellipses map, then the tables."""
    from .centres import plot_centres
    from .stage import CentresOutcome

    sec = _section("centres", S)
    res = S.ctx.get(CentresOutcome)
    if res is not None and S.opts["figures"]:
        variables = res.results.options.get("variables") or []
        for v in variables[:2]:
            fig = plot_centres(res.results, S.geometry, variable=v, years=S.years or None, language=S.fig_lang)
            sec.blocks.append(S.figure(fig, f"centres_{v}", f"{_section('centres', S).title}: {v}"))
    _tables(sec, S, ("centres", "ellipses"))
    return [sec]


def detector_sections(S) -> list:
    """The detector section: the interaction heat map, then the factor and interaction tables."""
    from .detector import plot_interactions
    from .stage import DetectorOutcome

    sec = _section("detector", S)
    res = S.ctx.get(DetectorOutcome)
    if res is not None and S.opts["figures"]:
        fig = plot_interactions(res.results, language=S.fig_lang)
        sec.blocks.append(S.figure(fig, "detector_interactions", _section("detector", S).title))
    _tables(sec, S, ("detector_factors", "detector_interactions", "detector_risk", "detector_ecological"))
    return [sec]


def network_sections(S) -> list:
    """The network section: the network drawn on the map, then the structure, node and block tables."""
    from .network import plot_network
    from .stage import NetworkOutcome

    sec = _section("network", S)
    res = S.ctx.get(NetworkOutcome)
    if res is not None and S.opts["figures"] and res.results:
        v, nr = next(iter(res.results.items()))
        fig = plot_network(nr, res.points, S.geometry, variable=v, crs=res.crs, language=S.fig_lang)
        sec.blocks.append(S.figure(fig, f"network_{v}", f"{_section('network', S).title}: {v}"))
    if S.table("network_edges") is not None:
        sec.blocks.append(text_html(f"network_edges: {len(S.table('network_edges'))} links (tables/network_edges.csv)"))
    _tables(sec, S, ("network_summary", "network_nodes", "network_blocks", "network_qap"))
    return [sec]
