"""Design checks: typed design variables, reference levels, contrast levels and replicates, full rank."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd

from bmsc_dge.config import Contrast
from bmsc_dge.errors import DesignError

logger = logging.getLogger(__name__)


MIN_REPLICATES = 2
RECOMMENDED_REPLICATES = 3


def declared_types(
    design: str,
    contrasts: Sequence[Contrast],
    reference_levels: Mapping[str, str] | None = None,
    variables: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """How the config declares each design variable: ``factor`` or ``numeric`` (undeclared: absent).

    A variable is a factor when the design wraps it in ``C()``, a contrast compares its levels,
    ``reference_levels`` names it, or ``variables`` says so; ``variables`` alone declares numeric
    covariates (conflicts are refused when the config is validated).
    """
    import re

    out = {v: "factor" for v in re.findall(r"C\(\s*([A-Za-z_][A-Za-z0-9_.]*)", design)}
    out.update({c.variable: "factor" for c in contrasts if c.variable is not None})
    out.update({v: "factor" for v in (reference_levels or {})})
    out.update(dict(variables or {}))
    return out


def prepare_design_frame(
    obs: pd.DataFrame,
    design_variables: Sequence[str],
    contrasts: Sequence[Contrast],
    design: str,
    sheet_path: str | Path,
    reference_levels: Mapping[str, str] | None = None,
    variables: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Check design variables and type them: factors as text levels, numeric covariates as floats.

    A column whose values are all whole numbers (donors ``720, 714``, batches ``1, 2``, ages in
    years) is ambiguous unless something declares it (``variables``, ``C()``, a contrast or
    ``reference_levels``) and is refused; a column with decimals is a numeric covariate, one with
    text a factor, and a pandas categorical (AnnData ``obs``) a factor.

    Raises
    ------
    DesignError
        For a variable missing from the sheet, missing values, an undeclared whole-number
        variable, a variable with one level, a contrast on a variable outside the design, or a
        contrast level that does not exist.
    """
    out = obs.copy()
    reference_levels = dict(reference_levels or {})
    for var in variables or {}:
        if var not in design_variables:
            raise DesignError(
                f"`variables` names '{var}', which is not in the design {design}",
                column=var,
                hint="list only design variables under `variables`",
            )
    declared = declared_types(design, contrasts, reference_levels, variables)
    for var in design_variables:
        out[var] = _typed_design_variable(out, var, declared.get(var), sheet_path)
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


def _level_text(col: pd.Series, numeric: pd.Series | None) -> pd.Series:
    """Factor levels as text; whole numbers without a trailing ``.0`` (``720.0`` -> ``720``)."""
    if numeric is not None and bool((numeric == np.round(numeric)).all()):
        return numeric.map(lambda v: str(int(v))).astype(object)
    return col.astype(str)


def _typed_design_variable(
    out: pd.DataFrame, var: str, declared: str | None, sheet_path: str | Path
) -> pd.Series:
    """One design column, complete and with two levels (factor) or non-constant (numeric)."""
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
    if declared is None and (
        isinstance(col.dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(col.dtype)
    ):
        declared = "factor"  # a typed AnnData obs column says what it is
    as_number = pd.to_numeric(col.astype(str) if col.dtype == object else col, errors="coerce")
    numeric = bool(as_number.notna().all())
    if declared is None and numeric and bool((as_number == np.round(as_number)).all()):
        shown = ", ".join(str(int(v)) for v in pd.unique(as_number)[:4])
        more = ", ..." if as_number.nunique() > 4 else ""
        raise DesignError(
            f"design variable '{var}' holds only whole numbers ({shown}{more}): is it a factor "
            "(donors, batches, coded groups; one coefficient per level) or a numeric covariate "
            "(age, dose; one slope)?",
            file=sheet_path,
            column=var,
            hint=f"declare it in the config: `variables: {{{var}: factor}}` or "
            f"`variables: {{{var}: numeric}}` (or write C({var}) in the design for a factor)",
        )
    typed: pd.Series
    if declared == "numeric" and not numeric:
        bad = col[as_number.isna()]
        raise DesignError(
            f"`variables` declares '{var}' numeric but sample '{bad.index[0]}' has {bad.iloc[0]!r}",
            file=sheet_path,
            row=str(bad.index[0]),
            column=var,
            hint=f"fix the value, or declare it `variables: {{{var}: factor}}`",
        )
    if declared == "factor" or not numeric:
        typed = _level_text(col, as_number if numeric else None)
        if typed.nunique() < 2:
            raise DesignError(
                f"design variable '{var}' has only one level ({typed.iloc[0]!r})",
                file=sheet_path,
                column=var,
                hint="remove it from the design or add samples from another level",
            )
    else:
        typed = as_number.astype(float)
        if typed.std() == 0:
            raise DesignError(
                f"continuous variable '{var}' is constant",
                file=sheet_path,
                column=var,
                hint="remove it from the design",
            )
    return typed


def describe_design(frame: pd.DataFrame) -> list[dict[str, object]]:
    """Each design variable with its type and levels (factor) or mean and SD (numeric).

    Returns
    -------
    list of dict
        ``{"variable", "type": "factor", "levels": {level: n samples}}`` or
        ``{"variable", "type": "numeric", "mean", "sd", "min", "max"}``, in design order; the
        manifest, summary and report methods list them.
    """
    out: list[dict[str, object]] = []
    for var in frame.columns:
        col = frame[var]
        if pd.api.types.is_float_dtype(col):
            x = col.to_numpy(dtype=float)
            out.append(
                {
                    "variable": str(var),
                    "type": "numeric",
                    "mean": round(float(x.mean()), 6),
                    "sd": round(float(x.std(ddof=1)), 6),
                    "min": float(x.min()),
                    "max": float(x.max()),
                }
            )
        else:
            counts = col.astype(str).value_counts()
            levels = {str(k): int(counts[k]) for k in sorted(counts.index)}
            out.append({"variable": str(var), "type": "factor", "levels": levels})
    return out


def design_text(description: Sequence[Mapping[str, object]]) -> str:
    """One line per design variable, e.g. ``donor: factor (713: 2, 714: 2)``, for summaries."""
    parts = []
    for d in description:
        if d["type"] == "numeric":
            parts.append(
                f"{d['variable']}: numeric, mean {cast(float, d['mean']):.4g} +/- {cast(float, d['sd']):.3g} SD "
                "(centred and scaled inside the fit; log2FC per original unit)"
            )
        else:
            levels = cast("dict[str, int]", d["levels"])
            parts.append(f"{d['variable']}: factor ({', '.join(f'{k}: {v}' for k, v in levels.items())})")
    return "; ".join(parts)


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
