"""Every background Prefect server and warm worker of this user: what ``bmsc-dge server --status`` lists.

The servers are found through the per-user registry of :mod:`bmsc_dge._supervisor`; each one's
state file (``$PREFECT_HOME/bmsc-dge-server.json``) and the supervisor's activity record give the
folder, port, age and idle time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bmsc_dge._supervisor import activity, registered_homes
from bmsc_dge._workers import listed_workers
from bmsc_dge.runs._localserver import status, stop


@dataclass(frozen=True)
class ServerStatus:
    """One background server: where, since when, idle for how long, stopping when."""

    home: Path
    pid: int
    port: int
    ui: str
    age_seconds: float
    idle_seconds: float | None
    timeout_seconds: float | None
    leases: int

    def describe(self) -> str:
        """One line for the terminal."""
        idle = (
            "in use" if self.leases else (_span(self.idle_seconds) if self.idle_seconds is not None else "?")
        )
        stops = (
            "never stops when idle"
            if self.timeout_seconds is None
            else f"stops after {_span(self.timeout_seconds)} idle"
        )
        return f"{self.home}  {self.ui}  pid {self.pid}  up {_span(self.age_seconds)}  idle {idle}  ({stops})"


def _span(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def server_statuses() -> list[ServerStatus]:
    """Every background server of this user that is alive and answering (others are forgotten)."""
    out = []
    now = time.time()
    for home in registered_homes():
        state = status(home)
        if state is None:
            continue
        started = datetime.strptime(str(state["started"]), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        act = activity(home)
        last = act.get("last_activity")
        out.append(
            ServerStatus(
                home=home,
                pid=int(state["pid"]),
                port=int(state["port"]),
                ui=str(state["ui"]),
                age_seconds=now - started.timestamp(),
                idle_seconds=None if last is None else now - float(last),
                timeout_seconds=act.get("timeout"),
                leases=len(act.get("leases", [])),
            )
        )
    return out


def stop_all() -> list[Path]:
    """Stop every registered background server of this user; returns their folders."""
    stopped = []
    for home in registered_homes():
        if stop(home) is not None:
            stopped.append(home)
    return stopped


def worker_lines() -> list[str]:
    """One line per warm worker of this user (:mod:`bmsc_dge._warm`): pid, state, age, idle time."""
    now = time.time()
    lines = []
    for w in listed_workers():
        started = float(w.get("started", now))
        idle = now - float(w.get("last_used", started))
        timeout = w.get("timeout")  # the worker's own (its environment's), not this command's
        stops = "never stops when idle" if timeout is None else f"stops after {_span(timeout)} idle"
        lines.append(
            f"warm worker pid {w['pid']}  {w.get('state', '?')}  up {_span(now - started)}  "
            f"idle {_span(idle)}  ({stops}; started in {w.get('cwd', '?')})"
        )
    return lines
