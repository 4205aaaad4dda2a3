"""`prefect deploy` of the project's prefect.yaml, a process work pool and a worker run a scheduled
flow run of the example to completion (issue: operations tested for real)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from .conftest import ROOT
from .test_operations import BIN, _stop, free_port, wait_http


@pytest.mark.e2e
def test_prefect_deploy_and_worker_run_the_example(tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
    from prefect.settings import PREFECT_API_URL, temporary_settings

    home = tmp_path / "home"
    home.mkdir()
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2",
        "PREFECT_WORKER_QUERY_SECONDS": "2",
        "PREFECT_WORKER_PREFETCH_SECONDS": "5",
    }
    env.pop("PREFECT_API_URL", None)
    # the example study, with fewer permutations to keep CI time down, results in tmp
    cfg = yaml.safe_load((ROOT / "configs" / "example.yaml").read_text())
    cfg.update(
        counts=str(ROOT / "data" / "example" / "counts.tsv.gz"),
        samples=str(ROOT / "data" / "example" / "samples.tsv"),
        outdir=str(tmp_path / "results"),
    )
    cfg["gene_sets"]["permutations"] = 200
    config = tmp_path / "example.yaml"
    config.write_text(yaml.safe_dump(cfg))
    # the project's own prefect.yaml, with its weekly schedule shortened and the config above
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    dep = next(d for d in spec["deployments"] if d["name"] == "example-weekly")
    assert (
        dep["entrypoint"] == "flows/analysis.py:bmsc_dge_flow"
        and dep["work_pool"]["name"] == "bmsc-dge-local"
    )
    dep["schedules"] = [{"interval": 30}]
    dep["parameters"] = {"config_path": str(config)}
    prefect_file = tmp_path / "prefect.yaml"
    prefect_file.write_text(yaml.safe_dump(spec, sort_keys=False))

    log = open(home / "server.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [str(BIN / "bmsc-dge"), "server", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=home,
    )
    worker = None
    wlog = open(home / "worker.log", "w")  # noqa: SIM115 - closed below
    try:
        wait_http(f"{api}/health", timeout=180)
        cli = {**env, "PREFECT_API_URL": api}
        pool = subprocess.run(
            [str(BIN / "prefect"), "work-pool", "create", "bmsc-dge-local", "--type", "process"],
            env=cli,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert pool.returncode == 0, pool.stdout + pool.stderr
        deploy = subprocess.run(
            [
                str(BIN / "prefect"),
                "--no-prompt",
                "deploy",
                "--prefect-file",
                str(prefect_file),
                "--name",
                "example-weekly",
            ],
            env=cli,
            cwd=ROOT,  # entrypoints are relative to the project root, as for a user
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert deploy.returncode == 0, deploy.stdout[-3000:] + deploy.stderr[-3000:]
        worker = subprocess.Popen(
            [str(BIN / "prefect"), "worker", "start", "--pool", "bmsc-dge-local"],
            env=cli,
            cwd=ROOT,
            stdout=wlog,
            stderr=subprocess.STDOUT,
        )
        run = None
        deadline = time.time() + 480
        with temporary_settings(updates={PREFECT_API_URL: api}), get_client(sync_client=True) as client:
            while time.time() < deadline and run is None:
                runs = client.read_flow_runs(
                    deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["example-weekly"]))
                )
                bad = [r for r in runs if r.state and (r.state.is_failed() or r.state.is_crashed())]
                assert not bad, (home / "worker.log").read_text()[-3000:]
                done = [r for r in runs if r.state and r.state.is_completed()]
                run = done[0] if done else None
                time.sleep(3)
        assert run is not None, (home / "worker.log").read_text()[-3000:]
        assert run.auto_scheduled  # created by the schedule, not by hand
        latest = tmp_path / "results" / "latest"
        assert (latest / "report.html").is_file()
        targets = pd.read_csv(latest / "tables" / "targets" / "T2DM_vs_control.targets.tsv", sep="\t")
        assert "FOXQ1" in set(targets["symbol"].head(10))
    finally:
        if worker is not None:
            _stop(worker)
        _stop(server)
        log.close()
        wlog.close()
        assert Path(ROOT / "prefect.yaml").read_text().count("cron") >= 2  # the project file is untouched
