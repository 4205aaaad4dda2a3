"""``bmsc-dge server`` (a Prefect server for this project) and ``bmsc-dge serve`` (scheduled runs)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from bmsc_dge.cli._app import _fail, app, out, prefect_environment
from bmsc_dge.config import load_config
from bmsc_dge.errors import BmscDgeError
from bmsc_dge.runs import server_environment


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
        bool,
        typer.Option(
            "--status",
            help="List every background server and warm worker `bmsc-dge run` started for you "
            "(folder, port, age, idle).",
        ),
    ] = False,
    stop_background: Annotated[
        bool,
        typer.Option(
            "--stop",
            help="Stop this folder's background server (with --all: every one, and every warm worker), "
            "then exit.",
        ),
    ] = False,
    stop_all: Annotated[
        bool, typer.Option("--all", help="With --stop: stop every background server you started.")
    ] = False,
    idle_timeout: Annotated[
        float | None,
        typer.Option(
            "--idle-timeout",
            min=0,
            help="Stop this server after so many seconds without a flow or task run (default: run until "
            "Ctrl-C). Background servers stop after $BMSC_DGE_SERVER_IDLE_TIMEOUT s (default 3600).",
        ),
    ] = None,
    prepare: Annotated[
        bool,
        typer.Option(
            "--prepare",
            help="Make the empty, migrated Prefect database new project folders start from "
            "(scripts/dev setup does this), then exit.",
        ),
    ] = False,
) -> None:
    """Start the Prefect server (API + UI) with a project-local database; Ctrl-C stops it."""
    from bmsc_dge.runs import localserver

    prefect_environment()
    home = Path(os.environ["PREFECT_HOME"])
    if prepare:
        try:
            out.print(f"Prefect database template: {localserver.prepare_template()}", soft_wrap=True)
        except BmscDgeError as exc:
            raise _fail(exc) from None
        return
    if show_status or stop_background:
        _status_or_stop(home, show_status, stop_background, stop_all)
        return
    if database_url is None:
        localserver.seed_database(home)  # a new folder starts from the migrated template
    env = dict(os.environ)
    env.update(server_environment(host, port, database_url))
    exe = Path(sys.executable).with_name("prefect")
    out.print(
        f"Prefect UI: http://{host}:{port}  (API {env['PREFECT_UI_API_URL']}); database: "
        f"{database_url or Path(env['PREFECT_HOME']) / 'prefect.db'}"
    )
    out.print(f"point runs at it with: export PREFECT_API_URL=http://{host}:{port}/api")
    command = [str(exe), "server", "start", "--host", host, "--port", str(port)]
    if idle_timeout:
        out.print(f"stops itself after {idle_timeout:.0f} s without a flow or task run")
        supervised = [sys.executable, "-m", "bmsc_dge._supervisor", "--home", str(home)]
        supervised += ["--api", f"http://{host}:{port}/api", "--timeout", str(idle_timeout), "--", *command]
        os.execve(sys.executable, supervised, env)
    os.execve(str(exe), command, env)


def _status_or_stop(home: Path, show_status: bool, stop: bool, every: bool) -> None:
    """``--status``: every background server of this user; ``--stop [--all]``: this folder's, or all."""
    from bmsc_dge._workers import stop_workers
    from bmsc_dge.runs import localserver, server_statuses, worker_lines
    from bmsc_dge.runs import stop_all as stop_every

    if stop:
        if every:
            stopped = stop_every()
            out.print(
                f"stopped {len(stopped)} background Prefect server(s)" + "".join(f"\n  {h}" for h in stopped)
            )
            workers = stop_workers()
            out.print(f"stopped {len(workers)} warm worker(s)" + "".join(f"\n  pid {p}" for p in workers))
            return
        state = localserver.stop(home)
        out.print(f"stopped the background Prefect server (pid {state['pid']})" if state else "none running")
        return
    servers = server_statuses()
    for srv in servers:
        mark = "*" if srv.home.resolve() == home.resolve() else " "
        out.print(f"{mark} {srv.describe()}", highlight=False, soft_wrap=True)
    for line in worker_lines():
        out.print(f"  {line}", highlight=False, soft_wrap=True)
    if not any(srv.home.resolve() == home.resolve() for srv in servers):
        out.print(f"no background Prefect server for {home}")
        raise typer.Exit(code=1)
    state = localserver.status(home)
    if state is not None:
        out.print(
            f"this folder's: {state['ui']}; log: {state['log']}; stop: bmsc-dge server --stop", soft_wrap=True
        )


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
