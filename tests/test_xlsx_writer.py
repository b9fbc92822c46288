"""tables.xlsx's writer (nqpspatial._xlsx): exact numbers, text never a formula, edge cases, same bytes."""

from __future__ import annotations

import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest

from nqpspatial._xlsx import column_letters
from nqpspatial.io import EXCEL_MAX_COLUMNS, write_workbook

openpyxl = pytest.importorskip("openpyxl")


def _table():
    rng = np.random.default_rng(3)
    x = rng.normal(size=40) * 10.0 ** rng.integers(-300, 300, 40)
    x[:6] = [0.1, 1e-05, 2.0**53, 1e15, 1e15 + 0.5, -3.0]
    return pd.DataFrame(
        {
            "x": x,
            "k": np.arange(40, dtype=np.int64) * 10**12,
            "gap": [np.nan, np.inf, -np.inf] + [0.5] * 37,
            "flag": [True, False] * 20,
            "text": ['=HYPERLINK("http://x","y")', "+1", " lead & <tag> ", "\x01ctl\x1f", "长三角", None]
            + [f"r{i}" for i in range(34)],
            "ints_nullable": pd.array([1, None] + list(range(38)), dtype="Int64"),
        }
    )


def test_numbers_text_and_empty_cells_read_back_exactly(tmp_path):
    tab = _table()
    info = write_workbook({"t": tab, "second table": tab.head(3)}, tmp_path / "a.xlsx")
    assert info == {"sheets": {"t": "t", "second table": "second table"}, "left_out": {}}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "no default style" or other reader complaint
        wb = openpyxl.load_workbook(tmp_path / "a.xlsx")
    ws = wb["t"]
    rows = list(ws.iter_rows(values_only=True))
    assert list(rows[0]) == list(tab.columns)
    body = rows[1:]
    assert len(body) == len(tab)
    xs = [r[0] for r in body]
    assert [float(v) for v in xs] == tab["x"].tolist()  # the exact doubles (shortest round-trip text)
    assert [r[1] for r in body] == tab["k"].tolist()
    assert [r[2] for r in body][:3] == [None, None, None] and body[3][2] == 0.5  # NaN and infinities: empty
    assert [r[3] for r in body] == tab["flag"].tolist()
    assert [ws.cell(row=i + 2, column=4).data_type for i in range(2)] == ["b", "b"]
    texts = [r[4] for r in body]
    assert texts[:3] == ['=HYPERLINK("http://x","y")', "+1", " lead & <tag> "]
    assert texts[3] == "_x0001_ctl_x001F_"  # XML-forbidden characters as Excel escapes them (as xlsxwriter did)
    assert texts[4] == "长三角" and texts[5] is None
    assert all(ws.cell(row=i + 2, column=5).data_type == "s" for i in range(3))  # text, never a formula
    assert [r[5] for r in body][:3] == [1, None, 0]
    assert list(wb["second table"].iter_rows(values_only=True))[1][4] == '=HYPERLINK("http://x","y")'


def test_pandas_reads_the_same_table(tmp_path):
    tab = _table().drop(columns=["text"])
    write_workbook({"t": tab}, tmp_path / "a.xlsx")
    back = pd.read_excel(tmp_path / "a.xlsx", sheet_name="t")
    np.testing.assert_array_equal(back["x"].to_numpy(float), tab["x"].to_numpy(float))
    assert back["flag"].tolist() == tab["flag"].tolist()


def test_same_tables_same_bytes_and_a_valid_package(tmp_path):
    tab = _table()
    write_workbook({"t": tab}, tmp_path / "a.xlsx")
    write_workbook({"t": tab.copy()}, tmp_path / "b.xlsx")
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()
    with zipfile.ZipFile(tmp_path / "a.xlsx") as z:
        assert z.testzip() is None
        names = set(z.namelist())
    assert {"[Content_Types].xml", "xl/workbook.xml", "xl/styles.xml", "xl/worksheets/sheet1.xml"} <= names


def test_long_tables_are_written_in_pieces_and_wide_ones_left_out(tmp_path):
    from nqpspatial import _xlsx

    n = 45_000  # more than one piece of rows
    long = pd.DataFrame({"i": np.arange(n), "s": np.arange(n).astype(str)})
    wide = pd.DataFrame(np.zeros((1, EXCEL_MAX_COLUMNS + 1)))
    pieces = list(_xlsx.sheet_rows(long))
    assert len(pieces) == 2 + -(-n // 20_000)
    info = write_workbook({"long": long, "wide": wide}, tmp_path / "a.xlsx")
    assert "wide" in info["left_out"] and "16384" in info["left_out"]["wide"]
    back = pd.read_excel(tmp_path / "a.xlsx", sheet_name="long", dtype={"s": str})
    pd.testing.assert_frame_equal(back, long)


def test_column_letters():
    assert [column_letters(j) for j in (0, 25, 26, 51, 52, 701, 702, 16383)] == [
        "A",
        "Z",
        "AA",
        "AZ",
        "BA",
        "ZZ",
        "AAA",
        "XFD",
    ]
