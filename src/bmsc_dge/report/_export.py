"""Table writers: TSV per table and one XLSX workbook per run (header row frozen)."""

from __future__ import annotations

import math
import re
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd

from bmsc_dge._atomic import atomic_write as _atomic_write


def sheet_name(name: str, used: set[str]) -> str:
    """Return an Excel-legal, unique sheet name (<= 31 characters, none of the characters Excel forbids)."""
    clean = "".join("_" if c in "[]:*?/\\" else c for c in name)[:31] or "sheet"
    base, i = clean, 1
    while clean in used:
        suffix = f"~{i}"
        clean = base[: 31 - len(suffix)] + suffix
        i += 1
    used.add(clean)
    return clean


#: Excel's limits: characters in a cell (UTF-16 code units), rows and columns of a sheet
CELL_CHARS = 32767
MAX_ROWS = 1_048_576
MAX_COLUMNS = 16_384

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f]")
_ESCAPE_LIKE = re.compile(r"(_x[0-9a-fA-F]{4}_)")
_NEEDS_XML_ESCAPE = re.compile(r"[&<>]")
_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def _cell_text(text: str) -> str:
    """A string as SpreadsheetML cell text, as Excel (and XlsxWriter) write it.

    Longer than Excel's 32,767 characters: cut there (Excel cannot hold more). Control
    characters XML cannot carry become ``_xHHHH_`` and a literal ``_xHHHH_`` is escaped as
    ``_x005F_xHHHH_``; ``&``, ``<``, ``>`` become entities.
    """
    if len(text) > CELL_CHARS // 2 and len(text.encode("utf-16-le")) // 2 > CELL_CHARS:
        text = text.encode("utf-16-le")[: 2 * CELL_CHARS].decode("utf-16-le", errors="ignore")
    if "_x" in text:
        text = _ESCAPE_LIKE.sub(r"_x005F\1", text)
    if _CONTROL.search(text):
        text = _CONTROL.sub(lambda m: f"_x{ord(m.group(0)):04X}_", text)
    return escape(text) if _NEEDS_XML_ESCAPE.search(text) else text


def _string_cell(ref: str, text: str) -> str:
    space = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
    return f'<c r="{ref}" t="inlineStr"><is><t{space}>{_cell_text(text)}</t></is></c>'


def _column_cells(col: pd.Series, letter: str, first_row: int = 2) -> list[str]:
    """The ``<c>`` elements of one column from row ``first_row`` on ("" where the cell stays empty).

    Numbers as numbers (``%.16G``, as XlsxWriter), booleans as booleans, everything else as
    inline text; NaN, None and infinities stay empty.
    """
    rows = range(first_row, first_row + len(col))
    if pd.api.types.is_bool_dtype(col):
        return [
            "" if pd.isna(x) else f'<c r="{letter}{r}" t="b"><v>{int(bool(x))}</v></c>'
            for r, x in zip(rows, col.tolist(), strict=True)
        ]
    if pd.api.types.is_numeric_dtype(col):
        values = col.to_numpy(dtype=float, na_value=np.nan).tolist()
        return [
            f'<c r="{letter}{r}"><v>{x:.16G}</v></c>' if math.isfinite(x) else ""
            for r, x in zip(rows, values, strict=True)
        ]
    return [
        "" if x is None or (not isinstance(x, str) and pd.isna(x)) else _string_cell(f"{letter}{r}", str(x))
        for r, x in zip(rows, col.tolist(), strict=True)
    ]


#: rows turned into XML at a time (bounds the memory a large sheet needs)
ROW_BLOCK = 4096


def _sheet_xml(df: pd.DataFrame, selected: bool) -> Iterator[str]:
    """One worksheet, in pieces: header row frozen, a row element per table row."""
    if len(df) + 1 > MAX_ROWS or len(df.columns) > MAX_COLUMNS:
        raise ValueError(f"a table of {df.shape[0]} x {df.shape[1]} does not fit an Excel sheet")
    from openpyxl.utils import get_column_letter  # openpyxl costs ~0.1 s to import: only when writing

    letters = [get_column_letter(j + 1) for j in range(len(df.columns))]
    header = "".join(_string_cell(f"{L}1", str(c)) for L, c in zip(letters, df.columns, strict=True))
    last = f"{letters[-1]}{len(df) + 1}" if letters else "A1"
    tab = ' tabSelected="1"' if selected else ""
    yield (
        f'{_XML}<worksheet xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}"><dimension ref="A1:{last}"/>'
        f'<sheetViews><sheetView{tab} workbookViewId="0"><pane ySplit="1" topLeftCell="A2" '
        'activePane="bottomLeft" state="frozen"/><selection pane="bottomLeft" activeCell="A2" '
        'sqref="A2"/></sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/>'
        f'<sheetData><row r="1">{header}</row>'
    )
    for start in range(0, len(df), ROW_BLOCK):
        block = df.iloc[start : start + ROW_BLOCK]
        first = start + 2
        columns = [_column_cells(block[c], L, first) for c, L in zip(block.columns, letters, strict=True)]
        yield "".join(
            f'<row r="{r}">{"".join(cells)}</row>'
            for r, cells in enumerate(zip(*columns, strict=True), start=first)
        )
    yield (
        '</sheetData><pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" '
        'footer="0.3"/></worksheet>'
    )


def _package_parts(names: list[str]) -> dict[str, str]:
    """Every part of the workbook package except the sheets (content types, relations, styles)."""
    n = len(names)
    sheets = "".join(
        f'<sheet name="{escape(name, {chr(34): "&quot;"})}" sheetId="{i}" r:id="rId{i}"/>'
        for i, name in enumerate(names, start=1)
    )
    sheet_rels = "".join(
        f'<Relationship Id="rId{i}" Type="{_REL_NS}/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, n + 1)
    )
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(1, n + 1)
    )
    return {
        "[Content_Types].xml": (
            f'{_XML}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/styles.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            f"{overrides}</Types>"
        ),
        "_rels/.rels": (
            f'{_XML}<Relationships xmlns="{_PKG_REL_NS}"><Relationship Id="rId1" '
            f'Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'{_XML}<workbook xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}"><bookViews><workbookView/></bookViews>'
            f"<sheets>{sheets}</sheets></workbook>"
        ),
        "xl/_rels/workbook.xml.rels": (
            f'{_XML}<Relationships xmlns="{_PKG_REL_NS}">{sheet_rels}'
            f'<Relationship Id="rId{n + 1}" Type="{_REL_NS}/styles" Target="styles.xml"/></Relationships>'
        ),
        "xl/styles.xml": (
            f'{_XML}<styleSheet xmlns="{_MAIN_NS}">'
            '<fonts count="1"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
            '<fills count="2"><fill><patternFill patternType="none"/></fill>'
            '<fill><patternFill patternType="gray125"/></fill></fills>'
            '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
            '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
            '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
            "</styleSheet>"
        ),
    }


def write_workbook(tables: Mapping[str, pd.DataFrame], path: str | Path) -> Path:
    """One XLSX with a sheet per table and a frozen header row, atomically.

    The sheets are SpreadsheetML written column by column (numbers as numbers, booleans as
    booleans, everything else as inline text; NaN and infinities stay empty; cell text escaped
    and cut at Excel's limit exactly as XlsxWriter does), so the same cells as XlsxWriter's
    constant-memory mode at a third of its time (1.1 s instead of 3.4 s for the example's
    20,000-gene run, where it was the largest single step of writing the outputs; zip level 1,
    so the file is ~20 % larger). Sheets are built :data:`ROW_BLOCK` rows at a time and streamed
    into the zip (+33 MiB peak for that workbook, +75 MiB as one string per sheet).
    ``tests/test_export.py`` reads both back and compares every cell.

    Parameters
    ----------
    tables
        ``sheet label -> table`` (labels are shortened to Excel's 31 characters).
    path
        Destination ``.xlsx``.
    """
    used: set[str] = set()
    names = [sheet_name(label, used) for label in tables]

    def write(tmp: str) -> None:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            for part, text in _package_parts(names).items():
                zf.writestr(part, text)
            for i, df in enumerate(tables.values(), start=1):
                with zf.open(f"xl/worksheets/sheet{i}.xml", "w") as fh:
                    for piece in _sheet_xml(df, selected=i == 1):
                        fh.write(piece.encode("utf-8"))

    return _atomic_write(Path(path), write)


def write_parquet(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` as Parquet (pyarrow), atomically."""
    return _atomic_write(Path(path), lambda tmp: df.to_parquet(tmp, index=False))


def write_h5ad(adata: Any, path: str | Path) -> Path:
    """Write an AnnData as ``.h5ad``, atomically."""
    return _atomic_write(Path(path), lambda tmp: adata.write_h5ad(tmp))
