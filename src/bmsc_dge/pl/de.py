"""DE figures: volcano, MA, heatmap of top genes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from bmsc_dge.calls import DEFAULT_ALPHA, significant
from bmsc_dge.pl._common import DOWN, GREY, UP, figure_and_axes


def _colors(de: pd.DataFrame, alpha: float, lfc_col: str) -> np.ndarray:
    sig = significant(de, alpha)
    lfc = de[lfc_col].to_numpy(dtype=float)
    return np.where(sig & (lfc > 0), UP, np.where(sig & (lfc < 0), DOWN, GREY))


def volcano(
    de: pd.DataFrame,
    *,
    alpha: float = DEFAULT_ALPHA,
    label: Sequence[str] = (),
    title: str = "",
    ax: Axes | None = None,
) -> Axes:
    """log2 fold change vs -log10 padj; genes in ``label`` (symbols) are annotated."""
    _, ax = figure_and_axes(ax, (6.5, 5.0))
    d = de[de["padj"].notna()]
    y = -np.log10(np.clip(d["padj"].to_numpy(dtype=float), 1e-300, 1))
    ax.scatter(
        d["log2FoldChange"],
        y,
        s=6,
        c=_colors(d, alpha, "log2FoldChange"),
        alpha=0.7,
        linewidths=0,
        rasterized=True,
    )  # one raster layer for thousands of points keeps the SVG small and fast; labels stay vector
    ax.axhline(-np.log10(alpha), color="black", lw=0.6, ls="--")
    lab = d[d["symbol"].isin(set(label))]
    for _, r in lab.iterrows():
        yy = -np.log10(max(float(r["padj"]), 1e-300))
        ax.annotate(
            str(r["symbol"]),
            (r["log2FoldChange"], yy),
            fontsize=7,
            xytext=(3, 2),
            textcoords="offset points",
            arrowprops={"arrowstyle": "-", "lw": 0.4},
        )
        ax.scatter([r["log2FoldChange"]], [yy], s=14, facecolors="none", edgecolors="black", linewidths=0.6)
    ax.set_xlabel("log2 fold change")
    ax.set_ylabel("-log10 adjusted p-value")
    ax.set_title(title or "Volcano")
    return ax


def ma_plot(
    de: pd.DataFrame,
    *,
    alpha: float = DEFAULT_ALPHA,
    label: Sequence[str] = (),
    title: str = "",
    ax: Axes | None = None,
) -> Axes:
    """Mean of normalised counts (log10) vs shrunken log2 fold change."""
    _, ax = figure_and_axes(ax, (6.5, 4.5))
    col = "log2FoldChange_shrunk" if de["log2FoldChange_shrunk"].notna().any() else "log2FoldChange"
    d = de[de["baseMean"] > 0]
    ax.scatter(
        np.log10(d["baseMean"]),
        d[col],
        s=5,
        c=_colors(d, alpha, col),
        alpha=0.6,
        linewidths=0,
        rasterized=True,
    )
    ax.axhline(0, color="black", lw=0.6)
    for _, r in d[d["symbol"].isin(set(label))].iterrows():
        ax.annotate(
            str(r["symbol"]),
            (np.log10(r["baseMean"]), r[col]),
            fontsize=7,
            xytext=(3, 2),
            textcoords="offset points",
        )
    ax.set_xlabel("log10 mean of normalised counts")
    ax.set_ylabel("shrunken log2 fold change" if col.endswith("shrunk") else "log2 fold change")
    ax.set_title(title or "MA plot")
    return ax


def top_gene_heatmap(z: pd.DataFrame, groups: pd.Series, *, title: str = "", ax: Axes | None = None) -> Axes:
    """Heatmap of per-gene z-scores (genes x samples) with a group colour bar above."""
    fig, ax = figure_and_axes(ax, (7.0, max(3.0, 0.18 * len(z) + 1.5)))
    vmax = float(np.nanmax(np.abs(z.to_numpy()))) if z.size else 1.0
    im = ax.imshow(z.to_numpy(), aspect="auto", cmap="RdBu_r", vmin=-vmax, vmax=vmax)
    ax.set_yticks(range(len(z)), z.index, fontsize=6)
    ax.set_xticks(range(z.shape[1]), z.columns, rotation=90, fontsize=7)
    levels = sorted(groups.astype(str).unique())
    pal = dict(zip(levels, ["#c0392b", "#2471a3", "#27ae60", "#8e44ad"], strict=False))
    for i, s in enumerate(z.columns):
        ax.add_patch(
            Rectangle((i - 0.5, -1.6), 1, 0.9, color=pal.get(str(groups.get(s)), "grey"), clip_on=False)
        )
    ax.set_ylim(len(z) - 0.5, -1.7)
    fig.colorbar(im, ax=ax, label="z-score of VST")
    ax.set_title(title or "Top DE genes", pad=14)
    return ax
