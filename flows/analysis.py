"""Prefect 3 flow: counts -> DESeq2 -> GSEA -> targets -> tables, for one study config.

Thin wiring around :mod:`bmsc_dge`; every computation lives in the library and every task in
:mod:`flows._tasks`. One sub-flow runs per contrast; contrasts sharing (variable, reference) share
one DESeq2 fit. The config is parsed once per run: by the command line, which hands it (and the
inputs it read) over, or by the flow's first task when a deployment starts it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anndata as ad
import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.settings import temporary_settings

from bmsc_dge import deseq2 as de_mod
from bmsc_dge.calls import significant
from bmsc_dge.config import CURATED, Contrast, StudyConfig
from bmsc_dge.genesets import GeneSet
from bmsc_dge.report import RunOutputs
from bmsc_dge.runs import RunDir, input_fingerprint, previous_run, stage
from bmsc_dge.study import Study, hand_over, take_over
from bmsc_dge.tl import ContrastResult, FitGroupResult, analyse_contrast, analyse_fit_group
from flows._tasks import (
    ACTIVE_COLLECTOR,
    WarningCollector,
    as_task,
    changes_task,
    gene_sets_task,
    load_config_task,
    load_study_task,
    prefilter_task,
    publish_artifacts_task,
    qc_task,
    uninspected,
    write_outputs_task,
)


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
        int(significant(result.de, cfg.alpha).sum()),
        cfg.alpha,
        result.targets["symbol"].iloc[0] if len(result.targets) else "-",
    )
    return result


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

    ``checked_inputs`` is the token of a config (and study) the caller already parsed and checked
    in this process (:func:`bmsc_dge.study.hand_over`); the flow then parses nothing and reads
    the inputs only if a file changed. A ``pseudobulk`` config runs each of its cell types as its
    own study (``cell_type`` picks one); without ``cell_type`` every cell type runs as a sub-flow
    and their run folders are returned one per line.
    """
    handed = take_over(checked_inputs)
    cfg = handed.cfg if handed is not None else load_config_task(config_path, outdir)
    if cell_type is None and cfg.pseudobulk is not None:
        return "\n".join(
            bmsc_dge_flow(config_path, outdir, hand_over(cfg.for_cell_type(ct)), ct)
            for ct in cfg.pseudobulk.cell_types
        )
    if cell_type is not None and handed is None:  # a handed-over config is that cell type's already
        cfg = cfg.for_cell_type(cell_type)
    collector = WarningCollector()
    token = ACTIVE_COLLECTOR.set(collector)
    lib_logger = logging.getLogger("bmsc_dge")
    lib_logger.addHandler(collector)
    try:
        final = _run_study(cfg, config_path, None if handed is None else handed.study, collector)
    finally:
        lib_logger.removeHandler(collector)
        ACTIVE_COLLECTOR.reset(token)
    get_run_logger().info("results: %s", final)
    return str(final)


def _analyse(
    adata: ad.AnnData,
    study: Study,
    cfg: StudyConfig,
    matched: dict[str, dict[str, list[str]]],
    curated: list[GeneSet],
) -> list[FitGroupResult]:
    """Every fit group, locally (each step a task, each contrast a sub-flow) or on Dask."""
    groups = _groups(cfg)
    if cfg.execution.engine == "dask":
        runner = _dask_runner(cfg)
        return analyse_on_dask.with_options(task_runner=runner)(  # type: ignore[no-any-return]
            adata, study.frame, cfg, groups, matched, curated
        )
    return [
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


def _run_study(cfg: StudyConfig, config_path: str, handed: Study | None, collector: WarningCollector) -> Path:
    """Inputs to a committed run folder (the body of :func:`bmsc_dge_flow` for one study)."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    previous = previous_run(cfg.outdir)
    run = RunDir(cfg.outdir)
    run.create()
    try:
        t = time.perf_counter()
        with stage("load and check inputs"):
            study = load_study_task(cfg, uninspected(handed))
        with stage("low-count filter"):
            adata, gene_filter = prefilter_task(study, cfg)
        timings["load_and_filter"] = time.perf_counter() - t
        t = time.perf_counter()
        with stage("gene sets"):
            matched, collections, coverage = gene_sets_task(
                cfg, uninspected(list(adata.var["symbol"].astype(str)))
            )
        curated = collections.get(CURATED, [])
        timings["gene_sets"] = time.perf_counter() - t
        t = time.perf_counter()
        group_results = _analyse(adata, study, cfg, matched, curated)
        timings["de_gsea_targets"] = time.perf_counter() - t
        results = [r for g in group_results for r in g.results]
        t = time.perf_counter()
        with stage("sample QC (VST, PCA)"):
            qc = qc_task(adata, group_results[0].size_factors, cfg.design_variables, cfg.de.n_cpus)
        timings["qc"] = time.perf_counter() - t
        changes = changes_task(previous, results, cfg) if previous is not None else {}
        timings["total_before_write"] = time.perf_counter() - t0
        outputs = RunOutputs(
            results=results,
            qc=qc,
            gene_filter=gene_filter,
            coverage=coverage,
            inputs=study,
            adata=adata,
            normalized=group_results[0].normalized,
            warnings=collector.messages,
            timings=timings,
            changes=changes,
            extra={
                "executed_on": {r.contrast.name: g.executed_on for g in group_results for r in g.results},
                "previous_run": str(previous) if previous else None,
                "fingerprint": input_fingerprint(cfg, config_path),
            },
        )
        write_outputs_task(run, cfg, uninspected(outputs))
        final = run.commit()
        publish_artifacts_task(cfg, results, qc, final, study.record())
    except BaseException:
        run.abort()
        raise
    return final


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
    token = hand_over(checked[0], checked[1]) if checked is not None else None
    with command_line_settings(api_url):
        return Path(
            bmsc_dge_flow(str(config_path), None if outdir is None else str(outdir), token, cell_type)
        )
