"""Result containers passed between the flow, the writers, the figures and the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

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
