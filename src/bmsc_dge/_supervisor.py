"""A background Prefect server that stops itself when nobody uses it.

``bmsc-dge run`` starts one Prefect server per project folder in the background and reuses it
(:mod:`bmsc_dge.runs._localserver`). Left alone, such servers would stay forever (~270 MB each).
The server therefore runs under a small *supervisor* - the process ``bmsc-dge server --status``
lists and ``--stop`` signals - which stops it after :data:`IDLE_ENV` seconds (default
:data:`DEFAULT_IDLE_TIMEOUT`; ``0`` never) without use. Use is any of:

* a **lease**: a live ``bmsc-dge`` process that connected to the server (one file per process in
  ``$PREFECT_HOME/bmsc-dge-server.users/<pid>``; a run killed with SIGKILL leaves its file, but
  its pid is gone, so it stops counting at once);
* the **marker** ``$PREFECT_HOME/bmsc-dge-server.used``, touched when a command adopts the
  server and when it lets it go;
* a flow or task run recorded in the server that **started** within the timeout (clients that
  set ``PREFECT_API_URL`` themselves, the UI's own runs).

Before stopping, the supervisor takes the folder's lock (the one ``bmsc-dge run`` holds while it
checks for a server) and looks again, so a run that is just adopting the server is not cut off.
Every background server this user started is listed in a per-user registry
(``$XDG_STATE_HOME/bmsc-dge/servers``, default ``~/.local/state/bmsc-dge/servers``) for
``bmsc-dge server --status`` / ``--stop --all``.

Only the standard library is imported here: the supervisor stays a ~15 MB process.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bmsc_dge._workers import alive, state_dir

IDLE_ENV = "BMSC_DGE_SERVER_IDLE_TIMEOUT"
DEFAULT_IDLE_TIMEOUT = 3600.0
STATE_FILE = "bmsc-dge-server.json"
LOCK_FILE = "bmsc-dge-server.lock"
USERS_DIR = "bmsc-dge-server.users"
USED_FILE = "bmsc-dge-server.used"
ACTIVITY_FILE = "bmsc-dge-server.activity.json"

#: Prefect server services a one-off background server does not need (it serves no deployments,
#: so no scheduler); the event persister and task-run recorder stay (the UI shows task runs)
ONE_OFF_SERVICES_OFF = {
    f"PREFECT_SERVER_SERVICES_{name}_ENABLED": "false"
    for name in (
        "SCHEDULER",
        "LATE_RUNS",
        "FOREMAN",
        "CANCELLATION_CLEANUP",
        "PAUSE_EXPIRATIONS",
        "REPOSSESSOR",
        "CLEANUP_RECONCILER",
        "TRIGGERS",
    )
}


def idle_timeout(value: str | None = None) -> float | None:
    """The idle timeout in seconds from ``value`` (default: the :data:`IDLE_ENV` variable); None = never.

    Raises
    ------
    ValueError
        For a value that is not a non-negative number.
    """
    text = os.environ.get(IDLE_ENV, "") if value is None else value
    if not text.strip():
        return DEFAULT_IDLE_TIMEOUT
    seconds = float(text)
    if seconds < 0:
        raise ValueError(f"{IDLE_ENV} must be >= 0 seconds (0: never stop), got {text!r}")
    return None if seconds == 0 else seconds


# --------------------------------------------------------------------------------------------
# use: leases and the marker


def touch_used(home: Path) -> None:
    """Record use of the folder's server now (the marker's modification time)."""
    marker = home / USED_FILE
    marker.touch()
    os.utime(marker)


def lease(home: Path, pid: int | None = None) -> Callable[[], None]:
    """Hold the folder's server for process ``pid`` (default: this one); returns the release.

    The release removes the lease and touches the marker, so the idle time counts from then.
    A process that dies without releasing stops counting as soon as its pid is gone.
    """
    pid = os.getpid() if pid is None else pid
    users = home / USERS_DIR
    users.mkdir(parents=True, exist_ok=True)
    (users / str(pid)).touch()
    touch_used(home)

    def release() -> None:
        with contextlib.suppress(OSError):
            (users / str(pid)).unlink()
            touch_used(home)

    return release


def live_leases(home: Path) -> list[int]:
    """Pids holding the server now; leases of dead processes are removed."""
    users = home / USERS_DIR
    holders = []
    for f in users.glob("*") if users.is_dir() else []:
        if f.name.isdigit() and alive(int(f.name)):
            holders.append(int(f.name))
        else:
            with contextlib.suppress(OSError):
                f.unlink()
    return holders


def _post(url: str, body: dict[str, Any]) -> Any:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())


def latest_run_start(api: str, window: float) -> float | None:
    """Epoch seconds of the newest flow or task run that started within ``window`` seconds, if any."""
    after = (datetime.now(UTC) - timedelta(seconds=window)).isoformat()
    newest = None
    for path, key, sort in (
        ("flow_runs", "flow_runs", "START_TIME_DESC"),
        ("task_runs", "task_runs", "EXPECTED_START_TIME_DESC"),
    ):
        try:
            rows = _post(
                f"{api}/{path}/filter", {key: {"start_time": {"after_": after}}, "sort": sort, "limit": 1}
            )
        except (OSError, ValueError):
            continue
        for row in rows:
            stamp = row.get("start_time") or row.get("expected_start_time")
            if stamp:
                t = datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()
                newest = t if newest is None else max(newest, t)
    return newest


def last_activity(home: Path, api: str, window: float, since: float) -> float:
    """When the server was last used (epoch seconds; now while a lease is live), at least ``since``."""
    now = time.time()
    if live_leases(home):
        return now
    stamps = [since]
    with contextlib.suppress(OSError):
        stamps.append((home / USED_FILE).stat().st_mtime)
    started = latest_run_start(api, window)
    if started is not None:
        stamps.append(started)
    return min(max(stamps), now)


# --------------------------------------------------------------------------------------------
# the per-user registry of background servers


def registry_dir() -> Path:
    """Where this user's background servers are listed."""
    return state_dir() / "servers"


def _entry(home: Path) -> Path:
    return registry_dir() / f"{hashlib.sha1(str(home.resolve()).encode()).hexdigest()[:16]}.json"


def register(home: Path) -> None:
    """List the background server of ``home`` in the user registry."""
    registry_dir().mkdir(parents=True, exist_ok=True)
    _entry(home).write_text(json.dumps({"home": str(home.resolve())}))


def unregister(home: Path) -> None:
    """Remove ``home`` from the user registry."""
    with contextlib.suppress(OSError):
        _entry(home).unlink()


def registered_homes() -> list[Path]:
    """Folders whose background server this user started (entries without a state file are pruned)."""
    homes = []
    for f in sorted(registry_dir().glob("*.json")) if registry_dir().is_dir() else []:
        try:
            home = Path(json.loads(f.read_text())["home"])
        except (OSError, ValueError, KeyError):
            f.unlink(missing_ok=True)
            continue
        if (home / STATE_FILE).is_file():
            homes.append(home)
        else:
            f.unlink(missing_ok=True)
    return homes


def activity(home: Path) -> dict[str, Any]:
    """What the supervisor last wrote about use (``last_activity`` epoch, ``timeout``, ``leases``)."""
    try:
        return dict(json.loads((home / ACTIVITY_FILE).read_text()))
    except (OSError, ValueError):
        return {}


# --------------------------------------------------------------------------------------------
# the supervisor process


class _StopRequestedError(Exception):
    """Raised by the SIGTERM/SIGINT handler to leave the supervisor's sleep."""


class _Supervisor:
    def __init__(self, home: Path, api: str, timeout: float | None, command: list[str]) -> None:
        self.home, self.api, self.timeout = home, api, timeout
        self.child = subprocess.Popen(command, stdin=subprocess.DEVNULL)
        self.started: float | None = None  # when the server first answered: the idle clock starts then
        self.last_seen_busy = 0.0
        self.stopping = False

    def _write_activity(self, last: float) -> None:
        data = {"last_activity": last, "timeout": self.timeout, "leases": live_leases(self.home)}
        tmp = self.home / f".{ACTIVITY_FILE}.{os.getpid()}"
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self.home / ACTIVITY_FILE)

    def terminate(self, *_: object) -> None:
        self.stopping = True
        raise _StopRequestedError  # out of the sleep at once

    def _stop_child(self) -> int:
        if self.child.poll() is None:
            self.child.terminate()
            try:
                self.child.wait(20)
            except subprocess.TimeoutExpired:
                self.child.kill()
                self.child.wait()
        return int(self.child.returncode or 0)

    def _forget(self) -> None:
        """Remove the folder's state (if it is this server's) and the registry entry."""
        state_path = self.home / STATE_FILE
        with contextlib.suppress(OSError, ValueError):
            if int(json.loads(state_path.read_text())["pid"]) == os.getpid():
                state_path.unlink()
        with contextlib.suppress(OSError):
            (self.home / ACTIVITY_FILE).unlink()
        unregister(self.home)

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.api}/health", timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def _idle_for(self) -> float:
        """Seconds since the last use (0 until the server has answered once)."""
        if self.started is None:
            if not self._answers():
                return 0.0
            self.started = time.time()
        window = self.timeout if self.timeout is not None else 60.0
        # a lease seen live at the last check counts until then (its holder may have been killed);
        # "live" is a use stamped no earlier than this check began (a clock read after the call
        # missed it whenever reading the leases took over a millisecond, e.g. on a loaded machine)
        checked = time.time()
        last = last_activity(self.home, self.api, window, max(self.started, self.last_seen_busy))
        if last >= checked:
            self.last_seen_busy = last
        self._write_activity(last)
        return time.time() - last

    def run(self, check: float) -> int:
        signal.signal(signal.SIGTERM, self.terminate)
        signal.signal(signal.SIGINT, self.terminate)
        with contextlib.suppress(_StopRequestedError):
            code = self._watch(check)
            if code is not None:
                return code
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        code = self._stop_child()
        self._forget()
        return code

    def _watch(self, check: float) -> int | None:
        """Watch until the server exits (its code) or stops idle (0); None when told to stop."""
        while not self.stopping:
            if self.child.poll() is not None:
                self._forget()
                return int(self.child.returncode or 0)
            if self.timeout is not None and self._idle_for() >= self.timeout and self._stop_if_still_idle():
                return 0
            deadline = time.monotonic() + check
            while not self.stopping and time.monotonic() < deadline and self.child.poll() is None:
                time.sleep(
                    min(5.0, check)
                )  # SIGTERM raises _StopRequestedError; the server's own exit shows here
        return None

    def _stop_if_still_idle(self) -> bool:
        """Under the folder's lock (no run is adopting the server meanwhile): stop if still idle."""
        with open(self.home / LOCK_FILE, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self.timeout is None or self._idle_for() < self.timeout:
                return False
            self._stop_child()
            self._forget()
            return True


def main(argv: list[str] | None = None) -> int:
    """``python -m bmsc_dge._supervisor --home H --api URL [--timeout S] -- COMMAND...``."""
    ap = argparse.ArgumentParser(description="Run a Prefect server; stop it when idle.")
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--api", required=True)
    ap.add_argument("--timeout", default=None, help=f"idle seconds (default: ${IDLE_ENV} or 3600; 0 never)")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    timeout = idle_timeout(args.timeout)
    check = 30.0 if timeout is None else min(30.0, max(0.5, timeout / 6))
    return _Supervisor(args.home, args.api, timeout, command).run(check)


if __name__ == "__main__":
    sys.exit(main())
