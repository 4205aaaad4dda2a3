"""One self-contained HTML report per run (images embedded as base64; opens offline)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from bmsc_dge import deseq2 as _deseq2  # noqa: F401  (registers the DESeq2 engines)
from bmsc_dge import engines
from bmsc_dge import enrichment as _enrichment  # noqa: F401  (registers the GSEA engines)
from bmsc_dge._atomic import write_text
from bmsc_dge.calls import de_counts
from bmsc_dge.config import CURATED, StudyConfig
from bmsc_dge.pp import QCResult
from bmsc_dge.study import design_text
from bmsc_dge.tl import ContrastResult, no_signal_note


def _img(folder: Path, rel: str, caption: str) -> dict[str, str]:
    data = base64.b64encode((folder / rel).read_bytes()).decode("ascii")
    return {"src": f"data:image/png;base64,{data}", "caption": caption}


def _html(df: pd.DataFrame) -> str:
    return str(
        df.to_html(float_format=lambda v: f"{v:.3g}", index=False, border=0, na_rep="NA")
    )  # escapes text


def _with_bounds(gsea: pd.DataFrame) -> pd.DataFrame:
    """GSEA rows for display: p-values no permutation reached shown as the bound ``< p``."""
    out = gsea.copy()
    if "pval_bound" in out:
        bound = out["pval_bound"].astype(bool)
        out["pval"] = [f"< {p:.2g}" if b else f"{p:.3g}" for p, b in zip(out["pval"], bound, strict=True)]
    return out


def methods_text(cfg: StudyConfig, versions: dict[str, str], inputs: dict[str, Any] | None = None) -> str:
    """A methods paragraph with the settings and package versions of the run.

    ``inputs``: the manifest's ``input`` record (design variables, decisions taken on the input).
    """
    filt = (
        f"edgeR filterByExpr-style low-count filter (min_count {cfg.filter.min_count}, min_total_count "
        f"{cfg.filter.min_total_count})"
        if cfg.prefilter and cfg.filter.method == "filterbyexpr"
        else ("a minimum-count filter" if cfg.prefilter else "no low-count prefilter")
    )
    de_engine = engines.get("deseq2", cfg.de.engine).describe()
    sf = "median-of-ratios" if cfg.de.size_factors == "ratio" else "DESeq2 'poscounts'"
    tests = "; ".join(f"{c.name}: {c.hypothesis}" for c in cfg.contrasts)
    gsea_engine = engines.get("gsea", cfg.gene_sets.engine).describe()
    inputs = inputs or {}
    notes = " ".join(f"{n[0].upper()}{n[1:]}." for n in inputs.get("notes", []))
    variables = (
        f" Design variables: {design_text(inputs['design_variables'])}."
        if inputs.get("design_variables")
        else ""
    )
    return (
        f"{notes + ' ' if notes else ''}Counts were checked and filtered with {filt}.{variables} Differential expression used {de_engine}, with "
        f"{sf} size factors, design {cfg.design}, Wald tests (or likelihood-ratio tests where configured; "
        f"alternatives tested: {tests}), Cook's outlier handling and independent filtering at alpha = "
        f"{cfg.alpha} (see docs/statistics.md); shrunken log2 fold changes use PyDESeq2's apeGLM-style "
        f"prior. Gene-set enrichment used {gsea_engine} on the Wald statistic with "
        f"{cfg.gene_sets.permutations} gene-label permutations (seed {cfg.seed}), set sizes "
        f"{cfg.gene_sets.min_size}-{cfg.gene_sets.max_size}, FDR per collection; permutation p-values are "
        f"(b + 1) / (m + 1) (Phipson & Smyth 2010); "
        + (
            "sets no permutation reached got fgsea's adaptive multilevel p-value (Korotkevich et al., "
            "GSEApy's port) with its log2err. "
            if cfg.gene_sets.multilevel
            else f"none is below 1 / ({cfg.gene_sets.permutations} + 1). "
        )
        + f"Over-representation of the significant up and down genes (padj < {cfg.alpha}, separately) was "
        f"tested per set with the hypergeometric upper tail (scipy's hypergeom, equal to R's phyper), "
        f"universe = the genes with an adjusted p-value, Benjamini-Hochberg within collection and direction. "
        f"Sample QC used scanpy {versions.get('scanpy')} on the blind variance-stabilising transformation. "
        f"Runs were orchestrated with Prefect {versions.get('prefect')}."
    )


def _ora_top(ora: pd.DataFrame, top: int = 10) -> pd.DataFrame:
    """The ``top`` sets per direction by p-value (with an overlap) for the report."""
    if not len(ora):
        return pd.DataFrame(columns=["direction", "term", "collection", "overlap", "set_size", "padj"])
    shown = ora[ora["overlap"] > 0].sort_values("pval", kind="mergesort").groupby("direction", sort=False)
    cols = [
        "direction",
        "term",
        "collection",
        "overlap",
        "set_size",
        "de_genes",
        "pval",
        "padj",
        "overlap_genes",
    ]
    return shown.head(top)[cols]


def write_report(
    folder: Path,
    cfg: StudyConfig,
    *,
    run_id: str,
    results: list[ContrastResult],
    qc: QCResult,
    figures: dict[str, str],
    manifest: dict[str, Any],
    warnings: list[str],
    n_genes: int,
) -> Path:
    """Render ``report.html`` into ``folder`` (the partial run folder) and return its path."""
    contrasts = []
    for r in results:
        n = r.contrast.name
        counts = de_counts(r.de, cfg.alpha)
        cur = r.gsea[r.gsea["collection"] == CURATED].sort_values("nes")
        other = r.gsea[r.gsea["collection"] != CURATED].sort_values("fdr").head(15)
        de_figs = [
            _img(folder, figures[k], cap)
            for k, cap in (
                (f"de/{n}/volcano", "Volcano: top targets and most significant genes labelled"),
                (f"de/{n}/ma", "MA plot (shrunken log2 fold change)"),
                (f"de/{n}/heatmap", "Top DE genes across samples (VST z-scores)"),
            )
            if k in figures
        ]
        gsea_figs = [
            _img(folder, v, k.split("/")[-1]) for k, v in figures.items() if k.startswith(f"gsea/{n}/")
        ]
        contrasts.append(
            {
                "name": n,
                "label": r.contrast.label,
                "n_sig": counts.significant,
                "n_up": counts.up,
                "n_down": counts.down,
                "n_tested": counts.tested,
                "n_sets": int((cur["fdr"] < cfg.gene_sets.fdr).sum()),
                "top_target": r.targets["symbol"].iloc[0] if len(r.targets) else "-",
                "no_signal": no_signal_note(r, cfg.alpha) or "",
                "n_unstable": int(
                    r.targets["stability_flag"].astype(str).str.startswith("rests on one").sum()
                ),
                "stability_on": bool(r.targets["stability_significant"].notna().any()),
                "n_novel": int(r.targets["novel_candidate"].astype(bool).sum()),
                "de_figures": de_figs,
                "de_table": _html(r.de.head(30)),
                "gsea_table": _html(
                    _with_bounds(cur)[
                        [
                            c
                            for c in (
                                "term",
                                "size",
                                "nes",
                                "pval",
                                "fdr",
                                "expected_t2dm",
                                "direction_vs_expected",
                                "stability_nes_min",
                                "stability_nes_max",
                                "stability_enriched",
                                "leading_edge",
                            )
                            if c in cur.columns
                        ]
                    ]
                ),
                "gsea_other": _html(other[["term", "collection", "size", "nes", "fdr"]]),
                "gsea_figures": gsea_figs,
                "ora_table": _html(_ora_top(r.ora)),
                "ora_figures": [
                    _img(folder, figures[f"ora/{n}"], "Over-represented sets (top 10 per direction)")
                ]
                if f"ora/{n}" in figures
                else [],
                "target_figures": [
                    _img(folder, figures[f"targets/{n}"], "Score components of the top 20 targets")
                ]
                if f"targets/{n}" in figures
                else [],
                "targets_table": _html(
                    r.targets.head(cfg.targets.top_n)[
                        [
                            "rank",
                            "symbol",
                            "gene_id",
                            "score",
                            "direction",
                            "log2FoldChange_shrunk",
                            "padj",
                            "supported_by_data",
                            "literature_direction",
                            "evidence_grade",
                            "direction_sources",
                            "stability_significant",
                            "stability_flag",
                            "evidence",
                        ]
                    ]
                ),
            }
        )
    qc_figs = [
        _img(folder, v, k.split("/")[-1].replace("_", " ")) for k, v in figures.items() if k.startswith("qc/")
    ]
    env = jinja2.Environment(
        autoescape=jinja2.select_autoescape(["html", "j2"]), undefined=jinja2.StrictUndefined
    )
    template = env.from_string(
        (files("bmsc_dge.report") / "templates" / "report.html.j2").read_text(encoding="utf-8")
    )
    mapping = manifest.get("id_mapping", {})
    html = template.render(
        study=cfg.name,
        run_id=run_id,
        created=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        versions=manifest["versions"],
        design=cfg.design,
        species=cfg.species,
        n_samples=len(qc.samples),
        n_genes=n_genes,
        prefilter=cfg.filter.method if cfg.prefilter else "off",
        id_mapping=f"{mapping.get('id_type')}, {mapping.get('n_mapped')}/{mapping.get('n_genes')} mapped",
        alpha=cfg.alpha,
        gsea_fdr=cfg.gene_sets.fdr,
        inputs=manifest["inputs"],
        contrasts=contrasts,
        qc_table=_html(qc.samples),
        qc_figures=qc_figs,
        outlier_threshold=f"{float(qc.outliers['threshold'].iloc[0]):.2f}" if len(qc.outliers) else "NA",
        dotplot=_img(folder, figures["gsea/dotplot"], "NES and FDR of curated sets across contrasts")
        if "gsea/dotplot" in figures
        else None,
        geneset_version=manifest["gene_sets"]["curated_library"],
        methods=methods_text(cfg, manifest["versions"], manifest.get("input")),
        warnings=warnings,
    )
    return write_text(html, folder / "report.html")
