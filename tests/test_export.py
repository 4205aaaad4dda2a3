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
