"""Frozen copy of nqpspatial/_xlsx.py before the column-vectorised sheets (issue 19): the slow reference.

Only the tests import it (tests/test_xlsx_writer.py compares the new writer with it, byte for byte).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Sequence
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd

_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument"
_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def column_letters(j: int) -> str:
    """Excel's column name of the 0-based column ``j`` (0 -> A, 25 -> Z, 26 -> AA)."""
    s = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        s = chr(65 + r) + s
    return s


def _text(v: str) -> str:
    v = _BAD_XML.sub(lambda m: f"_x{ord(m.group()):04X}_", v)
    return escape(v)


def _numbers(x: np.ndarray) -> list:
    """Exact text of each finite number (None for NaN and infinities): whole numbers below 1e15 as integers,
    the rest by Python's shortest round-trip ``repr``."""
    out = np.full(x.shape, None, dtype=object)
    fin = np.isfinite(x)
    whole = fin & (np.abs(x) < 1e15)
    whole[whole] = x[whole] == np.trunc(x[whole])
    out[whole] = x[whole].astype(np.int64).astype(str).astype(object)
    rest = fin & ~whole
    out[rest] = [repr(v) for v in x[rest].tolist()]
    return out.tolist()


def _column_cells(s: pd.Series, ref: str, rows: Sequence[str]) -> list[str]:
    """The XML of one column's cells (empty string for an empty cell)."""
    if pd.api.types.is_bool_dtype(s):
        vals = s.astype(object).tolist()
        return [
            "" if v is None or v is pd.NA or v != v else f'<c r="{ref}{r}" t="b"><v>{int(bool(v))}</v></c>'
            for v, r in zip(vals, rows)
        ]
    if pd.api.types.is_numeric_dtype(s):
        vals = _numbers(s.to_numpy(dtype=float, na_value=float("nan")))
        return [f'<c r="{ref}{r}"><v>{v}</v></c>' if v is not None else "" for v, r in zip(vals, rows)]
    vals = s.astype(object).tolist()
    out = []
    for v, r in zip(vals, rows):
        if v is None or v is pd.NA or (isinstance(v, float) and v != v):
            out.append("")
        else:
            out.append(f'<c r="{ref}{r}" t="inlineStr"><is><t xml:space="preserve">{_text(str(v))}</t></is></c>')
    return out


def sheet_rows(tab: pd.DataFrame, chunk: int = 20_000):
    """The worksheet part of one table in pieces: a header row of column names, then one row per table row.

    Rows are built ``chunk`` at a time, so memory stays bounded for long tables.
    """
    n, k = tab.shape
    refs = [column_letters(j) for j in range(k)]
    last = f"{refs[-1]}{n + 1}" if k else "A1"
    head = "".join(
        f'<c r="{ref}1" t="inlineStr"><is><t xml:space="preserve">{_text(str(c))}</t></is></c>'
        for ref, c in zip(refs, tab.columns)
    )
    yield (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<worksheet xmlns="{_NS}" xmlns:r="{_REL}"><dimension ref="A1:{last}"/><sheetData>'
        f'<row r="1">{head}</row>'
    )
    for a in range(0, n if k else 0, chunk):
        part = tab.iloc[a : a + chunk]
        rows = [str(i + 2) for i in range(a, a + len(part))]
        cols = [_column_cells(part.iloc[:, j], refs[j], rows) for j in range(k)]
        yield "".join(f'<row r="{r}">{"".join(cells)}</row>' for r, cells in zip(rows, zip(*cols)))
    yield "</sheetData></worksheet>"


_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<styleSheet xmlns="{_NS}">'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def _parts(sheets: Sequence[str], created: str) -> dict[str, str]:
    """Every part of the package but the worksheets."""
    sheet_ct = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{_CT}.spreadsheetml.worksheet+xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    return {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            f'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.spreadsheetml.sheet.main+xml"/>'
            f'<Override PartName="/xl/styles.xml" ContentType="{_CT}.spreadsheetml.styles+xml"/>'
            f"{sheet_ct}"
            '<Override PartName="/docProps/core.xml" '
            'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
            f'<Override PartName="/docProps/app.xml" ContentType="{_CT}.extended-properties+xml"/>'
            "</Types>"
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<Relationships xmlns="{_PKG_REL}">'
            f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
            '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/'
            'core-properties" Target="docProps/core.xml"/>'
            f'<Relationship Id="rId3" Type="{_REL}/extended-properties" Target="docProps/app.xml"/>'
            "</Relationships>"
        ),
        "docProps/core.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            "<dc:creator>nqpspatial</dc:creator>"
            f'<dcterms:created xsi:type="dcterms:W3CDTF">{created}</dcterms:created>'
            f'<dcterms:modified xsi:type="dcterms:W3CDTF">{created}</dcterms:modified>'
            "</cp:coreProperties>"
        ),
        "docProps/app.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
            "<Application>nqpspatial</Application></Properties>"
        ),
        "xl/workbook.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<workbook xmlns="{_NS}" xmlns:r="{_REL}"><sheets>'
            + "".join(
                f'<sheet name="{escape(s, {chr(34): "&quot;"})}" sheetId="{i}" r:id="rId{i}"/>'
                for i, s in enumerate(sheets, 1)
            )
            + "</sheets></workbook>"
        ),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<Relationships xmlns="{_PKG_REL}">'
            + "".join(
                f'<Relationship Id="rId{i}" Type="{_REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
                for i in range(1, len(sheets) + 1)
            )
            + f'<Relationship Id="rId{len(sheets) + 1}" Type="{_REL}/styles" Target="styles.xml"/>'
            "</Relationships>"
        ),
        "xl/styles.xml": _STYLES,
    }


def write_xlsx(path, sheets: Sequence[tuple[str, pd.DataFrame]], *, created: str) -> None:
    """Write ``(sheet name, table)`` pairs to one workbook.

    Parameters
    ----------
    path : str or pathlib.Path
        The ``.xlsx`` file (written whole; an existing file is replaced).
    sheets : sequence of (str, pandas.DataFrame)
        Valid, distinct sheet names (see :func:`nqpspatial.io.excel_sheet_name`) and their tables.
    created : str
        W3C date-time stored as the creation and modification time (fixed, for reproducible bytes).
    """
    names = [s for s, _ in sheets]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:

        def entry(name: str) -> zipfile.ZipInfo:
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            # fast deflate, read by ZipFile.open in write mode (compress_level from Python 3.13)
            setattr(info, "compress_level" if hasattr(info, "compress_level") else "_compresslevel", 1)
            return info

        parts = _parts(names, created)
        for name in (
            "[Content_Types].xml",
            "_rels/.rels",
            "docProps/app.xml",
            "docProps/core.xml",
            "xl/workbook.xml",
            "xl/_rels/workbook.xml.rels",
            "xl/styles.xml",
        ):
            zf.writestr(entry(name), parts[name].encode("utf-8"), compresslevel=1)
        for i, (_, tab) in enumerate(sheets, 1):
            with zf.open(entry(f"xl/worksheets/sheet{i}.xml"), "w", force_zip64=True) as fh:
                for piece in sheet_rows(tab):
                    fh.write(piece.encode("utf-8"))


__all__ = ["column_letters", "sheet_rows", "write_xlsx"]
