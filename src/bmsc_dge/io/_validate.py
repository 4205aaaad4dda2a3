"""Input and design checks.

Each failure raises an :class:`~bmsc_dge.errors.InputError` subclass that names the file, the
row and/or column, and what to do. Values that can be fixed safely are fixed with a warning:
whitespace around IDs, and integral floats such as ``12.0`` in a count matrix.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from bmsc_dge.errors import CountsError, SampleSheetError

logger = logging.getLogger(__name__)


def _line_of(pos: int) -> int:
    """1-based file line of the data row at position ``pos`` (header is line 1)."""
    return pos + 2


def parse_counts(
    raw: pd.DataFrame, path: str | Path, *, fractional: bool = False, duplicates: str = "error"
) -> pd.DataFrame:
    """Turn a string count table into validated int64 counts (float with ``fractional``).

    Parameters
    ----------
    raw
        Genes x samples, all cells as strings, indexed by gene ID.
    path
        Source file (for messages).
    fractional
        Accept non-integer values (estimated counts of Salmon/RSEM, rounded later by the caller).
    duplicates
        ``error`` refuses a repeated gene ID; ``sum`` keeps the rows (the caller sums them).

    Returns
    -------
    pandas.DataFrame
        Counts with stripped gene IDs and sample names.

    Raises
    ------
    CountsError
        For empty or duplicated gene IDs, duplicated sample columns, missing, non-numeric,
        negative or non-integer counts.
    """
    stripped = _checked_gene_ids(raw, path, duplicates == "error")
    cols = _checked_sample_columns(raw, path)
    values = raw.copy()
    values.index = stripped
    values.columns = cols
    out = {col: _checked_column(values[col], stripped, col, path, fractional) for col in values.columns}
    return pd.DataFrame(out, index=stripped)


def _checked_gene_ids(raw: pd.DataFrame, path: str | Path, unique: bool = True) -> pd.Index:
    """Gene IDs stripped of whitespace; none empty, none duplicated."""
    ids = pd.Index([str(i) for i in raw.index])
    stripped = pd.Index([i.strip() for i in ids])
    if (stripped != ids).any():
        logger.warning("%s: removed whitespace around gene IDs", path)
    empty = np.flatnonzero(stripped == "")
    if empty.size:
        raise CountsError(
            "empty gene ID",
            file=path,
            row=_line_of(int(empty[0])),
            column=str(raw.index.name or "gene_id"),
            hint="every row needs a gene ID in the first column",
        )
    dup = stripped[stripped.duplicated()]
    if len(dup) and unique:
        first = dup[0]
        rows = [_line_of(int(i)) for i in np.flatnonzero(stripped == first)]
        raise CountsError(
            f"gene ID '{first}' appears {len(rows)} times (lines {rows[:5]})",
            file=path,
            row=rows[1],
            column="gene_id",
            hint="remove duplicated rows, or set `duplicate_genes: sum` to add them up",
        )
    return stripped


def _checked_sample_columns(raw: pd.DataFrame, path: str | Path) -> pd.Index:
    """Sample column names stripped of whitespace; none duplicated, none blank."""
    cols = pd.Index([str(c).strip() for c in raw.columns])
    if (cols != pd.Index([str(c) for c in raw.columns])).any():
        logger.warning("%s: removed whitespace around sample column names", path)
    if cols.duplicated().any():
        d = cols[cols.duplicated()][0]
        raise CountsError(
            f"sample column '{d}' appears twice",
            file=path,
            row=1,
            column=d,
            hint="each sample must have exactly one column",
        )
    blank_cols = [c for c in cols if c == "" or c.startswith("Unnamed:")]
    if blank_cols:
        raise CountsError(
            "a column has no header",
            file=path,
            row=1,
            column=blank_cols[0],
            hint="give every sample column its sample ID as header",
        )
    return cols


def _checked_column(
    column: pd.Series, genes: pd.Index, col: str, path: str | Path, fractional: bool = False
) -> np.ndarray:
    """One sample's counts as int64 (float with ``fractional``).

    None missing, non-numeric, negative, fractional (unless allowed) or huge.
    """
    s = column.astype(str).str.strip()
    missing = s.isin(["", "NA", "NaN", "nan", "NULL", "null", "None", "."])
    if missing.any():
        pos = int(np.flatnonzero(missing.to_numpy())[0])
        raise CountsError(
            f"missing count (value {column.iloc[pos]!r}) for gene {genes[pos]}",
            file=path,
            row=_line_of(pos),
            column=col,
            hint="DESeq2 does not accept missing counts; use 0 only if the gene truly had no reads",
        )
    num = pd.to_numeric(s, errors="coerce")
    bad = num.isna() | ~np.isfinite(num.to_numpy(dtype=float, na_value=np.nan))
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        val = s.iloc[pos]
        hint = "counts must be plain numbers"
        if "," in val:
            hint = "remove thousands separators / decimal commas (export without number formatting)"
        raise CountsError(
            f"non-numeric count {val!r} for gene {genes[pos]}",
            file=path,
            row=_line_of(pos),
            column=col,
            hint=hint,
        )
    arr = num.to_numpy(dtype=float)
    neg = arr < 0
    if neg.any():
        pos = int(np.flatnonzero(neg)[0])
        raise CountsError(
            f"negative count {s.iloc[pos]} for gene {genes[pos]}",
            file=path,
            row=_line_of(pos),
            column=col,
            hint="raw read counts cannot be negative; use un-normalised counts",
        )
    if fractional:
        return arr
    frac = arr != np.round(arr)
    if frac.any():
        pos = int(np.flatnonzero(frac)[0])
        raise CountsError(
            f"non-integer count {s.iloc[pos]} for gene {genes[pos]}",
            file=path,
            row=_line_of(pos),
            column=col,
            hint="DESeq2 needs raw integer counts; give Salmon/kallisto/RSEM output through "
            "`tximport:`, nf-core/rnaseq's salmon.merged.gene_counts.tsv with `lengths:`, or "
            "featureCounts/htseq/STAR counts",
        )
    if arr.max(initial=0) > np.iinfo(np.int64).max / 4:
        raise CountsError("count too large", file=path, column=col, hint="check the column")
    if s.str.contains(r"\.", regex=True).any():
        logger.warning("%s: column '%s' holds integral decimals such as '12.0'; read as integers", path, col)
    return arr.astype(np.int64)


def match_samples(
    counts_columns: Sequence[str], sheet: pd.DataFrame, counts_path: str | Path, sheet_path: str | Path
) -> pd.DataFrame:
    """Check that matrix columns and sheet IDs are the same samples; return the sheet in matrix order.

    Raises
    ------
    SampleSheetError
        For duplicated or empty sheet IDs, and samples present in only one of the two files.
    """
    ids = pd.Index([str(i) for i in sheet.index])
    if (ids == "").any():
        pos = int(np.flatnonzero(ids == "")[0])
        raise SampleSheetError(
            "empty sample ID",
            file=sheet_path,
            row=_line_of(pos),
            column=str(sheet.index.name),
            hint="the first column must hold the sample IDs that head the count columns",
        )
    if ids.duplicated().any():
        d = ids[ids.duplicated()][0]
        pos = int(np.flatnonzero(ids == d)[1])
        raise SampleSheetError(
            f"sample ID '{d}' appears twice",
            file=sheet_path,
            row=_line_of(pos),
            column=str(sheet.index.name),
            hint="each sample needs one row",
        )
    cols = list(counts_columns)
    in_counts_only = [c for c in cols if c not in set(ids)]
    in_sheet_only = [i for i in ids if i not in set(cols)]
    if in_counts_only or in_sheet_only:
        lower_sheet = {i.lower(): i for i in ids}
        case = [(c, lower_sheet[c.lower()]) for c in in_counts_only if c.lower() in lower_sheet]
        if case:
            c, s = case[0]
            raise SampleSheetError(
                f"sample '{c}' in the counts is spelled '{s}' in the sheet (IDs are case-sensitive)",
                file=sheet_path,
                column=str(sheet.index.name),
                hint="make the IDs identical in both files",
            )
        if in_counts_only:
            raise SampleSheetError(
                f"{len(in_counts_only)} count column(s) have no row in the sample sheet: "
                f"{', '.join(in_counts_only[:5])}",
                file=sheet_path,
                column=str(sheet.index.name),
                hint=f"add them to the sheet or remove them from {Path(counts_path).name}",
            )
        raise SampleSheetError(
            f"{len(in_sheet_only)} sample(s) in the sheet have no column in the counts: "
            f"{', '.join(in_sheet_only[:5])}",
            file=counts_path,
            row=1,
            hint=f"add their counts or remove them from {Path(sheet_path).name}",
        )
    out = sheet.copy()
    out.index = ids
    return out.loc[cols]
