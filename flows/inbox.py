"""Incremental re-analysis of an inbox folder: recompute only when the inputs changed.

The inbox holds a study config (``study.yaml`` by default) and the count matrix and sample sheet
it points at. Each scheduled run fingerprints them (:func:`bmsc_dge.runs._fingerprint.input_fingerprint`)
and calls the analysis through a Prefect task cached on that fingerprint: unchanged inputs hit the
cache and the run finishes in seconds, returning the earlier run folder; new donors (changed counts
or sheet) miss it and a full run writes a new run folder with its "what changed" tables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.context import TaskRunContext

from bmsc_dge.config import load_config
from bmsc_dge.runs import input_fingerprint
from flows.analysis import bmsc_dge_flow


def _fingerprint_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    return f"bmsc-dge-inputs-{parameters['fingerprint']}"


@task(name="analyse-if-inputs-changed", cache_key_fn=_fingerprint_key, persist_result=True)
def analyse_if_changed(config_path: str, outdir: str | None, fingerprint: str) -> str:
    """Run the analysis flow; cached on the input fingerprint."""
    return bmsc_dge_flow(config_path, outdir)


@flow(name="bmsc-dge-inbox")
def inbox_flow(inbox: str, config_name: str = "study.yaml", outdir: str | None = None) -> dict[str, Any]:
    """Re-analyse the study in ``inbox`` if its inputs changed since the last completed run."""
    logger = get_run_logger()
    config_path = Path(inbox) / config_name
    cfg = load_config(config_path, outdir=outdir)
    fp = input_fingerprint(cfg, config_path)
    run_folder = analyse_if_changed(str(config_path), outdir, fp)
    if not Path(run_folder).is_dir():  # cached result points at a folder that was deleted: recompute
        logger.warning("cached run folder %s is gone; recomputing", run_folder)
        run_folder = analyse_if_changed.with_options(refresh_cache=True)(str(config_path), outdir, fp)
    logger.info("inputs %s... -> %s", fp[:12], run_folder)
    return {"fingerprint": fp, "run": run_folder}
