"""Result containers passed between the flow, the writers, the figures and the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from bmsc_dge.calls import significant
from bmsc_dge.config import Contrast


@dataclass
class ContrastResult:
    """Everything computed for one contrast."""

    contrast: Contrast
    de: pd.DataFrame
    gsea: pd.DataFrame
    targets: pd.DataFrame
    curves: dict[str, Any] = field(default_factory=dict)
    ranking: pd.Series | None = None
    #: over-representation analysis of the significant up and down genes (:func:`bmsc_dge.enrichment.ora`)
    ora: pd.DataFrame = field(default_factory=pd.DataFrame)


def no_signal_note(result: ContrastResult, alpha: float) -> str | None:
    """The warning a contrast without any significant gene must lead with (None when there is signal)."""
    if significant(result.de, alpha).any():
        return None
    return (
        f"**No gene reaches padj < {alpha} in this contrast.** The ranked list below is ordered by "
        "curated prior, leading edges and test statistics only; none of it is supported by the data "
        "(`supported_by_data` is False for every row)."
    )
