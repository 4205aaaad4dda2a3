"""A project-local Prefect server in the background, started once and reused by later runs.

Without ``PREFECT_API_URL``, Prefect starts a temporary server for every run (several seconds) and a
run killed with SIGKILL leaves that server behind. ``bmsc-dge run`` instead starts one server per
project folder (``$PREFECT_HOME``, ``./.prefect`` by default) in its own session, records it in
``$PREFECT_HOME/bmsc-dge-server.json`` (pid, port, URLs, log) and reuses it while it answers;
every run says where its UI is and how to stop it (``bmsc-dge server --stop``; ``--status`` lists
every one this user started). A killed run leaves nothing of its own: the server is not its child. The server runs under a
supervisor (:mod:`bmsc_dge._supervisor`) that stops it after ``BMSC_DGE_SERVER_IDLE_TIMEOUT``
seconds without use (default 3600), with the services a one-off server does not need switched off
(:mod:`bmsc_dge._prefect_server`).

A folder's first run pays the server's start. Two things keep that short: ``bmsc-dge run``
launches the server before it reads and checks the inputs (:func:`launch`, then :func:`wait`),
so the server imports while the run imports; and a new folder's database is copied from an
empty, migrated template made once per installed Prefect version (:func:`prepare_template`, run
by ``scripts/dev setup`` / ``bmsc-dge server --prepare``) instead of being migrated at start
(~6 s of the ~10 s start on a 2-core machine).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, cast

from bmsc_dge._atomic import atomic_write, write_json
from bmsc_dge._supervisor import (
    IDLE_ENV,
    LOCK_FILE,
    ONE_OFF_SERVICES_OFF,
    STATE_FILE,
    alive,
    idle_timeout,
    register,
    touch_used,
    unregister,
)
from bmsc_dge.errors import BmscDgeError

LOG_FILE = "bmsc-dge-server.log"


class ServerError(BmscDgeError):
    """The background Prefect server could not be started (message ``-> hint``)."""

    def __init__(self, message: str, *, hint: str) -> None:
        super().__init__(f"{message} -> {hint}")


def server_environment(host: str, port: int, database_url: str | None = None) -> dict[str, str]:
    """Environment for ``prefect server start`` (UI pointed at the right port, analytics off)."""
    env = {
        "PREFECT_SERVER_API_HOST": host,
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_UI_API_URL": f"http://{host}:{port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    if database_url:
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = database_url
    return env


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def healthy(api: str, timeout: float = 2.0) -> bool:
    """True when the API at ``api`` answers its health check."""
    try:
        with urllib.request.urlopen(f"{api}/health", timeout=timeout) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def _recorded(home: Path) -> dict[str, Any] | None:
    """The state file of ``home`` (None when absent; an unreadable one is removed)."""
    path = home / STATE_FILE
    if not path.is_file():
        return None
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        path.unlink(missing_ok=True)
        return None


def status(home: Path) -> dict[str, Any] | None:
    """The recorded background server of ``home`` if it is alive and answering, else None."""
    state = _recorded(home)
    if state is None or not alive(int(state["pid"])) or not healthy(str(state["api"])):
        return None
    return state


def template_path() -> Path:
    """Where the empty, migrated Prefect database of this environment's Prefect version lives."""
    return Path(sys.prefix) / "share" / "bmsc-dge" / f"prefect-{version('prefect')}.db"


def prepare_template(timeout: float = 300.0) -> Path:
    """Make :func:`template_path` once (later calls return it).

    A Prefect server is started in a scratch home, so the database is migrated and Prefect's
    blocks are registered exactly as at a first start, then stopped; its database is kept as the
    template. (A server started on a copy still checks the block registration, whose memo is
    keyed on the database path, but finds the blocks there: 4.3 s to answer instead of 10.5 s
    with a new database, on a 2-core machine.)

    Raises
    ------
    ServerError
        When that server does not start (its log is in the message).
    """
    target = template_path()
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bmsc-dge-template-", dir=target.parent) as tmp:
        home = Path(tmp)
        started = launch(home)
        try:
            wait(started, timeout)
        except ServerError as exc:
            log = (home / LOG_FILE).read_text(errors="replace")[-500:] if (home / LOG_FILE).exists() else ""
            raise ServerError(
                f"could not prepare the Prefect database template ({exc}): {log}",
                hint="check the Prefect installation (`.venv/bin/prefect version`)",
            ) from exc
        finally:
            stop_pid(started.pid)
            unregister(home)
        # atomic: a half-made template is never seen
        atomic_write(target, lambda tmp: _copy_database(home / "prefect.db", Path(tmp)))
    return target


def _copy_database(source: Path, dest: Path) -> None:
    """A consistent copy of the SQLite database ``source`` (WAL folded in) at ``dest``."""
    with contextlib.closing(sqlite3.connect(source)) as src, contextlib.closing(sqlite3.connect(dest)) as dst:
        src.backup(dst)


def seed_database(home: Path) -> bool:
    """Give a new folder its database from the template; True when copied.

    Only when ``home`` has no database yet and the template exists (otherwise Prefect migrates
    a new database itself at start, as without a template).
    """
    target, template = home / "prefect.db", template_path()
    if target.exists() or not template.is_file():
        return False
    atomic_write(target, lambda tmp: shutil.copyfile(template, tmp))
    return True


@dataclass
class Launch:
    """A background server started by :func:`launch` (or adopted by :func:`begin`), not yet answering.

    It is recorded in the folder's state file from the moment it starts (``"starting": true``),
    so a run killed while it starts leaves a server that ``bmsc-dge server --status`` / ``--stop``
    and the next run find. While this object exists it holds the folder's lock, so a second run in
    the same folder waits for this server instead of starting another; :func:`wait` and
    :meth:`cancel` release it.
    """

    pid: int
    home: Path
    host: str
    port: int
    lock: Any = None
    proc: subprocess.Popen[bytes] | None = None  # None for a server adopted from the state file

    def exited(self) -> bool:
        """True when the server process has ended."""
        return self.proc.poll() is not None if self.proc is not None else not alive(self.pid)

    def release(self) -> None:
        """Release the folder's lock (idempotent)."""
        if self.lock is not None:
            self.lock.close()
            self.lock = None

    def cancel(self) -> None:
        """Stop the launched server (e.g. the run's inputs were refused) and release the lock."""
        stop_pid(self.pid)
        (self.home / STATE_FILE).unlink(missing_ok=True)
        unregister(self.home)
        self.release()

    @property
    def api(self) -> str:
        """The API URL it will answer on."""
        return f"http://{self.host}:{self.port}/api"


def begin(home: Path, host: str = "127.0.0.1") -> tuple[dict[str, Any] | None, Launch | None]:
    """The folder's running server ``(state, None)``, or ``(None, launch)`` of a new one.

    Checking and launching happen under the folder's lock, which a launch keeps until
    :func:`wait` (so concurrent first runs share one server). A recorded server that is still
    starting (launched by a run killed before it answered) is adopted and waited for; a recorded
    one that is alive but neither answering nor starting is stopped and replaced.
    """
    home.mkdir(parents=True, exist_ok=True)
    lock = open(home / LOCK_FILE, "w")  # noqa: SIM115  (held across calls; Launch.release closes it)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = _recorded(home)
        if state is not None and alive(int(state["pid"])):
            if healthy(str(state["api"])):
                touch_used(home)  # under the lock: an idle supervisor cannot stop it now
                lock.close()
                return state, None
            if state.get("starting"):
                return None, Launch(int(state["pid"]), home, str(state["host"]), int(state["port"]), lock)
            stop_pid(int(state["pid"]))
        return None, launch(home, host, lock=lock)
    except BaseException:
        lock.close()
        raise


def launch(home: Path, host: str = "127.0.0.1", lock: Any = None) -> Launch:
    """Start the supervised server detached (own session) and return at once; :func:`wait` for it.

    The process recorded (and stopped by ``bmsc-dge server --stop``) is the supervisor; the
    server is its child in the same process group.

    Raises
    ------
    ServerError
        For an unusable ``BMSC_DGE_SERVER_IDLE_TIMEOUT``.
    """
    home.mkdir(parents=True, exist_ok=True)
    try:
        timeout = idle_timeout()
    except ValueError as exc:
        raise ServerError(str(exc), hint=f"set {IDLE_ENV} to a number of seconds (0: never stop)") from None
    seeded = seed_database(home)
    port = _free_port(host)
    env = {**os.environ, **server_environment(host, port), **ONE_OFF_SERVICES_OFF, "PREFECT_HOME": str(home)}
    env.pop("PREFECT_API_URL", None)
    if seeded:
        # the template's server registered this Prefect version's blocks already; checking again
        # (its memo is keyed on the database path, so it would) costs ~0.9 s of the first start.
        # Later starts of the folder register as usual (new block collections included).
        env["PREFECT_SERVER_REGISTER_BLOCKS_ON_START"] = "false"
    api = f"http://{host}:{port}/api"
    command = [
        sys.executable,
        "-m",
        "bmsc_dge._supervisor",
        "--home",
        str(home),
        "--api",
        api,
        "--timeout",
        str(timeout or 0),
        "--",
        sys.executable,
        "-m",
        "bmsc_dge._prefect_server",
        "--host",
        host,
        "--port",
        str(port),
    ]
    with open(home / LOG_FILE, "ab") as log:
        proc = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=home,
            start_new_session=True,  # not a child of the run's session: a killed run leaves it alone
        )
    started = Launch(proc.pid, home, host, port, lock, proc)
    _record(started, starting=True)
    register(home)
    return started


def _record(started: Launch, *, starting: bool) -> dict[str, Any]:
    """Write the folder's state file for ``started``; return the state."""
    state: dict[str, Any] = {
        "pid": started.pid,
        "host": started.host,
        "port": started.port,
        "api": started.api,
        "ui": f"http://{started.host}:{started.port}",
        "home": str(started.home),
        "log": str(started.home / LOG_FILE),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if starting:
        state["starting"] = True
    write_json(state, started.home / STATE_FILE)
    return state


def wait(started: Launch, timeout: float = 120.0) -> dict[str, Any]:
    """Wait until a launched server answers, record it in the folder's state file and return the state.

    Raises
    ------
    ServerError
        When the server exits or does not answer within ``timeout`` seconds (it is then stopped).
    """
    try:
        return _wait(started, timeout)
    finally:
        started.release()


def _wait(started: Launch, timeout: float) -> dict[str, Any]:
    home = started.home
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if started.exited():
            (home / STATE_FILE).unlink(missing_ok=True)
            unregister(home)
            raise ServerError(
                "the background Prefect server exited before it answered",
                hint=f"see {home / LOG_FILE}; or run with --temporary-server",
            )
        if healthy(started.api, timeout=1.0):
            return _record(started, starting=False)
        time.sleep(0.1)
    stop_pid(started.pid)
    (home / STATE_FILE).unlink(missing_ok=True)
    unregister(home)
    raise ServerError(
        f"the background Prefect server did not answer within {timeout:.0f} s",
        hint=f"see {home / LOG_FILE}; or run with --temporary-server",
    )


def ensure(home: Path) -> tuple[dict[str, Any], bool]:
    """The running background server of ``home`` (started here when needed) and whether it was started."""
    state, started = begin(home)
    if started is not None:
        return wait(started), True
    return cast(dict[str, Any], state), False


def stop_pid(pid: int, timeout: float = 20.0) -> None:
    """SIGTERM the server's process group, SIGKILL it after ``timeout`` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)  # reap it when this process started it
            if not alive(pid):
                return
            time.sleep(0.2)


def stop(home: Path) -> dict[str, Any] | None:
    """Stop the recorded background server of ``home``; returns its state (None if there was none)."""
    state = _recorded(home)
    if state is None:
        return None
    stop_pid(int(state["pid"]))
    (home / STATE_FILE).unlink(missing_ok=True)
    unregister(home)
    return state
