"""Table writers: TSV per table and one XLSX workbook per run (header row frozen)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def _atomic_write(path: Path, write: Any, mode: str = "w") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.tmp-", suffix=path.suffix)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_tsv(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` as tab-separated text (no index, NaN as empty), atomically."""
    return _atomic_write(Path(path), lambda tmp: df.to_csv(tmp, sep="\t", index=False, na_rep=""))


def write_json(data: Any, path: str | Path) -> Path:
    """Write JSON (indented, sorted keys), atomically."""
    text = json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"
    return _atomic_write(Path(path), lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def write_text(text: str, path: str | Path) -> Path:
    """Write text, atomically."""
    return _atomic_write(Path(path), lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


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


def write_workbook(tables: Mapping[str, pd.DataFrame], path: str | Path) -> Path:
    """One XLSX with a sheet per table and a frozen header row, atomically.

    Parameters
    ----------
    tables
        ``sheet label -> table`` (labels are shortened to Excel's 31 characters).
    path
        Destination ``.xlsx``.
    """

    def write(tmp: str) -> None:
        used: set[str] = set()
        with pd.ExcelWriter(tmp, engine="openpyxl") as xw:
            for label, df in tables.items():
                name = sheet_name(label, used)
                df.to_excel(xw, sheet_name=name, index=False)
                ws = xw.sheets[name]
                ws.freeze_panes = "A2"

    return _atomic_write(Path(path), write)


def write_parquet(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` as Parquet (pyarrow), atomically."""
    return _atomic_write(Path(path), lambda tmp: df.to_parquet(tmp, index=False))


def write_h5ad(adata: Any, path: str | Path) -> Path:
    """Write an AnnData as ``.h5ad``, atomically."""
    return _atomic_write(Path(path), lambda tmp: adata.write_h5ad(tmp))
