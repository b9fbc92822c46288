"""``report.docx``: the findings, the main tables as three-line tables and the main figures, for Word.

Most Chinese journals take manuscripts in Word.  :func:`build_docx` writes
one document (A4, Times New Roman with SimSun for Chinese text) with

1. the title (and the synthetic-data banner when it applies);
2. the findings (:mod:`nqpspatial.report.findings`): warnings in bold,
   then the findings, then the lines naming analyses that did not run;
3. the main tables (:func:`docx_tables`): the Haken estimates as a
   regression table (:func:`nqpspatial.report.tables.haken_regression_table`)
   and compact forms of the identification, stable point, model selection,
   spatial effects, Moran's I and Dagum tables, each a three-line table;
4. the main figures (PNG), each with its caption and file name.

The file is byte-identical across reruns: the core properties carry fixed
times (2000-01-01) and the zip entries a fixed time stamp (1980-01-01), in
the order python-docx wrote them.
"""

from __future__ import annotations

import datetime as _dt
import io
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from .findings import TEXT, Finding
from .tables import TableModel, display_table, haken_regression_table, to_docx

__all__ = ["build_docx", "write_docx", "docx_tables", "main_figures", "DOCX_TABLES", "FIXED_TIME", "MAIN_FIGURES"]

#: Core-property time of every report.docx (reruns are byte-identical).
FIXED_TIME = _dt.datetime(2000, 1, 1, 0, 0, 0)
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)

#: Compact tables of report.docx after the regression table: name -> columns shown.
DOCX_TABLES: dict[str, list[str]] = {
    "haken_identification": [
        "q1",
        "q2",
        "ratio",
        "ratio_ci_low",
        "ratio_ci_high",
        "verdict_share",
        "adiabatic",
        "chosen",
        "case",
        "se_method",
    ],
    "haken_potential": ["region", "group", "q1", "q2", "case", "q1_star", "V_star", "map_stable"],
    "model_selection": ["weights", "q1", "q2", "equation", "scope", "test", "statistic", "df", "p", "preferred"],
    "spatial_haken_identification": [
        "model",
        "weights",
        "reading",
        "q1",
        "q2",
        "ratio",
        "verdict_share",
        "adiabatic",
        "chosen",
        "case",
    ],
    "spatial_haken_potential": [
        "model",
        "weights",
        "reading",
        "q1",
        "q2",
        "case",
        "q1_star",
        "q1_star_low",
        "q1_star_high",
        "stable_share",
        "map_stable",
    ],
    "spatial_haken_marginal_effects": [
        "model",
        "weights",
        "equation",
        "wrt",
        "effect",
        "estimate",
        "ci_low",
        "ci_high",
        "p",
    ],
    "moran_global": ["variable", "weights", "year", "I", "z_norm", "p_norm", "p_sim"],
    "dagum_gini": ["variable", "scheme", "year", "G", "share_within", "share_between", "share_transvariation"],
}
#: Figures of report.docx, by file stem (a trailing ``*`` takes the first stem with that prefix).
MAIN_FIGURES = ("potential", "map_h", "trajectories", "moran_global", "lisa_*", "dagum_*", "sensitivity", "robustness")
_MAX_ROWS = 60
_WORDS = {
    "en": {
        "tables": "Tables",
        "figures": "Figures",
        "table": "Table",
        "figure": "Figure",
        "warning": "Warning: ",
        "rows": "First {shown} of {total} rows; the full table is tables/{name}.csv.",
    },
    "zh": {
        "tables": "表格",
        "figures": "图",
        "table": "表",
        "figure": "图",
        "warning": "警示：",
        "rows": "显示前 {shown} 行，共 {total} 行；完整表格见 tables/{name}.csv。",
    },
}


def _present(tables, name):
    t = tables.get(name)
    return t if isinstance(t, pd.DataFrame) and len(t) else None


def docx_tables(
    tables: Mapping[str, pd.DataFrame], lang: str = "en", *, reading: str | None = None, max_rows: int = _MAX_ROWS
) -> list[TableModel]:
    """The main tables of report.docx, as table models (absent tables are left out).

    Tables of effects, stable points and model selection show the study's
    ordering (the chosen one; the caption names it); the identification
    tables show every ordering.

    Parameters
    ----------
    tables : mapping of str to pandas.DataFrame
        The run's output tables.
    lang : {"en", "zh"}
    reading : str, optional
        Rows of this spatial reading only (tables with a ``reading`` column);
        default the first reading listed.
    max_rows : int, default 60
        Rows per table (a note names the full CSV when cut).

    Returns
    -------
    list of TableModel
    """
    pair = _pair(tables)
    out = []
    reg = haken_regression_table(tables, lang, pair=pair)
    if reg is not None:
        out.append(reg)
    for name, cols in DOCX_TABLES.items():
        tab = _present(tables, name)
        if name == "spatial_haken_marginal_effects" and tab is None:
            name, tab = "spatial_haken_effects", _present(tables, "spatial_haken_effects")
            cols = ["model", "weights", "equation", "term", "effect", "estimate", "ci_low", "ci_high", "p"]
        if tab is None:
            continue
        tab, title = _focus(tab, name, lang, pair, reading)
        keep = [c for c in cols if c in tab.columns and tab[c].notna().any()]
        out.append(display_table(tab, name, lang, max_rows=max_rows, columns=keep or None, title=title))
    return out


def _pair(tables):
    from .tables import _default_pair

    return _default_pair(tables)


_ONE_ORDERING = (
    "haken_potential",
    "model_selection",
    "spatial_haken_potential",
    "spatial_haken_marginal_effects",
    "spatial_haken_effects",
)


def _focus(tab: pd.DataFrame, name: str, lang: str, pair, reading):
    """The rows report.docx shows (one reading, the study's ordering, h's Moran's I) and the caption."""
    from .tables import CAPTIONS

    title = CAPTIONS[name][lang == "zh"] if name in CAPTIONS else name
    if "reading" in tab.columns and tab["reading"].notna().any():
        rd = reading if reading in set(tab["reading"].astype(str)) else str(tab["reading"].dropna().iloc[0])
        tab = tab[tab["reading"].isna() | (tab["reading"].astype(str) == rd)]
    if name in _ONE_ORDERING and pair is not None and {"q1", "q2"} <= set(tab.columns):
        sub = tab[(tab["q1"].astype(str) == pair[0]) & (tab["q2"].astype(str) == pair[1])]
        if len(sub):
            tab = sub
            title += f" (q1 = {pair[0]}, q2 = {pair[1]})"
    if name == "moran_global" and "variable" in tab.columns and "h" in set(tab["variable"].astype(str)):
        tab = tab[tab["variable"].astype(str) == "h"]
    return tab, title


def main_figures(figures: Mapping[str, tuple[bytes, str]]) -> list[tuple[str, bytes, str]]:
    """(stem, PNG bytes, caption) of the figures of :data:`MAIN_FIGURES` that were drawn, in that order."""
    out = []
    for want in MAIN_FIGURES:
        if want.endswith("*"):
            stem = next((s for s in figures if s.startswith(want[:-1])), None)
        else:
            stem = want if want in figures else None
        if stem is not None and all(stem != s for s, _, _ in out):
            png, caption = figures[stem]
            out.append((stem, png, caption))
    return out


def _fonts(document, lang: str) -> None:
    """Times New Roman for Latin text, SimSun (宋体) for Chinese, in the body and heading styles."""
    from docx.oxml.ns import qn
    from docx.shared import Pt

    for name in ("Normal", "Title", "Heading 1", "Heading 2"):
        try:
            style = document.styles[name]
        except KeyError:  # pragma: no cover - python-docx's default template has them
            continue
        style.font.name = "Times New Roman"
        rfonts = style.element.get_or_add_rPr().get_or_add_rFonts()
        rfonts.set(qn("w:eastAsia"), "SimSun")
        if name == "Normal":
            style.font.size = Pt(10.5 if lang == "zh" else 11)


def _page(document) -> None:
    from docx.shared import Cm

    for section in document.sections:
        section.page_width, section.page_height = Cm(21.0), Cm(29.7)
        for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
            setattr(section, side, Cm(2.5))


def _core(document, title: str) -> None:
    cp = document.core_properties
    cp.title = title
    cp.author = "nqpspatial"
    cp.last_modified_by = "nqpspatial"
    cp.comments = ""
    cp.revision = 1
    cp.created = FIXED_TIME
    cp.modified = FIXED_TIME
    cp.last_printed = FIXED_TIME


def _findings(document, items: Sequence[Finding], lang: str) -> None:
    from docx.shared import RGBColor

    words = _WORDS[lang]
    document.add_heading(TEXT[lang]["heading"], level=1)
    for f in [f for f in items if f.kind == "warning"]:
        p = document.add_paragraph()
        run = p.add_run(words["warning"] + f.text)
        run.bold = True
        run.font.color.rgb = RGBColor(0x9C, 0x3D, 0x00)
    for f in [f for f in items if f.kind == "finding"]:
        document.add_paragraph(f.text)
    missing = [f for f in items if f.kind == "missing"]
    if missing:
        document.add_heading(TEXT[lang]["not_available"], level=2)
        for f in missing:
            run = document.add_paragraph().add_run(f.text)
            run.italic = True
            run.font.color.rgb = RGBColor(0x59, 0x59, 0x59)


def build_docx(
    *,
    title: str,
    findings: Sequence[Finding] = (),
    tables: Sequence[TableModel] = (),
    figures: Sequence[tuple[str, bytes, str]] = (),
    lang: str = "en",
    banner: str | None = None,
    footer: str = "",
) -> bytes:
    """The bytes of report.docx.

    Parameters
    ----------
    title : str
        Document title.
    findings : sequence of Finding
    tables : sequence of TableModel
        Rendered as three-line tables, numbered "Table 1", ...
    figures : sequence of (stem, PNG bytes, caption)
        Placed 15 cm wide, numbered "Figure 1", ..., the caption naming
        ``figures/<stem>.*``.
    lang : {"en", "zh"}
    banner : str, optional
        Shown under the title in bold (the synthetic-data warning).
    footer : str
        Last paragraph (e.g. the nqpspatial version).

    Returns
    -------
    bytes
        A .docx file whose bytes depend only on the arguments.
    """
    import docx
    from docx.shared import Cm, Pt, RGBColor

    lang = lang if lang in _WORDS else "en"
    words = _WORDS[lang]
    document = docx.Document()
    _fonts(document, lang)
    _page(document)
    _core(document, title)
    document.add_heading(title, level=0)
    if banner:
        run = document.add_paragraph().add_run(banner)
        run.bold = True
        run.font.color.rgb = RGBColor(0x9C, 0x3D, 0x00)
    _findings(document, findings, lang)
    if tables:
        document.add_heading(words["tables"], level=1)
        for i, table in enumerate(tables):
            note = (
                words["rows"].format(shown=len(table.rows), total=table.total_rows, name=table.name)
                if table.total_rows is not None
                else None
            )
            to_docx(table, document, caption_prefix=f"{words['table']} {i + 1}. ", rows_note=note)
            document.add_paragraph()
    if figures:
        document.add_heading(words["figures"], level=1)
        for i, (stem, png, caption) in enumerate(figures):
            document.add_picture(io.BytesIO(png), width=Cm(15))
            cap = document.add_paragraph()
            cap.add_run(f"{words['figure']} {i + 1}. {caption}").bold = True
            cap.add_run(f" (figures/{stem}.*)").font.size = Pt(8)
    if footer:
        document.add_paragraph(footer).runs[0].font.size = Pt(8)
    buf = io.BytesIO()
    document.save(buf)
    return _fixed_zip(buf.getvalue())


def _fixed_zip(data: bytes) -> bytes:
    """The same zip with every entry's time stamp and attributes fixed (entries in their order)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            entry.create_system = 3
            dst.writestr(entry, src.read(info.filename))
    return out.getvalue()


def write_docx(path, **kwargs) -> int:
    """Write :func:`build_docx` ``(**kwargs)`` to ``path``; return the number of bytes written."""
    data = build_docx(**kwargs)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return len(data)
