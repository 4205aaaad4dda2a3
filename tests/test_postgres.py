"""A PostgreSQL-backed Prefect server records a run (Debian's postgresql, a throw-away cluster)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from .conftest import write_study
from .test_operations import BIN, _stop, free_port, wait_http


def _as_postgres(cmd: list[str]) -> list[str]:
    """Run initdb / pg_ctl as the `postgres` user when we are root (PostgreSQL refuses root)."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture(scope="module")
def postgres_url():
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    assert bins, "Debian's postgresql is needed (scripts/dev test installs it)"
    bindir = Path(bins[-1])
    base = Path(tempfile.mkdtemp(prefix="bmsc-dge-pg-", dir="/tmp"))  # readable by `postgres`
    base.chmod(0o777)
    data = base / "data"
    port = free_port()
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    subprocess.run(
        _as_postgres(
            [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
        ),
        check=True,
        capture_output=True,
    )
    opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1"
    subprocess.run(
        _as_postgres(
            [str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(base / "log"), "-w", "start"]
        ),
        check=True,
        capture_output=True,
    )
    try:
        subprocess.run(
            _as_postgres(
                [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "prefect"]
            ),
            check=True,
            capture_output=True,
        )
        yield {"url": f"postgresql+asyncpg://postgres@127.0.0.1:{port}/prefect", "port": port, "bin": bindir}
    finally:
        subprocess.run(
            _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.e2e
def test_run_is_recorded_in_postgresql(postgres_url, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(home)}
    env.pop("PREFECT_API_URL", None)
    log = open(home / "server.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [str(BIN / "bmsc-dge"), "server", "--port", str(port), "--database-url", postgres_url["url"]],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=home,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/api/health", timeout=180)
        paths = write_study(tmp_path / "study", n_background=200)
        run = subprocess.run(
            [str(BIN / "bmsc-dge"), "run", str(paths["config"])],
            env={**env, "PREFECT_API_URL": f"http://127.0.0.1:{port}/api"},
            cwd=paths["config"].parent,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert run.returncode == 0, run.stderr[-3000:]
        # the run is in PostgreSQL's tables, not in a SQLite file
        psql = subprocess.run(
            _as_postgres(
                [
                    str(postgres_url["bin"] / "psql"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(postgres_url["port"]),
                    "-U",
                    "postgres",
                    "-d",
                    "prefect",
                    "-At",
                    "-c",
                    "select count(*) from flow_run where state_type = 'COMPLETED'",
                ]
            ),
            capture_output=True,
            text=True,
            check=True,
        )
        assert int(psql.stdout.strip()) >= 1, psql.stdout
        assert not (home / "prefect.db").exists()
    finally:
        _stop(server)
        log.close()
