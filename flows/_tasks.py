"""The Prefect tasks of the study flow, and what they share: argument passing, retries, warnings.

Thin wiring around :mod:`bmsc_dge`; every computation lives in the library. Only the I/O tasks
retry (on ``OSError``, never on bad input).
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar, cast

import anndata as ad
import pandas as pd
from prefect import task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote

from bmsc_dge.config import StudyConfig, load_config
from bmsc_dge.errors import BmscDgeError
from bmsc_dge.genesets import GeneSet, load_for_study, restrict_to_data
from bmsc_dge.pp import QCResult, run_qc
from bmsc_dge.report import (
    RunOutputs,
    artifact_keys,
    gsea_records,
    summary_markdown,
    targets_records,
    write_run_outputs,
)
from bmsc_dge.runs import RunDir, compare_contrast
from bmsc_dge.study import Study, apply_prefilter, load_study
from bmsc_dge.tl import ContrastResult

T = TypeVar("T")
P = ParamSpec("P")


class WarningCollector(logging.Handler):
    """Keeps WARNING+ records of the bmsc_dge loggers for this run's warnings.txt.

    Several runs may share a process (threads, batch runs): a record is kept only when it was
    emitted in this run's context (Prefect copies context variables into its task threads).
    """

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if ACTIVE_COLLECTOR.get() is self:
            self.messages.append(f"{record.levelname}: {record.getMessage()}")


ACTIVE_COLLECTOR: contextvars.ContextVar[WarningCollector | None] = contextvars.ContextVar(
    "bmsc_dge_warning_collector", default=None
)


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


def as_task(name: str, function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Step runner of the local flow (:class:`bmsc_dge.tl.StepRunner`): run one analysis step as the Prefect task ``name``.

    Arguments are passed :func:`uninspected` (Prefect does not walk DE tables or gene-set dicts);
    no result caching, no retries (the steps are deterministic computations).
    """
    step = cast(Callable[..., T], task(name=name, cache_policy=NO_CACHE)(function))
    return step(*(uninspected(a) for a in args), **{k: uninspected(v) for k, v in kwargs.items()})


@task(name="load-config", cache_policy=NO_CACHE, **IO_RETRIES)
def load_config_task(config_path: str, outdir: str | None) -> StudyConfig:
    """Read and validate the YAML config (only when the caller handed none over)."""
    return load_config(config_path, outdir=outdir)


@task(name="load-study", cache_policy=NO_CACHE, **IO_RETRIES)
def load_study_task(cfg: StudyConfig, handed: Study | None) -> Study:
    """Read counts and sample sheet, validate, map gene IDs (unless the caller handed them over)."""
    return handed if handed is not None else load_study(cfg)


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


@task(name="sample-qc", cache_policy=NO_CACHE)
def qc_task(adata: ad.AnnData, size_factors: pd.Series, design_variables: list[str], n_cpus: int) -> QCResult:
    """Library sizes, blind VST, PCA, correlations and outlier flags."""
    return run_qc(adata, size_factors, design_variables, n_cpus=n_cpus)


@task(name="write-outputs", cache_policy=NO_CACHE, **IO_RETRIES)
def write_outputs_task(run: RunDir, cfg: StudyConfig, outputs: RunOutputs) -> dict[str, Any]:
    """Write tables, matrices, figures, report, summary and manifest into the partial run folder."""
    return write_run_outputs(run, cfg, outputs)


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
