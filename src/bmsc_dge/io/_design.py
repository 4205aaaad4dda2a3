"""Design checks: typed design variables, reference levels, contrast levels and replicates, full rank."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from bmsc_dge.config import Contrast
from bmsc_dge.errors import DesignError

logger = logging.getLogger(__name__)


MIN_REPLICATES = 2
RECOMMENDED_REPLICATES = 3


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
        out[var] = _typed_design_variable(out, var, var in cats, sheet_path)
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
        _check_contrast_levels(c, out, design_variables, design, sheet_path)
    return out


def _typed_design_variable(
    out: pd.DataFrame, var: str, categorical: bool, sheet_path: str | Path
) -> pd.Series:
    """One design column, complete and with two levels (categorical) or non-constant (continuous)."""
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
    typed: pd.Series
    if categorical or not numeric:
        typed = col.astype(str)
        if typed.nunique() < 2:
            raise DesignError(
                f"design variable '{var}' has only one level ({typed.iloc[0]!r})",
                file=sheet_path,
                column=var,
                hint="remove it from the design or add samples from another level",
            )
    else:
        typed = pd.to_numeric(col).astype(float)
        if typed.std() == 0:
            raise DesignError(
                f"continuous variable '{var}' is constant",
                file=sheet_path,
                column=var,
                hint="remove it from the design",
            )
    return typed


def _check_contrast_levels(
    c: Contrast, out: pd.DataFrame, design_variables: Sequence[str], design: str, sheet_path: str | Path
) -> None:
    """A level-vs-level contrast names a design variable and levels with enough replicates."""
    if c.variable is None or c.target is None or c.reference is None:
        return
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
