"""Operations with the real parts: Prefect server + scheduled deployment + UI, Dask, incremental runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from bmsc_dge.testing import free_port, wait_http

from .conftest import ROOT, launch_chromium, write_study

BIN = Path(sys.executable).parent


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    """`bmsc-dge server` on a free loopback port with its own SQLite database."""
    home = tmp_path_factory.mktemp("server_home")
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2"}
    env.pop("PREFECT_API_URL", None)
    log = open(home / "server.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [str(BIN / "bmsc-dge"), "server", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=home,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/api/health", timeout=120)
        yield {"url": f"http://127.0.0.1:{port}", "api": f"http://127.0.0.1:{port}/api", "home": home}
    finally:
        _stop(proc)
        log.close()


@pytest.mark.e2e
def test_scheduled_example_run_completes_and_shows_in_ui(prefect_server, tmp_path):
    """A deployment with a 2-minute interval schedule, served by `bmsc-dge serve`, runs the example."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

    config = tmp_path / "example.yaml"
    cfg = yaml.safe_load((ROOT / "configs" / "example.yaml").read_text())
    cfg["counts"] = str(ROOT / "data" / "example" / "counts.tsv.gz")
    cfg["samples"] = str(ROOT / "data" / "example" / "samples.tsv")
    cfg["outdir"] = str(tmp_path / "results")
    cfg["gene_sets"]["permutations"] = 200  # keep CI time down; the example flow is otherwise unchanged
    config.write_text(yaml.safe_dump(cfg))
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_server["api"],
        "PREFECT_HOME": str(prefect_server["home"]),
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",
    }
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115
    serve = subprocess.Popen(
        [str(BIN / "bmsc-dge"), "serve", str(config), "--interval", "120", "--name", "ci-test"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    from prefect.settings import PREFECT_API_URL, temporary_settings

    try:
        run = None
        deadline = time.time() + 420
        with (
            temporary_settings(updates={PREFECT_API_URL: prefect_server["api"]}),
            get_client(sync_client=True) as client,
        ):
            while time.time() < deadline:
                runs = client.read_flow_runs(
                    deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["ci-test"]))
                )
                done = [r for r in runs if r.state and r.state.is_completed()]
                failed = [r for r in runs if r.state and (r.state.is_failed() or r.state.is_crashed())]
                assert not failed, (failed, (tmp_path / "serve.log").read_text()[-3000:])
                if done:
                    run = done[0]
                    break
                time.sleep(3)
        assert run is not None, (tmp_path / "serve.log").read_text()[-3000:]
        assert run.auto_scheduled or run.expected_start_time is not None
        latest = tmp_path / "results" / "latest"
        assert (latest / "report.html").is_file()
        targets = pd.read_csv(latest / "tables" / "targets" / "T2DM_vs_control.targets.tsv", sep="\t")
        assert "FOXQ1" in set(targets["symbol"].head(10))

        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = launch_chromium(p)
            page = browser.new_page()
            page.goto(f"{prefect_server['url']}/runs")
            page.wait_for_selector(f"text={run.name}", timeout=60000)
            assert page.get_by_text(run.name).first.is_visible()
            page.screenshot(path=str(tmp_path / "ui.png"))
            browser.close()
    finally:
        _stop(serve)
        log.close()


@pytest.fixture
def dask_cluster(tmp_path):
    """`dask scheduler` and two `dask worker` processes on loopback."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [
        subprocess.Popen(
            [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    for i in range(2):
        procs.append(
            subprocess.Popen(
                [
                    str(BIN / "dask"),
                    "worker",
                    address,
                    "--nworkers",
                    "1",
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--name",
                    f"w{i}",
                    "--local-directory",
                    str(tmp_path / f"w{i}"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    try:
        from distributed import Client

        deadline = time.time() + 60
        while True:
            try:
                with Client(address, timeout=5) as c:
                    c.wait_for_workers(2, timeout=60)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(1)
        yield address
    finally:
        for p in reversed(procs):
            _stop(p)


@pytest.mark.e2e
def test_multi_contrast_study_on_two_dask_workers(prefect_harness, dask_cluster, tmp_path):
    from flows.analysis import run_config

    paths = write_study(tmp_path / "s", n_background=200)
    cfg = yaml.safe_load(paths["config"].read_text())
    cfg["contrasts"] = [
        {"name": "T2DM_vs_control", "variable": "condition", "target": "T2DM", "reference": "control"},
        {"name": "control_vs_T2DM", "variable": "condition", "target": "control", "reference": "T2DM"},
    ]
    cfg["execution"] = {"engine": "dask", "address": dask_cluster}
    paths["config"].write_text(yaml.safe_dump(cfg))
    run = run_config(paths["config"])
    manifest = json.loads((run / "manifest.json").read_text())
    workers = set(manifest["executed_on"].values())
    assert len(workers) == 2 and all(w.startswith("tcp://127.0.0.1:") for w in workers), manifest[
        "executed_on"
    ]
    a = pd.read_csv(run / "tables" / "de" / "T2DM_vs_control.deseq2.tsv", sep="\t").set_index("gene_id")
    b = pd.read_csv(run / "tables" / "de" / "control_vs_T2DM.deseq2.tsv", sep="\t").set_index("gene_id")
    # two separate fits (each reference level) converge to R's IRLS deviance tolerance (1e-8), so the
    # mirrored coefficients agree to ~1e-6, not to machine precision
    pd.testing.assert_series_equal(
        a["log2FoldChange"], -b.loc[a.index, "log2FoldChange"], check_names=False, atol=1e-5
    )


@pytest.mark.e2e
def test_inbox_reanalyses_only_when_inputs_change(prefect_harness, tmp_path):
    from flows.inbox import inbox_flow

    full = write_study(tmp_path / "full", n_per_group=5, n_background=200)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    counts = pd.read_csv(full["counts"], sep="\t", index_col=0)
    samples = pd.read_csv(full["samples"], sep="\t", index_col=0)
    late = ["CTRL_05", "T2DM_05"]  # two donors whose samples arrive later
    counts.drop(columns=late).to_csv(inbox / "counts.tsv", sep="\t")
    samples.drop(index=late).to_csv(inbox / "samples.tsv", sep="\t")
    cfg = yaml.safe_load(full["config"].read_text())
    cfg["outdir"] = str(tmp_path / "results")
    (inbox / "study.yaml").write_text(yaml.safe_dump(cfg))

    first = inbox_flow(str(inbox))
    t = time.perf_counter()
    second = inbox_flow(str(inbox))
    unchanged_seconds = time.perf_counter() - t
    assert second["run"] == first["run"] and second["fingerprint"] == first["fingerprint"]
    assert len(list((tmp_path / "results" / "runs").iterdir())) == 1
    assert unchanged_seconds < 20, unchanged_seconds  # no DE or GSEA recomputed (a full run takes longer)

    counts.to_csv(inbox / "counts.tsv", sep="\t")
    samples.to_csv(inbox / "samples.tsv", sep="\t")
    third = inbox_flow(str(inbox))
    assert third["run"] != first["run"]
    assert len(list((tmp_path / "results" / "runs").iterdir())) == 2
    changes = pd.read_csv(Path(third["run"]) / "tables" / "changes" / "T2DM_vs_control.changes.tsv", sep="\t")
    assert set(changes["kind"]) & {
        "became_significant",
        "no_longer_significant",
        "target_rank_move",
        "nes_shift",
    }
    manifest = json.loads((Path(third["run"]) / "manifest.json").read_text())
    assert manifest["previous_run"] == str(Path(first["run"]).resolve())
    print(f"unchanged inbox re-run took {unchanged_seconds:.1f} s")


@pytest.mark.e2e
def test_two_runs_at_once_write_separate_folders(tmp_path):
    paths = write_study(tmp_path / "s", n_background=150)
    procs = []
    for i in range(2):
        env = {**os.environ, "PREFECT_HOME": str(tmp_path / f"home{i}")}
        env.pop("PREFECT_API_URL", None)
        procs.append(
            subprocess.Popen(
                [str(BIN / "bmsc-dge"), "run", str(paths["config"])],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    runs = sorted((paths["config"].parent / "results" / "runs").iterdir())
    assert len(runs) == 2
    for r in runs:
        assert (r / "manifest.json").is_file() and (r / "report.html").is_file()
    latest = (paths["config"].parent / "results" / "latest").resolve()
    assert latest in [r.resolve() for r in runs]
    assert not list((paths["config"].parent / "results").glob(".partial-*"))
    shutil.rmtree(tmp_path / "home0", ignore_errors=True)
