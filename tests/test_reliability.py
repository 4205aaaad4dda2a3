"""Reliability: killed runs leave nothing marked complete; auth rejects anonymous API calls; load."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
import yaml

from .conftest import write_study
from .test_operations import _stop, free_port, wait_http

BIN = Path(sys.executable).parent
TABLES = [
    "de/T2DM_vs_control.deseq2.tsv",
    "gsea/T2DM_vs_control.gsea.tsv",
    "targets/T2DM_vs_control.targets.tsv",
]


def _run(config: Path, home: Path, **kw) -> subprocess.Popen:
    env = {**os.environ, "PREFECT_HOME": str(home)}
    env.pop("PREFECT_API_URL", None)
    return subprocess.Popen(
        [str(BIN / "bmsc-dge"), "run", str(config)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        **kw,
    )


def _complete_runs(results: Path) -> list[Path]:
    runs = sorted((results / "runs").iterdir()) if (results / "runs").is_dir() else []
    for r in runs:  # anything in runs/ must be complete
        assert (r / "manifest.json").is_file() and (r / "report.html").is_file(), r
    return runs


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reference")
    paths = write_study(folder / "s", n_background=150)
    proc = _run(paths["config"], folder / "home")
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out[-2000:]
    return (paths["config"].parent / "results" / "latest").resolve()


def _wait_for(pred, timeout: float = 300) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


STAGES = {
    "run_folder_created": lambda r: any(r.glob(".partial-*")),
    "de_table_written": lambda r: any(r.glob(".partial-*/tables/de/*.tsv")),
    "figures_being_drawn": lambda r: any(r.glob(".partial-*/figures/*/*.png")),
}


@pytest.mark.e2e
@pytest.mark.parametrize("stage", list(STAGES))
def test_sigkill_at_any_stage_then_rerun_matches_uninterrupted(reference_run, tmp_path, stage):
    paths = write_study(tmp_path / "s", n_background=150)
    results = paths["config"].parent / "results"
    proc = _run(paths["config"], tmp_path / "home")
    hit = _wait_for(lambda: STAGES[stage](results))
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert hit, f"run never reached stage {stage}"
    assert _complete_runs(results) == []  # nothing half-written is marked complete
    assert not (results / "latest").exists()
    rerun = _run(paths["config"], tmp_path / "home")
    out, _ = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, out[-2000:]
    runs = _complete_runs(results)
    assert len(runs) == 1 and (results / "latest").resolve() == runs[0].resolve()
    assert not list(results.glob(".partial-*"))  # the killed run's folder was cleaned up
    for t in TABLES:
        assert (runs[0] / "tables" / t).read_bytes() == (reference_run / "tables" / t).read_bytes(), t


@pytest.mark.e2e
def test_basic_auth_rejects_unauthenticated_api_calls(tmp_path):
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(tmp_path), "PREFECT_SERVER_API_AUTH_STRING": "admin:s3cret"}
    env.pop("PREFECT_API_URL", None)
    proc = subprocess.Popen(
        [str(BIN / "bmsc-dge"), "server", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/api/health", timeout=120)
        url = f"http://127.0.0.1:{port}/api/flows/filter"

        def post(headers: dict[str, str]) -> int:
            req = urllib.request.Request(
                url, data=b"{}", method="POST", headers={"Content-Type": "application/json", **headers}
            )
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    return int(r.status)
            except urllib.error.HTTPError as e:
                return int(e.code)

        assert post({}) == 401
        bad = base64.b64encode(b"admin:wrong").decode()
        assert post({"Authorization": f"Basic {bad}"}) == 401
        good = base64.b64encode(b"admin:s3cret").decode()
        assert post({"Authorization": f"Basic {good}"}) == 200
    finally:
        _stop(proc)


@pytest.mark.e2e
def test_server_binds_loopback_by_default(tmp_path):
    from bmsc_dge.cli import server_environment

    env = server_environment("127.0.0.1", 4321)
    assert env["PREFECT_SERVER_API_HOST"] == "127.0.0.1"
    assert env["PREFECT_UI_API_URL"] == "http://127.0.0.1:4321/api"
    assert env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"


@pytest.mark.e2e
def test_twenty_studies_at_once(prefect_harness, tmp_path):
    """20 small studies through the batch flow, 4 at a time: every one completes with its own results."""
    from flows.batch import run_studies

    configs = []
    for i in range(20):
        # each study plants FOXQ1 at a different strength and has its own name and outdir
        paths = write_study(
            tmp_path / f"s{i:02d}",
            n_background=40,
            seed=100 + i,
            effects={"FOXQ1": -1.5 - 0.1 * i, "LEP": 2.0},
        )
        cfg = yaml.safe_load(paths["config"].read_text())
        cfg.update(name=f"study{i:02d}", gene_sets={"collections": ["curated"], "permutations": 100})
        paths["config"].write_text(yaml.safe_dump(cfg))
        configs.append(str(paths["config"]))
    runs = [Path(r) for r in run_studies(configs, max_concurrency=4)]
    assert len(set(runs)) == 20
    lfcs = []
    for i, r in enumerate(runs):
        assert r.parent.parent == Path(configs[i]).parent / "results", r
        assert (r / "report.html").is_file()
        de = pd.read_csv(r / "tables" / "de" / "T2DM_vs_control.deseq2.tsv", sep="\t").set_index("symbol")
        lfcs.append(de.loc["FOXQ1", "log2FoldChange"])
        counts = pd.read_csv(Path(configs[i]).parent / "counts.tsv", sep="\t", index_col=0)
        assert len(de) <= len(counts)
    # results stayed separate: the planted FOXQ1 effect strengthens from study to study
    assert pd.Series(lfcs).corr(pd.Series([-1.5 - 0.1 * i for i in range(20)]), method="spearman") > 0.8
