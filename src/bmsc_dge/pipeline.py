"""One contrast, or one group of contrasts sharing a DESeq2 fit, from counts to targets.

The local Prefect flow wires the same library calls as separate tasks (so each shows in the UI);
the Dask path runs :func:`analyse_fit_group` as one task per fit group on a worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import anndata as ad
import pandas as pd

from bmsc_dge import de as de_mod
from bmsc_dge import gsea as gsea_mod
from bmsc_dge.config import Contrast, StudyConfig
from bmsc_dge.genesets import GeneSet
from bmsc_dge.results import ContrastResult
from bmsc_dge.targets import rank_targets


@dataclass
class FitGroupResult:
    """Results of the contrasts that share one fit, plus that fit's normalisation."""

    results: list[ContrastResult]
    size_factors: pd.Series
    normalized: pd.DataFrame
    executed_on: str = "local"
    seconds: dict[str, float] = field(default_factory=dict)


def gsea_collection(
    ranking: pd.Series, sets: dict[str, list[str]], collection: str, cfg: StudyConfig
) -> gsea_mod.GseaResult:
    """Pre-ranked GSEA of one collection with the study's settings (curves kept for ``curated``)."""
    g = cfg.gene_sets
    return gsea_mod.run_prerank(
        ranking,
        sets,
        collection=collection,
        permutations=g.permutations,
        seed=cfg.seed,
        min_size=g.min_size,
        max_size=g.max_size,
        engine=g.engine,
        curves=collection == "curated",
    )


def analyse_contrast(
    fit: de_mod.DEFit,
    contrast: Contrast,
    cfg: StudyConfig,
    matched: dict[str, dict[str, list[str]]],
    curated: list[GeneSet],
) -> ContrastResult:
    """DE table, GSEA on every collection and ranked targets for one contrast."""
    de = de_mod.contrast_table(fit, contrast, cfg.alpha, cfg.de)
    ranking = gsea_mod.ranking_from_de(de)
    tables, curves = [], {}
    g = cfg.gene_sets
    for collection, sets in matched.items():
        res = gsea_collection(ranking, sets, collection, cfg)
        tables.append(res.table)
        if collection == "curated":
            curves = res.curves
    gsea = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=gsea_mod.GSEA_COLUMNS)
    targets = rank_targets(
        de,
        gsea[gsea["collection"] == "curated"],
        curated,
        alpha=cfg.alpha,
        gsea_fdr=g.fdr,
        weights=cfg.targets.weights,
    )
    return ContrastResult(
        contrast=contrast, de=de, gsea=gsea, targets=targets, curves=curves, ranking=ranking
    )


def analyse_fit_group(
    adata: ad.AnnData,
    frame: pd.DataFrame,
    cfg: StudyConfig,
    references: dict[str, str],
    contrasts: list[Contrast],
    matched: dict[str, dict[str, list[str]]],
    curated: list[GeneSet],
) -> FitGroupResult:
    """Fit once, then analyse every contrast of the group; records the Dask worker it ran on."""
    import time

    try:
        from distributed import get_worker

        where = str(get_worker().address)
    except (ImportError, ValueError):
        where = "local"
    t = time.perf_counter()
    fit = de_mod.fit_deseq2(adata, frame, cfg.design, references, cfg.de)
    seconds = {"fit": time.perf_counter() - t}
    results = []
    for c in contrasts:
        t = time.perf_counter()
        results.append(analyse_contrast(fit, c, cfg, matched, curated))
        seconds[f"contrast:{c.name}"] = time.perf_counter() - t
    return FitGroupResult(
        results=results,
        size_factors=de_mod.size_factors(fit),
        normalized=de_mod.normalized_counts(fit),
        executed_on=where,
        seconds=seconds,
    )
