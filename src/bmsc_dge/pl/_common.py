"""Shared plotting helpers."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

UP = "#c0392b"
DOWN = "#2471a3"
GREY = "#b3b6b7"


def figure_and_axes(ax: Axes | None, size: tuple[float, float] = (6.0, 4.5)) -> tuple[Figure, Axes]:
    """Use ``ax`` when given, else make a new figure."""
    if ax is not None:
        return cast(Figure, ax.figure), ax
    fig, new_ax = plt.subplots(figsize=size, layout="constrained")
    return fig, new_ax


def save_figure(fig: Figure, stem: str | Path, *, dpi: int = 130) -> list[Path]:
    """Write ``stem.png`` and ``stem.svg``; close the figure; return both paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("png", "svg"):
        p = stem.parent / f"{stem.name}.{ext}"  # stems may contain dots (T2DM_vs_control.volcano)
        fig.savefig(p, dpi=dpi)
        paths.append(p)
    plt.close(fig)
    return paths
