"""Design helpers: reference levels first, fits per reference set, R-style coefficient names."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence

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
