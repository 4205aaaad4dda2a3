"""Figures from tidy tables (matplotlib). Plotting never computes statistics.

Every function takes a tidy table (and an optional ``ax`` to draw into) and returns the main
matplotlib ``Axes`` it drew (scanpy's convention; ``ax.figure`` is the figure);
:func:`save_figure` writes a figure (or an Axes' figure) as PNG and SVG.
"""

from bmsc_dge.pl._common import save_figure
from bmsc_dge.pl.de import ma_plot, top_gene_heatmap, volcano
from bmsc_dge.pl.gsea import enrichment_dotplot, gsea_dotplot, running_score, running_scores
from bmsc_dge.pl.ora import ora_dotplot
from bmsc_dge.pl.qc import correlation_heatmap, library_sizes, pca_plot
from bmsc_dge.pl.targets import target_evidence

__all__ = [
    "correlation_heatmap",
    "enrichment_dotplot",
    "gsea_dotplot",
    "library_sizes",
    "ma_plot",
    "ora_dotplot",
    "pca_plot",
    "running_score",
    "running_scores",
    "save_figure",
    "target_evidence",
    "top_gene_heatmap",
    "volcano",
]
