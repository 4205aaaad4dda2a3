"""Shared plotting helpers."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from matplotlib.axes import Axes
from matplotlib.figure import Figure

UP = "#c0392b"
DOWN = "#2471a3"
GREY = "#b3b6b7"
#: resolution of saved PNGs
DPI = 130


def figure_and_axes(ax: Axes | None, size: tuple[float, float] = (6.0, 4.5)) -> tuple[Figure, Axes]:
    """Use ``ax`` when given, else make a new figure."""
    if ax is not None:
        return cast(Figure, ax.figure), ax
    fig = Figure(figsize=size, layout="constrained")  # no pyplot: safe in concurrent runs
    return fig, fig.add_subplot()


def save_figure(fig: Figure | Axes, stem: str | Path, *, dpi: int = DPI) -> list[Path]:
    """Write ``stem.png`` and ``stem.svg`` of a figure (or of the figure of an Axes); return both paths.

    Figures are plain :class:`matplotlib.figure.Figure` objects (never registered with pyplot), so
    nothing needs closing and concurrent runs in threads do not share state.
    """
    if isinstance(fig, Axes):
        fig = cast(Figure, fig.figure)
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    engine = fig.get_layout_engine()
    try:
        for ext in ("png", "svg"):
            p = stem.parent / f"{stem.name}.{ext}"  # stems may contain dots (T2DM_vs_control.volcano)
            fig.savefig(p, dpi=dpi)
            paths.append(p)
            # the layout is solved by the first save (figure-relative, so valid for both formats);
            # freezing it halves the cost of the second
            fig.set_layout_engine(None)
    finally:
        fig.set_layout_engine(engine)
    return paths
