"""Prefect 3 flow: counts -> DESeq2 -> GSEA -> targets -> tables, for one study config.

Thin wiring around :mod:`bmsc_dge`; every computation lives in the library. One subflow runs per
contrast; contrasts sharing (variable, reference) share one DESeq2 fit. Only the I/O tasks retry.
"""

from __future__ import annotations

import contextvars
import logging
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any, TypeVar, cast

import anndata as ad
import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote

from bmsc_dge import de as de_mod
from bmsc_dge import gsea as gsea_mod
from bmsc_dge.artifacts import artifact_keys, gsea_records, targets_records
from bmsc_dge.changes import compare_contrast, previous_run
from bmsc_dge.config import Contrast, DEConfig, StudyConfig, load_config
from bmsc_dge.genesets import GeneSet, load_for_study, restrict_to_data
from bmsc_dge.outputs import summary_markdown, write_run_outputs
from bmsc_dge.pipeline import (
    FitGroupResult,
    analyse_fit_group,
    contrast_stability,
    gsea_collection,
    targets_for,
    with_expected_directions,
    with_set_stability,
)
from bmsc_dge.progress import stage
from bmsc_dge.qc import QCResult, run_qc
from bmsc_dge.results import ContrastResult
from bmsc_dge.rundir import RunDir
from bmsc_dge.stability import StabilityResult
from bmsc_dge.study import Study, apply_prefilter, load_study

_ACTIVE_COLLECTOR: contextvars.ContextVar[_WarningCollector | None]


class _WarningCollector(logging.Handler):
    """Keeps WARNING+ records of the bmsc_dge loggers for this run's warnings.txt.

    Several runs may share a process (threads, batch runs): a record is kept only when it was
    emitted in this run's context (Prefect copies context variables into its task threads).
    """

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if _ACTIVE_COLLECTOR.get() is self:
            self.messages.append(f"{record.levelname}: {record.getMessage()}")


_ACTIVE_COLLECTOR = contextvars.ContextVar("bmsc_dge_warning_collector", default=None)


T = TypeVar("T")


def uninspected(value: T) -> T:
    """Pass ``value`` to a task or sub-flow without Prefect walking it (``prefect.utilities.annotations.quote``).

    Prefect visits every element of list and dict arguments to find upstream futures; for gene-set
    dictionaries and 20,000-symbol lists that cost seconds per run. Typed as the value itself.
    """
    return cast(T, quote(value))


@task(name="load-config", retries=2, retry_delay_seconds=1, cache_policy=NO_CACHE)
def load_config_task(config_path: str, outdir: str | None) -> StudyConfig:
    """Read and validate the YAML config."""
    return load_config(config_path, outdir=outdir)


@task(name="load-study", retries=2, retry_delay_seconds=1, cache_policy=NO_CACHE)
def load_study_task(cfg: StudyConfig) -> Study:
    """Read counts and sample sheet, validate, map gene IDs."""
    return load_study(cfg)


@task(name="prefilter", cache_policy=NO_CACHE)
def prefilter_task(study: Study, cfg: StudyConfig) -> tuple[ad.AnnData, pd.DataFrame]:
    """Low-count filter."""
    return apply_prefilter(study, cfg)


@task(name="load-gene-sets", retries=2, retry_delay_seconds=1, cache_policy=NO_CACHE)
def gene_sets_task(
    cfg: StudyConfig, symbols: list[str]
) -> tuple[dict[str, dict[str, list[str]]], dict[str, list[GeneSet]], pd.DataFrame]:
    """Load the requested collections and match them to the measured genes."""
    collections = load_for_study(list(cfg.gene_sets.collections), list(cfg.gene_sets.gmt), cfg.species)
    matched: dict[str, dict[str, list[str]]] = {}
    coverage = []
    for name, sets in collections.items():
        m, cov = restrict_to_data(sets, symbols, cfg.species)
        matched[name] = m
        coverage.append(cov)
    cov_df = pd.concat(coverage, ignore_index=True) if coverage else pd.DataFrame()
    return matched, collections, cov_df


@task(name="deseq2-fit", cache_policy=NO_CACHE)
def fit_task(
    adata: ad.AnnData, frame: pd.DataFrame, design: str, references: dict[str, str], cfg: DEConfig
) -> de_mod.DEFit:
    """Fit DESeq2 with the given reference levels."""
    return de_mod.fit_deseq2(adata, frame, design, references, cfg)


@task(name="wald-test", cache_policy=NO_CACHE)
def contrast_task(fit: de_mod.DEFit, contrast: Contrast, alpha: float, cfg: DEConfig) -> pd.DataFrame:
    """Wald test and LFC shrinkage for one contrast."""
    return de_mod.contrast_table(fit, contrast, alpha, cfg)


@task(name="gsea-prerank", cache_policy=NO_CACHE)
def gsea_task(
    ranking: pd.Series, sets: dict[str, list[str]], collection: str, cfg: StudyConfig
) -> gsea_mod.GseaResult:
    """Pre-ranked GSEA for one collection (engine per config)."""
    return gsea_collection(ranking, sets, collection, cfg)


@task(name="leave-one-out-stability", cache_policy=NO_CACHE)
def stability_task(
    fit: de_mod.DEFit,
    contrast: Contrast,
    cfg: StudyConfig,
    de: pd.DataFrame,
    curated_sets: dict[str, list[str]] | None,
) -> StabilityResult | None:
    """Refit the contrast without each sample in turn (stability columns)."""
    return contrast_stability(fit, contrast, cfg, de, curated_sets)


@task(name="rank-targets", cache_policy=NO_CACHE)
def targets_task(
    de: pd.DataFrame,
    gsea: pd.DataFrame,
    curated: list[GeneSet],
    cfg: StudyConfig,
    stability: StabilityResult | None,
) -> pd.DataFrame:
    """Target ranking (significance first; curated prior, leading edges and stability within)."""
    return targets_for(de, gsea, curated, cfg, stability)


@flow(name="analyse-contrast", flow_run_name="{contrast.name}")
def analyse_contrast(
    fit: de_mod.DEFit,
    contrast: Contrast,
    cfg: StudyConfig,
    matched: dict[str, dict[str, list[str]]],
    curated: list[GeneSet],
) -> ContrastResult:
    """DE table, GSEA per collection and targets for one contrast."""
    logger = get_run_logger()
    n = contrast.name
    with stage(f"{n}: Wald test" if contrast.test == "wald" else f"{n}: LRT"):
        de = contrast_task(fit, contrast, cfg.alpha, cfg.de)
    ranking = gsea_mod.ranking_from_de(de)
    tables, curves = [], {}
    with stage(f"{n}: GSEA ({', '.join(matched)}; {cfg.gene_sets.permutations} permutations)"):
        for collection, sets in matched.items():
            res = gsea_task(ranking, uninspected(sets), collection, cfg)
            tables.append(res.table)
            if collection == "curated":
                curves = res.curves
    gsea = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=gsea_mod.GSEA_COLUMNS)
    label = f"{n}: leave-one-out stability ({fit.dds.n_obs} refits)" if cfg.targets.stability else ""
    with stage(label) if label else nullcontext():
        stability = stability_task(
            uninspected(fit), contrast, cfg, uninspected(de), uninspected(matched.get("curated"))
        )
    gsea = with_expected_directions(with_set_stability(gsea, stability), curated, cfg.gene_sets.fdr)
    with stage(f"{n}: targets"):
        targets = targets_task(
            uninspected(de), uninspected(gsea), uninspected(curated), cfg, uninspected(stability)
        )
    logger.info(
        "%s: %d DE genes (padj < %s); top target %s",
        contrast.name,
        int((de["padj"] < cfg.alpha).sum()),
        cfg.alpha,
        targets["symbol"].iloc[0] if len(targets) else "-",
    )
    return ContrastResult(
        contrast=contrast, de=de, gsea=gsea, targets=targets, curves=curves, ranking=ranking
    )


@task(name="sample-qc", cache_policy=NO_CACHE)
def qc_task(adata: ad.AnnData, size_factors: pd.Series, design_variables: list[str], n_cpus: int) -> QCResult:
    """Library sizes, blind VST, PCA, correlations and outlier flags."""
    return run_qc(adata, size_factors, design_variables, n_cpus=n_cpus)


@task(name="write-outputs", retries=2, retry_delay_seconds=1, cache_policy=NO_CACHE)
def write_outputs_task(
    run: RunDir,
    cfg: StudyConfig,
    results: list[ContrastResult],
    qc: QCResult,
    gene_filter: pd.DataFrame,
    coverage: pd.DataFrame,
    mapping: dict[str, Any],
    warnings: list[str],
    timings: dict[str, float],
    adata: ad.AnnData,
    normalized: pd.DataFrame,
    changes: dict[str, pd.DataFrame],
    extra: dict[str, Any],
) -> dict[str, Any]:
    """Write tables, matrices, figures, report, summary and manifest into the partial run folder."""
    return write_run_outputs(
        run,
        cfg,
        results=results,
        qc=qc,
        gene_filter=gene_filter,
        coverage=coverage,
        mapping=mapping,
        warnings=warnings,
        timings=timings,
        adata=adata,
        normalized=normalized,
        changes=changes,
        extra=extra,
    )


@task(name="publish-artifacts", cache_policy=NO_CACHE)
def publish_artifacts_task(
    cfg: StudyConfig, results: list[ContrastResult], qc: QCResult, final: Path
) -> dict[str, str]:
    """Table, markdown and link artifacts for the Prefect UI (keys: :mod:`bmsc_dge.artifacts`)."""
    keys = artifact_keys(cfg.name, [r.contrast.name for r in results])
    create_markdown_artifact(
        key=keys["summary"],
        markdown=summary_markdown(cfg, results, qc.samples),
        description=f"bmsc-dge summary of {cfg.name}",
    )
    create_link_artifact(
        key=keys["report"],
        link=(final / "report.html").resolve().as_uri(),
        link_text=f"{cfg.name} report ({final.name})",
        description="self-contained HTML report",
    )
    for r in results:
        create_table_artifact(
            key=keys[f"targets:{r.contrast.name}"],
            table=targets_records(r),
            description=f"top targets, {r.contrast.name}",
        )
        create_table_artifact(
            key=keys[f"gsea:{r.contrast.name}"],
            table=gsea_records(r),
            description=f"curated gene-set GSEA, {r.contrast.name}",
        )
    return keys


@task(name="fit-group", cache_policy=NO_CACHE)
def fit_group_task(
    adata: ad.AnnData,
    frame: pd.DataFrame,
    cfg: StudyConfig,
    references: dict[str, str],
    contrasts: list[Contrast],
    matched: dict[str, dict[str, list[str]]],
    curated: list[GeneSet],
) -> FitGroupResult:
    """One DESeq2 fit and all its contrasts (the unit of work sent to a Dask worker)."""
    return analyse_fit_group(adata, frame, cfg, references, contrasts, matched, curated)


def _dask_runner(cfg: StudyConfig) -> Any:
    from prefect_dask import DaskTaskRunner

    if cfg.execution.address:
        return DaskTaskRunner(address=cfg.execution.address)
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": cfg.execution.n_workers,
            "threads_per_worker": 1,
            "processes": True,
            "dashboard_address": None,
        }
    )


@flow(name="analyse-on-dask")
def analyse_on_dask(
    adata: ad.AnnData,
    frame: pd.DataFrame,
    cfg: StudyConfig,
    groups: list[tuple[dict[str, str], list[Contrast]]],
    matched: dict[str, dict[str, list[str]]],
    curated: list[GeneSet],
) -> list[FitGroupResult]:
    """Submit one task per fit group to the Dask cluster and gather the results."""
    futures = [
        fit_group_task.submit(adata, frame, cfg, refs, contrasts, matched, curated)
        for refs, contrasts in groups
    ]
    return [f.result() for f in futures]


def _groups(cfg: StudyConfig) -> list[tuple[dict[str, str], list[Contrast]]]:
    """Contrasts grouped by the reference levels (hence the DESeq2 fit) they need, in config order."""
    groups: dict[tuple[tuple[str, str], ...], tuple[dict[str, str], list[Contrast]]] = {}
    for c in cfg.contrasts:
        refs = de_mod.fit_references(c, cfg.reference_levels)
        groups.setdefault(tuple(sorted(refs.items())), (refs, []))[1].append(c)
    return list(groups.values())


@flow(name="bmsc-dge", log_prints=False)
def bmsc_dge_flow(config_path: str, outdir: str | None = None) -> str:
    """Run the whole study described by ``config_path``; return the completed run folder."""
    logger = get_run_logger()
    collector = _WarningCollector()
    token = _ACTIVE_COLLECTOR.set(collector)
    lib_logger = logging.getLogger("bmsc_dge")
    lib_logger.addHandler(collector)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    try:
        cfg = load_config_task(config_path, outdir)
        previous = previous_run(cfg.outdir)
        run = RunDir(cfg.outdir)
        run.create()
        try:
            t = time.perf_counter()
            with stage("load and check inputs"):
                study = load_study_task(cfg)
            with stage("low-count filter"):
                adata, gene_filter = prefilter_task(study, cfg)
            timings["load_and_filter"] = time.perf_counter() - t
            t = time.perf_counter()
            with stage("gene sets"):
                matched, collections, coverage = gene_sets_task(
                    cfg, uninspected(list(adata.var["symbol"].astype(str)))
                )
            curated = collections.get("curated", [])
            timings["gene_sets"] = time.perf_counter() - t
            groups = _groups(cfg)
            t = time.perf_counter()
            if cfg.execution.engine == "dask":
                runner = _dask_runner(cfg)
                group_results = analyse_on_dask.with_options(task_runner=runner)(
                    adata, study.frame, cfg, groups, matched, curated
                )
            else:
                group_results = []
                for refs, contrasts in groups:
                    with stage(f"DESeq2 fit ({adata.n_vars} genes x {adata.n_obs} samples)"):
                        fit = fit_task(adata, study.frame, cfg.design, refs, cfg.de)
                    res = [
                        analyse_contrast(fit, c, cfg, uninspected(matched), uninspected(curated))
                        for c in contrasts
                    ]
                    group_results.append(
                        FitGroupResult(
                            results=res,
                            size_factors=de_mod.size_factors(fit),
                            normalized=de_mod.normalized_counts(fit),
                        )
                    )
            timings["de_gsea_targets"] = time.perf_counter() - t
            results = [r for g in group_results for r in g.results]
            executed_on = {r.contrast.name: g.executed_on for g in group_results for r in g.results}
            t = time.perf_counter()
            with stage("sample QC (VST, PCA)"):
                qc = qc_task(adata, group_results[0].size_factors, cfg.design_variables, cfg.de.n_cpus)
            timings["qc"] = time.perf_counter() - t
            changes = changes_task(previous, results, cfg) if previous is not None else {}
            timings["total_before_write"] = time.perf_counter() - t0
            write_outputs_task(
                run,
                cfg,
                results,
                qc,
                gene_filter,
                coverage,
                dict(study.adata.uns["id_mapping"]),
                collector.messages,
                timings,
                adata,
                group_results[0].normalized,
                changes,
                {"executed_on": executed_on, "previous_run": str(previous) if previous else None},
            )
            final = run.commit()
            publish_artifacts_task(cfg, results, qc, final)
        except BaseException:
            run.abort()
            raise
    finally:
        lib_logger.removeHandler(collector)
        _ACTIVE_COLLECTOR.reset(token)
    logger.info("results: %s", final)
    return str(final)


@task(name="what-changed", cache_policy=NO_CACHE)
def changes_task(previous: Path, results: list[ContrastResult], cfg: StudyConfig) -> dict[str, pd.DataFrame]:
    """Compare every contrast with the previous completed run of the same outdir."""
    out = {}
    for r in results:
        table = compare_contrast(
            previous,
            r.contrast.name,
            r.de,
            r.gsea,
            r.targets,
            alpha=cfg.alpha,
            fdr=cfg.gene_sets.fdr,
            top_n=cfg.targets.top_n,
        )
        if table is not None:
            out[r.contrast.name] = table
    return out


def run_config(config_path: str | Path, outdir: str | Path | None = None) -> Path:
    """Run the flow in-process (used by the CLI) and return the run folder."""
    return Path(bmsc_dge_flow(str(config_path), None if outdir is None else str(outdir)))
