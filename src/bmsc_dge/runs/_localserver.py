"""A project-local Prefect server in the background, started once and reused by later runs.

Without ``PREFECT_API_URL``, Prefect starts a temporary server for every run (several seconds) and a
run killed with SIGKILL leaves that server behind. ``bmsc-dge run`` instead starts one server per
project folder (``$PREFECT_HOME``, ``./.prefect`` by default) in its own session, records it in
``$PREFECT_HOME/bmsc-dge-server.json`` (pid, port, URLs, log) and reuses it while it answers;
every run says where its UI is and how to stop it (``bmsc-dge server --stop``;
``bmsc-dge server --status`` shows it). Runs stay visible in that UI. A killed run leaves nothing
of its own: the server is not its child.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from bmsc_dge.errors import BmscDgeError

STATE_FILE = "bmsc-dge-server.json"
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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
    if state is None or not _alive(int(state["pid"])) or not healthy(str(state["api"])):
        return None
    return state


def start(home: Path, host: str = "127.0.0.1", timeout: float = 120.0) -> dict[str, Any]:
    """Start ``prefect server start`` detached (own session), wait until it answers, record it."""
    home.mkdir(parents=True, exist_ok=True)
    port = _free_port(host)
    env = {**os.environ, **server_environment(host, port), "PREFECT_HOME": str(home)}
    env.pop("PREFECT_API_URL", None)
    exe = Path(sys.executable).with_name("prefect")
    with open(home / LOG_FILE, "ab") as log:
        proc = subprocess.Popen(
            [str(exe), "server", "start", "--host", host, "--port", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=home,
            start_new_session=True,  # not a child of the run's session: a killed run leaves it alone
        )
    api = f"http://{host}:{port}/api"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerError(
                f"the background Prefect server exited with status {proc.returncode}",
                hint=f"see {home / LOG_FILE}; or run with --temporary-server",
            )
        if healthy(api, timeout=1.0):
            state = {
                "pid": proc.pid,
                "host": host,
                "port": port,
                "api": api,
                "ui": f"http://{host}:{port}",
                "home": str(home),
                "log": str(home / LOG_FILE),
                "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            (home / STATE_FILE).write_text(json.dumps(state, indent=1) + "\n")
            return state
        time.sleep(0.3)
    stop_pid(proc.pid)
    raise ServerError(
        f"the background Prefect server did not answer within {timeout:.0f} s",
        hint=f"see {home / LOG_FILE}; or run with --temporary-server",
    )


def ensure(home: Path) -> tuple[dict[str, Any], bool]:
    """The running background server of ``home`` (started here when needed) and whether it was started."""
    state = status(home)
    if state is not None:
        return state, False
    return start(home), True


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
            if not _alive(pid):
                return
            time.sleep(0.2)


def stop(home: Path) -> dict[str, Any] | None:
    """Stop the recorded background server of ``home``; returns its state (None if there was none)."""
    state = _recorded(home)
    if state is None:
        return None
    stop_pid(int(state["pid"]))
    (home / STATE_FILE).unlink(missing_ok=True)
    return state
