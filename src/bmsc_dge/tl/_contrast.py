"""One contrast, or one group of contrasts sharing a DESeq2 fit, from counts to targets.

The one code path of the analysis: the CLI's flow, the Dask path and the Python API all call
:func:`analyse_fit_group` / :func:`analyse_contrast`. Each step goes through a *step runner*
``step(name, function, *args)``: :func:`run_directly` calls the function (Dask workers, the API);
the local Prefect flow passes one that runs it as a named Prefect task, so every step shows in
the UI. Each step also reports a progress stage (:func:`bmsc_dge.runs.stage`).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import ParamSpec, Protocol, TypeVar

import anndata as ad
import numpy as np
import pandas as pd

from bmsc_dge import deseq2 as de_mod
from bmsc_dge import enrichment as gsea_mod
from bmsc_dge.config import CURATED, Contrast, GeneSetConfig, StudyConfig, TargetWeights
from bmsc_dge.genesets import GeneSet
from bmsc_dge.runs import stage
from bmsc_dge.targets import PendingStability, StabilityResult, rank_targets
from bmsc_dge.tl._early import RefitPlan
from bmsc_dge.tl._results import ContrastResult

T = TypeVar("T")
P = ParamSpec("P")

logger = logging.getLogger(__name__)


class StepRunner(Protocol):
    """Runs one named analysis step: ``step("wald-test", contrast_table, fit, ...)``.

    Typed with the step's own signature: the arguments are checked against ``function`` and the
    result has its return type.
    """

    def __call__(self, name: str, function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T: ...


def run_directly(name: str, function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """The plain step runner: call ``function(*args, **kwargs)``."""
    return function(*args, **kwargs)


@dataclass
class FitGroupResult:
    """Results of the contrasts that share one fit, plus that fit's normalisation."""

    results: list[ContrastResult]
    size_factors: pd.Series
    normalized: pd.DataFrame
    executed_on: str = "local"
    seconds: dict[str, float] = field(default_factory=dict)


def gsea_collection(
    ranking: pd.Series, sets: dict[str, list[str]], collection: str, g: GeneSetConfig, seed: int
) -> gsea_mod.GseaResult:
    """Pre-ranked GSEA of one collection with the ``gene_sets`` settings (curves kept for ``curated``)."""
    return gsea_mod.run_prerank(
        ranking, sets, collection=collection, settings=g, seed=seed, curves=collection == CURATED
    )


def ora_of(
    de: pd.DataFrame, matched: dict[str, dict[str, list[str]]], g: GeneSetConfig, alpha: float
) -> pd.DataFrame:
    """ORA of the contrast's significant up and down genes with the ``gene_sets`` size limits."""
    return gsea_mod.ora(de, matched, alpha=alpha, min_size=g.min_size, max_size=g.max_size)


def dask_worker() -> str | None:
    """The address of the Dask worker running this code, or None outside a Dask worker."""
    if "distributed" not in sys.modules:  # not imported: no worker (and no 0.2 s import to find out)
        return None
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return None


def start_stability(
    fit: de_mod.DEFit,
    contrast: Contrast,
    cfg: StudyConfig,
    curated_sets: dict[str, list[str]] | None,
) -> PendingStability | None:
    """Start the leave-one-out refits of one contrast (``None`` when ``targets.stability`` is off).

    They run in forked processes (``execution.stability_processes``; one process on a Dask
    worker) while the contrast's Wald test and GSEA go on; :func:`finish_stability` collects.
    Refits the command line started before the fit with the same inputs and settings
    (:func:`bmsc_dge.tl.start_refits_early`) are adopted instead.
    """
    if not cfg.targets.stability:
        return None
    plan = RefitPlan.of(
        contrast, cfg, curated_sets, 1 if dask_worker() else cfg.execution.stability_processes
    )
    early = plan.adopt(fit)
    if early is not None:
        logger.info("%s: leave-one-out refits adopted (started before the fit)", contrast.name)
        return early
    return plan.start(fit)


def finish_stability(pending: PendingStability | None, de: pd.DataFrame) -> StabilityResult | None:
    """Wait for :func:`start_stability`'s refits and summarise them against the DE table ``de``."""
    return None if pending is None else pending.result(de)


def with_expected_directions(gsea: pd.DataFrame, curated: list[GeneSet], fdr: float) -> pd.DataFrame:
    """Curated rows get ``expected_t2dm`` and ``direction_vs_expected``.

    ``direction_vs_expected`` is ``agrees`` or ``opposes`` for a curated set enriched at ``fdr``
    whose literature direction is up or down (NES sign against it), empty otherwise.
    """
    out = gsea.copy()
    expected = {s.id: s.expected_t2dm for s in curated}
    cur = (out["collection"] == CURATED).to_numpy()
    exp = np.array([expected.get(str(t), "") if c else "" for t, c in zip(out["term"], cur, strict=True)])
    nes = out["nes"].to_numpy(dtype=float)
    enriched = (out["fdr"].to_numpy(dtype=float) < fdr) & np.isin(exp, ["up", "down"])
    same = np.where(exp == "up", nes > 0, nes < 0)
    out["expected_t2dm"] = exp
    out["direction_vs_expected"] = np.where(enriched, np.where(same, "agrees", "opposes"), "")
    return out


def with_set_stability(gsea: pd.DataFrame, stability: StabilityResult | None) -> pd.DataFrame:
    """The GSEA table with the curated sets' leave-one-out columns (NaN elsewhere)."""
    out = gsea.copy()
    cols = ["stability_nes_min", "stability_nes_max", "stability_enriched"]
    if stability is None or stability.sets.empty:
        for col in cols:
            out[col] = np.nan
        return out
    st = stability.sets.set_index("term")
    cur = (out["collection"] == CURATED).to_numpy()
    for col in cols:
        values = st[col].reindex(out["term"].astype(str)).to_numpy(dtype=float)
        out[col] = np.where(cur, values, np.nan)
    return out


def targets_for(
    de: pd.DataFrame,
    gsea: pd.DataFrame,
    curated: list[GeneSet],
    alpha: float,
    gsea_fdr: float,
    weights: TargetWeights,
    stability: StabilityResult | None,
) -> pd.DataFrame:
    """The ranked targets of one contrast (curated GSEA for the score, the rest for context)."""
    return rank_targets(
        de,
        gsea[gsea["collection"] == CURATED],
        curated,
        alpha=alpha,
        gsea_fdr=gsea_fdr,
        weights=weights,
        stability=None if stability is None else stability.genes,
        context_gsea=gsea[gsea["collection"] != CURATED],
    )


def analyse_contrast(
    fit: de_mod.DEFit,
    contrast: Contrast,
    cfg: StudyConfig,
    matched: dict[str, dict[str, list[str]]],
    curated: list[GeneSet],
    step: StepRunner = run_directly,
) -> ContrastResult:
    """DE table, GSEA on every collection, stability and ranked targets for one contrast."""
    n = contrast.name
    # the refits need only the fit: they start first and run beside the Wald test and GSEA
    pending = step("leave-one-out-refits", start_stability, fit, contrast, cfg, matched.get(CURATED))
    try:
        with stage(f"{n}: Wald test" if contrast.test == "wald" else f"{n}: LRT"):
            de = step("wald-test", de_mod.contrast_table, fit, contrast, cfg.alpha, cfg.de)
        ranking = gsea_mod.ranking_from_de(de)
        tables, curves = [], {}
        with stage(f"{n}: GSEA ({', '.join(matched)}; {cfg.gene_sets.permutations} permutations)"):
            for collection, sets in matched.items():
                res = step(
                    "gsea-prerank", gsea_collection, ranking, sets, collection, cfg.gene_sets, cfg.seed
                )
                tables.append(res.table)
                if collection == CURATED:
                    curves = res.curves
        with stage(f"{n}: ORA of the up and down genes"):
            ora_table = step("ora", ora_of, de, matched, cfg.gene_sets, cfg.alpha)
        label = f"{n}: leave-one-out stability ({fit.dds.n_obs} refits)" if pending is not None else ""
        with stage(label) if label else nullcontext():
            stability = step("leave-one-out-stability", finish_stability, pending, de)
    except BaseException:
        if pending is not None:
            pending.cancel()
        raise
    gsea = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=gsea_mod.GSEA_COLUMNS)
    gsea = with_expected_directions(with_set_stability(gsea, stability), curated, cfg.gene_sets.fdr)
    with stage(f"{n}: targets"):
        targets = step(
            "rank-targets",
            targets_for,
            de,
            gsea,
            curated,
            cfg.alpha,
            cfg.gene_sets.fdr,
            cfg.targets.weights,
            stability,
        )
    return ContrastResult(
        contrast=contrast, de=de, gsea=gsea, targets=targets, curves=curves, ranking=ranking, ora=ora_table
    )


def analyse_fit_group(
    adata: ad.AnnData,
    frame: pd.DataFrame,
    cfg: StudyConfig,
    references: dict[str, str],
    contrasts: list[Contrast],
    matched: dict[str, dict[str, list[str]]],
    curated: list[GeneSet],
    step: StepRunner = run_directly,
    analyse: Callable[..., ContrastResult] = analyse_contrast,
) -> FitGroupResult:
    """Fit once, then analyse every contrast of the group; records where it ran and how long it took.

    ``step`` runs each step (see the module docstring); ``analyse(fit, contrast, cfg, matched,
    curated)`` analyses one contrast (the local flow passes a sub-flow that calls
    :func:`analyse_contrast` with its task runner).
    """
    import time

    where = dask_worker() or "local"
    t = time.perf_counter()
    with stage(f"DESeq2 fit ({adata.n_vars} genes x {adata.n_obs} samples)"):
        fit = step("deseq2-fit", de_mod.fit_deseq2, adata, frame, cfg.design, references, cfg.de)
    seconds = {"fit": time.perf_counter() - t}
    results = []
    for c in contrasts:
        t = time.perf_counter()
        results.append(analyse(fit, c, cfg, matched, curated))
        seconds[f"contrast:{c.name}"] = time.perf_counter() - t
    return FitGroupResult(
        results=results,
        size_factors=de_mod.size_factors(fit),
        normalized=de_mod.normalized_counts(fit),
        executed_on=where,
        seconds=seconds,
    )
