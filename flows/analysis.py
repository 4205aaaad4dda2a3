"""Prefect 3 flow: counts -> DESeq2 -> GSEA -> targets -> tables, for one study config.

Thin wiring around :mod:`bmsc_dge`; every computation lives in the library. One subflow runs per
contrast; contrasts sharing (variable, reference) share one DESeq2 fit. Only the I/O tasks retry.
"""

from __future__ import annotations

import contextvars
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

import anndata as ad
import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.settings import temporary_settings
from prefect.utilities.annotations import quote

from bmsc_dge import deseq2 as de_mod
from bmsc_dge.config import Contrast, StudyConfig, load_config
from bmsc_dge.errors import BmscDgeError
from bmsc_dge.genesets import GeneSet, load_for_study, restrict_to_data
from bmsc_dge.io import Study, apply_prefilter, hand_over, load_study, take_over
from bmsc_dge.pp import QCResult, run_qc
from bmsc_dge.report import artifact_keys, gsea_records, summary_markdown, targets_records, write_run_outputs
from bmsc_dge.runs import RunDir, compare_contrast, input_fingerprint, previous_run, stage
from bmsc_dge.tl import ContrastResult, FitGroupResult, analyse_contrast, analyse_fit_group

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


def io_failure(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect retry condition: retry file-system and network errors, never bad input.

    A malformed input (:class:`bmsc_dge.errors.BmscDgeError`) fails the same way every time;
    an ``OSError`` (a file on a network share, a busy disk) may not.
    """
    exc = state.result(raise_on_failure=False)
    return isinstance(exc, OSError) and not isinstance(exc, BmscDgeError)


IO_RETRIES: dict[str, Any] = {"retries": 2, "retry_delay_seconds": 1, "retry_condition_fn": io_failure}


@task(name="load-config", cache_policy=NO_CACHE, **IO_RETRIES)
def load_config_task(config_path: str, outdir: str | None) -> StudyConfig:
    """Read and validate the YAML config."""
    return load_config(config_path, outdir=outdir)


@task(name="load-study", cache_policy=NO_CACHE, **IO_RETRIES)
def load_study_task(cfg: StudyConfig, checked_inputs: str | None) -> Study:
    """Read counts and sample sheet, validate, map gene IDs (unless the caller handed them over)."""
    return take_over(checked_inputs, cfg) or load_study(cfg)


@task(name="prefilter", cache_policy=NO_CACHE)
def prefilter_task(study: Study, cfg: StudyConfig) -> tuple[ad.AnnData, pd.DataFrame]:
    """Low-count filter."""
    return apply_prefilter(study, cfg)


@task(name="load-gene-sets", cache_policy=NO_CACHE, **IO_RETRIES)
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


def as_task(name: str, function: Callable[..., T], /, *args: Any) -> T:
    """Step runner of the local flow: run one analysis step as the Prefect task ``name``.

    Arguments are passed :func:`uninspected` (Prefect does not walk DE tables or gene-set dicts);
    no result caching, no retries (the steps are deterministic computations).
    """
    step = task(name=name, cache_policy=NO_CACHE)(function)
    return cast(T, step(*(uninspected(a) for a in args)))


def _contrast_subflow(
    fit: de_mod.DEFit,
    contrast: Contrast,
    cfg: StudyConfig,
    matched: dict[str, dict[str, list[str]]],
    curated: list[GeneSet],
) -> ContrastResult:
    """Call :func:`analyse_contrast_flow` with the big arguments passed uninspected."""
    return analyse_contrast_flow(fit, contrast, cfg, uninspected(matched), uninspected(curated))


@flow(name="analyse-contrast", flow_run_name="{contrast.name}")
def analyse_contrast_flow(
    fit: de_mod.DEFit,
    contrast: Contrast,
    cfg: StudyConfig,
    matched: dict[str, dict[str, list[str]]],
    curated: list[GeneSet],
) -> ContrastResult:
    """One contrast as a sub-flow: :func:`bmsc_dge.tl.analyse_contrast`, each step a task."""
    result = analyse_contrast(fit, contrast, cfg, matched, curated, step=as_task)
    get_run_logger().info(
        "%s: %d DE genes (padj < %s); top target %s",
        contrast.name,
        int((result.de["padj"] < cfg.alpha).sum()),
        cfg.alpha,
        result.targets["symbol"].iloc[0] if len(result.targets) else "-",
    )
    return result


@task(name="sample-qc", cache_policy=NO_CACHE)
def qc_task(adata: ad.AnnData, size_factors: pd.Series, design_variables: list[str], n_cpus: int) -> QCResult:
    """Library sizes, blind VST, PCA, correlations and outlier flags."""
    return run_qc(adata, size_factors, design_variables, n_cpus=n_cpus)


@task(name="write-outputs", cache_policy=NO_CACHE, **IO_RETRIES)
def write_outputs_task(
    run: RunDir,
    cfg: StudyConfig,
    results: list[ContrastResult],
    qc: QCResult,
    gene_filter: pd.DataFrame,
    coverage: pd.DataFrame,
    inputs: Study,
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
        inputs=inputs,
        warnings=warnings,
        timings=timings,
        adata=adata,
        normalized=normalized,
        changes=changes,
        extra=extra,
    )


@task(name="publish-artifacts", cache_policy=NO_CACHE)
def publish_artifacts_task(
    cfg: StudyConfig, results: list[ContrastResult], qc: QCResult, final: Path, inputs: dict[str, Any]
) -> dict[str, str]:
    """Table, markdown and link artifacts for the Prefect UI (keys: :mod:`bmsc_dge.report._artifacts`)."""
    keys = artifact_keys(cfg.name, [r.contrast.name for r in results])
    create_markdown_artifact(
        key=keys["summary"],
        markdown=summary_markdown(cfg, results, qc.samples, inputs),
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
def bmsc_dge_flow(
    config_path: str,
    outdir: str | None = None,
    checked_inputs: str | None = None,
    cell_type: str | None = None,
) -> str:
    """Run the whole study described by ``config_path``; return the completed run folder.

    ``checked_inputs`` is the token of a study the caller already read and checked in this
    process (:func:`bmsc_dge.io.hand_over`); without it, or if a file changed, the inputs are read.
    A ``pseudobulk`` config runs each of its cell types as its own study (``cell_type`` picks
    one); without ``cell_type`` every cell type runs as a sub-flow and their run folders are
    returned one per line.
    """
    if cell_type is None:
        cfg0 = load_config(config_path, outdir=outdir)
        if cfg0.pseudobulk is not None:
            return "\n".join(
                bmsc_dge_flow(config_path, outdir, None, ct) for ct in cfg0.pseudobulk.cell_types
            )
    logger = get_run_logger()
    collector = _WarningCollector()
    token = _ACTIVE_COLLECTOR.set(collector)
    lib_logger = logging.getLogger("bmsc_dge")
    lib_logger.addHandler(collector)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    try:
        cfg = load_config_task(config_path, outdir)
        if cell_type is not None:
            cfg = cfg.for_cell_type(cell_type)
        previous = previous_run(cfg.outdir)
        run = RunDir(cfg.outdir)
        run.create()
        try:
            t = time.perf_counter()
            with stage("load and check inputs"):
                study = load_study_task(cfg, checked_inputs)
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
                group_results = [
                    analyse_fit_group(
                        adata,
                        study.frame,
                        cfg,
                        refs,
                        contrasts,
                        matched,
                        curated,
                        step=as_task,
                        analyse=_contrast_subflow,
                    )
                    for refs, contrasts in groups
                ]
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
                uninspected(study),
                collector.messages,
                timings,
                adata,
                group_results[0].normalized,
                changes,
                {
                    "executed_on": executed_on,
                    "previous_run": str(previous) if previous else None,
                    "fingerprint": input_fingerprint(cfg, config_path),
                },
            )
            final = run.commit()
            publish_artifacts_task(cfg, results, qc, final, study.record())
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


@contextmanager
def command_line_settings(api_url: str | None = None) -> Iterator[None]:
    """Prefect settings for runs started by ``bmsc-dge run`` / ``batch`` (not by a deployment).

    ``api_url``: the server to record the run in, when it was chosen after Prefect was imported
    (Prefect reads ``PREFECT_API_URL`` once, at import; the command line imports Prefect while
    the project's background server is still starting).

    Flow-run heartbeats are switched off unless ``PREFECT_FLOWS_HEARTBEAT_FREQUENCY`` (or its old
    name ``PREFECT_RUNNER_HEARTBEAT_FREQUENCY``) is set. Prefect (3.9) emits them every 180 s so
    that an automation can mark a silent run as crashed, but its heartbeat thread sleeps in
    one-second steps and is joined when the run ends, which adds ~1 s to every flow and sub-flow
    run (2 s of a ~17 s example run). A command-line run is watched by the person who started it
    (and a run killed with SIGKILL leaves no process behind); deployments served by
    ``bmsc-dge serve`` or a worker keep Prefect's default.
    """
    updates: dict[str, Any] = {"api.url": api_url} if api_url else {}
    if not {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "PREFECT_RUNNER_HEARTBEAT_FREQUENCY"} & set(os.environ):
        updates["flows.heartbeat_frequency"] = None
    with temporary_settings(updates=updates):  # type: ignore[arg-type]
        yield


def run_config(
    config_path: str | Path,
    outdir: str | Path | None = None,
    checked: tuple[StudyConfig, Study] | None = None,
    cell_type: str | None = None,
    api_url: str | None = None,
) -> Path:
    """Run the flow in-process (used by the CLI) and return the run folder.

    ``checked``: the config and study the caller already loaded from ``config_path`` (and
    ``outdir``; for ``cell_type`` of a pseudobulk config); the flow uses them instead of reading
    the inputs again. ``api_url``: see :func:`command_line_settings`.
    """
    token = hand_over(checked[1], checked[0]) if checked is not None else None
    with command_line_settings(api_url):
        return Path(
            bmsc_dge_flow(str(config_path), None if outdir is None else str(outdir), token, cell_type)
        )
