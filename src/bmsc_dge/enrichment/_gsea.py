"""Gene-set enrichment (gseapy's pre-ranked GSEA statistic) on the DESeq2 Wald statistic.

Two engines compute the same statistic: ``"bmsc-dge"`` (default, :mod:`bmsc_dge.enrichment._prerank`: walks
only the hits, seconds for 1,000 sets) and ``"gseapy"`` (``gseapy.prerank`` itself). Enrichment
scores and leading edges are identical; NES, p-values and FDR differ by permutation noise only.

The ranking is the Wald statistic of each gene (genes without a statistic, e.g. all-zero or
Cook's-flagged genes, are left out). Where several rows share a symbol, the row with the highest
``baseMean`` represents it (:func:`bmsc_dge.enrichment.collapse_by_symbol`). Permutations are gene-set
permutations seeded with the config ``seed``; the same seed gives identical tables.

FDR scope: q-values are computed by gseapy **per collection** (curated, hallmark, go_bp, each user
GMT), i.e. each collection is its own multiple-testing family. The ``fdr_scope`` column says so.

Small p-values: a set no permutation reaches gets fgsea's adaptive multilevel p-value
(:mod:`bmsc_dge.enrichment._multilevel`, ``pval_method`` ``multilevel``) instead of the bound
``1 / (permutations + 1)``; every p-value carries fgsea's ``log2err``. The FDR and FWER stay the
permutation estimates (floored at the same bound).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bmsc_dge import engines
from bmsc_dge.config import GeneSetConfig
from bmsc_dge.enrichment._multilevel import DEFAULT_EPS, multilevel_pvalues, simple_log2err
from bmsc_dge.enrichment._prerank import prerank
from bmsc_dge.enrichment._symbols import collapse_by_symbol

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
    "pval_bound",
    "log2err",
    "pval_method",
]


@dataclass
class GseaResult:
    """A GSEA table plus the running-enrichment curves (for plotting)."""

    table: pd.DataFrame
    ranking: pd.Series
    curves: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)


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
    settings: GeneSetConfig,
    seed: int,
    threads: int = 1,
    curves: bool = True,
) -> GseaResult:
    """Pre-ranked GSEA for one collection.

    Parameters
    ----------
    ranking
        From :func:`ranking_from_de`.
    gene_sets
        ``term -> genes`` (already restricted to the data or not; gseapy intersects).
    collection
        Label written in the ``collection`` column.
    settings
        The ``gene_sets`` config: ``permutations``, ``min_size``, ``max_size``, ``engine``
        (``"bmsc-dge"``, :func:`bmsc_dge.enrichment._prerank.prerank`, or ``"gseapy"``) and
        ``multilevel`` (fgsea's multilevel p-values for sets no permutation reaches).
    seed
        Seed of the permutations (and of the multilevel sampling).
    threads
        gseapy's ``threads`` (the bmsc-dge engine runs in the calling thread).
    curves
        Keep each set's running-score curve (for plots).

    Returns
    -------
    GseaResult
        Table with columns :data:`GSEA_COLUMNS`, sorted by NES (descending), and curves.
    """
    sets = {k: list(v) for k, v in gene_sets.items() if len(v) >= settings.min_size}
    empty = pd.DataFrame(columns=GSEA_COLUMNS)
    if not sets:
        logger.warning(
            "collection %s: no gene set has >= %d genes in the data", collection, settings.min_size
        )
        return GseaResult(empty, ranking)
    run = engines.get("gsea", settings.engine).implementation
    result: GseaResult = run(
        ranking, sets, collection=collection, settings=settings, seed=seed, threads=threads, curves=curves
    )
    if settings.multilevel and len(result.table) and result.table["pval_bound"].astype(bool).any():
        result.table = with_multilevel_pvalues(
            result.table, ranking, sets, seed=seed, permutations=settings.permutations
        )
    return result


def with_multilevel_pvalues(
    table: pd.DataFrame,
    ranking: pd.Series,
    gene_sets: Mapping[str, Sequence[str]],
    *,
    seed: int,
    permutations: int,
) -> pd.DataFrame:
    """Replace the bounded p-values (``pval_bound``) of a GSEA table by multilevel estimates.

    The multilevel result's enrichment score must equal the table's (same ranking, same walk);
    a mismatch raises rather than mixing two statistics.
    """
    out = table.copy()
    bound = out["pval_bound"].astype(bool).to_numpy()
    order = ranking.sort_values(ascending=False, kind="mergesort")
    present = set(order.index.astype(str))
    terms = list(out.loc[bound, "term"].astype(str))
    members = {t: [g for g in dict.fromkeys(map(str, gene_sets[t])) if g in present] for t in terms}
    ml = multilevel_pvalues(order, members, seed=seed, permutations=permutations).reindex(terms)
    es = out.loc[bound, "es"].to_numpy(dtype=float)
    if not np.allclose(ml["es"].to_numpy(dtype=float), es, rtol=1e-9, atol=1e-12):
        raise RuntimeError("multilevel enrichment scores differ from the permutation walk's")
    out.loc[bound, "pval"] = ml["pval"].to_numpy(dtype=float)
    out.loc[bound, "log2err"] = ml["log2err"].to_numpy(dtype=float)
    out.loc[bound, "pval_method"] = "multilevel"
    # still a bound only where fgsea's eps stopped the estimate
    out.loc[bound, "pval_bound"] = ml["pval"].to_numpy(dtype=float) <= DEFAULT_EPS
    return out


def _run_bmsc_dge(
    ranking: pd.Series,
    sets: dict[str, list[str]],
    *,
    collection: str,
    settings: GeneSetConfig,
    seed: int,
    threads: int,
    curves: bool,
) -> GseaResult:
    """The bmsc-dge engine: :func:`bmsc_dge.enrichment._prerank.prerank` (``threads`` unused)."""
    empty = pd.DataFrame(columns=GSEA_COLUMNS)
    res = prerank(
        ranking,
        sets,
        permutations=settings.permutations,
        seed=seed,
        min_size=settings.min_size,
        max_size=settings.max_size,
        curves_for=sets.keys() if curves else (),
    )
    if res.table.empty:
        logger.warning("collection %s: no gene set passed the size filter", collection)
        return GseaResult(empty, ranking)
    return GseaResult(_tidy(res.table, collection), ranking, res.curves)


def _run_gseapy(
    ranking: pd.Series,
    sets: dict[str, list[str]],
    *,
    collection: str,
    settings: GeneSetConfig,
    seed: int,
    threads: int,
    curves: bool,
) -> GseaResult:
    """The gseapy engine: ``gseapy.prerank``, zero p-values floored (:func:`_floor_gseapy`)."""
    empty = pd.DataFrame(columns=GSEA_COLUMNS)
    import gseapy  # only this engine needs it (~1 s of imports)

    rnk = ranking.copy()
    try:
        pre = gseapy.prerank(
            rnk=rnk,
            gene_sets=sets,
            permutation_num=settings.permutations,
            seed=seed,
            min_size=settings.min_size,
            max_size=settings.max_size,
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
    table = _floor_gseapy(_tidy(pre.res2d, collection), settings.permutations)
    kept: dict[str, dict[str, np.ndarray]] = {}
    if curves:
        for term, res in pre.results.items():
            kept[str(term)] = {
                "res": np.asarray(res.get("RES", []), dtype=float),
                "hits": np.asarray(res.get("hits", []), dtype=int),
            }
    return GseaResult(table, ranking, kept)


def _tidy(res2d: pd.DataFrame, collection: str) -> pd.DataFrame:
    """Map gseapy's ``res2d`` columns -> :data:`GSEA_COLUMNS`, sorted by NES (descending)."""
    r = res2d.copy()
    n_hit = r["Tag %"].astype(str).str.split("/").str[1].astype(int)
    le = r["Lead_genes"].astype(str)
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
            "pval_bound": r["pval_bound"].astype(bool) if "pval_bound" in r else False,
            "log2err": simple_log2err(r["n_more_extreme"], r["n_same_sign"])
            if "n_more_extreme" in r
            else np.nan,
            "pval_method": "permutation",
        }
    )
    return table.sort_values("nes", ascending=False, kind="mergesort").reset_index(drop=True)


def _floor_gseapy(table: pd.DataFrame, permutations: int) -> pd.DataFrame:
    """Floor gseapy's zero permutation p-values, FDR and FWER.

    gseapy reports ``b / m`` and so 0 when no permutation reaches a set's ES; a permutation
    p-value is never 0. Such values become ``1 / (permutations + 1)``, the smallest p-value the
    permutations could give (``m``, the same-sign null count gseapy does not return, is at most
    ``permutations``, so this floor is below the ``(b + 1) / (m + 1)`` of the bmsc-dge engine), and
    ``pval_bound`` marks them.
    """
    out = table.copy()
    floor = 1.0 / (permutations + 1)
    out["pval_bound"] = out["pval"] <= 0
    for col in ("pval", "fdr", "fwer"):
        out[col] = out[col].clip(lower=floor)
    return out


#: implementation: ``run(ranking, sets, *, collection, settings, seed, threads, curves) -> GseaResult``
engines.register(
    engines.Engine(
        kind="gsea",
        name="bmsc-dge",
        package="bmsc-dge",
        label="bmsc-dge's pre-ranked GSEA",
        method="GSEApy's weighted Kolmogorov-Smirnov statistic and gene-label permutations, walked over the hits",
        reference="Fang Z, Liu X, Peltz G (2022) Bioinformatics btac757, doi:10.1093/bioinformatics/btac757",
        implementation=_run_bmsc_dge,
    )
)
engines.register(
    engines.Engine(
        kind="gsea",
        name="gseapy",
        package="gseapy",
        label="GSEApy prerank",
        method="GSEApy's own implementation",
        reference="Fang Z, Liu X, Peltz G (2022) Bioinformatics btac757, doi:10.1093/bioinformatics/btac757",
        implementation=_run_gseapy,
    )
)
