"""Run many studies at once (one Prefect task per study, each running the analysis flow)."""

from __future__ import annotations

from prefect import flow, task
from prefect.task_runners import ThreadPoolTaskRunner

from flows.analysis import bmsc_dge_flow


@task(name="run-study")
def run_study(config_path: str, checked_inputs: str | None = None) -> str:
    """One study, as a subflow; returns its completed run folder."""
    return bmsc_dge_flow(config_path, checked_inputs=checked_inputs)


@flow(name="bmsc-dge-batch")
def run_studies(
    config_paths: list[str], max_concurrency: int = 4, checked_inputs: list[str | None] | None = None
) -> list[str]:
    """Analyse every study config, ``max_concurrency`` at a time; return the run folders in order.

    ``checked_inputs``: per config, the token of a study already read in this process
    (:func:`bmsc_dge.study.hand_over`), or ``None``.
    """
    tokens = checked_inputs or [None] * len(config_paths)
    runner_flow = _inner.with_options(task_runner=ThreadPoolTaskRunner(max_workers=max_concurrency))  # type: ignore[arg-type]
    return runner_flow(config_paths, tokens)


@flow(name="bmsc-dge-batch-studies")
def _inner(config_paths: list[str], checked_inputs: list[str | None]) -> list[str]:
    futures = [run_study.submit(p, t) for p, t in zip(config_paths, checked_inputs, strict=True)]
    return [str(f.result()) for f in futures]
