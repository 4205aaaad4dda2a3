"""Pre-ranked GSEA on the Wald statistic, and over-representation analysis of the DE lists.

``run_prerank`` runs one collection with the configured engine (:data:`bmsc_dge.engines`):
bmsc-dge's own (:func:`prerank`, gseapy's statistic walked over the hits only) or gseapy's.
The gene sets themselves live in :mod:`bmsc_dge.genesets`.
"""

from bmsc_dge.enrichment._gsea import GSEA_COLUMNS, GseaResult, ranking_from_de, run_prerank
from bmsc_dge.enrichment._multilevel import multilevel_pvalues, simple_log2err
from bmsc_dge.enrichment._ora import ORA_COLUMNS, de_gene_lists, hypergeom_tail, ora
from bmsc_dge.enrichment._prerank import PrerankResult, prerank, running_score
from bmsc_dge.enrichment._ranked import RankedGsea, gsea_ranked_list, running_curves
from bmsc_dge.enrichment._symbols import collapse_by_symbol

__all__ = [
    "GSEA_COLUMNS",
    "ORA_COLUMNS",
    "GseaResult",
    "PrerankResult",
    "RankedGsea",
    "collapse_by_symbol",
    "de_gene_lists",
    "gsea_ranked_list",
    "hypergeom_tail",
    "multilevel_pvalues",
    "ora",
    "prerank",
    "ranking_from_de",
    "run_prerank",
    "running_curves",
    "running_score",
    "simple_log2err",
]
