"""report.docx, [report] docx and the findings section of report.html on a synthetic run context."""

from __future__ import annotations

import io
import zipfile

import pytest
from test_report import _fake_tables

from nqpspatial.errors import ConfigError
from nqpspatial.report import build_report
from nqpspatial.report.docx import FIXED_TIME, build_docx
from nqpspatial.report.findings import Finding
from nqpspatial.testing import make_context

docx = pytest.importorskip("docx")


def _ctx(out_dir, lang="en"):
    ctx = make_context()
    ctx.tables = _fake_tables(ctx)
    ctx.config = {"name": "publish test", "report": {"language": lang}}
    ctx.out_dir = out_dir
    return ctx


def test_docx_is_written_by_default_and_byte_identical_on_rerun(tmp_path):
    outs = []
    for k in range(2):
        ctx = _ctx(tmp_path / f"run{k}")
        out = build_report(ctx, {"formats": ["png"]})
        assert out.info["docx"]["file"] == "report.docx"
        outs.append((tmp_path / f"run{k}" / "report.docx").read_bytes())
    assert outs[0] == outs[1]
    z = zipfile.ZipFile(io.BytesIO(outs[0]))
    assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    core = z.read("docProps/core.xml").decode("utf-8")
    assert "2000-01-01T00:00:00Z" in core and "<dc:creator>nqpspatial</dc:creator>" in core
    doc = docx.Document(io.BytesIO(outs[0]))
    assert doc.core_properties.created == FIXED_TIME.replace(tzinfo=doc.core_properties.created.tzinfo)
    assert doc.core_properties.title == "publish test"
    texts = [p.text for p in doc.paragraphs]
    assert "Findings" in texts and any(t.startswith("A is the order parameter and B the servo variable") for t in texts)
    assert doc.tables[0].cell(1, 1).text == "Aspatial"
    assert len(doc.inline_shapes) >= 4


def test_docx_switch_and_its_check(tmp_path):
    ctx = _ctx(tmp_path / "off")
    out = build_report(ctx, {"docx": False, "figures": False})
    assert out.info["docx"] is None and not (tmp_path / "off" / "report.docx").exists()
    assert (tmp_path / "off" / "report.html").exists()
    with pytest.raises(ConfigError, match=r"\[report\] docx = 'yes'"):
        build_report(_ctx(tmp_path / "bad"), {"docx": "yes"})


def test_findings_section_opens_the_page_in_chinese(tmp_path):
    ctx = _ctx(tmp_path / "zh", lang="zh")
    out = build_report(ctx, {"figures": False})
    page = (tmp_path / "zh" / "report.html").read_text(encoding="utf-8")
    main = page[page.index("<main>") :]
    assert main.startswith("<main><section id='findings'><h2>主要发现</h2>")
    assert "A 为序参量，B 为伺服变量" in main
    assert out.info["findings"][0] == {"key": "verdict", "kind": "finding"}
    doc = docx.Document(tmp_path / "zh" / "report.docx")
    assert "主要发现" in [p.text for p in doc.paragraphs]
    assert doc.tables[0].cell(1, 1).text == "非空间"


def test_build_docx_orders_warnings_first_and_numbers_tables():
    items = [
        Finding("verdict", "a finding"),
        Finding("w_x", "a warning", "warning"),
        Finding("lisa", "LISA: not available", "missing"),
    ]
    data = build_docx(title="t", findings=items, lang="en")
    doc = docx.Document(io.BytesIO(data))
    texts = [p.text for p in doc.paragraphs]
    assert texts.index("Warning: a warning") < texts.index("a finding") < texts.index("LISA: not available")
    assert build_docx(title="t", findings=items, lang="en") == data
