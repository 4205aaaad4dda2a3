"""Target evidence plot: the weighted score components of the top targets."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from bmsc_dge.config import TargetWeights
from bmsc_dge.pl._common import figure_and_axes


def target_evidence(
    targets: pd.DataFrame, weights: TargetWeights, *, top: int = 20, title: str = "", ax: Axes | None = None
) -> Axes:
    """Stacked horizontal bars: DE, leading-edge and prior contributions to each target's score."""
    t = targets.head(top).iloc[::-1]
    _, ax = figure_and_axes(ax, (6.5, 0.3 * len(t) + 1.2))
    w = np.array([weights.de, weights.leading_edge, weights.prior], dtype=float)
    w = w / w.sum()
    parts = [
        ("DE", t["de_score"] * w[0], "#34495e"),
        ("leading edge", t["leading_edge_score"] * w[1], "#e67e22"),
        ("curated prior", t["prior_score"] * w[2], "#16a085"),
    ]
    left = np.zeros(len(t))
    labels = [f"{s} ({d})" for s, d in zip(t["symbol"], t["direction"], strict=True)]
    for name, vals, color in parts:
        ax.barh(labels, vals, left=left, color=color, label=name)
        left = left + vals.to_numpy()
    ax.set_xlabel("target score")
    ax.tick_params(axis="y", labelsize=7)
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    ax.set_title(title or "Top targets: score components")
    return ax
