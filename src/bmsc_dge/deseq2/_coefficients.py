"""Design helpers: reference levels first, fits per reference set, R-style coefficient names."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from bmsc_dge.config import Contrast
from bmsc_dge.errors import DesignError

logger = logging.getLogger(__name__)


def reorder_reference(frame: pd.DataFrame, variable: str, reference: str) -> pd.DataFrame:
    """Copy of ``frame`` with ``variable`` categorical and ``reference`` as its first level."""
    return with_references(frame, {variable: reference})


def with_references(frame: pd.DataFrame, references: Mapping[str, str]) -> pd.DataFrame:
    """Categorical copy of ``frame``: given references first, other levels sorted."""
    out = frame.copy()
    for col in out.columns:
        if col in references or out[col].dtype == object or isinstance(out[col].dtype, pd.CategoricalDtype):
            values = out[col].astype(str)
            ref = references.get(col)
            levels = sorted(values.unique())
            if ref is not None:
                levels = [ref, *[lv for lv in levels if lv != ref]]
            out[col] = pd.Categorical(values, categories=levels)
    return out


def fit_references(contrast: Contrast, base: Mapping[str, str]) -> dict[str, str]:
    """Reference levels a contrast needs: the study's, overridden by the contrast's own."""
    refs = dict(base)
    if contrast.variable is not None and contrast.reference is not None:
        refs[contrast.variable] = contrast.reference
    return refs


def _normalise_coefficient(name: str) -> str:
    """Compare formulaic (``sex[T.M]:condition[T.T2DM]``) and R (``sexM.conditionT2DM``) names."""
    return re.sub(r"[\[\]:._ ]|T\.", "", name).lower()


def resolve_coefficient(columns: Sequence[str], coefficient: str) -> str:
    """Find a design-matrix column by formulaic or R-style name.

    Raises
    ------
    DesignError
        When no column matches, listing the available ones.
    """
    if coefficient in columns:
        return coefficient
    hits = [c for c in columns if _normalise_coefficient(c) == _normalise_coefficient(coefficient)]
    if len(hits) == 1:
        return hits[0]
    raise DesignError(
        f"coefficient '{coefficient}' is not in the design",
        hint=f"available coefficients: {', '.join(columns)}",
    )


def bare_variables(design: str) -> set[str]:
    """Variables that enter ``design`` only as themselves (never inside a function such as ``np.log``)."""
    from formulaic import Formula

    bare: set[str] = set()
    wrapped: set[str] = set()
    for term in Formula(design.strip().lstrip("~")):
        for factor in term.factors:
            expr = str(factor.expr)
            if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", expr):
                bare.add(expr)
            else:
                wrapped.update(re.findall(r"[A-Za-z_][A-Za-z0-9_.]*", expr))
    return bare - wrapped


def standardise_covariates(frame: pd.DataFrame, design: str) -> tuple[pd.DataFrame, dict[str, float]]:
    """Centre and scale the numeric covariates of ``frame`` that enter ``design`` as themselves.

    DESeq2's documentation asks users to centre and scale numeric covariates (a covariate with a
    large mean, such as age in years or a calendar year, is nearly collinear with the intercept and
    degrades the GLM fit); this does it for them: ``(x - mean) / sd`` (R's ``scale()``, SD with
    ``n - 1``). Factor coefficients are unchanged (with an interaction of a factor and the
    covariate, a factor's main effect is then the effect at the mean of the covariate, as after
    ``scale()`` in R). A covariate used inside a function (``np.log(dose)``) is left as it is.

    Returns
    -------
    tuple
        The transformed frame and the SD of each standardised covariate (divide a coefficient of
        the covariate by it to get log2FC per original unit, :func:`coefficient_scale`).
    """
    out = frame.copy()
    scales: dict[str, float] = {}
    for var in sorted(bare_variables(design)):
        if var in out.columns and pd.api.types.is_float_dtype(out[var]):
            x = out[var].to_numpy(dtype=float)
            sd = float(np.std(x, ddof=1))
            if sd > 0:
                out[var] = (x - x.mean()) / sd
                scales[var] = sd
    return out, scales


def coefficient_scale(column: str, scales: Mapping[str, float]) -> float:
    """Factor turning a coefficient fitted on standardised covariates into one per original unit.

    ``age`` -> SD(age); ``condition[T.T2DM]:age`` -> SD(age); a factor coefficient -> 1.
    """
    factor = 1.0
    for part in column.split(":"):
        factor *= scales.get(part, 1.0)
    return factor
