"""Meta-analysis figures: forest plots of genes and gene sets, and the heterogeneity overview.

Drawing only: every number comes from the meta tables (:mod:`bmsc_dge.meta`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from bmsc_dge.calls import significant
from bmsc_dge.pl._common import DOWN, GREY, UP, figure_and_axes

Z95 = 1.959963984540054


def forest(
    row: pd.Series,
    studies: Sequence[str],
    *,
    estimate: str = "log2FoldChange",
    se: str = "lfcSE",
    label: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Forest plot of one gene of the meta table.

    Each study's estimate with its 95% CI, the pooled estimate as a diamond, tau^2 / I^2 and the
    leave-one-study-out flag in the title.

    Parameters
    ----------
    row
        One row of ``tables/meta/<name>.meta.tsv`` (per-study ``<study>_log2FoldChange`` and
        ``<study>_lfcSE`` columns, pooled ``log2FoldChange``, ``lfcSE``, ``padj``, ``tau2``, ``I2``).
    studies
        Study names, top to bottom.
    """
    present = [s for s in studies if np.isfinite(float(row.get(f"{s}_{estimate}", np.nan)))]
    _, ax = figure_and_axes(ax, (6.0, 1.0 + 0.45 * (len(present) + 1)))
    ys = np.arange(len(present), 0, -1, dtype=float)
    for y, s in zip(ys, present, strict=True):
        b, e = float(row[f"{s}_{estimate}"]), float(row[f"{s}_{se}"])
        colour = UP if b > 0 else DOWN
        ax.errorbar(b, y, xerr=Z95 * e, fmt="s", color=colour, ecolor=colour, capsize=3, markersize=5)
    mu, s_mu = float(row[estimate]), float(row[se])
    lo, hi = mu - Z95 * s_mu, mu + Z95 * s_mu
    ax.fill([lo, mu, hi, mu], [0, 0.25, 0, -0.25], color="#333333")
    ax.axvline(0, color=GREY, lw=1, ls="--")
    ax.set_yticks([*ys, 0], [*present, "pooled"])
    ax.set_xlabel(f"{estimate} (95% CI)")
    title = label or str(row.get("symbol", ""))
    extras = f"padj {float(row['padj']):.2g}" if np.isfinite(float(row.get("padj", np.nan))) else "padj NA"
    if "I2" in row:
        extras += f", tau2 {float(row['tau2']):.3g}, I2 {float(row['I2']):.0f}%"
    if str(row.get("loso_flag", "")):
        extras += f"; {row['loso_flag']}"
    ax.set_title(f"{title}: {extras}", fontsize=10)
    ax.set_ylim(-0.7, len(present) + 0.7)
    return ax


def set_forest(row: pd.Series, studies: Sequence[str], *, ax: Axes | None = None) -> Axes:
    """Each study's NES of one gene set (``<study>_nes``) and the combined z, as a forest-style plot."""
    present = [s for s in studies if np.isfinite(float(row.get(f"{s}_nes", np.nan)))]
    _, ax = figure_and_axes(ax, (6.0, 1.0 + 0.45 * (len(present) + 1)))
    ys = np.arange(len(present), 0, -1, dtype=float)
    for y, s in zip(ys, present, strict=True):
        nes = float(row[f"{s}_nes"])
        ax.plot(nes, y, "s", color=UP if nes > 0 else DOWN, markersize=6)
        fdr = float(row.get(f"{s}_fdr", np.nan))
        ax.annotate(f"FDR {fdr:.2g}", (nes, y), xytext=(6, 4), textcoords="offset points", fontsize=7)
    ax.plot(float(row["mean_nes"]), 0, "D", color="#333333", markersize=8)
    ax.axvline(0, color=GREY, lw=1, ls="--")
    ax.set_yticks([*ys, 0], [*present, "mean NES"])
    ax.set_xlabel("NES")
    ax.set_title(f"{row['term']}: combined z {float(row['z']):+.2f}, FDR {float(row['fdr']):.2g}", fontsize=9)
    ax.set_ylim(-0.7, len(present) + 0.7)
    return ax


def heterogeneity(genes: pd.DataFrame, alpha: float, *, ax: Axes | None = None) -> Axes:
    """Pooled log2FC against I^2 for every gene (significant genes coloured by direction)."""
    _, ax = figure_and_axes(ax, (6.0, 4.5))
    sig = significant(genes, alpha)
    lfc = genes["log2FoldChange"].to_numpy(dtype=float)
    i2 = genes["I2"].to_numpy(dtype=float)
    ax.scatter(lfc[~sig], i2[~sig], s=5, color=GREY, alpha=0.5, label="not significant", rasterized=True)
    for mask, colour, name in ((sig & (lfc > 0), UP, "up"), (sig & (lfc < 0), DOWN, "down")):
        ax.scatter(lfc[mask], i2[mask], s=14, color=colour, label=f"padj < {alpha} ({name})")
    ax.set_xlabel("pooled log2FoldChange")
    ax.set_ylabel("I² (%)")
    ax.set_ylim(-3, 103)
    ax.set_title(f"Heterogeneity: median I² {np.nanmedian(i2):.0f}% over {len(genes)} genes", fontsize=10)
    ax.legend(fontsize=8, loc="upper right")
    return ax
