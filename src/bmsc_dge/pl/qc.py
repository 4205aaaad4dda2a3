"""QC figures: PCA, sample correlation heatmap, library sizes."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from bmsc_dge.pl._common import figure_and_axes


def pca_plot(
    scores: pd.DataFrame,
    variance_ratio: pd.Series,
    *,
    color: str,
    marker: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """PC1 vs PC2 coloured by ``color`` (and shaped by ``marker``), samples labelled."""
    _, ax = figure_and_axes(ax)
    levels = sorted(scores[color].astype(str).unique())
    cmap = ["#c0392b", "#2471a3", "#27ae60", "#8e44ad", "#d68910", "#17a589", "#5d6d7e"]
    markers = ["o", "s", "^", "D", "v", "P", "X"]
    mlevels = sorted(scores[marker].astype(str).unique()) if marker else [None]
    for i, lv in enumerate(levels):
        for j, ml in enumerate(mlevels):
            sel = scores[color].astype(str) == lv
            if marker:
                sel &= scores[marker].astype(str) == ml
            if not sel.any():
                continue
            label = f"{lv}" if not marker else f"{lv} / {ml}"
            ax.scatter(
                scores.loc[sel, "PC1"],
                scores.loc[sel, "PC2"],
                s=60,
                color=cmap[i % len(cmap)],
                marker=markers[j % len(markers)],
                label=label,
                edgecolor="black",
                linewidth=0.5,
            )
    for _, r in scores.iterrows():
        ax.annotate(
            str(r["sample"]), (r["PC1"], r["PC2"]), fontsize=7, xytext=(3, 3), textcoords="offset points"
        )
    ax.set_xlabel(f"PC1 ({100 * variance_ratio['PC1']:.1f}% variance)")
    ax.set_ylabel(f"PC2 ({100 * variance_ratio['PC2']:.1f}% variance)")
    ax.set_title(f"PCA of VST data, coloured by {color}")
    ax.legend(fontsize=8, frameon=False)
    return ax


def correlation_heatmap(corr: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Sample-to-sample Pearson correlation (order as given, e.g. clustered)."""
    fig, ax = figure_and_axes(ax, (6.5, 5.5))
    im = ax.imshow(corr.to_numpy(), cmap="viridis", vmin=float(np.nanmin(corr.to_numpy())), vmax=1.0)
    ax.set_xticks(range(len(corr)), corr.columns, rotation=90, fontsize=7)
    ax.set_yticks(range(len(corr)), corr.index, fontsize=7)
    fig.colorbar(im, ax=ax, label="Pearson r (VST)")
    ax.set_title("Sample-to-sample correlation (clustered)")
    return ax


def library_sizes(qc: pd.DataFrame, *, color: str | None = None, ax: Axes | None = None) -> Axes:
    """Library size (millions of reads) and detected genes per sample."""
    _, ax = figure_and_axes(ax, (7.0, 3.8))
    colors = None
    if color and color in qc.columns:
        levels = sorted(qc[color].astype(str).unique())
        pal = dict(zip(levels, ["#c0392b", "#2471a3", "#27ae60", "#8e44ad", "#d68910"], strict=False))
        colors = [pal.get(v, "#7f8c8d") for v in qc[color].astype(str)]
    ax.bar(qc["sample"], qc["library_size"] / 1e6, color=colors)
    ax.set_ylabel("library size (M reads)")
    ax.tick_params(axis="x", rotation=90, labelsize=7)
    ax2 = ax.twinx()
    ax2.plot(qc["sample"], qc["detected_genes"], "k.-", label="detected genes")
    ax2.set_ylabel("detected genes")
    ax.set_title("Library sizes" + (f" (bars coloured by {color})" if colors else ""))
    return ax
