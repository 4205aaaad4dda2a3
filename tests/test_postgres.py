"""A PostgreSQL-backed Prefect server records runs, one study and a 20-study batch (Debian's postgresql,
a throw-away cluster)."""

from __future__ import annotations

import os
import subprocess

import pytest
import yaml

from bmsc_dge.testing import prefect_server, throwaway_postgres

from .conftest import write_study
from .test_operations import BIN


@pytest.fixture(scope="module")
def postgres_api(tmp_path_factory):
    """`bmsc-dge server --database-url` on a throw-away cluster: (cluster, API URL, server home)."""
    home = tmp_path_factory.mktemp("pg_server_home")
    with throwaway_postgres() as cluster, prefect_server(home, cluster.url, exe=str(BIN / "bmsc-dge")) as api:
        yield cluster, api, home


def _env(api: str, home) -> dict[str, str]:
    return {**os.environ, "PREFECT_HOME": str(home), "PREFECT_API_URL": api}


@pytest.mark.e2e
def test_run_is_recorded_in_postgresql(postgres_api, tmp_path):
    cluster, api, home = postgres_api
    paths = write_study(tmp_path / "study", n_background=200)
    before = int(cluster.psql("select count(*) from flow_run where state_type = 'COMPLETED'"))
    run = subprocess.run(
        [str(BIN / "bmsc-dge"), "run", str(paths["config"])],
        env=_env(api, home),
        cwd=paths["config"].parent,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    # the run is in PostgreSQL's tables, not in a SQLite file
    after = int(cluster.psql("select count(*) from flow_run where state_type = 'COMPLETED'"))
    assert after > before
    assert not (home / "prefect.db").exists()


@pytest.mark.e2e
def test_twenty_study_batch_on_postgresql(postgres_api, tmp_path):
    """`bmsc-dge batch` with 20 studies, 4 at a time, against PostgreSQL: each study's sub-flow and
    every task is recorded there, each study has its own run folder."""
    cluster, api, home = postgres_api
    configs = []
    for i in range(20):
        paths = write_study(tmp_path / f"s{i:02d}", n_background=40, seed=200 + i, effects={"FOXQ1": -2.0})
        cfg = yaml.safe_load(paths["config"].read_text())
        cfg.update(name=f"pg_study{i:02d}", gene_sets={"collections": ["curated"], "permutations": 100})
        cfg["targets"] = {"stability": False}
        paths["config"].write_text(yaml.safe_dump(cfg))
        configs.append(str(paths["config"]))
    run = subprocess.run(
        [str(BIN / "bmsc-dge"), "batch", *configs, "--max-concurrency", "4"],
        env=_env(api, home),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    folders = dict(line.split(": ", 1) for line in run.stdout.splitlines() if line.startswith("pg_study"))
    assert len(folders) == 20 and len(set(folders.values())) == 20
    for i in range(20):
        assert os.path.isfile(os.path.join(folders[f"pg_study{i:02d}"], "report.html"))
    completed = cluster.psql(
        "select f.name, count(*) from flow_run r join flow f on f.id = r.flow_id "
        "where r.state_type = 'COMPLETED' group by f.name"
    )
    by_flow = dict(line.split("|") for line in completed.splitlines())
    assert int(by_flow["bmsc-dge-batch"]) >= 1
    assert int(by_flow["bmsc-dge"]) >= 20, by_flow
    failed = cluster.psql("select count(*) from task_run where state_type in ('FAILED', 'CRASHED')")
    assert failed == "0"
