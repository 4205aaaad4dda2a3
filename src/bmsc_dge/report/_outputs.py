"""Write one run's tables, workbook, manifest and summary into its (partial) run folder.

Files (under the run folder)::

    tables/de/<contrast>.deseq2.tsv        DE table per contrast
    tables/gsea/<contrast>.gsea.tsv        GSEA per contrast (all collections)
    tables/ora/<contrast>.ora.tsv          ORA of the significant up and down genes per contrast
    tables/targets/<contrast>.targets.tsv  ranked targets per contrast
    tables/qc/samples.tsv                  per-sample QC
    tables/qc/gene_filter.tsv              per-gene low-count filter decision
    tables/qc/pca.tsv, correlation.tsv     PCA scores and sample correlations (VST)
    tables/genesets/coverage.tsv           per-set coverage in the data
    (every table also as .parquet beside the .tsv)
    <study name>.xlsx                      all tables above, a sheet each
    matrices/filtered_normalized.h5ad      filtered counts + normalised + VST layers
    figures/...                            PNG + SVG (see bmsc_dge.report._figures)
    report.html                            self-contained report
    summary.md                             short human-readable summary
    manifest.json                          inputs + checksums, resolved config, versions, timings
    warnings.txt                           warnings raised during the run
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from bmsc_dge import deseq2 as _deseq2  # noqa: F401  (registers the DESeq2 engines)
from bmsc_dge import engines
from bmsc_dge import enrichment as _enrichment  # noqa: F401  (registers the GSEA engines)
from bmsc_dge._atomic import write_json, write_text, write_tsv
from bmsc_dge.config import StudyConfig, config_to_dict
from bmsc_dge.enrichment import ORA_COLUMNS
from bmsc_dge.genesets import library_version
from bmsc_dge.io import input_files
from bmsc_dge.pp import QCResult
from bmsc_dge.report._export import write_h5ad, write_parquet, write_workbook
from bmsc_dge.report._figures import PendingFigures
from bmsc_dge.report._html import write_report
from bmsc_dge.report._summary import summary_markdown
from bmsc_dge.runs import RunDir, input_checksums, package_versions, stage
from bmsc_dge.study import Study
from bmsc_dge.tl import ContrastResult


@dataclass
class RunOutputs:
    """Everything a study run hands to the writers.

    Attributes
    ----------
    results
        One :class:`bmsc_dge.tl.ContrastResult` per contrast.
    qc
        Per-sample QC (VST, PCA, correlations).
    gene_filter
        The low-count filter's decision per gene.
    coverage
        Gene-set coverage in the data.
    inputs
        The study as read (its ``tables`` become ``tables/qc/<name>.tsv``; its ``record`` the
        manifest's ``input``).
    adata
        The filtered counts.
    normalized
        DESeq2-normalised counts.
    warnings
        Warnings raised during the run (``warnings.txt``).
    timings
        Stage timings in seconds (the manifest's ``timings_seconds``).
    changes
        Per contrast, what changed against the previous run of the folder.
    extra
        Further manifest entries (where each contrast ran, previous run, input fingerprint).
    """

    results: list[ContrastResult]
    qc: QCResult
    gene_filter: pd.DataFrame
    coverage: pd.DataFrame
    inputs: Study
    adata: ad.AnnData
    normalized: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    changes: dict[str, pd.DataFrame] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def write_tables(run: RunDir, cfg: StudyConfig, out: RunOutputs) -> dict[str, str]:
    """TSV + Parquet per table, the XLSX workbook and the h5ad matrices; ``label -> relative path``.

    The input's QC tables (:attr:`bmsc_dge.study.Study.tables`) go to ``tables/qc/<name>.tsv``.
    """
    results, qc = out.results, out.qc
    written: dict[str, str] = {}

    def put(label: str, df: pd.DataFrame, *parts: str) -> None:
        p = write_tsv(df, run.path(*parts))
        write_parquet(df, p.with_suffix(".parquet"))
        written[label] = str(p.relative_to(run.partial))

    sheets: dict[str, pd.DataFrame] = {}
    for r in results:
        n = r.contrast.name
        put(f"de/{n}", r.de, "tables", "de", f"{n}.deseq2.tsv")
        put(f"gsea/{n}", r.gsea, "tables", "gsea", f"{n}.gsea.tsv")
        put(f"targets/{n}", r.targets, "tables", "targets", f"{n}.targets.tsv")
        ora_table = r.ora if len(r.ora.columns) else pd.DataFrame(columns=ORA_COLUMNS)
        put(f"ora/{n}", ora_table, "tables", "ora", f"{n}.ora.tsv")
        sheets[f"targets {n}"] = r.targets
        sheets[f"gsea {n}"] = r.gsea
        sheets[f"ora {n}"] = ora_table
        sheets[f"de {n}"] = r.de
    for n, table in out.changes.items():
        put(f"changes/{n}", table, "tables", "changes", f"{n}.changes.tsv")
        sheets[f"changes {n}"] = table
    put("qc/samples", qc.samples, "tables", "qc", "samples.tsv")
    put("qc/pca", qc.pca, "tables", "qc", "pca.tsv")
    put("qc/correlation", qc.correlation.reset_index(names="sample"), "tables", "qc", "correlation.tsv")
    put("qc/gene_filter", out.gene_filter, "tables", "qc", "gene_filter.tsv")
    for name, table in out.inputs.tables.items():
        put(f"qc/{name}", table, "tables", "qc", f"{name}.tsv")
    put("genesets/coverage", out.coverage, "tables", "genesets", "coverage.tsv")
    sheets["qc samples"] = qc.samples
    sheets["gene-set coverage"] = out.coverage
    wb = write_workbook(sheets, run.path(f"{cfg.name}.xlsx"))
    written["workbook"] = str(wb.relative_to(run.partial))
    h5 = write_h5ad(
        study_anndata(out.adata, out.normalized, qc.vst), run.path("matrices", "filtered_normalized.h5ad")
    )
    written["h5ad"] = str(h5.relative_to(run.partial))
    return written


def write_run_outputs(run: RunDir, cfg: StudyConfig, out: RunOutputs) -> dict[str, Any]:
    """Write every output file of a run into ``run``'s partial folder.

    Returns
    -------
    dict
        The manifest (also written as ``manifest.json``); ``manifest["files"]`` maps labels to
        paths relative to the run folder.
    """
    results, qc, timings, warnings = out.results, out.qc, out.timings, out.warnings
    t0 = time.perf_counter()
    # figures are drawn in forked processes while this process writes the tables
    pending = PendingFigures(run, cfg, results, qc, cfg.execution.figure_processes)
    try:
        with stage("tables (TSV, Parquet, XLSX, h5ad)"):
            written = write_tables(run, cfg, out)
        timings["write_tables"] = time.perf_counter() - t0
    except BaseException:
        pending.cancel()
        raise
    with stage("figures"):
        figures = pending.result()
    written.update({f"figure:{k}": v for k, v in figures.items()})
    # drawing started with the tables (forked processes): wall time until the last figure
    timings["figures"] = time.perf_counter() - t0
    record = out.inputs.record()
    write_text(summary_markdown(cfg, results, qc.samples, record), run.path("summary.md"))
    write_text("\n".join(warnings) + ("\n" if warnings else ""), run.path("warnings.txt"))
    written.update(
        {
            "summary": "summary.md",
            "warnings": "warnings.txt",
            "manifest": "manifest.json",
            "report": "report.html",
        }
    )
    manifest: dict[str, Any] = {
        "run_id": run.run_id,
        "study": cfg.name,
        "inputs": input_checksums(input_files(cfg)),
        "config": config_to_dict(cfg),
        "seeds": {"gsea_permutations": cfg.seed},
        "versions": package_versions(),
        "engines": {
            "deseq2": engines.get("deseq2", cfg.de.engine).record(),
            "gsea": engines.get("gsea", cfg.gene_sets.engine).record(),
        },
        "gene_sets": {"curated_library": library_version(), "collections": cfg.gene_sets.collections},
        "id_mapping": record["id_mapping"],
        "input": {k: v for k, v in record.items() if k != "id_mapping"},
        "timings_seconds": timings,
        "files": written,
        **out.extra,
    }
    t2 = time.perf_counter()
    with stage("report"):
        write_report(
            run.partial,
            cfg,
            run_id=run.run_id,
            results=results,
            qc=qc,
            figures=figures,
            manifest=manifest,
            warnings=warnings,
            n_genes=out.adata.n_vars,
        )
    timings["report"] = time.perf_counter() - t2
    manifest["timings_seconds"] = {k: round(v, 3) for k, v in timings.items()}
    write_json(manifest, run.path("manifest.json"))
    return manifest


def study_anndata(adata: ad.AnnData, normalized: pd.DataFrame, vst: pd.DataFrame) -> ad.AnnData:
    """Filtered counts with DESeq2-normalised and VST layers, for ``.h5ad`` export."""
    out = ad.AnnData(X=np.asarray(adata.layers["counts"]).copy(), obs=adata.obs.copy(), var=adata.var.copy())
    out.layers["counts"] = np.asarray(adata.layers["counts"]).copy()
    out.layers["normalized"] = normalized.reindex(index=adata.obs_names, columns=adata.var_names).to_numpy()
    out.layers["vst"] = vst.reindex(index=adata.obs_names, columns=adata.var_names).to_numpy()
    for col in out.obs.columns:
        if out.obs[col].dtype == object:
            out.obs[col] = out.obs[col].astype(str)
    return out
