import pandas as pd
from openpyxl import load_workbook

from bmsc_dge._atomic import write_tsv
from bmsc_dge.report._export import sheet_name, write_workbook


def test_tsv_round_trip_with_nan(tmp_path):
    df = pd.DataFrame({"a": [1.0, None], "b": ["x", "y"]})
    p = write_tsv(df, tmp_path / "t.tsv")
    back = pd.read_csv(p, sep="\t")
    pd.testing.assert_frame_equal(back, df)
    assert oct(p.stat().st_mode & 0o777) != "0o600"
    assert not list(tmp_path.glob(".*tmp*"))


def test_workbook_sheets_and_frozen_header(tmp_path):
    tables = {
        "targets T2DM_vs_control_with_a_long_name": pd.DataFrame({"x": [1]}),
        "gsea T2DM_vs_control_with_a_long_name": pd.DataFrame({"y": [2]}),
    }
    p = write_workbook(tables, tmp_path / "run.xlsx")
    wb = load_workbook(p)
    assert len(wb.sheetnames) == 2 and all(len(n) <= 31 for n in wb.sheetnames)
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2"


def test_sheet_names_unique_and_legal():
    used: set[str] = set()
    a = sheet_name("de/a:b*c?" + "x" * 40, used)
    b = sheet_name("de/a:b*c?" + "x" * 40, used)
    assert a != b and not set("[]:*?/\\") & set(a + b) and len(b) <= 31


def test_workbook_cell_types_and_missing_values(tmp_path):
    df = pd.DataFrame(
        {
            "gene": ["FOXQ1", None, "GPX4"],
            "padj": [1e-8, float("nan"), float("inf")],
            "n": [1, 2, 3],
            "flag": [True, False, True],
        }
    )
    p = write_workbook({"de": df}, tmp_path / "t.xlsx")
    back = pd.read_excel(p, sheet_name="de")
    assert list(back.columns) == ["gene", "padj", "n", "flag"]
    assert back["gene"].tolist()[0] == "FOXQ1" and pd.isna(back["gene"][1])
    assert back["padj"][0] == 1e-8 and back["padj"][1:].isna().all()
    assert back["n"].tolist() == [1, 2, 3] and back["flag"].tolist() == [True, False, True]


def _xlsxwriter_workbook(tables: dict[str, pd.DataFrame], path) -> None:
    """The reference: XlsxWriter's constant-memory mode, cell by cell (the writer used before)."""
    import math

    import numpy as np
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    used: set[str] = set()
    for label, df in tables.items():
        ws = wb.add_worksheet(sheet_name(label, used))
        ws.freeze_panes(1, 0)
        ws.write_row(0, 0, [str(c) for c in df.columns])
        columns = []
        for name in df.columns:
            col = df[name]
            if pd.api.types.is_bool_dtype(col):
                columns.append([(ws.write_boolean, None if pd.isna(x) else bool(x)) for x in col.tolist()])
            elif pd.api.types.is_numeric_dtype(col):
                v = col.to_numpy(dtype=float, na_value=np.nan).tolist()
                columns.append([(ws.write_number, x if math.isfinite(x) else None) for x in v])
            else:
                columns.append([(ws.write_string, None if pd.isna(x) else str(x)) for x in col.tolist()])
        for i in range(len(df)):  # constant-memory mode: row by row
            for j, cells in enumerate(columns):
                put, x = cells[i]
                if x is not None:
                    put(i + 1, j, x)
    wb.close()


def _cells(path) -> dict[str, list[list[object]]]:
    wb = load_workbook(path)
    return {ws.title: [[c.value for c in row] for row in ws.iter_rows()] for ws in wb.worksheets}


def test_workbook_cells_equal_xlsxwriter(tmp_path):
    """Every cell (value and type) as XlsxWriter writes it, on text that needs escaping."""
    import numpy as np

    rng = np.random.default_rng(3)
    tricky = [
        "a & b < c > d",
        ' "quoted" ',
        "tab\there",
        "line\nbreak",
        "bell\x07 and nul\x00",
        "_x0041_ literal",
        "ünïcødé α-β",
        "",
        "x" * 40000,
        "=SUM(A1)",
        "http://example.org",
    ]
    df = pd.DataFrame(
        {
            "text": tricky,
            "value": [
                1e-300,
                -0.0,
                1 / 3,
                2.5e15,
                12345678901234567.0,
                np.nan,
                np.inf,
                -np.inf,
                7,
                0.1,
                -1e-8,
            ],
            "count": np.arange(11, dtype=np.int64) * 1000003,
            "flag": [True, False] * 5 + [True],
            "maybe": pd.array([True, None, False] * 3 + [None, True], dtype="boolean"),
            "mixed": [None, "x", 3, 4.5, float("nan"), "y", "z", None, "", "w", "v"],
        }
    )
    big = pd.DataFrame({"p": rng.random(9000), "g": [f"G{i}" for i in range(9000)]})  # > 2 row blocks
    tables = {"de T2DM_vs_control": df, "empty": pd.DataFrame({"a": [], "b": []}), "big": big}
    ours = write_workbook(tables, tmp_path / "ours.xlsx")
    _xlsxwriter_workbook(tables, tmp_path / "ref.xlsx")
    assert _cells(ours) == _cells(tmp_path / "ref.xlsx")
    back = pd.read_excel(ours, sheet_name=None)
    assert list(back) == ["de T2DM_vs_control", "empty", "big"]
    # 16 significant digits, as XlsxWriter writes them (the TSV and Parquet tables keep every bit)
    np.testing.assert_allclose(back["big"]["p"], big["p"], rtol=1e-15, atol=0)
