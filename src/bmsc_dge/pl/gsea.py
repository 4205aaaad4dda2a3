"""GSEA figures: running enrichment score and a dot plot across sets and contrasts."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bmsc_dge.pl._common import DOWN, UP


def running_score(
    curve: dict, ranking: pd.Series, *, term: str, nes: float, fdr: float, ax: Axes | None = None
) -> Figure:
    """Running enrichment score with hit positions and the ranked metric (gseapy's layout)."""
    if ax is None:
        fig = Figure(layout="constrained", figsize=(6.0, 4.5))
        axes = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": [3, 0.6, 1.4]})
    else:
        fig = ax.figure  # type: ignore[assignment]
        axes = [ax, ax.inset_axes((0, -0.3, 1, 0.2)), ax.inset_axes((0, -0.65, 1, 0.3))]
    res = np.asarray(curve["res"], dtype=float)
    x = np.arange(res.size)
    color = UP if nes > 0 else DOWN
    axes[0].plot(x, res, color=color, lw=1.5)
    axes[0].axhline(0, color="black", lw=0.5)
    axes[0].set_ylabel("enrichment score")
    fdr_txt = f"{fdr:.2g}" if fdr > 0 else "< 1/permutations"
    axes[0].set_title(f"{term}\nNES {nes:+.2f}, FDR {fdr_txt}", fontsize=9)
    axes[1].vlines(curve["hits"], 0, 1, color="black", lw=0.5)
    axes[1].set_yticks([])
    axes[2].fill_between(np.arange(len(ranking)), ranking.to_numpy(dtype=float), color="#7f8c8d", lw=0)
    axes[2].set_ylabel("Wald stat", fontsize=8)
    axes[2].set_xlabel("rank in gene list")
    return fig  # type: ignore[return-value]


def enrichment_dotplot(gsea: pd.DataFrame, *, fdr: float = 0.05, ax: Axes | None = None) -> Figure:
    """NES (colour) x -log10 FDR (size) for each set (rows) and contrast (columns).

    ``gsea`` needs columns ``term``, ``contrast``, ``nes``, ``fdr``.
    """
    terms = list(gsea.groupby("term")["nes"].mean().sort_values().index)
    contrasts = list(dict.fromkeys(gsea["contrast"]))
    if ax is None:
        fig = Figure(figsize=(2.5 + 1.4 * len(contrasts), 1.2 + 0.28 * len(terms)), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure  # type: ignore[assignment]
    xi = gsea["contrast"].map({c: i for i, c in enumerate(contrasts)})
    yi = gsea["term"].map({t: i for i, t in enumerate(terms)})
    size = 15 + 40 * np.clip(-np.log10(np.clip(gsea["fdr"].to_numpy(dtype=float), 1e-4, 1)), 0, 4)
    vmax = float(np.nanmax(np.abs(gsea["nes"]))) if len(gsea) else 1.0
    sc = ax.scatter(
        xi,
        yi,
        s=size,
        c=gsea["nes"],
        cmap="RdBu_r",
        vmin=-vmax,
        vmax=vmax,
        edgecolors=list(np.where(gsea["fdr"] < fdr, "black", "none")),
        linewidths=0.8,
    )
    ax.set_yticks(range(len(terms)), terms, fontsize=7)
    ax.set_xticks(range(len(contrasts)), contrasts, rotation=30, ha="right", fontsize=8)
    ax.set_xlim(-0.6, len(contrasts) - 0.4)
    fig.colorbar(sc, ax=ax, label="NES")
    ax.set_title(f"Curated gene sets (size: -log10 FDR; ringed: FDR < {fdr})", fontsize=9)
    return fig  # type: ignore[return-value]
