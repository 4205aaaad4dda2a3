"""Write one run's tables, workbook, manifest and summary into its (partial) run folder.

Files (under the run folder)::

    tables/de/<contrast>.deseq2.tsv        DE table per contrast
    tables/gsea/<contrast>.gsea.tsv        GSEA per contrast (all collections)
    tables/targets/<contrast>.targets.tsv  ranked targets per contrast
    tables/qc/samples.tsv                  per-sample QC
    tables/qc/gene_filter.tsv              per-gene low-count filter decision
    tables/genesets/coverage.tsv           per-set coverage in the data
    <study name>.xlsx                      all tables above, a sheet each
    summary.md                             short human-readable summary
    manifest.json                          inputs + checksums, resolved config, versions, timings
    warnings.txt                           warnings raised during the run
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bmsc_dge.config import Contrast, StudyConfig, config_to_dict
from bmsc_dge.export import write_json, write_text, write_tsv, write_workbook
from bmsc_dge.genesets import library_version
from bmsc_dge.provenance import input_checksums, package_versions
from bmsc_dge.rundir import RunDir


@dataclass
class ContrastResult:
    """Everything computed for one contrast."""

    contrast: Contrast
    de: pd.DataFrame
    gsea: pd.DataFrame
    targets: pd.DataFrame
    curves: dict[str, Any] = field(default_factory=dict)


def summary_markdown(
    cfg: StudyConfig, results: list[ContrastResult], qc: pd.DataFrame, top_n: int = 10
) -> str:
    """A short Markdown summary of a run (also published as a Prefect artifact)."""
    lines = [
        f"# bmsc-dge run: {cfg.name}",
        "",
        f"- design: `{cfg.design}`; species: {cfg.species}; alpha: {cfg.alpha}; seed: {cfg.seed}",
        f"- samples: {len(qc)}; library sizes {qc['library_size'].min() / 1e6:.1f}-"
        f"{qc['library_size'].max() / 1e6:.1f} M reads",
        "",
    ]
    for r in results:
        c = r.contrast
        sig = r.de["padj"] < cfg.alpha
        up = int((sig & (r.de["log2FoldChange"] > 0)).sum())
        down = int((sig & (r.de["log2FoldChange"] < 0)).sum())
        cur = r.gsea[(r.gsea["collection"] == "curated") & (r.gsea["fdr"] < cfg.gene_sets.fdr)]
        lines += [
            f"## {c.name}: {c.label}",
            "",
            f"- {int(sig.sum())} genes at padj < {cfg.alpha} ({up} up, {down} down) of "
            f"{int(r.de['padj'].notna().sum())} tested",
            f"- curated gene sets at FDR < {cfg.gene_sets.fdr}: {len(cur)}",
            "",
        ]
        if len(cur):
            lines += ["| set | NES | FDR |", "|---|---|---|"]
            lines += [f"| {t.term} | {t.nes:+.2f} | {t.fdr:.3g} |" for t in cur.itertuples()]
            lines.append("")
        lines += ["| rank | gene | score | direction | padj |", "|---|---|---|---|---|"]
        top = r.targets.head(top_n)
        for rank, sym, score, direction, p in zip(
            top["rank"],
            top["symbol"],
            top["score"].to_numpy(dtype=float),
            top["direction"],
            top["padj"].to_numpy(dtype=float),
            strict=True,
        ):
            padj = "NA" if np.isnan(p) else f"{p:.2g}"
            lines.append(f"| {rank} | {sym} | {score:.3f} | {direction} | {padj} |")
        lines.append("")
    return "\n".join(lines)


def write_run_outputs(
    run: RunDir,
    cfg: StudyConfig,
    *,
    results: list[ContrastResult],
    qc: pd.DataFrame,
    gene_filter: pd.DataFrame,
    coverage: pd.DataFrame,
    mapping: dict[str, Any],
    warnings: list[str],
    timings: dict[str, float],
) -> dict[str, str]:
    """Write every output file of a run into ``run``'s partial folder.

    Returns
    -------
    dict
        ``label -> path relative to the run folder`` of the files written.
    """
    written: dict[str, str] = {}

    def put(label: str, df: pd.DataFrame, *parts: str) -> None:
        p = write_tsv(df, run.path(*parts))
        written[label] = str(p.relative_to(run.partial))

    sheets: dict[str, pd.DataFrame] = {}
    for r in results:
        n = r.contrast.name
        put(f"de/{n}", r.de, "tables", "de", f"{n}.deseq2.tsv")
        put(f"gsea/{n}", r.gsea, "tables", "gsea", f"{n}.gsea.tsv")
        put(f"targets/{n}", r.targets, "tables", "targets", f"{n}.targets.tsv")
        sheets[f"targets {n}"] = r.targets
        sheets[f"gsea {n}"] = r.gsea
        sheets[f"de {n}"] = r.de
    put("qc/samples", qc, "tables", "qc", "samples.tsv")
    put("qc/gene_filter", gene_filter, "tables", "qc", "gene_filter.tsv")
    put("genesets/coverage", coverage, "tables", "genesets", "coverage.tsv")
    sheets["qc samples"] = qc
    sheets["gene-set coverage"] = coverage
    wb = write_workbook(sheets, run.path(f"{cfg.name}.xlsx"))
    written["workbook"] = str(wb.relative_to(run.partial))
    write_text(summary_markdown(cfg, results, qc), run.path("summary.md"))
    write_text("\n".join(warnings) + ("\n" if warnings else ""), run.path("warnings.txt"))
    written.update({"summary": "summary.md", "warnings": "warnings.txt", "manifest": "manifest.json"})
    manifest = {
        "run_id": run.run_id,
        "study": cfg.name,
        "inputs": input_checksums(
            {"counts": cfg.counts, "samples": cfg.samples, **{f"gmt:{g.name}": g for g in cfg.gene_sets.gmt}}
        ),
        "config": config_to_dict(cfg),
        "seeds": {"gsea_permutations": cfg.seed},
        "versions": package_versions(),
        "gene_sets": {"curated_library": library_version(), "collections": cfg.gene_sets.collections},
        "id_mapping": mapping,
        "timings_seconds": {k: round(v, 3) for k, v in timings.items()},
        "files": written,
    }
    write_json(manifest, run.path("manifest.json"))
    return written
