"""Command-line interface: ``bmsc-dge run``, ``bmsc-dge validate``, ``bmsc-dge genesets ...``.

Errors in user input print one line (``error: <file>, row .., column ..: what -> what to do``)
and exit with status 2, without a traceback.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from bmsc_dge.config import load_config
from bmsc_dge.errors import BmscDgeError
from bmsc_dge.runs import server_environment

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


def _summary_lines(summary: Path) -> list[str]:
    """The headline numbers of ``summary.md``: warnings and per-contrast bullets, before the tables."""
    lines = []
    for line in summary.read_text().splitlines():
        if line.startswith("## "):
            lines.append(line[3:])
        elif line.startswith(("- ", "**")) and not line.startswith(("- design:", "- samples:")):
            lines.append("  " + line.lstrip("- ").replace("**", ""))
    return lines


class _StageDisplay:
    """One line per finished stage with its wall time; a live spinner on a terminal."""

    def __init__(self, console: Console) -> None:
        import time

        self._console = console
        self._t0 = time.perf_counter()
        self._status = console.status("starting", spinner="dots") if console.is_terminal else None
        if self._status is not None:
            self._status.start()

    def __call__(self, event: str, name: str, seconds: float) -> None:
        import time

        total = time.perf_counter() - self._t0
        if event == "start":
            if self._status is not None:
                self._status.update(f"{name} ... [dim]({total:.0f} s)[/]")
            return
        mark = "[green]ok[/]" if event == "done" else "[red]failed[/]"
        self._console.print(f"{mark} {name} [dim]{seconds:.1f} s[/]", highlight=False, soft_wrap=True)

    def stop(self) -> None:
        if self._status is not None:
            self._status.stop()


@app.command()
def validate(
    config: Annotated[Path, typer.Argument(help="Study config (YAML).")],
) -> None:
    """Check the config, counts, sample sheet and design without running anything."""
    _logging(True)
    from bmsc_dge.config import load_config
    from bmsc_dge.io import check_gene_sets, load_study

    try:
        cfg = load_config(config)
        study = load_study(cfg)
        check_gene_sets(cfg, list(study.adata.var["symbol"].astype(str)))
    except BmscDgeError as exc:
        raise _fail(exc) from None
    out.print(f"ok: {study.adata.n_vars} genes x {study.adata.n_obs} samples; {study.mapping.as_text()}")


def _connect(temporary_server: bool) -> None:
    """Point this process at the project's background server unless a server is configured.

    Without ``PREFECT_API_URL`` (and unless ``--temporary-server`` or ``BMSC_DGE_LOCAL_SERVER=off``)
    the folder's background server is started or reused and its UI address printed.
    """
    use_local = not temporary_server and os.environ.get("BMSC_DGE_LOCAL_SERVER", "on") != "off"
    if not use_local or os.environ.get("PREFECT_API_URL"):
        return
    from bmsc_dge.runs import localserver

    try:
        state, started = localserver.ensure(Path(os.environ["PREFECT_HOME"]))
    except BmscDgeError as exc:
        raise _fail(exc) from None
    os.environ["PREFECT_API_URL"] = str(state["api"])
    out.print(
        f"Prefect UI: {state['ui']} ({'started' if started else 'running'} in the background for this "
        "folder; stop it with: bmsc-dge server --stop)",
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

    prefect_environment()
    _logging(verbose)
    from bmsc_dge.config import load_config
    from bmsc_dge.io import check_gene_sets, load_study

    try:  # pre-flight: bad input is reported in one line before Prefect starts
        cfg = load_config(config.resolve(), outdir=outdir.resolve() if outdir else None)
        study = load_study(cfg)
        check_gene_sets(cfg, list(study.adata.var["symbol"].astype(str)))
    except BmscDgeError as exc:
        raise _fail(exc) from None
    from bmsc_dge.runs import listen

    t0 = time.perf_counter()
    _connect(temporary_server)
    from flows.analysis import run_config

    out.print(
        f"bmsc-dge: {cfg.name}: {study.adata.n_vars} genes x {study.adata.n_obs} samples, "
        f"{len(cfg.contrasts)} contrast(s)",
        highlight=False,
        soft_wrap=True,
    )
    display = _StageDisplay(out)
    stop = listen(display)
    try:
        final = run_config(config.resolve(), outdir.resolve() if outdir else None, checked=(cfg, study))
    except BmscDgeError as exc:
        raise _fail(exc) from None
    finally:
        stop()
        display.stop()
    out.print(f"[bold green]done[/] in {time.perf_counter() - t0:.0f} s", highlight=False)
    for line in _summary_lines(final / "summary.md"):
        out.print(line, highlight=False, soft_wrap=True, markup=False)
    # plain prints: paths stay whole on one line at any terminal width
    print(f"results: {final}  (latest: {cfg.outdir / 'latest'})")
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

    prefect_environment()
    _logging(verbose)
    from bmsc_dge.io import check_gene_sets, hand_over, load_study

    names: list[str] = []
    tokens: list[str | None] = []
    for config in configs:
        try:
            cfg = load_config(config.resolve())
            study = load_study(cfg)
            check_gene_sets(cfg, list(study.adata.var["symbol"].astype(str)))
        except BmscDgeError as exc:
            raise _fail(exc) from None
        names.append(cfg.name)
        tokens.append(hand_over(study, cfg))
    t0 = time.perf_counter()
    _connect(temporary_server)
    from flows.batch import run_studies

    out.print(f"bmsc-dge batch: {len(configs)} studies, {max_concurrency} at a time", highlight=False)
    try:
        runs = run_studies(
            [str(c.resolve()) for c in configs], max_concurrency=max_concurrency, checked_inputs=tokens
        )
    except BmscDgeError as exc:
        raise _fail(exc) from None
    out.print(f"[bold green]done[/] in {time.perf_counter() - t0:.0f} s", highlight=False)
    for name, folder in zip(names, runs, strict=True):
        print(f"{name}: {folder}", flush=True)


@app.command()
def server(
    port: Annotated[int, typer.Option(help="Port of the API and UI.")] = 4200,
    host: Annotated[
        str, typer.Option(help="Interface to bind; keep 127.0.0.1 unless you add auth.")
    ] = "127.0.0.1",
    database_url: Annotated[
        str | None,
        typer.Option(
            help="SQLAlchemy URL of the Prefect database, e.g. postgresql+asyncpg://user:pw@127.0.0.1:5432/prefect "
            "(default: SQLite in ./.prefect/prefect.db)"
        ),
    ] = None,
    show_status: Annotated[
        bool, typer.Option("--status", help="Show the background server `bmsc-dge run` uses, then exit.")
    ] = False,
    stop_background: Annotated[
        bool, typer.Option("--stop", help="Stop the background server `bmsc-dge run` started, then exit.")
    ] = False,
) -> None:
    """Start the Prefect server (API + UI) with a project-local database; Ctrl-C stops it."""
    prefect_environment()
    home = Path(os.environ["PREFECT_HOME"])
    if show_status or stop_background:
        from bmsc_dge.runs import localserver

        if stop_background:
            state = localserver.stop(home)
            out.print(
                f"stopped the background Prefect server (pid {state['pid']})" if state else "none running"
            )
            return
        state = localserver.status(home)
        if state is None:
            out.print(f"no background Prefect server for {home}")
            raise typer.Exit(code=1)
        out.print(f"background Prefect server: {state['ui']} (pid {state['pid']}, since {state['started']})")
        out.print(f"log: {state['log']}; stop: bmsc-dge server --stop", soft_wrap=True)
        return
    env = dict(os.environ)
    env.update(server_environment(host, port, database_url))
    exe = Path(sys.executable).with_name("prefect")
    out.print(
        f"Prefect UI: http://{host}:{port}  (API {env['PREFECT_UI_API_URL']}); database: "
        f"{database_url or Path(env['PREFECT_HOME']) / 'prefect.db'}"
    )
    out.print(f"point runs at it with: export PREFECT_API_URL=http://{host}:{port}/api")
    os.execve(str(exe), [str(exe), "server", "start", "--host", host, "--port", str(port)], env)


@app.command()
def serve(
    config: Annotated[Path | None, typer.Argument(help="Study config to run on the schedule.")] = None,
    inbox: Annotated[
        Path | None, typer.Option(help="Inbox folder to re-analyse when its inputs change.")
    ] = None,
    cron: Annotated[str | None, typer.Option(help="Cron schedule, e.g. '0 6 * * *'.")] = None,
    interval: Annotated[int | None, typer.Option(help="Schedule every N seconds instead of cron.")] = None,
    name: Annotated[str, typer.Option(help="Deployment name.")] = "scheduled",
) -> None:
    """Create scheduled deployments and execute their runs until stopped (schedules pause on exit)."""
    prefect_environment()
    if config is None and inbox is None:
        raise typer.BadParameter("give a CONFIG, --inbox DIR, or both")
    if (cron is None) == (interval is None):
        raise typer.BadParameter("give exactly one of --cron or --interval")
    os.environ.setdefault("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    from datetime import UTC, datetime, timedelta

    from prefect import serve as prefect_serve
    from prefect.schedules import Interval

    from flows.analysis import bmsc_dge_flow
    from flows.inbox import inbox_flow

    # An interval schedule anchored 10 s ahead, so the first run comes right after serving starts
    # (Prefect's default anchor, "now", would put it one whole interval later).
    schedule: dict[str, Any] = (
        {"cron": cron}
        if cron
        else {
            "schedules": [
                Interval(
                    timedelta(seconds=int(interval or 0)),
                    anchor_date=datetime.now(UTC) + timedelta(seconds=10),
                )
            ]
        }
    )
    deployments = []
    if config is not None:
        try:
            load_config(config)
        except BmscDgeError as exc:
            raise _fail(exc) from None
        deployments.append(
            bmsc_dge_flow.to_deployment(
                name=name, parameters={"config_path": str(config.resolve())}, **schedule
            )
        )  # type: ignore[arg-type]
    if inbox is not None:
        deployments.append(
            inbox_flow.to_deployment(
                name=f"{name}-inbox", parameters={"inbox": str(inbox.resolve())}, **schedule
            )
        )  # type: ignore[arg-type]
    out.print(
        f"serving {len(deployments)} deployment(s) against {os.environ['PREFECT_API_URL']}; Ctrl-C stops"
    )
    prefect_serve(*deployments)  # type: ignore[arg-type]  # to_deployment is sync here


@genesets_app.command("list")
def genesets_list(
    species: Annotated[str, typer.Option(help="human, mouse or rat")] = "human",
    collection: Annotated[str, typer.Option(help="curated, hallmark or go_bp")] = "curated",
) -> None:
    """Print the sets of a collection: id, name, size, sources."""
    from bmsc_dge.genesets import load_builtin

    try:
        sets = load_builtin(collection, species)
    except BmscDgeError as exc:
        raise _fail(exc) from None
    table = Table(title=f"{collection} gene sets ({species})")
    table.add_column("id", no_wrap=True)
    for col in ("name", "size", "expected in T2DM", "sources"):
        table.add_column(col, overflow="fold")
    for s in sets:
        table.add_row(
            s.id, s.name, str(s.size), s.expected_t2dm if collection == "curated" else "", s.source_summary()
        )
    out.print(table)


@genesets_app.command("export")
def genesets_export(
    out_file: Annotated[Path, typer.Option("--out", help="Destination GMT file.")],
    species: Annotated[str, typer.Option(help="human, mouse or rat")] = "human",
    collection: Annotated[str, typer.Option(help="curated, hallmark or go_bp")] = "curated",
) -> None:
    """Write a collection as standard GMT (mouse/rat: ortholog-mapped symbols)."""
    from bmsc_dge.genesets import load_builtin, sets_as_gmt, write_gmt

    try:
        sets = load_builtin(collection, species)
    except BmscDgeError as exc:
        raise _fail(exc) from None
    write_gmt(sets_as_gmt(sets), out_file)
    missing = sorted({g for s in sets for g in s.unmapped})
    out.print(f"wrote {len(sets)} sets to {out_file}")
    if missing:
        err.print(
            f"{len(missing)} human genes have no {species} ortholog and were left out: {', '.join(missing)}"
        )


@genesets_app.command("show")
def genesets_show(
    set_id: Annotated[str, typer.Argument(help="Set id, e.g. BMSC_FERROPTOSIS_DRIVERS")],
    species: Annotated[str, typer.Option(help="human, mouse or rat")] = "human",
) -> None:
    """Print one set with its provenance (per-gene evidence for curated sets)."""
    from bmsc_dge.genesets import get_set

    try:
        s = get_set(set_id, species)
    except BmscDgeError as exc:
        raise _fail(exc) from None
    out.print(f"[bold]{s.id}[/] - {s.name} ({s.collection}, {s.species}, version {s.version})")
    out.print(s.description)
    out.print(f"licence: {s.licence}")
    if s.collection == "curated":
        out.print(f"expected in T2DM BMSCs: {s.expected_t2dm}; mechanism: {s.mechanism}")
        if s.direction_note:
            out.print(f"direction: {s.direction_note}")
        for k, v in s.direction_evidence.items():
            out.print(f"  direction source {k}: {v}")
    for k, v in s.sources.get("evidence_sets", {}).items():
        out.print(f"  evidence set {k}: {v}")
    for k, v in s.sources.get("references", {}).items():
        out.print(f"  {k}: {v}")
    table = Table(title=f"{s.size} genes")
    table.add_column("gene", no_wrap=True)
    table.add_column("expected", no_wrap=True)
    table.add_column("evidence", overflow="fold")
    for g in s.genes:
        ev = s.evidence.get(g, s.evidence.get(g.upper(), []))
        table.add_row(g, s.expected_for(g), ", ".join(ev))
    out.print(table)
    if s.unmapped:
        out.print(f"no {species} ortholog: {', '.join(s.unmapped)}")


def main() -> None:  # pragma: no cover
    """Entry point for ``python -m bmsc_dge``."""
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
