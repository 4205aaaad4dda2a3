"""GSEA figures: running enrichment score and a dot plot across sets and contrasts."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Mapping
from typing import cast

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from bmsc_dge.config import CURATED
from bmsc_dge.pl._common import DOWN, DPI, UP


def polyline_vertices(y: np.ndarray, rtol: float = 1e-9) -> np.ndarray:
    """Indices of the points of ``y`` (over 0..n-1) where the polyline bends, plus both ends.

    A running enrichment score falls by the same step at every miss, so between hits it is a
    straight line: drawing only its bends gives the same line with a few hundred points instead
    of one per gene (smaller SVGs, faster saves). Points whose incoming and outgoing steps agree
    to ``rtol`` of the largest step are dropped.
    """
    y = np.asarray(y, dtype=float)
    if y.size <= 2:
        return np.arange(y.size)
    d = np.diff(y)
    scale = float(np.max(np.abs(d))) or 1.0
    bends = np.flatnonzero(np.abs(np.diff(d)) > rtol * scale) + 1
    return np.concatenate(([0], bends, [y.size - 1]))


def monotone_outline(y: np.ndarray, points: int = 2000) -> np.ndarray:
    """Indices thinning a sorted (monotone) series to about ``points`` for an area plot.

    The ranked metric has one value per gene (~20 per pixel column at the saved size); a
    monotone curve sampled evenly, with its ends and its sign change kept, draws the same area.
    """
    y = np.asarray(y, dtype=float)
    if y.size <= points:
        return np.arange(y.size)
    idx = np.linspace(0, y.size - 1, points).round().astype(int)
    sign = np.flatnonzero(np.diff(np.sign(y)) != 0)
    return np.unique(np.concatenate((idx, sign, sign + 1)))


def running_score(
    curve: dict,
    ranking: pd.Series,
    *,
    term: str,
    nes: float,
    fdr: float,
    ax: Axes | None = None,
    metric_label: str = "Wald stat",
) -> Axes:
    """Running enrichment score with hit positions and the ranked metric (gseapy's layout)."""
    if ax is None:
        fig = Figure(layout="constrained", figsize=(6.0, 4.5))
        axes = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": [3, 0.6, 1.4]})
    else:
        fig = ax.figure  # type: ignore[assignment]
        axes = [ax, ax.inset_axes((0, -0.3, 1, 0.2)), ax.inset_axes((0, -0.65, 1, 0.3))]
    res = np.asarray(curve["res"], dtype=float)
    x = polyline_vertices(res)
    color = UP if nes > 0 else DOWN
    axes[0].plot(x, res[x], color=color, lw=1.5)
    axes[0].axhline(0, color="black", lw=0.5)
    axes[0].set_ylabel("enrichment score")
    axes[0].set_title(_title(term, nes, fdr), fontsize=9)
    axes[1].vlines(curve["hits"], 0, 1, color="black", lw=0.5)
    axes[1].set_yticks([])
    metric = ranking.to_numpy(dtype=float)
    keep = monotone_outline(metric)
    axes[2].fill_between(keep, metric[keep], color="#7f8c8d", lw=0)
    axes[2].set_ylabel(metric_label, fontsize=8)
    axes[2].set_xlabel("rank in gene list")
    return axes[0]  # type: ignore[no-any-return]


def running_scores(
    curves: Mapping[str, dict],
    stats: Mapping[str, tuple[float, float]],
    ranking: pd.Series,
    metric_label: str = "Wald stat",
    *,
    keep: Callable[[str], bool] | None = None,
    dpi: int = DPI,
) -> Iterator[tuple[str, Figure]]:
    """:func:`running_score` for many sets of one ranking, drawn on one reused figure.

    The ranked-metric panel and the axes are built once; each step only swaps the curve, the hit
    marks and the title. Save each yielded figure (with :func:`save_figure`) before advancing: the
    next step redraws it. The layout is the one the first set (in ``stats`` order) gets when it is
    saved, whichever sets are drawn, so a set's figure does not depend on which others were.

    Parameters
    ----------
    curves
        ``term -> {"res": running score, "hits": hit positions}``.
    stats
        ``term -> (NES, FDR)`` in drawing order; terms without a curve are skipped.
    ranking
        The ranked metric the curves were computed on.
    metric_label
        Label of the ranked-metric panel.
    keep
        Asked once per set with a curve, in order, just before it would be drawn: ``False`` skips
        it (e.g. another process draws it). ``None`` draws every set.
    dpi
        The resolution the figures are saved at (the layout is solved for it).
    """
    with_curve = [(t, curves[t], nes, fdr) for t, (nes, fdr) in stats.items() if curves.get(t)]
    fig: Figure | None = None
    for k, (term, curve, nes, fdr) in enumerate(with_curve):
        if keep is not None and not keep(term):
            continue
        if fig is None:  # built for the first set drawn; laid out as the first set of all is
            first_term, first_curve, first_nes, first_fdr = with_curve[0]
            fig = cast(
                Figure,
                running_score(
                    first_curve,
                    ranking,
                    term=first_term,
                    nes=first_nes,
                    fdr=first_fdr,
                    metric_label=metric_label,
                ).figure,
            )
            line, ticks = fig.axes[0].lines[0], cast(LineCollection, fig.axes[1].collections[0])
            if k == 0:
                yield term, fig  # its save solves the layout
                # the layout is fixed from here on; later titles have the same two lines
                fig.set_layout_engine(None)
                continue
            fig.savefig(io.BytesIO(), format="png", dpi=dpi)  # solved as the first set's save would
            fig.set_layout_engine(None)
        res = np.asarray(curve["res"], dtype=float)
        x = polyline_vertices(res)
        line.set_data(x, res[x])
        line.set_color(UP if nes > 0 else DOWN)
        fig.axes[0].relim()
        fig.axes[0].autoscale_view()
        hits = np.asarray(curve["hits"], dtype=float)
        ticks.set_segments([np.array([[h, 0.0], [h, 1.0]]) for h in hits])
        fig.axes[0].set_title(_title(term, nes, fdr), fontsize=9)
        yield term, fig


def _title(term: str, nes: float, fdr: float) -> str:
    fdr_txt = f"{fdr:.2g}" if fdr > 0 else "< 1/permutations"
    return f"{term}\nNES {nes:+.2f}, FDR {fdr_txt}"


def enrichment_dotplot(gsea: pd.DataFrame, *, fdr: float = 0.05, ax: Axes | None = None) -> Axes:
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
    return ax


def gsea_dotplot(
    gsea: pd.DataFrame,
    *,
    fdr: float = 0.05,
    top: int = 25,
    collection: str | None = CURATED,
    ax: Axes | None = None,
) -> Axes:
    """Dot plot of one GSEA table (one contrast, or several with a ``contrast`` column).

    The ``top`` sets by FDR (then |NES|) of ``collection`` (``None``: all collections) are drawn
    with :func:`enrichment_dotplot`.
    """
    g = gsea if collection is None or "collection" not in gsea else gsea[gsea["collection"] == collection]
    if "contrast" not in g:
        g = g.assign(contrast="contrast")
    order = g.assign(_abs=g["nes"].abs()).sort_values(
        ["fdr", "_abs"], ascending=[True, False], kind="mergesort"
    )
    keep = list(dict.fromkeys(order["term"]))[:top]
    return enrichment_dotplot(g[g["term"].isin(keep)][["term", "contrast", "nes", "fdr"]], fdr=fdr, ax=ax)
