"""Over-representation analysis (ORA) of the significant up and down genes of a contrast.

For each collection and direction the hypergeometric upper tail
``P(X >= overlap)``, ``X ~ Hypergeometric(universe, set_size, de_genes)`` - R's
``phyper(overlap - 1, set_size, universe - set_size, de_genes, lower.tail = FALSE)`` - computed by
``scipy.stats.hypergeom.sf`` and checked against R (``tests/data/ora/``), then Benjamini-Hochberg
within collection and direction (R's ``p.adjust(method = "BH")``).

Gene identity and the universe follow the GSEA ranking: one row per symbol (the row with the
highest ``baseMean`` represents a symbol, :func:`bmsc_dge.enrichment.collapse_by_symbol`), and the universe
is every symbol **tested** - those with an adjusted p-value (genes removed by independent
filtering or Cook's outlier detection, and all-zero genes, could never be significant and are left
out of the universe as out of the DE lists). A set's ``set_size`` is its members in the universe;
sets below ``min_size`` or above ``max_size`` there are not tested. Every tested set is in the BH
family, overlap or not.

Why not ``gseapy.enrich``: it computes the same tail with the same scipy function, but drops sets
without overlap before its BH step (as Enrichr and clusterProfiler do), which makes adjusted
p-values smaller than R's ``p.adjust`` over all tested sets; and it has no size filter.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import hypergeom

from bmsc_dge.calls import significant
from bmsc_dge.deseq2 import bh_adjust
from bmsc_dge.enrichment._symbols import collapse_by_symbol

logger = logging.getLogger(__name__)

ORA_COLUMNS = [
    "term",
    "collection",
    "direction",
    "set_size",
    "overlap",
    "universe",
    "de_genes",
    "pval",
    "padj",
    "overlap_genes",
]


def de_gene_lists(de: pd.DataFrame, alpha: float) -> tuple[pd.Index, dict[str, pd.Index]]:
    """The ORA universe and the significant up / down symbols of a DE table.

    Parameters
    ----------
    de
        DE table with ``symbol``, ``baseMean``, ``log2FoldChange`` and ``padj``.
    alpha
        Significance threshold on ``padj``.

    Returns
    -------
    tuple
        ``universe`` (tested symbols) and ``{"up": ..., "down": ...}``, each ordered by ``padj``.
    """
    sub = de.loc[
        np.isfinite(de["padj"].to_numpy(dtype=float)), ["symbol", "baseMean", "log2FoldChange", "padj"]
    ]
    sub = collapse_by_symbol(sub.astype({"symbol": str}))
    sig = sub[significant(sub, alpha)].sort_values("padj", kind="mergesort")
    lfc = sig["log2FoldChange"].to_numpy(dtype=float)
    lists = {"up": pd.Index(sig["symbol"][lfc > 0]), "down": pd.Index(sig["symbol"][lfc < 0])}
    return pd.Index(sub["symbol"]), lists


def ora(
    de: pd.DataFrame,
    collections: Mapping[str, Mapping[str, Sequence[str]]],
    *,
    alpha: float,
    min_size: int = 5,
    max_size: int = 600,
) -> pd.DataFrame:
    """ORA of the significant up and down genes against every collection.

    Parameters
    ----------
    de
        DE table of one contrast.
    collections
        ``collection -> {term: member symbols}`` (as matched to the data for GSEA).
    alpha
        DE significance threshold (``padj < alpha``).
    min_size, max_size
        Sets with fewer or more members in the universe are not tested.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`ORA_COLUMNS`; sorted by collection, direction (up first) and p-value. A
        direction without significant genes contributes no rows.
    """
    universe, lists = de_gene_lists(de, alpha)
    in_universe = set(universe)
    n_universe = len(universe)
    rows = []
    for collection, sets in collections.items():
        members = {
            term: [g for g in dict.fromkeys(map(str, genes)) if g in in_universe]
            for term, genes in sets.items()
        }
        tested = {t: m for t, m in members.items() if min_size <= len(m) <= max_size}
        for direction, genes in lists.items():
            if len(genes) == 0 or not tested:
                continue
            order = {g: i for i, g in enumerate(genes)}
            block = []
            for term, m in tested.items():
                hits = sorted((g for g in m if g in order), key=order.__getitem__)
                block.append((term, len(m), len(hits), ";".join(hits)))
            table = pd.DataFrame(block, columns=["term", "set_size", "overlap", "overlap_genes"])
            table["pval"] = hypergeom_tail(table["overlap"], n_universe, table["set_size"], len(genes))
            table["padj"] = bh_adjust(table["pval"].to_numpy())
            table["collection"], table["direction"] = collection, direction
            table["universe"], table["de_genes"] = n_universe, len(genes)
            rows.append(table.sort_values("pval", kind="mergesort"))
    if not rows:
        logger.info("ORA: no significant genes at padj < %g, or no set in the size range", alpha)
        return pd.DataFrame(columns=ORA_COLUMNS)
    return pd.concat(rows, ignore_index=True)[ORA_COLUMNS]


def hypergeom_tail(
    overlap: pd.Series | np.ndarray, universe: int, set_size: pd.Series | np.ndarray, drawn: int
) -> np.ndarray:
    """``P(X >= overlap)`` for ``X ~ Hypergeometric(universe, set_size, drawn)`` (R's ``phyper`` upper tail)."""
    k = np.asarray(overlap, dtype=float)
    return np.asarray(hypergeom.sf(k - 1, universe, np.asarray(set_size, dtype=float), drawn), dtype=float)
