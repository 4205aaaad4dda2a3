"""The per-user list of warm workers (:mod:`bmsc_dge._warm`): one JSON file per worker.

``$XDG_STATE_HOME/bmsc-dge/warm/<setup>.json`` (default ``~/.local/state``) holds the worker's
pid, state (``starting`` while it imports, then ``ready``), start time, the folder it was
started in and when its last command ended; its log is ``<setup>.log`` beside it. Only the
standard library is imported here.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def state_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where bmsc-dge keeps this user's state: ``$XDG_STATE_HOME/bmsc-dge`` (default ``~/.local/state``)."""
    base = (os.environ if env is None else env).get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "bmsc-dge"


def workers_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where this user's warm workers are listed (beside the background servers' registry)."""
    return state_dir(env) / "warm"


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists (one of another user counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def entry(key: str, env: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """The listed state of the worker of setup ``key``, or None."""
    try:
        return dict(json.loads((workers_dir(env) / f"{key}.json").read_text()))
    except (OSError, ValueError):
        return None


def write_entry(key: str, **state: Any) -> None:
    """List this process as the worker of setup ``key`` with ``state`` (replacing the file whole)."""
    path = workers_dir() / f"{key}.json"
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"pid": os.getpid(), "key": key, **state}))
    os.replace(tmp, path)


def listed_workers(env: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Every listed worker whose process is alive (entries of dead ones are removed)."""
    found = []
    folder = workers_dir(env)
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            state = dict(json.loads(path.read_text()))
            pid = int(state["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if alive(pid):
            found.append(state)
        else:
            with contextlib.suppress(OSError):
                path.unlink()
    return found


def stop_workers(env: Mapping[str, str] | None = None) -> list[int]:
    """Ask every warm worker of this user to stop (each finishes the runs it started); their pids."""
    stopped = []
    for state in listed_workers(env):
        with contextlib.suppress(OSError):
            os.kill(int(state["pid"]), signal.SIGTERM)
            stopped.append(int(state["pid"]))
    return stopped
