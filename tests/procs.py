"""Processes seen through /proc, for tests that check nothing is left running."""

from __future__ import annotations

from pathlib import Path

# fields of /proc/<pid>/stat after the ")" that closes the command name
STATE, PPID, PGRP, SESSION = 0, 1, 2, 3


def stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name, or None if there is no such process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    fields = stat_fields(pid)
    return fields is not None and fields[STATE] != "Z"


def processes_where(field: int, value: int) -> list[int]:
    """Live (non-zombie) processes whose stat ``field`` (e.g. :data:`PPID`, :data:`SESSION`) is ``value``."""
    out = []
    for entry in Path("/proc").glob("[0-9]*"):
        fields = stat_fields(int(entry.name))
        if fields is not None and fields[STATE] != "Z" and int(fields[field]) == value:
            out.append(int(entry.name))
    return out
