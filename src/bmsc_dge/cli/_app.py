"""The ``bmsc-dge`` application object and what its commands share.

Consoles, one-line errors, logging, the Prefect environment and the project's background server
for a command.

Command modules (``_run``, ``_genesets``, ``_gsea``, ``_meta``, ``_server``) import from here;
:mod:`bmsc_dge.cli` imports them to register their commands, so no module imports its importer.
"""

from __future__ import annotations

import atexit
import gc
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console

from bmsc_dge._supervisor import lease
from bmsc_dge.errors import BmscDgeError
from bmsc_dge.runs import localserver
from bmsc_dge.runs import server_environment as server_environment  # used by `bmsc-dge server`

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="RNA-seq DE, GSEA and target ranking for T2DM vs control BMSCs.",
)
genesets_app = typer.Typer(no_args_is_help=True, help="Browse and export the gene-set library.")
app.add_typer(genesets_app, name="genesets")

out = Console()
err = Console(stderr=True)


_PROCESS = {"owned": False, "warm": False}


def own_process() -> None:
    """Mark this process as a ``bmsc-dge`` command's own (:func:`bmsc_dge.cli.main`; not in tests)."""
    _PROCESS["owned"] = True


@contextmanager
def long_lived() -> Iterator[None]:
    """A command's imports and input checks, whose objects live until its process ends.

    Python's cyclic collector walks every tracked object in each full collection. A run's
    start-up makes ~350,000 of them (modules, Prefect's and pydantic's schemas, the study), nearly
    all kept to the end, yet the growing heap was walked 5 times during start-up (~0.6 s, while
    the other core had nothing to do) and again by each later full collection (~0.3 s each). In
    a process the command owns (:func:`own_process`), the collector is paused here and what
    exists at the end is moved to the permanent generation (``gc.freeze``), which collections
    skip; the cyclic garbage this leaves unreclaimed was ~11,000 small objects on the example.
    Called in-process (tests), nothing changes.
    """
    if not _PROCESS["owned"]:
        yield
        return
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def prefect_environment() -> None:
    """Defaults for an offline, project-local Prefect (only where the user set nothing)."""
    os.environ.setdefault("PREFECT_HOME", str(Path.cwd() / ".prefect"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "bmsc_dge")
    os.environ.setdefault("PREFECT_UI_ENABLED", "true")
    # a SQLite server answers 503 (database busy) when many flows write at once (`batch`, several
    # studies of a `meta`); Prefect's client retries 503s with backoff, 5 times by default
    os.environ.setdefault("PREFECT_CLIENT_MAX_RETRIES", "10")
    # a temporary server (`--temporary-server`, BMSC_DGE_LOCAL_SERVER=off) gets Prefect's 20 s to
    # answer; on a busy 2-core machine it once needed more and the run failed (CI, 2026-12-02):
    # give it the 120 s a background server gets (runs.localserver.wait)
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


def warm_worker_setup() -> None:
    """In a warm worker before its imports (:mod:`bmsc_dge._warm`): a run's Prefect defaults and logging."""
    prefect_environment()
    _logging(False)


def warm_child() -> None:
    """In a warm worker's child (:mod:`bmsc_dge._warm`), before the command: undo the worker's imports.

    The worker imported Prefect, which configured its loggers and gave the package's loggers
    (``PREFECT_LOGGING_EXTRA_LOGGERS``) its handlers; a cold run's loggers are plain until it
    imports Prefect, so those handlers go until :func:`prefect_imported`. The consoles look at the
    command's terminal again.
    """
    from prefect.settings import PREFECT_LOGGING_EXTRA_LOGGERS

    _PROCESS["warm"] = True
    for name in PREFECT_LOGGING_EXTRA_LOGGERS.value():
        logging.getLogger(name).handlers.clear()
    Console.__init__(out)
    Console.__init__(err, stderr=True)


def prefect_imported() -> None:
    """Where a cold run imports Prefect: in a warm worker's child, do what that import does.

    Prefect reads its settings (environment, the folder's ``.env`` and ``prefect.toml``, the
    profile under ``PREFECT_HOME``) and configures its logging when imported. The worker did so in
    its own folder and environment; the child does it again here, in the command's.
    """
    if not _PROCESS["warm"]:
        return
    from prefect.context import refresh_global_settings_context
    from prefect.logging.configuration import setup_logging

    refresh_global_settings_context()
    setup_logging(incremental=False)


def _fail(exc: BmscDgeError) -> typer.Exit:
    err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(code=exc.exit_code)


def _logging(verbose: bool) -> None:
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(level)  # also where a warm worker configured logging already
    # Prefect's loggers log at INFO and propagate here: the handler's level decides what is shown
    # (Prefect's per-task state lines only with --verbose); the Prefect UI keeps every log line.
    for handler in logging.getLogger().handlers:
        handler.setLevel(level)


def _use_background_server(temporary_server: bool) -> bool:
    """True unless a server is configured, ``--temporary-server`` or ``BMSC_DGE_LOCAL_SERVER=off``."""
    return (
        not temporary_server
        and os.environ.get("BMSC_DGE_LOCAL_SERVER", "on") != "off"
        and not os.environ.get("PREFECT_API_URL")
    )


class _Server:
    """The project's background server for this command: found running, or launched early.

    :meth:`begin` runs before the inputs are read, so a first run's server start overlaps the
    run's own imports and checks; :meth:`connect` waits for it and points this process at it;
    :meth:`abandon` stops a server this command launched when the command fails first.
    """

    def __init__(self) -> None:
        self.state: dict[str, object] | None = None
        self.launch: localserver.Launch | None = None

    def begin(self, temporary_server: bool) -> _Server:
        if _use_background_server(temporary_server):
            home = Path(os.environ["PREFECT_HOME"])
            try:
                self.state, self.launch = localserver.begin(home)
            except BmscDgeError as exc:
                raise _fail(exc) from None
            # this command uses the server until it exits (killed: until its pid is gone), so
            # the server's idle timeout does not run meanwhile (bmsc_dge._supervisor)
            atexit.register(lease(home))
        return self

    def abandon(self) -> None:
        if self.launch is not None:
            self.launch.cancel()
            self.launch = None

    @property
    def api(self) -> str | None:
        """The API URL of the background server (after :meth:`connect`), else None."""
        return None if self.state is None else str(self.state["api"])

    def connect(self) -> None:
        started = self.launch is not None
        if self.launch is not None:
            try:
                self.state = localserver.wait(self.launch)
            except BmscDgeError as exc:
                raise _fail(exc) from None
            self.launch = None
        if self.state is None:
            return
        os.environ["PREFECT_API_URL"] = str(self.state["api"])
        out.print(
            f"Prefect UI: {self.state['ui']} ({'started' if started else 'running'} in the background "
            "for this folder; stop it with: bmsc-dge server --stop)",
            highlight=False,
            soft_wrap=True,
        )
