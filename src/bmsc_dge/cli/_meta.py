"""``bmsc-dge meta CONFIG``: several studies in, one ranked, cross-validated answer out."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bmsc_dge.cli._app import _fail, _logging, _Server, app, out, prefect_environment
from bmsc_dge.config import MetaConfig, load_meta_config
from bmsc_dge.errors import BmscDgeError

if TYPE_CHECKING:
    from bmsc_dge.meta import CheckedStudy


def checked_meta(config: Path, outdir: Path | None) -> tuple[MetaConfig, list[CheckedStudy]]:
    """The meta config and every study, loaded and checked (one-line error on the first problem)."""
    from bmsc_dge.meta import check_studies

    try:
        cfg = load_meta_config(config.resolve(), outdir=outdir.resolve() if outdir else None)
        return cfg, check_studies(cfg)
    except BmscDgeError as exc:
        raise _fail(exc) from None


@app.command()
def meta(
    config: Annotated[
        Path, typer.Argument(help="Meta-analysis config (YAML); see configs/example_meta.yaml.")
    ],
    outdir: Annotated[Path | None, typer.Option("--outdir", help="Results root of the meta run.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's log lines.")] = False,
    temporary_server: Annotated[
        bool, typer.Option("--temporary-server", help="As for `run`: a Prefect server for this command only.")
    ] = False,
) -> None:
    """Meta-analyse several studies: each runs (or is reused when unchanged), then genes, sets and targets are combined.

    Every study is checked first; a bad input stops the command before anything is written.
    """
    t0 = time.perf_counter()
    prefect_environment()
    _logging(verbose)
    server = _Server().begin(temporary_server)
    try:
        cfg, studies = checked_meta(config, outdir)
        from flows.analysis import command_line_settings
        from flows.meta import meta_flow

        server.connect()
    except BaseException:
        server.abandon()
        raise
    out.print(
        f"bmsc-dge meta: {cfg.name}: {len(studies)} studies ({', '.join(s.name for s in studies)}), "
        f"method {cfg.method}, genes in {cfg.species}",
        highlight=False,
        soft_wrap=True,
    )
    try:
        with command_line_settings(server.api):
            final = Path(meta_flow(str(config.resolve()), str(outdir.resolve()) if outdir else None, studies))
    except BmscDgeError as exc:
        raise _fail(exc) from None
    out.print(f"[bold green]done[/] in {time.perf_counter() - t0:.0f} s", highlight=False)
    for line in (final / "summary.md").read_text().splitlines()[2:8]:
        out.print(line, highlight=False, soft_wrap=True, markup=False)
    print(f"results: {final}  (latest: {cfg.outdir / 'latest'})")
    print(f"report: {final / 'report.html'}", flush=True)
