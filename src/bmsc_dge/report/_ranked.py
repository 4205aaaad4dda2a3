"""Write the outputs of ``bmsc-dge gsea`` (GSEA of a ranked list) into a run folder.

Files (under ``<outdir>/runs/<run id>/``, committed atomically like a study run)::

    tables/gsea/<list>.gsea.tsv (+ .parquet)  the GSEA table (columns as a run's GSEA table)
    <list>.gsea.xlsx                          the same table as a workbook
    figures/gsea/<list>.dotplot.png/.svg      top sets of every collection
    figures/gsea/<list>/<set>.running.*       running-score plots of the top sets by p-value
    summary.md                                what ran and the top sets
    manifest.json                             inputs with checksums, settings, versions
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from bmsc_dge import pl
from bmsc_dge._atomic import write_json, write_text, write_tsv
from bmsc_dge.enrichment import RankedGsea, running_curves
from bmsc_dge.report._export import write_parquet, write_workbook
from bmsc_dge.runs import RunDir, input_checksums, package_versions


def _safe(name: str) -> str:
    """A file-name stem for a set name (GMT names may hold slashes and spaces)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:120] or "set"


def top_sets(table: pd.DataFrame, n: int) -> pd.DataFrame:
    """The ``n`` sets with the smallest p-values (then largest |NES|), over all collections."""
    return (
        table.assign(_abs=table["nes"].abs())
        .sort_values(["pval", "_abs"], ascending=[True, False], kind="mergesort")
        .head(n)
        .drop(columns="_abs")
    )


def summary_text(name: str, result: RankedGsea, settings: dict[str, Any], fdr: float = 0.05) -> str:
    """Markdown summary: settings, sets tested per collection, the top 15 sets."""
    t = result.table
    lines = [
        f"# bmsc-dge gsea: {name}",
        "",
        f"- ranked list: {len(result.ranking)} genes ({result.ranking.name}); "
        f"permutations {settings['permutations']}, seed {settings['seed']}, "
        f"set sizes {settings['min_size']}-{settings['max_size']}",
    ]
    for coll, (n_file, n_tested) in result.tested.items():
        n_sig = int(((t["collection"] == coll) & (t["fdr"] < fdr)).sum())
        lines.append(f"- {coll}: {n_tested} of {n_file} sets tested; {n_sig} at FDR < {fdr}")
    n_ml = int((t["pval_method"] == "multilevel").sum())
    if n_ml:
        lines.append(
            f"- {n_ml} set(s) beyond every permutation: p-value from fgsea's multilevel method (log2err given)"
        )
    lines += ["", "| set | collection | size | ES | NES | p-value | FDR |", "|---|---|---|---|---|---|---|"]
    for x in top_sets(t, 15).itertuples():
        lines.append(
            f"| {x.term} | {x.collection} | {x.size} | {x.es:+.3f} | {x.nes:+.2f} | {x.pval:.3g} | {x.fdr:.3g} |"
        )
    return "\n".join(lines) + "\n"


def write_ranked_outputs(
    run: RunDir,
    name: str,
    result: RankedGsea,
    gene_sets: dict[str, dict[str, list[str]]],
    *,
    settings: dict[str, Any],
    inputs: dict[str, Path],
    n_plots: int = 20,
) -> dict[str, str]:
    """Tables, workbook, figures, summary and manifest of one ranked-list GSEA.

    Parameters
    ----------
    run
        The run folder under construction.
    name
        Stem of the output files (the ranked list's file stem).
    result
        From :func:`bmsc_dge.enrichment.gsea_ranked_list`.
    gene_sets
        The collections the result came from (``collection -> {term: genes}``), for the plots.
    settings
        Permutations, seed, sizes (recorded in the manifest).
    inputs
        ``label -> file`` (the ranked list and each GMT), checksummed into the manifest.
    n_plots
        Running-score plots of the top sets by p-value.

    Returns
    -------
    dict
        ``label -> path`` relative to the run folder.
    """
    written: dict[str, str] = {}
    tsv = write_tsv(result.table, run.path("tables", "gsea", f"{name}.gsea.tsv"))
    write_parquet(result.table, tsv.with_suffix(".parquet"))
    written["table"] = str(tsv.relative_to(run.partial))
    wb = write_workbook({"gsea": result.table}, run.path(f"{name}.gsea.xlsx"))
    written["workbook"] = str(wb.relative_to(run.partial))
    dot = pl.gsea_dotplot(result.table, collection=None, top=25, fdr=0.05)
    pl.save_figure(dot, run.path("figures", "gsea", f"{name}.dotplot"))
    written["dotplot"] = f"figures/gsea/{name}.dotplot.png"
    top = top_sets(result.table, n_plots)
    members = {t: gene_sets[c][t] for t, c in zip(top["term"], top["collection"], strict=True)}
    curves = running_curves(result.ranking, members, list(members))
    stats = {
        str(t): (float(e), float(f)) for t, e, f in zip(top["term"], top["nes"], top["fdr"], strict=True)
    }
    label = str(result.ranking.name or "ranking metric")
    for term, fig in pl.running_scores(curves, stats, result.ranking, metric_label=label):
        pl.save_figure(fig, run.path("figures", "gsea", name, f"{_safe(term)}.running"))
    written["running_scores"] = f"figures/gsea/{name}/"
    write_text(summary_text(name, result, settings), run.path("summary.md"))
    manifest = {
        "command": "bmsc-dge gsea",
        "run_id": run.run_id,
        "inputs": input_checksums(inputs),
        "settings": settings,
        "genes_in_list": len(result.ranking),
        "metric": str(result.ranking.name),
        "ties": int(result.ranking.duplicated(keep=False).sum()),
        "sets": {c: {"in_file": a, "tested": b} for c, (a, b) in result.tested.items()},
        "outputs": written,
        "versions": package_versions(),
    }
    write_json(manifest, run.path("manifest.json"))
    return written
