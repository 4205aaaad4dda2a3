"""``bmsc-dge gsea --rnk FILE --gmt FILE``: pre-ranked GSEA of any ranked list.

It runs in this process, without a Prefect server: one computation on files, nothing to schedule
or monitor. The statistic, permutations and multilevel p-values are the run's
(:func:`bmsc_dge.enrichment.gsea_ranked_list`); outputs go to a new run folder under ``--outdir``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from bmsc_dge.cli._app import _fail, _logging, app, out
from bmsc_dge.errors import BmscDgeError, GeneSetError


@app.command()
def gsea(
    rnk: Annotated[
        Path,
        typer.Option("--rnk", help="Ranked list: two tab-separated columns, gene and metric (GSEA .rnk)."),
    ],
    gmt: Annotated[
        list[Path],
        typer.Option("--gmt", help="Gene sets (GMT); repeat for several files, each its own FDR family."),
    ],
    min_size: Annotated[
        int, typer.Option("--min-size", min=1, help="Smallest set tested (genes in the list).")
    ] = 15,
    max_size: Annotated[
        int, typer.Option("--max-size", min=1, help="Largest set tested (genes in the list).")
    ] = 500,
    permutations: Annotated[
        int, typer.Option("--permutations", min=100, help="Gene-label permutations (seeded).")
    ] = 1000,
    seed: Annotated[
        int, typer.Option("--seed", help="Seed of the permutations and of the multilevel sampling.")
    ] = 20261128,
    outdir: Annotated[
        Path, typer.Option("--outdir", help="Results root; each call adds runs/<run id>.")
    ] = Path("results/gsea"),
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show log lines.")] = False,
) -> None:
    """Pre-ranked GSEA of a ranked gene list on GMT gene sets: the run's GSEA table, workbook and plots.

    P-values below 1/(permutations + 1) come from fgsea's adaptive multilevel method (with log2err).
    """
    from bmsc_dge.enrichment import gsea_ranked_list
    from bmsc_dge.genesets import read_gmt
    from bmsc_dge.io import read_rnk
    from bmsc_dge.report import write_ranked_outputs
    from bmsc_dge.runs import RunDir

    t0 = time.perf_counter()
    _logging(verbose)
    try:
        if max_size < min_size:
            raise GeneSetError(
                f"--max-size {max_size} is below --min-size {min_size}", hint="give --max-size >= --min-size"
            )
        from bmsc_dge.config import GeneSetConfig

        ranking = read_rnk(rnk)
        collections: dict[str, dict[str, list[str]]] = {}
        for path in gmt:
            name = f"gmt:{path.stem}"
            if name in collections:
                raise GeneSetError(
                    f"two GMT files are both called {path.stem}", file=path, hint="rename one of them"
                )
            collections[name] = {term: genes for term, (_desc, genes) in read_gmt(path).items()}
        out.print(
            f"bmsc-dge gsea: {len(ranking)} ranked genes ({rnk.name}), "
            + ", ".join(f"{len(s)} sets in {c}" for c, s in collections.items())
            + f"; {permutations} permutations, seed {seed}",
            highlight=False,
            soft_wrap=True,
        )
        settings = GeneSetConfig(
            permutations=permutations, min_size=min_size, max_size=max_size, collections=[], multilevel=True
        )
        result = gsea_ranked_list(ranking, collections, settings=settings, seed=seed)
        run = RunDir(outdir.resolve())
        run.create()
        try:
            recorded = {
                "permutations": permutations,
                "seed": seed,
                "min_size": min_size,
                "max_size": max_size,
                "weight": 1.0,
                "multilevel": True,
            }
            inputs = {"rnk": rnk.resolve(), **{f"gmt:{p.stem}": p.resolve() for p in gmt}}
            write_ranked_outputs(run, rnk.stem, result, collections, settings=recorded, inputs=inputs)
            final = run.commit()
        except BaseException:
            run.abort()
            raise
    except BmscDgeError as exc:
        raise _fail(exc) from None
    _print_top(result.table)
    out.print(f"[bold green]done[/] in {time.perf_counter() - t0:.1f} s", highlight=False)
    print(f"results: {final}  (latest: {outdir.resolve() / 'latest'})")
    print(f"table: {final / 'tables' / 'gsea' / f'{rnk.stem}.gsea.tsv'}", flush=True)


def _print_top(table: object, n: int = 10) -> None:
    from bmsc_dge.report import top_sets

    tab = Table(title=f"top {n} sets by p-value")
    for col in ("set", "collection", "size", "NES", "p-value", "FDR"):
        tab.add_column(col, overflow="fold")
    for x in top_sets(table, n).itertuples():  # type: ignore[arg-type]
        tab.add_row(
            str(x.term), str(x.collection), str(x.size), f"{x.nes:+.2f}", f"{x.pval:.3g}", f"{x.fdr:.3g}"
        )
    out.print(tab)


__all__ = ["Path", "gsea"]
