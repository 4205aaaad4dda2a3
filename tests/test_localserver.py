"""The project's background Prefect server: started once, reused, stoppable; a killed run leaves
nothing of its own behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bmsc_dge.runs._localserver import STATE_FILE, healthy

from .procs import SESSION, processes_where, running
from .test_cli import BIN, run_cli

ON = {"BMSC_DGE_LOCAL_SERVER": "on"}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _session_members(sid: int) -> list[int]:
    """Live processes whose session id is ``sid``."""
    return processes_where(SESSION, sid)


@pytest.mark.e2e
def test_background_server_started_once_reused_and_stopped(small_study):
    folder = small_study["counts"].parent
    first = run_cli("run", str(small_study["config"]), cwd=folder, extra_env=ON)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "started in the background" in first.stdout and "bmsc-dge server --stop" in first.stdout
    state = json.loads((folder / ".prefect" / STATE_FILE).read_text())
    try:
        assert _alive(state["pid"]) and healthy(state["api"])
        second = run_cli("run", str(small_study["config"]), cwd=folder, extra_env=ON)
        assert second.returncode == 0, second.stderr[-3000:]
        assert "running in the background" in second.stdout
        assert json.loads((folder / ".prefect" / STATE_FILE).read_text())["pid"] == state["pid"]
        status = run_cli("server", "--status", cwd=folder, extra_env=ON)
        assert status.returncode == 0 and state["ui"] in status.stdout
        # both runs are recorded in that server (what the UI shows)
        import urllib.request

        req = urllib.request.Request(
            f"{state['api']}/flow_runs/filter",
            data=json.dumps({"flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            names = [f["name"] for f in json.loads(r.read())]
        assert len(names) >= 2
    finally:
        stop = run_cli("server", "--stop", cwd=folder, extra_env=ON)
    assert stop.returncode == 0 and str(state["pid"]) in stop.stdout
    deadline = time.time() + 30
    while _alive(state["pid"]) and time.time() < deadline:
        time.sleep(0.5)
    assert not _alive(state["pid"])
    assert not (folder / ".prefect" / STATE_FILE).exists()
    assert run_cli("server", "--status", cwd=folder, extra_env=ON).returncode == 1


def _start_run_until(small_study: dict, after: str, extra: dict[str, str]) -> subprocess.Popen:
    """``bmsc-dge run`` in its own session (so everything it starts stays in it), returned once
    ``after`` is in its output."""
    folder = small_study["counts"].parent
    env = {**os.environ, "PREFECT_HOME": str(folder / ".prefect"), **ON, **extra}
    log = folder / "run.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [str(BIN), "run", str(small_study["config"])],
            cwd=folder,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.time() + 300
    while after not in log.read_text() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    if proc.poll() is not None:
        pytest.fail(log.read_text()[-2000:])
    return proc


@pytest.mark.e2e
# after the fit the leave-one-out refits run in forked processes: killed with the run, too
@pytest.mark.parametrize("after", ["ok load and check inputs", "ok DESeq2 fit", ": GSEA ("])
def test_sigkill_leaves_no_process_of_the_run(small_study, after):
    folder = small_study["counts"].parent
    proc = _start_run_until(small_study, after, {})
    try:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        deadline = time.time() + 20
        while _session_members(proc.pid) and time.time() < deadline:
            time.sleep(0.5)
        assert _session_members(proc.pid) == []  # no figure worker, no temporary server, nothing
        # the background server is not the run's: it is still there, recorded, and stoppable
        state = json.loads((folder / ".prefect" / STATE_FILE).read_text())
        assert _alive(state["pid"])
    finally:
        if proc.poll() is None:
            proc.kill()
        run_cli("server", "--stop", cwd=folder, extra_env=ON)


@pytest.mark.e2e
def test_the_server_of_a_sigkilled_run_stops_itself_when_idle(small_study):
    """The run that launched the server is killed with SIGKILL mid-analysis (its lease is never
    released): the server outlives it, then stops itself one idle timeout later."""
    folder = small_study["counts"].parent
    proc = _start_run_until(small_study, "ok DESeq2 fit", {"BMSC_DGE_SERVER_IDLE_TIMEOUT": "5"})
    try:
        state = json.loads((folder / ".prefect" / STATE_FILE).read_text())
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert _alive(state["pid"])  # not the run's child: it outlives it ...
        deadline = time.time() + 90
        while _alive(state["pid"]) and time.time() < deadline:
            time.sleep(0.5)
        assert not _alive(state["pid"])  # ... and goes by itself
        assert not (folder / ".prefect" / STATE_FILE).exists()
    finally:
        if proc.poll() is None:
            proc.kill()
        run_cli("server", "--stop", cwd=folder, extra_env=ON)


def _block_type_ids(db: Path) -> list[tuple[str, str]]:
    import sqlite3

    with sqlite3.connect(db) as con:
        return sorted(con.execute("SELECT slug, id FROM block_type").fetchall())


@pytest.mark.e2e
def test_a_new_folder_starts_from_the_prepared_template(tmp_path):
    """`scripts/dev setup` prepares an empty, migrated database; a new folder's server starts on a
    copy of it (the block types carry the template's ids) instead of migrating a new one."""
    from bmsc_dge.runs import localserver

    template = localserver.prepare_template()  # made by setup; made here if the test runs alone
    assert template.is_file() and _block_type_ids(template)
    home = tmp_path / ".prefect"
    state, started = localserver.ensure(home)
    try:
        assert started and healthy(state["api"])
        assert _block_type_ids(home / "prefect.db") == _block_type_ids(template)
        assert localserver.seed_database(home) is False  # an existing database is never replaced
    finally:
        localserver.stop(home)


@pytest.mark.e2e
def test_concurrent_first_runs_share_one_server(tmp_path):
    """Two runs starting in a new folder at once: the second waits for the first one's server."""
    import threading

    from bmsc_dge.runs import localserver

    home = tmp_path / ".prefect"
    first_state, launched = localserver.begin(home)
    assert first_state is None and launched is not None
    result: dict[str, object] = {}
    second = threading.Thread(
        target=lambda: result.update(zip(("state", "launch"), localserver.begin(home), strict=True))
    )
    second.start()
    time.sleep(1.0)
    assert second.is_alive()  # blocked on the folder's lock while the first server starts
    try:
        state = localserver.wait(launched)
        second.join(timeout=60)
        assert not second.is_alive()
        assert result["launch"] is None and result["state"]["pid"] == state["pid"]  # type: ignore[index]
    finally:
        localserver.stop(home)


def _processes_with_home(home: Path) -> list[int]:
    """Processes whose environment has PREFECT_HOME=home (from /proc)."""
    needle = f"PREFECT_HOME={home}".encode()
    out = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if needle in environ.read_bytes().split(b"\0"):
                out.append(int(environ.parent.name))
        except OSError:
            continue
    return out


@pytest.mark.e2e
def test_refused_inputs_leave_no_server_behind(small_study):
    """`bmsc-dge run` launches a new folder's server before it reads the inputs; when they are
    refused, the server it launched is stopped and nothing is recorded."""
    folder = small_study["counts"].parent
    bad = folder / "bad.yaml"
    bad.write_text(small_study["config"].read_text().replace("design:", "design_typo:"))
    proc = run_cli("run", str(bad), cwd=folder, extra_env=ON)
    assert proc.returncode == 2 and proc.stderr.startswith("error:"), proc.stdout + proc.stderr
    home = folder / ".prefect"
    assert (home / "bmsc-dge-server.log").exists()  # the server was launched (its log opened) ...
    assert not (home / STATE_FILE).exists()  # ... and never recorded
    deadline = time.time() + 20
    while _processes_with_home(home) and time.time() < deadline:
        time.sleep(0.5)
    assert _processes_with_home(home) == []


@pytest.mark.e2e
def test_a_server_whose_first_run_died_while_it_started_is_recorded_and_adopted(tmp_path):
    """The server is recorded from launch on: a first run killed before the server answered
    leaves it findable (--status/--stop) and the next run adopts it instead of starting another."""
    from bmsc_dge.runs import localserver

    home = tmp_path / ".prefect"
    _, launched = localserver.begin(home)
    assert launched is not None
    recorded = json.loads((home / STATE_FILE).read_text())
    assert recorded["pid"] == launched.pid and recorded["starting"] is True
    launched.release()  # the run "dies" here: it never waits for its server
    try:
        state, adopted = localserver.begin(home)
        # milliseconds after its launch the server cannot answer yet: adopted, not replaced
        assert state is None and adopted is not None
        assert adopted.pid == launched.pid and adopted.proc is None
        state = localserver.wait(adopted)
        assert state["pid"] == launched.pid and "starting" not in state
        assert localserver.status(home) is not None
    finally:
        localserver.stop(home)
    assert not _alive(launched.pid)


def _wait_gone(pid: int, seconds: float) -> bool:
    """True once ``pid`` has ended (a zombie counts as ended: its parent may be this test process)."""
    deadline = time.time() + seconds
    while running(pid) and time.time() < deadline:
        time.sleep(0.25)
    return not running(pid)


def _server_child(pid: int) -> list[int]:
    """Processes in the supervisor's process group other than the supervisor (the server itself)."""
    from .procs import PGRP

    return [p for p in processes_where(PGRP, pid) if p != pid]


@pytest.mark.e2e
def test_an_idle_background_server_stops_itself(tmp_path, monkeypatch):
    """With BMSC_DGE_SERVER_IDLE_TIMEOUT=4 the server, its supervisor, its state and its registry
    entry are gone a few seconds after the last use."""
    from bmsc_dge._supervisor import registered_homes
    from bmsc_dge.runs import localserver

    monkeypatch.setenv("BMSC_DGE_SERVER_IDLE_TIMEOUT", "4")
    home = tmp_path / ".prefect"
    state, _ = localserver.ensure(home)
    server = _server_child(state["pid"])
    assert server and healthy(state["api"]) and home in registered_homes()
    try:
        assert _wait_gone(state["pid"], 60)
        assert all(_wait_gone(p, 20) for p in server)
        assert not (home / STATE_FILE).exists() and home not in registered_homes()
    finally:
        localserver.stop(home)


@pytest.mark.e2e
def test_a_live_user_keeps_the_server_and_a_sigkilled_one_lets_it_go(tmp_path, monkeypatch):
    """A process holding the server (a run) keeps it past the idle timeout; killed with SIGKILL,
    it releases nothing, yet the server stops one timeout later."""
    from bmsc_dge._supervisor import activity
    from bmsc_dge.runs import localserver

    monkeypatch.setenv("BMSC_DGE_SERVER_IDLE_TIMEOUT", "4")
    home = tmp_path / ".prefect"
    state, _ = localserver.ensure(home)
    user = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from bmsc_dge._supervisor import lease; "
            "lease(Path(sys.argv[1])); print('held', flush=True); time.sleep(600)",
            str(home),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert user.stdout is not None and user.stdout.readline().strip() == "held"
        held_since = time.time()
        time.sleep(12)  # three timeouts
        assert running(state["pid"]) and healthy(state["api"])
        user.send_signal(signal.SIGKILL)
        user.wait(10)
        # the last moment the supervisor saw the lease live (it checks every ~0.7 s here, later
        # when the machine is loaded): the idle time counts from there, not from the kill
        last_seen = float(activity(home)["last_activity"])
        assert last_seen >= held_since
        assert _wait_gone(state["pid"], 60)
        assert time.time() - last_seen >= 4  # not at once: one idle timeout after the user was last seen
    finally:
        if user.poll() is None:
            user.kill()
        localserver.stop(home)


@pytest.mark.e2e
def test_status_lists_every_background_server_and_stop_all_stops_them(tmp_path):
    from bmsc_dge.runs import localserver

    homes = [tmp_path / "a" / ".prefect", tmp_path / "b" / ".prefect"]
    states = [localserver.ensure(h)[0] for h in homes]
    try:
        env = {"PREFECT_HOME": str(homes[0]), **ON}
        listed = run_cli("server", "--status", cwd=tmp_path, extra_env=env)
        assert listed.returncode == 0, listed.stderr
        for h, st in zip(homes, states, strict=True):
            line = next(x for x in listed.stdout.splitlines() if str(h) in x)
            assert st["ui"] in line and f"pid {st['pid']}" in line and " up " in line and "idle" in line
        assert any(x.startswith("*") and str(homes[0]) in x for x in listed.stdout.splitlines())
        stopped = run_cli("server", "--stop", "--all", cwd=tmp_path, extra_env=env)
        assert stopped.returncode == 0 and "stopped 2 background" in stopped.stdout
        assert all(_wait_gone(st["pid"], 30) for st in states)
        assert run_cli("server", "--status", cwd=tmp_path, extra_env=env).returncode == 1
    finally:
        for h in homes:
            localserver.stop(h)


def test_a_lease_seen_live_counts_even_when_reading_the_leases_is_slow(tmp_path, monkeypatch):
    """The supervisor remembers when it last saw a live lease, so a run killed with SIGKILL still
    gets one idle timeout from then. Reading the leases can take longer than a millisecond on a
    loaded machine; the sighting must count anyway (it did not, and the server stopped early)."""
    from bmsc_dge import _supervisor as sv

    sup = sv._Supervisor(
        tmp_path, "http://127.0.0.1:9/api", 4.0, [sys.executable, "-c", "import time; time.sleep(60)"]
    )
    try:
        sup.started = time.time() - 100  # the server answered long ago

        def live_but_slow(home, api, window, since):  # a lease is live; reading them took 20 ms
            now = time.time()
            time.sleep(0.02)
            return now

        monkeypatch.setattr(sv, "last_activity", live_but_slow)
        before = time.time()
        assert sup._idle_for() < 1 and sup.last_seen_busy >= before
        # the holder was killed: the idle time counts from that sighting, not from the start
        monkeypatch.setattr(sv, "last_activity", lambda home, api, window, since: since)
        assert sup._idle_for() < 1
    finally:
        sup.child.kill()
        sup.child.wait()
