"""``bmsc-dge validate``, ``run`` and ``batch``: one study, or many, through the Prefect flow."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bmsc_dge.cli._app import (
    _fail,
    _logging,
    _Server,
    app,
    long_lived,
    out,
    prefect_environment,
    prefect_imported,
)
from bmsc_dge.cli._terminal import StageDisplay, summary_lines
from bmsc_dge.config import StudyConfig, load_config
from bmsc_dge.errors import BmscDgeError

if TYPE_CHECKING:  # the study types import scanpy; the CLI loads them only when it runs
    from bmsc_dge.study import Study
    from bmsc_dge.tl import EarlyRefits


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
    from bmsc_dge.study import check_gene_sets, load_studies

    try:
        base = load_config(config.resolve(), outdir=outdir.resolve() if outdir else None)
        studies = load_studies(base)
        for cfg, study in studies:
            check_gene_sets(cfg, list(study.adata.var["symbol"].astype(str)))
    except BmscDgeError as exc:
        raise _fail(exc) from None
    return base, studies


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
    with long_lived():
        server = _Server().begin(temporary_server)
        from bmsc_dge.tl import EarlyRefits

        early = EarlyRefits([])
        try:
            _, checked = _checked_studies(config, outdir)  # bad input: one line, before Prefect starts
            early = _start_early(checked[0])  # the refits use the core that is idle while Prefect imports
            import scanpy  # noqa: F401  (sample QC's; beside the refits, not before them)

            import flows.analysis  # noqa: F401  (imports Prefect while a first run's server starts)

            prefect_imported()  # a warm worker's child: Prefect's settings and logging, as imported here

            server.connect()
        except BaseException:
            early.cancel_unadopted()
            server.abandon()  # a server launched for a run that never starts is not left running
            raise
    try:
        finals = _run_checked(config, outdir, checked, server.api)
    finally:
        early.cancel_unadopted()
    out.print(f"[bold green]done[/] in {time.perf_counter() - t0:.0f} s", highlight=False)
    for _, final in finals:
        for line in summary_lines(final / "summary.md"):
            out.print(line, highlight=False, soft_wrap=True, markup=False)
    # plain prints: paths stay whole on one line at any terminal width
    for cfg, final in finals:
        print(f"results: {final}  (latest: {cfg.outdir / 'latest'})")
    for _, final in finals:
        print(f"report: {final / 'report.html'}", flush=True)


def _start_early(checked: tuple[StudyConfig, Study]) -> EarlyRefits:
    """The first contrast's leave-one-out refits, started while Prefect imports (see :mod:`bmsc_dge.tl`)."""
    from bmsc_dge.tl import start_refits_early

    try:
        return start_refits_early(*checked)
    except BmscDgeError as exc:
        raise _fail(exc) from None


def _run_checked(
    config: Path, outdir: Path | None, checked: list[tuple[StudyConfig, Study]], api_url: str | None
) -> list[tuple[StudyConfig, Path]]:
    """Run the flow for every checked study in turn, showing its stages; their config and run folder."""
    from flows.analysis import run_config

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
                api_url=api_url,
            )
        except BmscDgeError as exc:
            raise _fail(exc) from None
        finally:
            stop()
            display.stop()
        finals.append((cfg, final))
    return finals


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
    with long_lived():
        server = _Server().begin(temporary_server)
        from bmsc_dge.study import hand_over

        names: list[str] = []
        tokens: list[str | None] = []
        try:
            for config in configs:
                base, checked = _checked_studies(config, None)
                names.append(base.name)
                # a pseudobulk study runs a sub-flow per cell type, each reading its own inputs
                tokens.append(hand_over(base, checked[0][1]) if base.pseudobulk is None else None)
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
