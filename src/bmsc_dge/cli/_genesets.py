"""``bmsc-dge genesets list|export|show``: browse and export the gene-set library."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from bmsc_dge.cli._app import _fail, err, genesets_app, out
from bmsc_dge.config import CURATED, builtin_collections
from bmsc_dge.errors import BmscDgeError


@genesets_app.command("list")
def genesets_list(
    species: Annotated[str, typer.Option(help="human, mouse or rat")] = "human",
    collection: Annotated[str, typer.Option(help=f"one of: {', '.join(builtin_collections())}")] = CURATED,
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
            s.id, s.name, str(s.size), s.expected_t2dm if collection == CURATED else "", s.source_summary()
        )
    out.print(table)


@genesets_app.command("export")
def genesets_export(
    out_file: Annotated[Path, typer.Option("--out", help="Destination GMT file.")],
    species: Annotated[str, typer.Option(help="human, mouse or rat")] = "human",
    collection: Annotated[str, typer.Option(help=f"one of: {', '.join(builtin_collections())}")] = CURATED,
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
    if s.collection == CURATED:
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
    if s.collection == CURATED:
        table.add_column("direction", no_wrap=True)
        table.add_column("grade", no_wrap=True)
        table.add_column("sources", overflow="fold")
    table.add_column("membership evidence", overflow="fold")
    for g in s.genes:
        ev = s.evidence.get(g, s.evidence.get(g.upper(), []))
        if s.collection == CURATED:
            gene = s.evidence_for(g)
            sources = ", ".join(gene.sources) + (f" ({gene.note})" if gene.note else "")
            table.add_row(g, gene.direction, gene.grade, sources, ", ".join(ev))
        else:
            table.add_row(g, ", ".join(ev))
    out.print(table)
    if s.collection == CURATED:
        out.print(
            "grade A: measured in T2DM bone cells/BMSCs or under high glucose; B: other diabetic tissue or "
            "the pathway in BMSCs; C: review or pathway membership only (no gene-level direction)"
        )
    if s.unmapped:
        out.print(f"no {species} ortholog: {', '.join(s.unmapped)}")
