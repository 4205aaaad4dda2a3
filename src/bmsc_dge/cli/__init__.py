"""Command-line interface: ``bmsc-dge run``, ``validate``, ``batch``, ``meta``, ``gsea``, ``server``, ...

Commands: ``validate``, ``run``, ``batch`` (:mod:`._run`), ``meta``, ``gsea``, ``server``, ``serve``,
``genesets list|show|export``.

Errors in user input print one line (``error: <file>, row .., column ..: what -> what to do``)
and exit with status 2, without a traceback. The application object and shared helpers live in
:mod:`bmsc_dge.cli._app`; each command module registers its commands on import.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys
from collections.abc import Callable

from bmsc_dge.cli import _genesets, _gsea, _meta, _run, _server  # noqa: F401  (register their commands)
from bmsc_dge.cli._app import app, err, out, own_process, prefect_environment, warm_child, warm_worker_setup
from bmsc_dge.runs import server_environment as server_environment  # used by `bmsc-dge server`

_exit_status = [0]


def _status(code: object) -> int:
    """The process exit status for ``SystemExit(code)`` (a message counts as failure, as in Python)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _end_process() -> None:
    """Last exit handler: flush and end the process without tearing down its modules.

    Registered before the command runs, so it runs after every exit handler registered during
    the run (atexit is last-in, first-out), and after Prefect's log and event workers have
    drained (they leave through ``threading``'s exit hook, before atexit). What it skips is the
    interpreter's clean-up of ~3,000 modules and their objects: ~1 s after every run, with
    nothing left to write.
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(_exit_status[0])


def main(before_command: Callable[[], None] | None = None) -> None:
    """The ``bmsc-dge`` command in this process (the console script's :func:`bmsc_dge._warm.main`).

    ``before_command`` runs after the process end is registered (a warm worker's child puts
    exit handlers in a cold process's order there: :mod:`bmsc_dge._warm._worker`).
    """
    atexit.register(_end_process)
    if before_command is not None:
        before_command()
    own_process()
    try:
        app()
    except SystemExit as exc:
        _exit_status[0] = _status(exc.code)
        raise SystemExit(_exit_status[0]) from None
    except KeyboardInterrupt:
        _exit_status[0] = 130
        raise
    except BaseException:
        _exit_status[0] = 1
        raise


if __name__ == "__main__":  # pragma: no cover
    main()

__all__ = [
    "app",
    "err",
    "main",
    "out",
    "prefect_environment",
    "server_environment",
    "warm_child",
    "warm_worker_setup",
]
