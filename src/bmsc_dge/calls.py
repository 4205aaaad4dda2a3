"""Which genes a DE table calls: the one definition of significance, read everywhere.

:func:`significant` (``padj < alpha``; genes without ``padj`` - independent filtering, Cook's
outliers, all-zero - never are) is what the targets, the summary, the report, the plots, the
stability refits, the meta-analysis and the run comparison use; :func:`de_counts` is its tally.
Nothing here imports the rest of the library.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: the ``alpha`` (and GSEA FDR) of the notebook API and plots when none is given
DEFAULT_ALPHA = 0.05


def significant(table: pd.DataFrame | pd.Series, alpha: float) -> np.ndarray:
    """Boolean mask of the genes called at ``alpha``: ``padj < alpha`` (NaN padj: not called).

    ``table`` is a DE (or meta-analysis) table with a ``padj`` column, or the ``padj`` column.
    """
    padj = (table if isinstance(table, pd.Series) else table["padj"]).to_numpy(dtype=float)
    return np.isfinite(padj) & (padj < alpha)


@dataclass(frozen=True)
class DECounts:
    """How many genes a DE table calls, and in which direction."""

    significant: int
    up: int
    down: int
    tested: int


def de_counts(de: pd.DataFrame, alpha: float) -> DECounts:
    """Called genes (up / down by the log2 fold change) and genes tested (with a ``padj``)."""
    sig = significant(de, alpha)
    lfc = de["log2FoldChange"].to_numpy(dtype=float)
    return DECounts(
        significant=int(sig.sum()),
        up=int((sig & (lfc > 0)).sum()),
        down=int((sig & (lfc < 0)).sum()),
        tested=int(np.isfinite(de["padj"].to_numpy(dtype=float)).sum()),
    )
