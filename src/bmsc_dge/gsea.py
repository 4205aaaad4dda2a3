"""Gene-set enrichment with gseapy prerank on the DESeq2 Wald statistic.

The ranking is the Wald statistic of each gene (genes without a statistic, e.g. all-zero or
Cook's-flagged genes, are left out). Where several rows share a symbol, the row with the highest
``baseMean`` represents it (:func:`bmsc_dge.ids.collapse_by_symbol`). Permutations are gene-set
permutations seeded with the config ``seed``; the same seed gives identical tables.

FDR scope: q-values are computed by gseapy **per collection** (curated, hallmark, go_bp, each user
GMT), i.e. each collection is its own multiple-testing family. The ``fdr_scope`` column says so.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import gseapy
import numpy as np
import pandas as pd

from bmsc_dge.ids import collapse_by_symbol

logger = logging.getLogger(__name__)

GSEA_COLUMNS = [
    "term",
    "collection",
    "size",
    "es",
    "nes",
    "pval",
    "fdr",
    "fwer",
    "leading_edge_size",
    "leading_edge",
    "fdr_scope",
]


@dataclass
class GseaResult:
    """A GSEA table plus the running-enrichment curves (for plotting)."""

    table: pd.DataFrame
    ranking: pd.Series
    curves: dict[str, dict[str, list[float] | list[int]]] = field(default_factory=dict)


def ranking_from_de(de: pd.DataFrame, *, metric: str = "stat") -> pd.Series:
    """Pre-ranked list for GSEA: symbol -> Wald statistic, descending.

    Parameters
    ----------
    de
        DE table with ``symbol``, ``baseMean`` and ``metric`` columns.
    metric
        Column to rank by.

    Returns
    -------
    pandas.Series
        Indexed by unique symbol, sorted from most up- to most down-regulated.
    """
    sub = de.loc[np.isfinite(de[metric].to_numpy(dtype=float)), ["symbol", "baseMean", metric]]
    sub = collapse_by_symbol(sub)
    rank = pd.Series(sub[metric].to_numpy(dtype=float), index=sub["symbol"].astype(str), name=metric)
    return rank.sort_values(ascending=False, kind="mergesort")


def run_prerank(
    ranking: pd.Series,
    gene_sets: Mapping[str, Sequence[str]],
    *,
    collection: str,
    permutations: int,
    seed: int,
    min_size: int,
    max_size: int,
    threads: int = 1,
) -> GseaResult:
    """Run gseapy prerank for one collection.

    Parameters
    ----------
    ranking
        From :func:`ranking_from_de`.
    gene_sets
        ``term -> genes`` (already restricted to the data or not; gseapy intersects).
    collection
        Label written in the ``collection`` column.
    permutations, seed, min_size, max_size, threads
        Passed to gseapy.

    Returns
    -------
    GseaResult
        Table with columns :data:`GSEA_COLUMNS`, sorted by NES (descending), and curves.
    """
    sets = {k: list(v) for k, v in gene_sets.items() if len(v) >= min_size}
    empty = pd.DataFrame(columns=GSEA_COLUMNS)
    if not sets:
        logger.warning("collection %s: no gene set has >= %d genes in the data", collection, min_size)
        return GseaResult(empty, ranking)
    rnk = ranking.copy()
    try:
        pre = gseapy.prerank(
            rnk=rnk,
            gene_sets=sets,
            permutation_num=permutations,
            seed=seed,
            min_size=min_size,
            max_size=max_size,
            threads=threads,
            outdir=None,
            no_plot=True,
            verbose=False,
        )
    except Exception as exc:  # gseapy raises bare Exception when nothing passes its filter
        if "No gene sets passed" in str(exc) or "filtering condition" in str(exc):
            logger.warning("collection %s: no gene set passed the size filter", collection)
            return GseaResult(empty, ranking)
        raise
    r = pre.res2d.copy()
    n_hit = r["Tag %"].astype(str).str.split("/").str[1].astype(int)
    le = r["Lead_genes"].astype(str).str.replace(";", ";", regex=False)
    table = pd.DataFrame(
        {
            "term": r["Term"].astype(str),
            "collection": collection,
            "size": n_hit.to_numpy(),
            "es": r["ES"].astype(float),
            "nes": r["NES"].astype(float),
            "pval": r["NOM p-val"].astype(float),
            "fdr": r["FDR q-val"].astype(float),
            "fwer": r["FWER p-val"].astype(float),
            "leading_edge_size": le.map(lambda s: 0 if not s else len(s.split(";"))),
            "leading_edge": le,
            "fdr_scope": f"per collection ({collection})",
        }
    )
    table = table.sort_values("nes", ascending=False, kind="mergesort").reset_index(drop=True)
    curves: dict[str, dict[str, list[float] | list[int]]] = {}
    for term, res in pre.results.items():
        curves[str(term)] = {
            "res": [float(x) for x in res.get("RES", [])],
            "hits": [int(x) for x in res.get("hits", [])],
        }
    return GseaResult(table, ranking, curves)
