"""Command-line interface: ``bmsc-dge run``, ``bmsc-dge validate``, ``bmsc-dge genesets ...``.

Errors in user input print one line (``error: <file>, row .., column ..: what -> what to do``)
and exit with status 2, without a traceback.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from bmsc_dge.cli._terminal import StageDisplay, summary_lines
from bmsc_dge.config import StudyConfig, load_config
from bmsc_dge.errors import BmscDgeError
from bmsc_dge.runs import localserver
from bmsc_dge.runs import server_environment as server_environment  # used by `bmsc-dge server`

if TYPE_CHECKING:  # the study types import scanpy; the CLI loads them only when it runs
    from bmsc_dge.io import Study

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


def _fail(exc: BmscDgeError) -> typer.Exit:
    err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(code=exc.exit_code)


def _logging(verbose: bool) -> None:
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    # Prefect's loggers log at INFO and propagate here: the handler's level decides what is shown
    # (Prefect's per-task state lines only with --verbose); the Prefect UI keeps every log line.
    for handler in logging.getLogger().handlers:
        handler.setLevel(level)


@app.command()
def validate(
    config: Annotated[Path, typer.Argument(help="Study config (YAML).")],
) -> None:
    """Check the config, counts, sample sheet and design without running anything.

    A meta-analysis config (one with ``studies:``) has every study checked.
    """
    _logging(True)
    from bmsc_dge.config import is_meta_config

    if is_meta_config(config):
        from bmsc_dge.cli._meta import checked_meta

        mcfg, checked = checked_meta(config, None)
        for c in checked:
            out.print(
                f"ok: {mcfg.name}: study {c.name} ({c.cfg.species}, contrast {c.contrast}): "
                f"{c.study.adata.n_vars} genes x {c.study.adata.n_obs} samples"
            )
        return
    for cfg, study in _checked_studies(config, None)[1]:
        out.print(
            f"ok: {cfg.name}: {study.adata.n_vars} genes x {study.adata.n_obs} samples; "
            f"{study.mapping.as_text()}"
        )


def _checked_studies(
    config: Path, outdir: Path | None
) -> tuple[StudyConfig, list[tuple[StudyConfig, Study]]]:
    """The config and every study it describes, loaded and checked (one per pseudobulk cell type).

    Raises
    ------
    typer.Exit
        With the one-line error of the first input problem.
    """
    from bmsc_dge.io import check_gene_sets, load_studies

    try:
        base = load_config(config.resolve(), outdir=outdir.resolve() if outdir else None)
        studies = load_studies(base)
        for cfg, study in studies:
            check_gene_sets(cfg, list(study.adata.var["symbol"].astype(str)))
    except BmscDgeError as exc:
        raise _fail(exc) from None
    return base, studies


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
            try:
                self.state, self.launch = localserver.begin(Path(os.environ["PREFECT_HOME"]))
            except BmscDgeError as exc:
                raise _fail(exc) from None
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


@app.command()
def run(
    config: Annotated[Path, typer.Argument(help="Study config (YAML); see configs/example.yaml.")],
    outdir: Annotated[
        Path | None, typer.Option("--outdir", help="Results root (overrides `outdir`).")
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show Prefect's log lines (task states, server).")
    ] = False,
    temporary_server: Annotated[
        bool,
        typer.Option(
            "--temporary-server",
            help="Without PREFECT_API_URL, use a Prefect server for this run only (slower start) "
            "instead of the project's background server.",
        ),
    ] = False,
) -> None:
    """Run the Prefect flow for CONFIG and print where the results are.

    Without ``PREFECT_API_URL`` the run uses the project's background Prefect server (started on
    first use, reused afterwards; ``bmsc-dge server --status`` / ``--stop``), so later runs skip
    the server start-up. ``--temporary-server`` (or ``BMSC_DGE_LOCAL_SERVER=off``) keeps Prefect's
    per-run temporary server.
    """
    import time

    t0 = time.perf_counter()
    prefect_environment()
    _logging(verbose)
    server = _Server().begin(temporary_server)
    try:
        _, checked = _checked_studies(config, outdir)  # bad input: one line, before Prefect starts
        from flows.analysis import run_config  # imports Prefect while a first run's server starts

        server.connect()
    except BaseException:
        server.abandon()  # a server launched for a run that never starts is not left running
        raise
    cell_types = [cfg.pseudobulk.cell_types[0] if cfg.pseudobulk else None for cfg, _ in checked]
    from bmsc_dge.runs import listen

    finals = []
    for ct, (cfg, study) in zip(cell_types, checked, strict=True):
        out.print(
            f"bmsc-dge: {cfg.name}: {study.adata.n_vars} genes x {study.adata.n_obs} samples, "
            f"{len(cfg.contrasts)} contrast(s)",
            highlight=False,
            soft_wrap=True,
        )
        display = StageDisplay(out)
        stop = listen(display)
        try:
            final = run_config(
                config.resolve(),
                outdir.resolve() if outdir else None,
                checked=(cfg, study),
                cell_type=ct,
                api_url=server.api,
            )
        except BmscDgeError as exc:
            raise _fail(exc) from None
        finally:
            stop()
            display.stop()
        finals.append((cfg, final))
    out.print(f"[bold green]done[/] in {time.perf_counter() - t0:.0f} s", highlight=False)
    for _, final in finals:
        for line in summary_lines(final / "summary.md"):
            out.print(line, highlight=False, soft_wrap=True, markup=False)
    # plain prints: paths stay whole on one line at any terminal width
    for cfg, final in finals:
        print(f"results: {final}  (latest: {cfg.outdir / 'latest'})")
    for _, final in finals:
        print(f"report: {final / 'report.html'}", flush=True)


@app.command()
def batch(
    configs: Annotated[list[Path], typer.Argument(help="Study configs (YAML), one study each.")],
    max_concurrency: Annotated[
        int, typer.Option("--max-concurrency", min=1, help="Studies analysed at the same time.")
    ] = 4,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show Prefect's log lines (task states, server).")
    ] = False,
    temporary_server: Annotated[
        bool,
        typer.Option("--temporary-server", help="As for `run`: a Prefect server for this batch only."),
    ] = False,
) -> None:
    """Analyse many studies in one Prefect flow run (each study a sub-flow) and print their run folders.

    Every config is checked first, so a bad input stops the batch before anything runs. The
    server is chosen as for ``run`` (``PREFECT_API_URL``, else the project's background server).
    """
    import time

    t0 = time.perf_counter()
    prefect_environment()
    _logging(verbose)
    server = _Server().begin(temporary_server)
    from bmsc_dge.io import hand_over

    names: list[str] = []
    tokens: list[str | None] = []
    try:
        for config in configs:
            base, checked = _checked_studies(config, None)
            names.append(base.name)
            # a pseudobulk study runs a sub-flow per cell type, each reading its own inputs
            tokens.append(hand_over(checked[0][1], base) if base.pseudobulk is None else None)
        from flows.analysis import command_line_settings
        from flows.batch import run_studies

        server.connect()
    except BaseException:
        server.abandon()
        raise
    out.print(f"bmsc-dge batch: {len(configs)} studies, {max_concurrency} at a time", highlight=False)
    try:
        with command_line_settings(server.api):
            runs = run_studies(
                [str(c.resolve()) for c in configs], max_concurrency=max_concurrency, checked_inputs=tokens
            )
    except BmscDgeError as exc:
        raise _fail(exc) from None
    out.print(f"[bold green]done[/] in {time.perf_counter() - t0:.0f} s", highlight=False)
    for name, folder in zip(names, runs, strict=True):
        print(f"{name}: {folder}", flush=True)


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


def main() -> None:
    """Entry point of the ``bmsc-dge`` command."""
    atexit.register(_end_process)
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


from bmsc_dge.cli import _genesets, _gsea, _meta, _server  # noqa: E402, F401  (register their commands)

if __name__ == "__main__":  # pragma: no cover
    main()
