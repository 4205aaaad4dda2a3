"""Table writers: TSV per table and one XLSX workbook per run (header row frozen)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xlsxwriter

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


def _sheet_columns(df: pd.DataFrame) -> list[tuple[str, list[Any]]]:
    """Per column: the cell kind (``number``, ``boolean``, ``string``) and its values (None = empty)."""
    out: list[tuple[str, list[Any]]] = []
    for name in df.columns:
        col = df[name]
        if pd.api.types.is_bool_dtype(col):
            out.append(("boolean", [None if pd.isna(x) else bool(x) for x in col.tolist()]))
        elif pd.api.types.is_numeric_dtype(col):
            v = col.to_numpy(dtype=float, na_value=np.nan)
            out.append(("number", [x if math.isfinite(x) else None for x in v.tolist()]))
        else:
            out.append(("string", [None if pd.isna(x) else str(x) for x in col.tolist()]))
    return out


def write_workbook(tables: Mapping[str, pd.DataFrame], path: str | Path) -> Path:
    """One XLSX with a sheet per table and a frozen header row, atomically.

    Cells are written row by row with XlsxWriter's constant-memory mode: numbers as numbers,
    booleans as booleans, everything else as text; NaN and infinities stay empty. (pandas'
    ``to_excel`` through openpyxl took ~6 s for a 20,000-gene run; this takes ~2 s.)

    Parameters
    ----------
    tables
        ``sheet label -> table`` (labels are shortened to Excel's 31 characters).
    path
        Destination ``.xlsx``.
    """

    def write(tmp: str) -> None:
        used: set[str] = set()
        wb = xlsxwriter.Workbook(tmp, {"constant_memory": True})
        try:
            for label, df in tables.items():
                ws = wb.add_worksheet(sheet_name(label, used))
                ws.freeze_panes(1, 0)
                ws.write_row(0, 0, [str(c) for c in df.columns])
                cols = _sheet_columns(df)
                writers = {"number": ws.write_number, "boolean": ws.write_boolean, "string": ws.write_string}
                kinds = [(writers[kind], values) for kind, values in cols]
                for i in range(len(df)):
                    for j, (put, values) in enumerate(kinds):
                        x = values[i]
                        if x is not None:
                            put(i + 1, j, x)
        finally:
            wb.close()

    return _atomic_write(Path(path), write)


def write_parquet(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` as Parquet (pyarrow), atomically."""
    return _atomic_write(Path(path), lambda tmp: df.to_parquet(tmp, index=False))


def write_h5ad(adata: Any, path: str | Path) -> Path:
    """Write an AnnData as ``.h5ad``, atomically."""
    return _atomic_write(Path(path), lambda tmp: adata.write_h5ad(tmp))
