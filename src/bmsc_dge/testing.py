"""Helpers for tests and benchmarks: a throw-away PostgreSQL cluster for a Prefect server.

Debian's ``postgresql`` package provides ``initdb``/``pg_ctl`` under ``/usr/lib/postgresql/*/bin``
(``scripts/dev test`` installs it). PostgreSQL refuses to run as root, so when we are root the
cluster runs as the ``postgres`` user, in a folder under ``/tmp`` that user can read.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bmsc_dge.errors import BmscDgeError


@dataclass(frozen=True)
class PostgresCluster:
    """A running throw-away cluster: its SQLAlchemy URL for Prefect, port and binaries folder."""

    url: str
    port: int
    bindir: Path

    def psql(self, sql: str) -> str:
        """Run one SQL statement in the ``prefect`` database; return its unaligned output."""
        cmd = [str(self.bindir / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]
        done = subprocess.run(
            as_postgres([*cmd, "-d", "prefect", "-At", "-c", sql]),
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()


def as_postgres(cmd: list[str]) -> list[str]:
    """``cmd`` run as the ``postgres`` user when we are root (PostgreSQL refuses root)."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(cmd: list[str], cwd: Path) -> None:
    """Run a PostgreSQL tool in ``cwd`` (readable by ``postgres``); its output goes into the error."""
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise BmscDgeError(
            f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}"
        )


@contextmanager
def throwaway_postgres() -> Iterator[PostgresCluster]:
    """Start a fresh cluster on a free loopback port with an empty ``prefect`` database; remove it after.

    Raises
    ------
    BmscDgeError
        When Debian's PostgreSQL binaries are not installed.
    """
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not bins:
        raise BmscDgeError("PostgreSQL is not installed: install Debian's postgresql (scripts/dev test does)")
    bindir = Path(bins[-1])
    base = Path(tempfile.mkdtemp(prefix="bmsc-dge-pg-", dir="/tmp"))
    base.chmod(0o777)
    data = base / "data"
    port = free_port()
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    initdb = [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
    _run(as_postgres(initdb), base)
    opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1"
    start = [str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(base / "log"), "-w", "start"]
    _run(as_postgres(start), base)
    try:
        createdb = [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "prefect"]
        _run(as_postgres(createdb), base)
        yield PostgresCluster(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/prefect", port, bindir)
    finally:
        stop = [str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]
        subprocess.run(as_postgres(stop), cwd=base, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def wait_http(url: str, timeout: float = 180.0) -> None:
    """Wait until ``url`` answers 200, or raise :class:`TimeoutError`."""
    import time
    import urllib.request

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(url)


@contextmanager
def prefect_server(home: Path, database_url: str | None = None, exe: str = "bmsc-dge") -> Iterator[str]:
    """Run ``bmsc-dge server`` (SQLite in ``home``, or ``database_url``) on a free port; yield its API URL.

    The server's output goes to ``home/server.log``; it is terminated on exit.
    """
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(home)}
    env.pop("PREFECT_API_URL", None)
    cmd = [exe, "server", "--port", str(port)]
    if database_url:
        cmd += ["--database-url", database_url]
    with open(home / "server.log", "w") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=home)
        try:
            wait_http(f"http://127.0.0.1:{port}/api/health")
            yield f"http://127.0.0.1:{port}/api"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
