"""Run folders that appear only when complete and never overwrite an earlier run.

Layout under ``outdir``::

    outdir/
      runs/<run_id>/         one folder per completed run (run_id = UTC time + random suffix)
      .partial-<run_id>/     a run being written (removed if the run fails)
      latest -> runs/<run_id>  symlink to the newest completed run, replaced atomically

A run writes everything into its ``.partial-`` folder, which is renamed into ``runs/`` in one
``os.rename`` once every file is written; only then does ``latest`` move (``os.replace`` of a
fresh symlink). Two runs started at once get different ids and folders.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import socket
from datetime import UTC, datetime
from pathlib import Path

from bmsc_dge.errors import RunDirError

logger = logging.getLogger(__name__)

OWNER_FILE = ".owner"


def new_run_id(now: datetime | None = None) -> str:
    """``YYYYmmddTHHMMSSZ-xxxxxx``: sortable by time, unique across concurrent runs."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


class RunDir:
    """A run folder under construction.

    Parameters
    ----------
    outdir
        Results root.
    run_id
        Identifier; generated when omitted.
    """

    def __init__(self, outdir: str | Path, run_id: str | None = None) -> None:
        self.outdir = Path(outdir)
        self.run_id = run_id or new_run_id()
        if "/" in self.run_id or self.run_id.startswith("."):
            raise RunDirError(f"invalid run id {self.run_id!r}")
        self.partial = self.outdir / f".partial-{self.run_id}"
        self.final = self.outdir / "runs" / self.run_id

    def create(self) -> Path:
        """Create the partial folder (after removing those of killed runs) and return it."""
        try:
            self.outdir.mkdir(parents=True, exist_ok=True)
            (self.outdir / "runs").mkdir(exist_ok=True)
            clean_stale_partials(self.outdir)
        except OSError as exc:
            raise RunDirError(f"cannot create output folder {self.outdir}: {exc.strerror}") from exc
        if self.final.exists() or self.partial.exists():
            raise RunDirError(f"run folder for {self.run_id} already exists; refusing to overwrite it")
        self.partial.mkdir()
        (self.partial / OWNER_FILE).write_text(f"{socket.gethostname()} {os.getpid()}\n")
        return self.partial

    def path(self, *parts: str) -> Path:
        """A path inside the partial folder (parent folders are created)."""
        p = self.partial.joinpath(*parts)
        resolved = p.resolve()
        if self.partial.resolve() not in resolved.parents and resolved != self.partial.resolve():
            raise RunDirError(f"refusing to write outside the run folder: {p}")
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def commit(self) -> Path:
        """Move the finished run into ``runs/`` and point ``latest`` at it."""
        if self.final.exists():
            raise RunDirError(f"run folder {self.final} already exists; refusing to overwrite it")
        (self.partial / OWNER_FILE).unlink(missing_ok=True)
        os.rename(self.partial, self.final)
        link_tmp = self.outdir / f".latest-{self.run_id}"
        link_tmp.unlink(missing_ok=True)
        os.symlink(Path("runs") / self.run_id, link_tmp)
        os.replace(link_tmp, self.outdir / "latest")
        logger.info("run %s complete: %s", self.run_id, self.final)
        return self.final

    def abort(self) -> None:
        """Remove the partial folder of a failed run."""
        shutil.rmtree(self.partial, ignore_errors=True)


def _owner_alive(partial: Path) -> bool:
    """Whether the process that created ``partial`` still runs (on this host)."""
    try:
        host, pid = (partial / OWNER_FILE).read_text().split()
    except (OSError, ValueError):
        return False
    if host != socket.gethostname():
        return True  # another machine's run: leave it alone
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_partials(outdir: str | Path) -> list[Path]:
    """Remove ``.partial-*`` folders of runs that were killed (their process is gone).

    Partial folders of runs still in progress (owner process alive) are kept, so a manual run
    never deletes the folder of a concurrent scheduled run.
    """
    removed: list[Path] = []
    root = Path(outdir)
    if not root.is_dir():
        return removed
    for p in root.glob(".partial-*"):
        if _owner_alive(p):
            continue
        shutil.rmtree(p, ignore_errors=True)
        (root / f".latest-{p.name.removeprefix('.partial-')}").unlink(missing_ok=True)
        removed.append(p)
        logger.warning("removed %s left by an interrupted run", p)
    return removed
