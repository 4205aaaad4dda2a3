"""Write every figure of a run (PNG + SVG) from its computed tables.

Layout under the run folder::

    figures/qc/library_sizes, correlation, pca_<variable>
    figures/de/<contrast>.volcano, .ma, .heatmap
    figures/gsea/<contrast>/<set id>.running   (every curated set)
    figures/gsea/curated_dotplot               (NES x FDR across sets and contrasts)
    figures/targets/<contrast>.evidence
"""

from __future__ import annotations

import logging

import pandas as pd

from bmsc_dge import pl
from bmsc_dge.config import StudyConfig
from bmsc_dge.qc import QCResult, heatmap_matrix
from bmsc_dge.results import ContrastResult
from bmsc_dge.rundir import RunDir

logger = logging.getLogger(__name__)


def _save(run: RunDir, fig: object, *parts: str) -> str:
    stem = run.path(*parts)
    pl.save_figure(fig, stem)  # type: ignore[arg-type]
    return str((stem.parent / f"{stem.name}.png").relative_to(run.partial))


def volcano_labels(result: ContrastResult, alpha: float, n_targets: int = 10, n_top: int = 5) -> list[str]:
    """Symbols to label: the top targets plus the most significant genes."""
    sig = result.de[result.de["padj"] < alpha]
    return list(dict.fromkeys([*result.targets["symbol"].head(n_targets), *sig["symbol"].head(n_top)]))


def write_figures(
    run: RunDir, cfg: StudyConfig, results: list[ContrastResult], qc: QCResult
) -> dict[str, str]:
    """Draw and save all figures; return ``label -> PNG path relative to the run folder``."""
    out: dict[str, str] = {}
    design_vars = [v for v in cfg.design_variables if v in qc.pca.columns]
    categorical = [v for v in design_vars if not pd.api.types.is_float_dtype(qc.pca[v])]
    main_var = next(
        (c.variable for c in cfg.contrasts if c.variable), categorical[0] if categorical else None
    )
    out["qc/library_sizes"] = _save(
        run, pl.library_sizes(qc.samples, color=main_var), "figures", "qc", "library_sizes"
    )
    out["qc/correlation"] = _save(run, pl.correlation_heatmap(qc.correlation), "figures", "qc", "correlation")
    for var in categorical:
        marker = main_var if var != main_var else None
        out[f"qc/pca_{var}"] = _save(
            run,
            pl.pca_plot(qc.pca, qc.variance_ratio, color=var, marker=marker),
            "figures",
            "qc",
            f"pca_{var}",
        )
    dots = []
    for r in results:
        n = r.contrast.name
        labels = volcano_labels(r, cfg.alpha)
        title = f"{n}: {r.contrast.label}"
        out[f"de/{n}/volcano"] = _save(
            run, pl.volcano(r.de, alpha=cfg.alpha, label=labels, title=title), "figures", "de", f"{n}.volcano"
        )
        out[f"de/{n}/ma"] = _save(
            run, pl.ma_plot(r.de, alpha=cfg.alpha, label=labels[:10], title=title), "figures", "de", f"{n}.ma"
        )
        top = r.de[r.de["padj"].notna()].head(40)
        top = top[top["gene_id"].isin(qc.vst.columns)]
        if len(top):
            z = heatmap_matrix(qc.vst, list(top["gene_id"]), labels=list(top["symbol"]))
            groups = qc.pca.set_index("sample")[main_var] if main_var else pd.Series(dtype=str)
            out[f"de/{n}/heatmap"] = _save(
                run,
                pl.top_gene_heatmap(z, groups, title=f"{n}: top {len(top)} genes"),
                "figures",
                "de",
                f"{n}.heatmap",
            )
        cur = r.gsea[r.gsea["collection"] == "curated"]
        ranking = r.ranking
        for term, nes, fdr in zip(
            cur["term"].astype(str),
            cur["nes"].to_numpy(dtype=float),
            cur["fdr"].to_numpy(dtype=float),
            strict=True,
        ):
            curve = r.curves.get(term)
            if not curve or ranking is None:
                continue
            fig = pl.running_score(curve, ranking, term=term, nes=nes, fdr=fdr)
            out[f"gsea/{n}/{term}"] = _save(run, fig, "figures", "gsea", n, f"{term}.running")
        dots.append(cur.assign(contrast=n)[["term", "contrast", "nes", "fdr"]])
        out[f"targets/{n}"] = _save(
            run,
            pl.target_evidence(r.targets, cfg.targets.weights, title=f"{n}: top targets"),
            "figures",
            "targets",
            f"{n}.evidence",
        )
    if dots and any(len(d) for d in dots):
        out["gsea/dotplot"] = _save(
            run,
            pl.enrichment_dotplot(pd.concat(dots, ignore_index=True), fdr=cfg.gene_sets.fdr),
            "figures",
            "gsea",
            "curated_dotplot",
        )
    logger.info("wrote %d figures", len(out))
    return out
