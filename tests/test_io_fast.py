"""The fast CSV writer (issue 19) gives the bytes of the old pandas-based one (tests/_csv_reference.py)."""

from __future__ import annotations

import _csv_reference as ref
import numpy as np
import pandas as pd
import pytest

from nqpspatial import io as nio

ASCII = "".join(chr(i) for i in range(1, 128))
TRICKY_TEXT = [
    "=SUM(A1)",
    "+1",
    "-1.5",
    "-x",
    "@cmd",
    "\tlead tab",
    "\rlead cr",
    "'=already",
    "''+twice",
    "a,b",
    'say "hi"',
    "two\nlines",
    "cr\rinside",
    "crlf\r\n",
    "长三角 – ü",
    "\u2028sep\x85",
    " spaced ",
    "",
    "-inf",
    "nan",
    "1e-3",
    "\x01ctl\x1f",
    ASCII,
]


def _tricky(n: int = 60, seed: int = 0) -> pd.DataFrame:
    """Every dtype the fast writer formats itself, with awkward values."""
    rng = np.random.default_rng(seed)
    text = [TRICKY_TEXT[i % len(TRICKY_TEXT)] for i in range(n)]
    text[5] = None
    x = rng.normal(size=n) * 10.0 ** rng.integers(-30, 30, n)
    x[:10] = [np.nan, np.inf, -np.inf, -0.0, 0.0, 1e16, 1e15, 1e-5, 5e-324, 1.7976931348623157e308]
    return pd.DataFrame(
        {
            "region": [f"{110101 + i % 7}" for i in range(n)],
            "text": pd.array(text, dtype="str"),
            "nullable_text": pd.array([None if i % 4 == 0 else t for i, t in enumerate(text)], dtype="string"),
            "objtext": pd.Series([None if i % 5 == 0 else t for i, t in enumerate(text)], dtype=object),
            "x": x,
            "x32": np.clip(x, -1e30, 1e30).astype(np.float32),
            "i": rng.integers(-(2**62), 2**62, n),
            "year": np.repeat(np.arange(2000, 2000 + n // 10 + 1), 10)[:n],
            "u8": rng.integers(0, 255, n).astype(np.uint8),
            "flag": rng.random(n) < 0.5,
            "rank": pd.array([None if i % 3 == 0 else i % 4 for i in range(n)], dtype="Int64"),
            "ok": pd.array([None if i % 3 == 1 else bool(i % 2) for i in range(n)], dtype="boolean"),
            "=name": np.arange(n),
            "a,b": np.arange(n) * 0.5,
            'q"uote': ["x"] * n,
            "-1": np.zeros(n),
        }
    )


def _other() -> pd.DataFrame:
    """Dtypes left to pandas: mixed objects, nullable floats, categoricals, datetimes."""
    n = 12
    return pd.DataFrame(
        {
            "mixed": pd.Series(
                [1, 1.0, True, None, "=x", np.nan, 2.5, "a,b", -3, np.float64(0.1), "t", b"b"], dtype=object
            ),
            "ints_obj": pd.Series(list(range(n)), dtype=object),
            "f": pd.array([0.1, None] + [1.5] * (n - 2), dtype="Float64"),
            "cat": pd.Categorical(["=a", "b", None] * 4),
            "when": pd.date_range("2020-01-01", periods=n, freq="D"),
            "x": np.linspace(0, 1, n),
        }
    )


def _assert_same_bytes(table, tmp_path, **kw):
    new, old = tmp_path / "new.csv", tmp_path / "old.csv"
    try:
        ref.write_csv(table, old, **kw)
    except Exception as exc:  # the old writer's failures (repeated labels) stay the same
        with pytest.raises(type(exc)):
            nio.write_csv(table, new, **kw)
        return
    nio.write_csv(table, new, **kw)
    assert new.read_bytes() == old.read_bytes()


@pytest.mark.parametrize("escape", [True, False])
def test_fast_writer_gives_the_reference_bytes(tmp_path, monkeypatch, escape):
    table = _tricky()
    before = table.copy()
    new, old = tmp_path / "new.csv", tmp_path / "old.csv"
    ref.write_csv(table, old, escape_formulas=escape)

    def refuse(*args, **kwargs):
        raise AssertionError("the fast path should have written this table")

    monkeypatch.setattr(pd.DataFrame, "to_csv", refuse)  # proves the fast path wrote it
    nio.write_csv(table, new, escape_formulas=escape)
    assert new.read_bytes() == old.read_bytes()
    pd.testing.assert_frame_equal(table, before)  # input not mutated
    text = new.read_bytes()
    assert text.startswith(b"\xef\xbb\xbf") and b'"two\nlines"' in text and b"\r\n" not in text.split(b"crlf")[0]


def test_other_file_names_are_left_to_pandas(tmp_path):
    import gzip

    table = _tricky()
    nio.write_csv(table, tmp_path / "new.csv.gz")
    ref.write_csv(table, tmp_path / "old.csv")
    assert gzip.decompress((tmp_path / "new.csv.gz").read_bytes()) == (tmp_path / "old.csv").read_bytes()
    _assert_same_bytes(table, tmp_path)
    nio.write_csv(table, str(tmp_path / "s.CSV"))
    assert (tmp_path / "s.CSV").read_bytes() == (tmp_path / "old.csv").read_bytes()


def test_fast_writer_in_pieces(tmp_path, monkeypatch):
    monkeypatch.setattr(nio, "_CSV_CHUNK", 7)
    for n in (0, 1, 6, 7, 8, 60):
        _assert_same_bytes(_tricky(60).head(n), tmp_path)


@pytest.mark.parametrize(
    "table",
    [
        _other(),
        pd.DataFrame(),
        pd.DataFrame({"a": []}),
        pd.DataFrame({"a": pd.Series([], dtype="str"), "b": pd.Series([], dtype=float)}),
        pd.DataFrame({"only": ["", None, "=x", "a,b"]}),
        pd.DataFrame({"all_missing": pd.Series([None, None], dtype=object), "s": pd.array([None, None], dtype="str")}),
        pd.DataFrame([[1, 2.5, "x"]], columns=[0, 1.5, "c"]),  # labels that are not text
        pd.DataFrame([[1, "=a", "b"]], columns=["d", "d", "=d"]),  # repeated labels
        pd.DataFrame(np.ones((2, 2)), columns=pd.MultiIndex.from_tuples([("a", "b"), ("a", "c")])),
    ],
    ids=["others", "empty", "no-rows", "no-rows-typed", "one-column", "all-missing", "labels", "repeated", "multi"],
)
@pytest.mark.parametrize("escape", [True, False])
def test_edge_tables_give_the_reference_bytes(tmp_path, table, escape):
    _assert_same_bytes(table, tmp_path, escape_formulas=escape)


def test_escaped_frame_equals_the_reference():
    for table in (_tricky(), _other(), _tricky(200, seed=3).sample(frac=1, random_state=1)):
        new, old = nio._escaped(table), ref.escaped(table)
        pd.testing.assert_frame_equal(new, old, check_exact=True)
    table = _tricky()
    assert nio._escape_column(table["text"]) is not table["text"]


def test_float_repr_is_numpys_text():
    """The writer formats float64 by ``repr``; pandas by numpy's ``astype(str)``: the same text for any double."""
    rng = np.random.default_rng(19)
    x = rng.integers(0, 2**64, size=300_000, dtype=np.uint64).view(np.float64)
    y = np.round(rng.normal(size=100_000) * 1e6) / 10.0 ** rng.integers(0, 12, 100_000)
    edges = np.array([1e16, 1e15, 1e-4, 1e-5, 9999999999999998.0, 2.0**53, 5e-324, 2.2250738585072014e-308])
    z = np.concatenate([x[~np.isnan(x)], y, edges, -edges, np.nextafter(edges, 0), np.nextafter(edges, np.inf)])
    assert list(map(repr, z.tolist())) == z.astype(str).tolist()


def _sheet_tables() -> list[tuple[str, pd.DataFrame]]:
    """Tables for the workbook writer: every dtype, empty cells in some chunks only, awkward objects."""
    import datetime
    import decimal

    tricky = _tricky(90, seed=5)
    tricky.loc[40:, "x"] = 0.25  # the float column has empty cells in the first chunks only
    mixed = pd.DataFrame(
        {
            "mixed": pd.Series(
                [1, 1.0, True, -0.0, 0.0, None, np.nan, pd.NA, pd.NaT, decimal.Decimal("NaN"), "=x", b"b"],
                dtype=object,
            ),
            "f": pd.array([0.1, None] + [1.5] * 10, dtype="Float64"),
            "cat": pd.Categorical(["=a", "b", None] * 4),
            "catnum": pd.Categorical([1.5, 2.0, None] * 4),
            "when": pd.date_range("2020-01-01", periods=12, freq="D").insert(3, pd.NaT)[:12],
            "day": [datetime.date(2020, 1, i + 1) for i in range(12)],
            "big": np.array([2**53 + 1, -(2**63), 2**62, 10**15, 10**15 - 1, -(10**15)] * 2, dtype=np.int64),
            "ubig": np.array([2**64 - 1, 0] * 6, dtype=np.uint64),
            "ints_obj": pd.Series(list(range(12)), dtype=object),
        }
    )
    return [
        ("tricky", tricky),
        ("mixed", mixed),
        ("empty", pd.DataFrame({"a": pd.Series([], dtype=float), "b": pd.Series([], dtype="str")})),
        ("nocols", pd.DataFrame(index=range(3))),
        ("missing", pd.DataFrame({"s": pd.array([None] * 5, dtype="str"), "x": [np.nan] * 5})),
    ]


def test_sheet_xml_equals_the_reference():
    """Every worksheet's XML is the old writer's (tests/_xlsx_reference.py), chunked or not."""
    import _xlsx_reference as xref

    from nqpspatial import _xlsx

    for _, tab in _sheet_tables():
        for chunk in (7, 20_000):
            assert "".join(_xlsx.sheet_rows(tab, chunk)) == "".join(xref.sheet_rows(tab, chunk))
        for j in range(tab.shape[1]):
            rows = [str(i + 2) for i in range(len(tab))]
            assert _xlsx._column_cells(tab.iloc[:, j], "C", rows) == xref._column_cells(tab.iloc[:, j], "C", rows)


def test_workbook_bytes_equal_the_reference(tmp_path):
    import _xlsx_reference as xref

    from nqpspatial import _xlsx

    sheets = _sheet_tables()
    _xlsx.write_xlsx(tmp_path / "new.xlsx", sheets, created="2000-01-01T00:00:00Z")
    xref.write_xlsx(tmp_path / "old.xlsx", sheets, created="2000-01-01T00:00:00Z")
    assert (tmp_path / "new.xlsx").read_bytes() == (tmp_path / "old.xlsx").read_bytes()


def _raw_panels():
    """Raw panels as read_table gives them: numeric, text and nullable columns with awkward cells."""
    n = 24
    rng = np.random.default_rng(7)
    x = rng.normal(size=n)
    x[[2, 9]] = np.nan
    x[[4, 17]] = [np.inf, -np.inf]
    base = {
        "region": [f"r{i // 4}" for i in range(n)],
        "year": np.tile(np.arange(2000, 2004), n // 4),
        "num": x,
        "ints": np.arange(n),
        "nullable": pd.array([None if i % 5 == 0 else i for i in range(n)], dtype="Int64"),
        "flags": np.arange(n) % 2 == 0,
    }
    cells = ["1.5", " ", "", None, "abc", "1,000", "inf", "-inf", "nan", " 2 ", "\t", "3e5", "=1", "长"]
    text = [cells[i % len(cells)] for i in range(n)]
    panels = [
        pd.DataFrame(base),
        pd.DataFrame({**base, "text": pd.array(text, dtype="str"), "obj": pd.Series(text, dtype=object)}),
        pd.DataFrame({**base, "mixed": pd.Series([1, 2.5, "x", None, np.inf, " "] * 4, dtype=object)}),
    ]
    return [p.set_index(pd.RangeIndex(3, 3 + n)) if i == 1 else p for i, p in enumerate(panels)]


def test_parse_values_equals_the_reference():
    import _panel_reference as pref

    from nqpspatial.panel import _parse_values

    for raw in _raw_panels():
        before = raw.copy()
        cols = [c for c in raw.columns if c not in ("region", "year")]
        for line_of in (None, {idx: idx + 2 for idx in raw.index}):
            new, old = (
                _parse_values(raw, cols, "region", "year", line_of),
                pref.parse_values(raw, cols, "region", "year", line_of),
            )
            pd.testing.assert_frame_equal(new[0], old[0], check_exact=True)
            assert new[1:] == old[1:]
            assert new[1] and any("infinite value(s): num (r1, 2000)" in p for p in new[2])
            assert any(p.startswith("non-numeric cell(s)") for p in new[2]) == (raw.shape[1] > 6)
        pd.testing.assert_frame_equal(raw, before)
