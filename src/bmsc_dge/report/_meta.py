"""Write one meta-analysis run: tables, forest plots, report, summary and manifest.

Files (under the run folder)::

    tables/meta/<name>.meta.tsv        gene table (pooled estimate, tau2, I2, Q, per-study columns)
    tables/meta/<name>.gsea_meta.tsv   curated and Hallmark sets combined across studies
    tables/meta/<name>.targets.tsv     meta targets with leave-one-study-out flags
    tables/meta/<name>.unmapped.tsv    genes left out for lack of a one-to-one ortholog
    (each also as .parquet; all in <name>.xlsx)
    figures/meta/forest_<gene>.{png,svg}, forest_set_<set>.{png,svg}, heterogeneity.{png,svg}
    report.html, summary.md, manifest.json, warnings.txt
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any

import jinja2
import pandas as pd

from bmsc_dge._atomic import write_json, write_text, write_tsv
from bmsc_dge.calls import significant
from bmsc_dge.config import CURATED, MetaConfig
from bmsc_dge.genesets import library_version
from bmsc_dge.meta import MetaResult
from bmsc_dge.pl import meta as pl_meta
from bmsc_dge.pl import save_figure
from bmsc_dge.report._export import write_parquet, write_workbook
from bmsc_dge.report._html import _html, _img
from bmsc_dge.runs import RunDir, package_versions

METHOD_TEXT = {
    "reml": "random effects, tau² by restricted maximum likelihood (metafor's rma default, Fisher scoring)",
    "dl": "random effects, tau² by DerSimonian-Laird",
    "fixed": "fixed effect (inverse variance)",
}


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", name)


def meta_summary_markdown(cfg: MetaConfig, result: MetaResult, top_n: int = 10) -> str:
    """A short Markdown summary of a meta-analysis run (also a Prefect artifact)."""
    genes, targets = result.genes.table, result.targets
    sig = significant(genes, cfg.alpha)
    lines = [f"# bmsc-dge meta-analysis: {cfg.name}", ""]
    if not sig.any():
        lines += [
            f"**No gene reaches meta padj < {cfg.alpha}.** The ranked list below is not supported by the data.",
            "",
        ]
    lines += [
        f"- method: {METHOD_TEXT[cfg.method]}; genes reported in {cfg.species} (matched on {result.genes.key})",
        "- studies: "
        + "; ".join(
            f"{s.name} ({s.species}, {s.n_samples} samples, contrast {s.contrast})" for s in result.studies
        ),
        f"- {len(genes)} genes in >= {cfg.min_studies} studies; {int(sig.sum())} at meta padj < {cfg.alpha} "
        f"({int((sig & (genes['log2FoldChange'] > 0)).sum())} up, {int((sig & (genes['log2FoldChange'] < 0)).sum())} down)",
    ]
    if len(result.genes.unmapped):
        lines.append(f"- genes without a one-to-one ortholog, left out: {len(result.genes.unmapped)}")
    flagged = targets[targets["loso_flag"].astype(str) != ""]
    lines.append(
        f"- leave-one-study-out: {len(flagged)} significant gene(s) rest on one study"
        + (f": {', '.join(flagged['symbol'].astype(str).head(8))}" if len(flagged) else "")
    )
    sets = (
        result.sets[(result.sets["collection"] == CURATED) & (result.sets["fdr"] < cfg.gsea_fdr)]
        if len(result.sets)
        else result.sets
    )
    lines += ["", f"## Curated sets at meta FDR < {cfg.gsea_fdr}: {len(sets)}", ""]
    if len(sets):
        lines += ["| set | z | FDR | studies up / down |", "|---|---|---|---|"]
        lines += [
            f"| {r.term} | {r.z:+.2f} | {r.fdr:.2g} | {r.n_up} / {r.n_down} |" for r in sets.itertuples()
        ]
    lines += [
        "",
        "## Top targets",
        "",
        "| rank | gene | log2FC | padj | studies up/down | I2 | flag |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in targets.head(top_n).itertuples():
        p = float(r.padj)  # type: ignore[arg-type]
        padj = "NA" if p != p else f"{p:.2g}"
        lines.append(
            f"| {r.rank} | {r.symbol} | {r.log2FoldChange:+.2f} | {padj} | {r.n_up}/{r.n_down} | {r.I2:.0f}% | {r.loso_flag} |"
        )
    return "\n".join(lines) + "\n"


def _figures(run: RunDir, cfg: MetaConfig, result: MetaResult) -> dict[str, str]:
    studies = [s.name for s in result.studies]
    out: dict[str, str] = {}
    genes = result.genes.table.set_index("gene_id")
    top = result.targets[result.targets["supported_by_data"]].head(cfg.forest_top)
    if top.empty:
        top = result.targets.head(min(cfg.forest_top, 3))
    for gene_id, symbol, flag in zip(
        top["gene_id"].astype(str), top["symbol"].astype(str), top["loso_flag"].astype(str), strict=True
    ):
        row = pd.Series(genes.loc[gene_id])
        row["loso_flag"] = flag
        ax = pl_meta.forest(row, studies, label=symbol)
        rel = ("figures", "meta", f"forest_{_safe(symbol)}")
        save_figure(ax, run.path(*rel))
        out[f"forest/{symbol}"] = "/".join(rel) + ".png"
    sets = result.sets
    curated: pd.DataFrame = sets[sets["collection"] == CURATED].head(cfg.forest_top) if len(sets) else sets
    for _, set_row in curated.iterrows():
        term = str(set_row["term"])
        ax = pl_meta.set_forest(set_row, studies)
        rel = ("figures", "meta", f"forest_set_{_safe(term)}")
        save_figure(ax, run.path(*rel))
        out[f"forest_set/{term}"] = "/".join(rel) + ".png"
    ax = pl_meta.heterogeneity(result.genes.table, cfg.alpha)
    save_figure(ax, run.path("figures", "meta", "heterogeneity"))
    out["heterogeneity"] = "figures/meta/heterogeneity.png"
    return out


def write_meta_outputs(
    run: RunDir, cfg: MetaConfig, result: MetaResult, *, warnings: list[str], extra: dict[str, Any]
) -> dict[str, Any]:
    """Write every file of a meta-analysis run into ``run``'s partial folder; return the manifest."""
    tables = {
        "meta": result.genes.table,
        "gsea_meta": result.sets,
        "targets": result.targets,
        "unmapped": result.genes.unmapped,
    }
    written: dict[str, str] = {}
    for label, df in tables.items():
        p = write_tsv(df, run.path("tables", "meta", f"{cfg.name}.{label}.tsv"))
        write_parquet(df, p.with_suffix(".parquet"))
        written[f"meta/{label}"] = str(p.relative_to(run.partial))
    wb = write_workbook({k: v for k, v in tables.items()}, run.path(f"{cfg.name}.xlsx"))
    written["workbook"] = str(wb.relative_to(run.partial))
    figures = _figures(run, cfg, result)
    written.update({f"figure:{k}": v for k, v in figures.items()})
    summary = meta_summary_markdown(cfg, result)
    write_text(summary, run.path("summary.md"))
    write_text("\n".join(warnings) + ("\n" if warnings else ""), run.path("warnings.txt"))
    manifest: dict[str, Any] = {
        "run_id": run.run_id,
        "meta": cfg.name,
        "config": cfg.model_dump(mode="json"),
        "studies": {
            s.name: {"run": str(s.run), "contrast": s.contrast, "species": s.species, "samples": s.n_samples}
            for s in result.studies
        },
        "matched_on": result.genes.key,
        "genes_per_study": result.genes.per_study,
        "versions": package_versions(),
        "gene_sets": {"curated_library": library_version()},
        "files": {**written, "report": "report.html", "summary": "summary.md", "manifest": "manifest.json"},
        **extra,
    }
    _report(run, cfg, result, figures, manifest, warnings)
    write_json(manifest, run.path("manifest.json"))
    return manifest


def _report(
    run: RunDir,
    cfg: MetaConfig,
    result: MetaResult,
    figures: dict[str, str],
    manifest: dict[str, Any],
    warnings: list[str],
) -> None:
    env = jinja2.Environment(
        autoescape=jinja2.select_autoescape(["html", "j2"]), undefined=jinja2.StrictUndefined
    )
    template = env.from_string(
        (files("bmsc_dge.report") / "templates" / "meta_report.html.j2").read_text(encoding="utf-8")
    )
    studies = pd.DataFrame(
        [
            {
                "study": s.name,
                "species": s.species,
                "samples": s.n_samples,
                "contrast": s.contrast,
                "genes used": result.genes.per_study.get(s.name, 0),
                "run": str(s.run),
            }
            for s in result.studies
        ]
    )
    targets = result.targets.head(30)[
        [
            "rank",
            "symbol",
            "log2FoldChange",
            "padj",
            "n_studies",
            "n_up",
            "n_down",
            "I2",
            "loso_flag",
            "literature_direction",
            "evidence_grade",
            "evidence",
        ]
    ]
    sets = (
        result.sets.head(30)[["term", "collection", "n_studies", "z", "fdr", "mean_nes", "n_up", "n_down"]]
        if len(result.sets)
        else pd.DataFrame()
    )
    html = template.render(
        name=cfg.name,
        run_id=run.run_id,
        created=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        versions=manifest["versions"],
        method=METHOD_TEXT[cfg.method],
        species=cfg.species,
        alpha=cfg.alpha,
        matched_on=result.genes.key,
        n_genes=len(result.genes.table),
        n_sig=int(significant(result.genes.table, cfg.alpha).sum()),
        studies_table=_html(studies),
        targets_table=_html(targets),
        sets_table=_html(sets) if len(sets) else "<p>No set was tested in enough studies.</p>",
        gene_forests=[
            _img(run.partial, v, k.split("/", 1)[1]) for k, v in figures.items() if k.startswith("forest/")
        ],
        set_forests=[
            _img(run.partial, v, k.split("/", 1)[1])
            for k, v in figures.items()
            if k.startswith("forest_set/")
        ],
        heterogeneity=_img(run.partial, figures["heterogeneity"], "pooled log2FC vs I²"),
        n_unmapped=len(result.genes.unmapped),
        warnings=warnings,
    )
    write_text(html, run.path("report.html"))
