"""Pre-ranked GSEA on the Wald statistic.

``run_prerank`` runs one collection with the configured engine (:data:`bmsc_dge.engines`):
bmsc-dge's own (:func:`prerank`, gseapy's statistic walked over the hits only) or gseapy's.
The gene sets themselves live in :mod:`bmsc_dge.genesets`.
"""

from bmsc_dge.enrichment._gsea import GSEA_COLUMNS, GseaResult, ranking_from_de, run_prerank
from bmsc_dge.enrichment._prerank import PrerankResult, prerank, running_score

__all__ = [
    "GSEA_COLUMNS",
    "GseaResult",
    "PrerankResult",
    "prerank",
    "ranking_from_de",
    "run_prerank",
    "running_score",
]
