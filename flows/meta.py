"""Prefect flow of ``bmsc-dge meta``: each study as a sub-flow (reused when unchanged), then the meta step.

A study whose inputs, config and software are unchanged since a completed run (same input
fingerprint, :func:`bmsc_dge.runs.input_fingerprint`, recorded in every run's manifest) is not
refitted: its latest such run is used. Then the gene, set and target meta-analysis
(:func:`bmsc_dge.meta.analyse`) is written to its own run folder, atomically, as a study's.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from bmsc_dge.config import MetaConfig, load_meta_config
from bmsc_dge.meta import CheckedStudy, MetaResult, StudyRun, analyse, check_studies, read_study_run
from bmsc_dge.report import meta_summary_markdown, write_meta_outputs
from bmsc_dge.runs import RunDir, input_fingerprint
from bmsc_dge.study import hand_over
from flows._tasks import ACTIVE_COLLECTOR, WarningCollector, uninspected
from flows.analysis import bmsc_dge_flow


def reusable_run(outdir: Path, fingerprint: str) -> Path | None:
    """The newest completed run in ``outdir`` whose manifest records ``fingerprint``, if any."""
    runs = sorted((outdir / "runs").glob("*/manifest.json"), reverse=True)
    for manifest in runs:
        try:
            if json.loads(manifest.read_text()).get("fingerprint") == fingerprint:
                return manifest.parent
        except (OSError, json.JSONDecodeError):
            continue
    return None


@task(name="study-run", cache_policy=NO_CACHE)
def study_run_task(checked: CheckedStudy) -> StudyRun:
    """The study's run: reused when its inputs are unchanged, else a fresh sub-flow run."""
    logger = get_run_logger()
    config = checked.cfg_path
    fingerprint = input_fingerprint(checked.cfg, config)
    run = reusable_run(checked.cfg.outdir, fingerprint)
    if run is not None:
        logger.info("%s: inputs unchanged since %s; not refitted", checked.name, run.name)
    else:
        run = Path(bmsc_dge_flow(str(config), None, hand_over(checked.cfg, checked.study)))
    return read_study_run(run, checked.name, checked.contrast)


@task(name="meta-analysis", cache_policy=NO_CACHE)
def meta_task(studies: list[StudyRun], cfg: MetaConfig) -> MetaResult:
    """Gene-level, set-level, leave-one-study-out and targets."""
    return analyse(studies, cfg)


@task(name="publish-meta-artifacts", cache_policy=NO_CACHE)
def publish_meta_artifacts(cfg: MetaConfig, result: MetaResult, final: Path) -> None:
    """Markdown summary, report link and top-target table in the Prefect UI (keys ``meta-<name>-*``)."""
    key = "meta-" + "".join(ch if ch.isalnum() else "-" for ch in cfg.name.lower())
    create_markdown_artifact(key=f"{key}-summary", markdown=meta_summary_markdown(cfg, result))
    create_link_artifact(
        key=f"{key}-report", link=(final / "report.html").resolve().as_uri(), link_text="report"
    )
    top = result.targets.head(20)[
        ["rank", "symbol", "log2FoldChange", "padj", "n_up", "n_down", "I2", "loso_flag"]
    ]
    create_table_artifact(key=f"{key}-targets", table=json.loads(top.to_json(orient="records")))


@flow(name="bmsc-dge-meta")
def meta_flow(config_path: str, outdir: str | None = None, checked: list[CheckedStudy] | None = None) -> str:
    """Run (or reuse) every study of the meta config, then the meta-analysis; return its run folder."""
    logger = get_run_logger()
    cfg = load_meta_config(config_path, outdir=outdir)
    studies = checked if checked is not None else check_studies(cfg)
    collector = WarningCollector()
    token = ACTIVE_COLLECTOR.set(collector)
    lib_logger = logging.getLogger("bmsc_dge")
    lib_logger.addHandler(collector)
    try:
        runs = [study_run_task(uninspected(s)) for s in studies]
        run = RunDir(cfg.outdir)
        run.create()
        try:
            result = meta_task(uninspected(runs), cfg)
            extra: dict[str, Any] = {"config_path": str(Path(config_path).resolve())}
            write_meta_outputs(run, cfg, result, warnings=collector.messages, extra=extra)
            final = run.commit()
            publish_meta_artifacts(cfg, uninspected(result), final)
        except BaseException:
            run.abort()
            raise
    finally:
        lib_logger.removeHandler(collector)
        ACTIVE_COLLECTOR.reset(token)
    logger.info("meta-analysis: %s", final)
    return str(final)
