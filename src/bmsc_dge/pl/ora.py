"""Over-representation dot plot (from the ORA table; no statistics computed here)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bmsc_dge.pl._common import DOWN, UP


def ora_dotplot(
    ora: pd.DataFrame,
    *,
    fdr: float = 0.05,
    top: int = 10,
    title: str = "",
    ax: Axes | None = None,
) -> Axes:
    """Top over-represented sets per direction: gene ratio (x), set (y), overlap (size).

    Parameters
    ----------
    ora
        An ORA table (:data:`bmsc_dge.enrichment.ORA_COLUMNS`) of one contrast.
    fdr
        Sets with ``padj < fdr`` are drawn filled, the others hollow.
    top
        Sets per direction, by p-value (those with an overlap only).
    title
        Axes title.
    ax
        Draw into this Axes.
    """
    shown = (
        ora[ora["overlap"] > 0]
        .sort_values("pval", kind="mergesort")
        .groupby("direction", sort=False)
        .head(top)
    )
    shown = shown.assign(
        label=shown["term"].astype(str) + " (" + shown["collection"].astype(str) + ")",
        ratio=shown["overlap"] / shown["de_genes"],
    ).sort_values(["direction", "pval"], ascending=[False, False], kind="mergesort")
    if ax is None:
        fig = Figure(figsize=(7.5, 1.4 + 0.3 * max(len(shown), 1)), layout="constrained")
        ax = fig.add_subplot()
    y = np.arange(len(shown))
    colours = np.where(shown["direction"] == "up", UP, DOWN)
    filled = (shown["padj"] < fdr).to_numpy()
    ax.scatter(
        shown["ratio"],
        y,
        s=20 + 12 * np.sqrt(shown["overlap"].to_numpy(dtype=float)),
        c=[c if f else "none" for c, f in zip(colours, filled, strict=True)],
        edgecolors=list(colours),
        linewidths=1.0,
    )
    ax.set_yticks(y, list(shown["label"]), fontsize=7)
    ax.set_xlabel("gene ratio (overlap / significant genes of that direction)")
    ax.set_title(
        title or f"Over-representation (red: up genes, blue: down; filled: padj < {fdr}; size: overlap)",
        fontsize=9,
    )
    if not len(shown):
        ax.text(
            0.5,
            0.5,
            "no set overlaps the significant genes",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
    return ax
