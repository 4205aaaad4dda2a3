"""Warm workers (bmsc_dge._warm): the setup they serve, and runs forked from them that behave as a
run in its own process does - same tables, exit statuses, errors, Ctrl-C, SIGKILL - and workers
that stop when idle or told to."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bmsc_dge import _warm
from bmsc_dge._workers import alive

from .conftest import ROOT, example_checksums

BMSC_DGE = str(Path(sys.executable).with_name("bmsc-dge"))
EXAMPLE = str(ROOT / "configs" / "example.yaml")


def test_setup_key_follows_what_a_run_reads_at_import(tmp_path, monkeypatch):
    env = {"PATH": "/usr/bin", "BMSC_DGE_WARM": "on", "PWD": "/a", "OLDPWD": "/b", "SHLVL": "1"}
    key = _warm.setup_key(env, str(tmp_path))
    assert _warm.setup_key({**env, "PWD": "/c", "OLDPWD": "/d", "SHLVL": "3", "_": "x"}, str(tmp_path)) == key
    assert _warm.setup_key({**env, "OPENBLAS_CORETYPE": "Haswell"}, str(tmp_path)) != key
    assert _warm.setup_key({**env, "PATH": "/usr/local/bin"}, str(tmp_path)) != key
    (tmp_path / ".env").write_text("PREFECT_LOGGING_LEVEL=DEBUG\n")  # Prefect reads it at import
    with_env_file = _warm.setup_key(env, str(tmp_path))
    assert with_env_file != key
    (tmp_path / ".env").write_text("PREFECT_LOGGING_LEVEL=INFO\n")
    assert _warm.setup_key(env, str(tmp_path)) not in (key, with_env_file)
    (tmp_path / ".env").unlink()
    assert _warm.setup_key(env, str(tmp_path)) == key
    mask = os.umask(0o077)  # inherited, not passed with a command: the worker must have it
    try:
        assert _warm.setup_key(env, str(tmp_path)) != key
    finally:
        os.umask(mask)
    # an edited source file of the package (its modification time moves), or of the flows
    package = Path(_warm.__file__).parents[1]
    for source in (
        package / "deseq2" / "_fit.py",
        package / "genesets" / "data",
        ROOT / "flows" / "analysis.py",
    ):
        if source.is_dir():  # a data file of the package
            source = sorted(p for p in source.rglob("*") if p.is_file())[0]
        st = source.stat()
        try:
            os.utime(source, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
            assert _warm.setup_key(env, str(tmp_path)) != key, source
        finally:
            os.utime(source, ns=(st.st_atime_ns, st.st_mtime_ns))
        assert _warm.setup_key(env, str(tmp_path)) == key


@pytest.mark.parametrize(
    ("value", "on"), [(None, True), ("on", True), ("off", False), ("0", False), ("No", False)]
)
def test_warm_workers_switch(value, on):
    assert _warm.enabled({} if value is None else {"BMSC_DGE_WARM": value}) is on


def test_no_worker_means_this_process(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    t0 = time.perf_counter()
    assert _warm.hand_over(["bmsc-dge", "run", "x.yaml"]) is None
    assert time.perf_counter() - t0 < 2


@pytest.mark.parametrize("reply", [b"", b'{"refused": "setup"}\n'])
def test_a_worker_that_refuses_or_goes_means_this_process(reply):
    """A worker that closes the connection (it is stopping) or refuses the command (its setup
    changed): the command runs in its own process (hand_over returns None) instead of failing."""
    import socket
    import threading

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(_warm._address(_warm.setup_key()))
    listener.listen(1)

    def answer() -> None:
        conn, _ = listener.accept()
        with conn:
            for fd in socket.recv_fds(conn, 1 << 16, 3)[1]:
                os.close(fd)
            if reply:
                conn.sendall(reply)

    server = threading.Thread(target=answer)
    server.start()
    try:
        assert _warm.hand_over(["bmsc-dge", "run", "x.yaml"]) is None
    finally:
        server.join(timeout=10)
        listener.close()


def _children_cpu() -> float:
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def _bmsc(args: list[str], env: dict[str, str], cwd: Path, **kw) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``bmsc-dge args``; also the CPU seconds the command's own process used."""
    before = _children_cpu()
    proc = subprocess.run([BMSC_DGE, *args], env=env, cwd=cwd, capture_output=True, text=True, **kw)
    return proc, _children_cpu() - before


def _listed(env: dict[str, str]) -> list[dict]:
    folder = Path(env["XDG_STATE_HOME"]) / "bmsc-dge" / "warm"
    return [json.loads(p.read_text()) for p in folder.glob("*.json")] if folder.is_dir() else []


def _wait_ready(env: dict[str, str], timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = [w for w in _listed(env) if w["state"] == "ready" and _running(int(w["pid"]))]
        if ready:
            return ready[0]
        time.sleep(0.2)
    raise AssertionError(f"no warm worker became ready in {timeout} s: {_listed(env)}")


def _start_worker(env: dict[str, str], cwd: Path) -> dict:
    _warm.start_worker(env, str(cwd))
    return _wait_ready(env)


def _running(pid: int) -> bool:
    """Alive and not a zombie (a worker these tests start is their child until they end)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


@pytest.fixture
def warm_env(tmp_path, prefect_harness):
    """An environment with warm workers on, its own worker list, and the test session's server."""
    from prefect.settings import PREFECT_API_URL

    env = {
        **os.environ,
        "BMSC_DGE_WARM": "on",
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
    }
    yield env
    for w in _listed(env):
        if alive(int(w["pid"])):
            os.kill(int(w["pid"]), signal.SIGTERM)


@pytest.mark.e2e
def test_a_warm_run_writes_the_golden_tables(warm_env, tmp_path):
    """A cold run starts a worker; the next run is forked from it (its command uses well under a
    CPU-second) and writes tables byte-identical to the golden record (tests/test_flow.py), under
    the same pinned arithmetic."""
    module = example_checksums()
    record = (ROOT / "tests" / "data" / "example_tables.sha256").read_text()
    made_on = record.splitlines()[0]
    env = {**warm_env, **module.pinning(made_on)}
    cold, cold_cpu = _bmsc(["run", EXAMPLE, "--outdir", str(tmp_path / "cold")], env, tmp_path, timeout=900)
    assert cold.returncode == 0, cold.stdout + cold.stderr
    assert cold_cpu > 3  # it ran in its own process
    _wait_ready(env)
    warm, warm_cpu = _bmsc(["run", EXAMPLE, "--outdir", str(tmp_path / "warm")], env, tmp_path, timeout=900)
    assert warm.returncode == 0, warm.stdout + warm.stderr
    assert warm_cpu < 1.0, f"the warm run's command used {warm_cpu:.2f} CPU-s: it did not hand over"
    assert "results: " in warm.stdout and "report: " in warm.stdout
    for name in ("cold", "warm"):
        sums = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "example_checksums.py"), str(tmp_path / name / "latest")],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        assert sums.stdout == record, f"{name} run's tables differ from the golden record"


@pytest.mark.e2e
def test_warm_errors_exit_statuses_and_signals(warm_env, tmp_path):
    """Bad input: the one-line error and status 2; Ctrl-C (SIGINT to the command) ends the run with
    130; a command killed with SIGKILL takes its run with it; the worker lists itself, stops on
    `bmsc-dge server --stop --all`."""
    worker = _start_worker(warm_env, tmp_path)
    bad, cpu = _bmsc(["run", str(tmp_path / "missing.yaml")], warm_env, tmp_path, timeout=120)
    assert bad.returncode == 2, bad.stdout + bad.stderr
    assert "error:" in bad.stderr and "missing.yaml" in bad.stderr and "Traceback" not in bad.stderr
    assert cpu < 1.0

    for sig, status in ((signal.SIGINT, 130), (signal.SIGKILL, -signal.SIGKILL)):
        proc = subprocess.Popen(
            [BMSC_DGE, "run", EXAMPLE, "--outdir", str(tmp_path / f"out{sig}")],
            env=warm_env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while not _children(int(worker["pid"])) and time.monotonic() < deadline:
            time.sleep(0.05)
        (run,) = _children(int(worker["pid"]))
        time.sleep(3)  # into the run
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == status, (sig, out, err)
        deadline = time.monotonic() + 30
        while alive(run) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(run), f"the run (pid {run}) outlived its command ({sig!r})"
        assert not (tmp_path / f"out{sig}" / "latest").exists()  # no run folder was published

    status = subprocess.run(  # shows the worker's idle timeout, not the asking command's
        [BMSC_DGE, "server", "--status"],
        env={**warm_env, "BMSC_DGE_SERVER_IDLE_TIMEOUT": "5"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert f"warm worker pid {worker['pid']}  ready" in status.stdout, status.stdout
    assert "(stops after 60 min idle;" in status.stdout, status.stdout
    stop = subprocess.run(
        [BMSC_DGE, "server", "--stop", "--all"],
        env=warm_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "stopped 1 warm worker(s)" in stop.stdout, stop.stdout
    deadline = time.monotonic() + 30
    while _running(int(worker["pid"])) and time.monotonic() < deadline:
        time.sleep(0.1)
    logs = [p.read_text() for p in (Path(warm_env["XDG_STATE_HOME"]) / "bmsc-dge" / "warm").glob("*.log")]
    assert not _running(int(worker["pid"])), logs
    assert _listed(warm_env) == []


@pytest.mark.e2e
def test_an_idle_worker_stops_itself(warm_env, tmp_path):
    env = {**warm_env, "BMSC_DGE_SERVER_IDLE_TIMEOUT": "1"}
    worker = _start_worker(env, tmp_path)
    deadline = time.monotonic() + 30
    while _running(int(worker["pid"])) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _running(int(worker["pid"]))
    assert _listed(env) == []
