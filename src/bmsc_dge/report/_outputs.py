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
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from bmsc_dge import engines
from bmsc_dge._atomic import write_json, write_text, write_tsv
from bmsc_dge.config import StudyConfig, config_to_dict
from bmsc_dge.enrichment import ORA_COLUMNS
from bmsc_dge.genesets import library_version
from bmsc_dge.io import Study, design_text, input_files
from bmsc_dge.pp import QCResult
from bmsc_dge.report._export import write_h5ad, write_parquet, write_workbook
from bmsc_dge.report._figures import PendingFigures
from bmsc_dge.report._html import write_report
from bmsc_dge.runs import RunDir, input_checksums, package_versions, stage
from bmsc_dge.tl import ContrastResult, no_signal_note


def _input_lines(inputs: dict[str, Any]) -> list[str]:
    """Summary bullets for the design variables and the decisions taken on the input."""
    lines = (
        [f"- design variables: {design_text(inputs['design_variables'])}"]
        if inputs.get("design_variables")
        else []
    )
    return lines + [f"- input: {note}" for note in inputs.get("notes", [])]


def _ora_line(ora: pd.DataFrame, fdr: float) -> str:
    """One summary bullet: sets over-represented among the up and the down genes."""
    if not len(ora):
        return "- over-representation (ORA): no significant genes to test"
    parts = []
    for direction in ("up", "down"):
        hit = ora[(ora["direction"] == direction) & (ora["padj"] < fdr)]
        names = ", ".join(hit["term"].astype(str).head(3))
        parts.append(f"{len(hit)} among the {direction} genes" + (f" ({names})" if names else ""))
    return f"- over-represented sets at padj < {fdr} (ORA, all collections): " + "; ".join(parts)


def summary_markdown(
    cfg: StudyConfig,
    results: list[ContrastResult],
    qc: pd.DataFrame,
    inputs: dict[str, Any] | None = None,
    top_n: int = 10,
) -> str:
    """A short Markdown summary of a run (also published as a Prefect artifact).

    ``inputs``: :meth:`bmsc_dge.io.Study.record` (design variables and input decisions).
    """
    lines = [f"# bmsc-dge run: {cfg.name}", ""]
    silent = [r.contrast.name for r in results if no_signal_note(r, cfg.alpha)]
    if silent:
        lines += [
            f"**No significant gene (padj < {cfg.alpha}) in: {', '.join(silent)}.** Targets listed for "
            "these contrasts are not supported by the data.",
            "",
        ]
    lines += [
        f"- design: `{cfg.design}`; species: {cfg.species}; alpha: {cfg.alpha}; seed: {cfg.seed}",
        f"- samples: {len(qc)}; library sizes {qc['library_size'].min() / 1e6:.1f}-"
        f"{qc['library_size'].max() / 1e6:.1f} M reads",
    ]
    lines += [*_input_lines(inputs or {}), ""]
    for r in results:
        c = r.contrast
        sig = r.de["padj"] < cfg.alpha
        up = int((sig & (r.de["log2FoldChange"] > 0)).sum())
        down = int((sig & (r.de["log2FoldChange"] < 0)).sum())
        cur = r.gsea[(r.gsea["collection"] == "curated") & (r.gsea["fdr"] < cfg.gene_sets.fdr)]
        lines += [f"## {c.name}: {c.label}", ""]
        note = no_signal_note(r, cfg.alpha)
        if note:
            lines += [note, ""]
        lines += [
            f"- {int(sig.sum())} genes at padj < {cfg.alpha} ({up} up, {down} down) of "
            f"{int(r.de['padj'].notna().sum())} tested",
            f"- curated gene sets at FDR < {cfg.gene_sets.fdr}: {len(cur)}",
            _ora_line(r.ora, cfg.gene_sets.fdr),
        ]
        t = r.targets
        if "stability_flag" in t and t["stability_flag"].astype(str).str.len().gt(0).any():
            one = t[t["stability_flag"].astype(str).str.startswith("rests on one sample")]
            lines.append(
                f"- stability (leave-one-sample-out): {len(one)} significant gene(s) rest on one sample"
                + (f": {', '.join(one['symbol'].astype(str).head(8))}" if len(one) else "")
            )
        if "novel_candidate" in t:
            novel = t[t["novel_candidate"].astype(bool)]
            if len(novel):
                lines.append(
                    f"- novel candidates (significant, in no curated set): {len(novel)}; strongest "
                    + ", ".join(novel["symbol"].astype(str).head(5))
                )
        lines.append("")
        if "direction_vs_expected" in cur:
            against = cur[cur["direction_vs_expected"] == "opposes"]
            if len(against):
                lines += [
                    "- **curated sets enriched against their expected T2DM direction**: "
                    + ", ".join(
                        f"{t} (NES {n:+.2f}, expected {e})"
                        for t, n, e in zip(
                            against["term"], against["nes"], against["expected_t2dm"], strict=True
                        )
                    ),
                    "",
                ]
        if len(cur):
            has_dir = "direction_vs_expected" in cur
            lines += ["| set | NES | FDR | expected | vs expected |", "|---|---|---|---|---|"]
            for x in cur.itertuples():
                exp = getattr(x, "expected_t2dm", "") if has_dir else ""
                vs = getattr(x, "direction_vs_expected", "") if has_dir else ""
                lines.append(f"| {x.term} | {x.nes:+.2f} | {x.fdr:.3g} | {exp} | {vs} |")
            lines.append("")
        lines += [
            "| rank | gene | score | direction | padj | supported | stability |",
            "|---|---|---|---|---|---|---|",
        ]
        top = t.head(top_n)
        supported = (
            top["supported_by_data"] if "supported_by_data" in top else pd.Series(False, index=top.index)
        )
        flag = top["stability_flag"] if "stability_flag" in top else pd.Series("", index=top.index)
        for rank, sym, score, direction, p, sup, fl in zip(
            top["rank"],
            top["symbol"],
            top["score"].to_numpy(dtype=float),
            top["direction"],
            top["padj"].to_numpy(dtype=float),
            supported.astype(bool),
            flag.fillna("").astype(str),
            strict=True,
        ):
            padj = "NA" if np.isnan(p) else f"{p:.2g}"
            lines.append(
                f"| {rank} | {sym} | {score:.3f} | {direction} | {padj} | {'yes' if sup else 'no'} | {fl} |"
            )
        lines.append("")
    return "\n".join(lines)


def write_tables(
    run: RunDir,
    cfg: StudyConfig,
    results: list[ContrastResult],
    qc: QCResult,
    *,
    gene_filter: pd.DataFrame,
    coverage: pd.DataFrame,
    adata: ad.AnnData,
    normalized: pd.DataFrame,
    changes: dict[str, pd.DataFrame] | None = None,
    input_tables: dict[str, pd.DataFrame] | None = None,
) -> dict[str, str]:
    """TSV + Parquet per table, the XLSX workbook and the h5ad matrices; ``label -> relative path``.

    ``input_tables``: QC tables of the input (:attr:`bmsc_dge.io.Study.tables`), as ``tables/qc/<name>.tsv``.
    """
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
    for n, table in (changes or {}).items():
        put(f"changes/{n}", table, "tables", "changes", f"{n}.changes.tsv")
        sheets[f"changes {n}"] = table
    put("qc/samples", qc.samples, "tables", "qc", "samples.tsv")
    put("qc/pca", qc.pca, "tables", "qc", "pca.tsv")
    put("qc/correlation", qc.correlation.reset_index(names="sample"), "tables", "qc", "correlation.tsv")
    put("qc/gene_filter", gene_filter, "tables", "qc", "gene_filter.tsv")
    for name, table in (input_tables or {}).items():
        put(f"qc/{name}", table, "tables", "qc", f"{name}.tsv")
    put("genesets/coverage", coverage, "tables", "genesets", "coverage.tsv")
    sheets["qc samples"] = qc.samples
    sheets["gene-set coverage"] = coverage
    wb = write_workbook(sheets, run.path(f"{cfg.name}.xlsx"))
    written["workbook"] = str(wb.relative_to(run.partial))
    h5 = write_h5ad(
        study_anndata(adata, normalized, qc.vst), run.path("matrices", "filtered_normalized.h5ad")
    )
    written["h5ad"] = str(h5.relative_to(run.partial))
    return written


def write_run_outputs(
    run: RunDir,
    cfg: StudyConfig,
    *,
    results: list[ContrastResult],
    qc: QCResult,
    gene_filter: pd.DataFrame,
    coverage: pd.DataFrame,
    inputs: Study,
    warnings: list[str],
    timings: dict[str, float],
    adata: ad.AnnData,
    normalized: pd.DataFrame,
    changes: dict[str, pd.DataFrame] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write every output file of a run into ``run``'s partial folder.

    Returns
    -------
    dict
        The manifest (also written as ``manifest.json``); ``manifest["files"]`` maps labels to
        paths relative to the run folder.
    """
    t0 = time.perf_counter()
    # figures are drawn in forked processes while this process writes the tables
    pending = PendingFigures(run, cfg, results, qc, cfg.execution.figure_processes)
    try:
        with stage("tables (TSV, Parquet, XLSX, h5ad)"):
            written = write_tables(
                run,
                cfg,
                results,
                qc,
                gene_filter=gene_filter,
                coverage=coverage,
                adata=adata,
                normalized=normalized,
                changes=changes,
                input_tables=inputs.tables,
            )
        timings["write_tables"] = time.perf_counter() - t0
    except BaseException:
        pending.cancel()
        raise
    with stage("figures"):
        figures = pending.result()
    written.update({f"figure:{k}": v for k, v in figures.items()})
    # drawing started with the tables (forked processes): wall time until the last figure
    timings["figures"] = time.perf_counter() - t0
    record = inputs.record()
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
        **(extra or {}),
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
            n_genes=adata.n_vars,
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
