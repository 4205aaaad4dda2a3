"""Input and design checks.

Each failure raises an :class:`~bmsc_dge.errors.InputError` subclass that names the file, the
row and/or column, and what to do. Values that can be fixed safely are fixed with a warning:
whitespace around IDs, and integral floats such as ``12.0`` in a count matrix.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from bmsc_dge.config import Contrast
from bmsc_dge.errors import CountsError, DesignError, SampleSheetError

logger = logging.getLogger(__name__)

MIN_REPLICATES = 2
RECOMMENDED_REPLICATES = 3


def _line_of(pos: int) -> int:
    """1-based file line of the data row at position ``pos`` (header is line 1)."""
    return pos + 2


def parse_counts(raw: pd.DataFrame, path: str | Path) -> pd.DataFrame:
    """Turn a string count table into validated int64 counts.

    Parameters
    ----------
    raw
        Genes x samples, all cells as strings, indexed by gene ID.
    path
        Source file (for messages).

    Returns
    -------
    pandas.DataFrame
        Integer counts with stripped gene IDs and sample names.

    Raises
    ------
    CountsError
        For empty or duplicated gene IDs, duplicated sample columns, missing, non-numeric,
        negative or non-integer counts.
    """
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
    if len(dup):
        first = dup[0]
        rows = [_line_of(int(i)) for i in np.flatnonzero(stripped == first)]
        raise CountsError(
            f"gene ID '{first}' appears {len(rows)} times (lines {rows[:5]})",
            file=path,
            row=rows[1],
            column="gene_id",
            hint="sum or remove duplicated rows; gene IDs must be unique",
        )
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
    values = raw.copy()
    values.index = stripped
    values.columns = cols
    out = {}
    for col in values.columns:
        s = values[col].astype(str).str.strip()
        missing = s.isin(["", "NA", "NaN", "nan", "NULL", "null", "None", "."])
        if missing.any():
            pos = int(np.flatnonzero(missing.to_numpy())[0])
            raise CountsError(
                f"missing count (value {values[col].iloc[pos]!r}) for gene {stripped[pos]}",
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
                f"non-numeric count {val!r} for gene {stripped[pos]}",
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
                f"negative count {s.iloc[pos]} for gene {stripped[pos]}",
                file=path,
                row=_line_of(pos),
                column=col,
                hint="raw read counts cannot be negative; use un-normalised counts",
            )
        frac = arr != np.round(arr)
        if frac.any():
            pos = int(np.flatnonzero(frac)[0])
            raise CountsError(
                f"non-integer count {s.iloc[pos]} for gene {stripped[pos]}",
                file=path,
                row=_line_of(pos),
                column=col,
                hint="DESeq2 needs raw integer counts; for RSEM/Salmon expected counts round them "
                "(as tximport's DESeqDataSetFromTximport does) or use featureCounts/STAR counts",
            )
        if arr.max(initial=0) > np.iinfo(np.int64).max / 4:
            raise CountsError("count too large", file=path, column=col, hint="check the column")
        if s.str.contains(r"\.", regex=True).any():
            logger.warning(
                "%s: column '%s' holds integral decimals such as '12.0'; read as integers", path, col
            )
        out[col] = arr.astype(np.int64)
    return pd.DataFrame(out, index=stripped)


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


def _categorical_variables(design: str, contrasts: Sequence[Contrast], extra: Sequence[str] = ()) -> set[str]:
    import re

    wrapped = set(re.findall(r"C\(\s*([A-Za-z_][A-Za-z0-9_.]*)", design))
    return wrapped | {c.variable for c in contrasts if c.variable is not None} | set(extra)


def prepare_design_frame(
    obs: pd.DataFrame,
    design_variables: Sequence[str],
    contrasts: Sequence[Contrast],
    design: str,
    sheet_path: str | Path,
    reference_levels: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Check design variables and type them: contrast variables categorical, numeric ones continuous.

    Raises
    ------
    DesignError
        For a variable missing from the sheet, missing values, a variable with one level, a
        contrast on a variable outside the design, or a contrast level that does not exist.
    """
    out = obs.copy()
    reference_levels = dict(reference_levels or {})
    cats = _categorical_variables(design, contrasts, list(reference_levels))
    for var in design_variables:
        if var not in out.columns:
            raise DesignError(
                f"design variable '{var}' is not a column of the sample sheet",
                file=sheet_path,
                row=1,
                column=var,
                hint=f"columns are: {', '.join(map(str, out.columns))}",
            )
        col = out[var]
        blank = col.isna() | (col.astype(str).str.strip() == "")
        if blank.any():
            sample = out.index[int(np.flatnonzero(blank.to_numpy())[0])]
            raise DesignError(
                f"missing value for sample '{sample}'",
                file=sheet_path,
                row=str(sample),
                column=var,
                hint="fill in every design variable for every sample",
            )
        numeric = pd.to_numeric(col, errors="coerce").notna().all()
        if var in cats or not numeric:
            out[var] = col.astype(str)
            if out[var].nunique() < 2:
                raise DesignError(
                    f"design variable '{var}' has only one level ({out[var].iloc[0]!r})",
                    file=sheet_path,
                    column=var,
                    hint="remove it from the design or add samples from another level",
                )
        else:
            out[var] = pd.to_numeric(col).astype(float)
            if out[var].std() == 0:
                raise DesignError(
                    f"continuous variable '{var}' is constant",
                    file=sheet_path,
                    column=var,
                    hint="remove it from the design",
                )
    for var, ref in reference_levels.items():
        if var not in design_variables:
            raise DesignError(
                f"reference_levels names '{var}', which is not in the design {design}",
                column=var,
                hint="list only design variables under reference_levels",
            )
        if ref not in set(out[var]):
            raise DesignError(
                f"reference level '{ref}' of '{var}' does not occur",
                file=sheet_path,
                column=var,
                hint=f"levels present: {', '.join(sorted(set(out[var])))}",
            )
    for c in contrasts:
        if c.variable is None or c.target is None or c.reference is None:
            continue
        if c.variable not in design_variables:
            raise DesignError(
                f"contrast '{c.name}' uses '{c.variable}', which is not in the design {design}",
                column=c.variable,
                hint="add the variable to `design` or fix the contrast",
            )
        levels = sorted(out[c.variable].unique())
        for role, level in (("target", c.target), ("reference", c.reference)):
            if level not in levels:
                near = [lv for lv in levels if lv.strip().lower() == level.strip().lower()]
                hint = f"did you mean '{near[0]}'?" if near else f"levels present: {', '.join(levels)}"
                raise DesignError(
                    f"contrast '{c.name}': {role} level '{level}' does not occur",
                    file=sheet_path,
                    column=c.variable,
                    hint=hint,
                )
            n = int((out[c.variable] == level).sum())
            if n < MIN_REPLICATES:
                raise DesignError(
                    f"contrast '{c.name}': level '{level}' has {n} sample(s); at least {MIN_REPLICATES} are needed",
                    file=sheet_path,
                    column=c.variable,
                    hint="add replicates; dispersion cannot be estimated otherwise",
                )
            if n < RECOMMENDED_REPLICATES:
                logger.warning(
                    "contrast %s: level %s has only %d replicates; with < %d per group power is low "
                    "and only large fold changes will be detected",
                    c.name,
                    level,
                    n,
                    RECOMMENDED_REPLICATES,
                )
    return out


def check_full_rank(
    design_matrix: pd.DataFrame, frame: pd.DataFrame, design_variables: Sequence[str], sheet_path: str | Path
) -> None:
    """Refuse a rank-deficient design, naming the columns that collide.

    Raises
    ------
    DesignError
        When two categorical variables are fully confounded (e.g. every T2DM donor in batch 2),
        or when the design matrix is otherwise rank deficient or leaves no residual degrees of
        freedom.
    """
    mat = design_matrix.to_numpy(dtype=float)
    n, p = mat.shape
    rank = np.linalg.matrix_rank(mat)
    if rank < p:
        cats = [v for v in design_variables if not pd.api.types.is_float_dtype(frame[v])]
        for i, a in enumerate(cats):
            for b in cats[i + 1 :]:
                tab = pd.crosstab(frame[a], frame[b])
                if ((tab > 0).sum(axis=1) == 1).all() or ((tab > 0).sum(axis=0) == 1).all():
                    raise DesignError(
                        f"'{a}' and '{b}' are fully confounded: each level of one occurs with a single "
                        f"level of the other ({'; '.join(f'{r}->{tab.columns[(tab.loc[r] > 0).to_numpy()].tolist()}' for r in tab.index)})",
                        file=sheet_path,
                        column=f"{a}, {b}",
                        hint=f"their effects cannot be separated; drop '{a}' or '{b}' from the design or balance the samples",
                    )
        _, _, vt = np.linalg.svd(mat)
        null = vt[rank:]
        involved = [design_matrix.columns[j] for j in range(p) if np.abs(null[:, j]).max() > 1e-8]
        raise DesignError(
            f"the design matrix is rank deficient (rank {rank} < {p} columns); colliding columns: "
            f"{', '.join(map(str, involved))}",
            file=sheet_path,
            hint="remove one of the colliding variables or levels from the design",
        )
    if n <= p:
        raise DesignError(
            f"{n} samples cannot fit a design with {p} coefficients (no residual degrees of freedom)",
            file=sheet_path,
            hint="simplify the design or add samples",
        )
