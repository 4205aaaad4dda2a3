r"""Target ranking: one table per contrast with a documented score and an evidence column.

Score (each component in [0, 1]; weights from ``targets.weights``, normalised to sum 1):

``de``
    :math:`\sqrt{s_{sig} \cdot s_{fc}}` with :math:`s_{sig} = \min(-\log_{10} p_{adj}, 10) / 10`
    and :math:`s_{fc} = \min(|\mathrm{LFC}|, 3) / 3`, using the shrunken log2 fold change where
    available. The geometric mean asks for both significance and size; genes without ``padj``
    (independent filtering, Cook's outliers, all-zero) score 0.
``leading_edge``
    :math:`\min(1, k / 2)` where :math:`k` is the number of curated sets significant at the GSEA
    FDR threshold whose leading edge contains the gene.
``prior``
    0.5 for membership of any curated set, +0.25 when a checked literature reference (citation
    table status ``verified``) supports the gene in that set, and a **direction credit** of
    :math:`0.25 \cdot w` when the gene is significant (``padj < alpha``) and changes in its own
    gene-level T2DM direction (:mod:`bmsc_dge.genesets.evidence`), with :math:`w` = 1 for grade A
    (measured in T2DM bone cells/BMSCs or under high glucose), 0.5 for grade B (another diabetic
    tissue, or the pathway in BMSCs) and 0 for grade C (review or pathway membership only, whose
    gene-level direction is ``unknown``). A set's ``expected_t2dm`` frames GSEA; it earns a gene
    nothing. ``literature_direction``, ``evidence_grade`` and ``direction_sources`` show what the
    credit rests on, and the ``evidence`` text names the source.

**Significance first.** Genes with ``padj < alpha`` (``supported_by_data``) always rank above
genes without: the score (and so the curated prior and leading-edge membership) orders genes
*within* the significant and within the non-significant group, never lifts a non-significant gene
above a significant one. Within a group ties are broken by the absolute Wald statistic.

**Novel candidates.** A significant gene in no curated set is a ``novel_candidate``; its
``context_sets`` lists the Hallmark / GO / user sets (enriched at the GSEA FDR threshold) whose
leading edge holds it, so strong changes outside the curated library stay visible.

**Stability.** With leave-one-out refits (:mod:`bmsc_dge.targets._stability`) the ``stability_*`` columns
say how often a call survives dropping one sample, and ``stability_flag`` marks targets that rest
on one sample. The ``evidence`` column spells out each component in words.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from bmsc_dge.calls import significant
from bmsc_dge.config import TargetWeights
from bmsc_dge.genesets.evidence import GeneEvidence
from bmsc_dge.genesets.registry import GeneSet, citation_label

TARGET_COLUMNS = [
    "rank",
    "gene_id",
    "symbol",
    "score",
    "direction",
    "log2FoldChange",
    "log2FoldChange_shrunk",
    "padj",
    "stat",
    "de_score",
    "leading_edge_score",
    "prior_score",
    "leading_edge_sets",
    "curated_sets",
    "literature_direction",
    "evidence_grade",
    "direction_sources",
    "evidence",
    "supported_by_data",
    "novel_candidate",
    "context_sets",
    "stability_significant",
    "stability_rank_min",
    "stability_rank_max",
    "stability_flag",
]


def _fmt_p(p: float) -> str:
    return "NA" if not np.isfinite(p) else f"{p:.2g}"


def rank_targets(
    de: pd.DataFrame,
    curated_gsea: pd.DataFrame,
    curated_sets: Sequence[GeneSet],
    *,
    alpha: float,
    gsea_fdr: float,
    weights: TargetWeights,
    stability: pd.DataFrame | None = None,
    context_gsea: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Rank genes of one contrast as candidate targets.

    Parameters
    ----------
    de
        DE table (:data:`bmsc_dge.deseq2._fit.DE_COLUMNS`).
    curated_gsea
        GSEA table of the curated collection for the same contrast.
    curated_sets
        Curated gene sets in the data's symbols.
    alpha
        DE significance threshold.
    gsea_fdr
        FDR threshold for a curated set to count as enriched.
    weights
        Component weights.
    stability
        Per-gene leave-one-out summary (:data:`bmsc_dge.targets._stability.GENE_COLUMNS`), or ``None``.
    context_gsea
        GSEA rows of the non-curated collections (Hallmark, GO, user GMTs), for the context of
        novel candidates.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TARGET_COLUMNS`, sorted by rank (1 = best).
    """
    out = de[["gene_id", "symbol", "log2FoldChange", "log2FoldChange_shrunk", "padj", "stat"]].copy()
    lfc = out["log2FoldChange_shrunk"].where(out["log2FoldChange_shrunk"].notna(), out["log2FoldChange"])
    padj = out["padj"].to_numpy(dtype=float)
    s_sig = np.where(np.isfinite(padj), np.minimum(-np.log10(np.clip(padj, 1e-300, 1.0)), 10.0) / 10.0, 0.0)
    s_fc = np.minimum(np.abs(lfc.fillna(0.0).to_numpy(dtype=float)), 3.0) / 3.0
    out["de_score"] = np.sqrt(s_sig * s_fc)
    called = significant(out, alpha)
    out["direction"] = np.where(lfc.fillna(0) > 0, "up", np.where(lfc.fillna(0) < 0, "down", "none"))

    le_map = _leading_edges(curated_gsea, gsea_fdr)
    member: dict[str, list[GeneSet]] = {}
    for s in curated_sets:
        for g in s.genes:
            member.setdefault(g, []).append(s)

    sym = out["symbol"].astype(str).to_numpy()
    lfc_values = lfc.to_numpy(dtype=float)
    le_score = np.zeros(len(out))
    prior = np.zeros(len(out))
    le_txt, cur_txt, evidence, lit_dir, grade, dir_src = [], [], [], [], [], []
    for i, g in enumerate(sym):
        les, sets = le_map.get(g, []), member.get(g, [])
        direction = str(out["direction"].iat[i])
        le_score[i] = min(1.0, len(les) / 2.0)
        lit = any(s.verified_citations(g) for s in sets)
        gene_ev = _gene_evidence(g, sets)
        credit = gene_ev.weight if called[i] and gene_ev.direction == direction else 0.0
        prior[i] = (0.5 if sets else 0.0) + (0.25 if lit else 0.0) + 0.25 * credit
        le_txt.append(";".join(x.split(" (")[0] for x in les))
        cur_txt.append(";".join(s.id for s in sets))
        lit_dir.append(gene_ev.direction if sets else "")
        grade.append(gene_ev.grade if sets else "")
        dir_src.append(";".join(t for t in gene_ev.sources if gene_ev.grade != "C") if sets else "")
        evidence.append(
            _evidence_text(direction, lfc_values[i], float(padj[i]), bool(called[i]), les, sets, gene_ev, lit)
        )
    out["leading_edge_score"] = le_score
    out["prior_score"] = prior
    w = np.array([weights.de, weights.leading_edge, weights.prior], dtype=float)
    w = w / w.sum() if w.sum() > 0 else np.array([1.0, 0.0, 0.0])
    out["score"] = w[0] * out["de_score"] + w[1] * le_score + w[2] * prior
    out["leading_edge_sets"] = le_txt
    out["curated_sets"] = cur_txt
    out["literature_direction"] = lit_dir
    out["evidence_grade"] = grade
    out["direction_sources"] = dir_src
    out["evidence"] = evidence
    out["supported_by_data"] = called
    out["novel_candidate"] = called & (out["curated_sets"] == "")
    out["context_sets"] = _context(sym, context_gsea, gsea_fdr)
    novel = out["novel_candidate"].to_numpy()
    out.loc[novel, "evidence"] = [
        e
        + (
            f" | novel candidate (no curated set); leading edge of {c}"
            if c
            else " | novel candidate (no curated set)"
        )
        for e, c in zip(out.loc[novel, "evidence"], out.loc[novel, "context_sets"], strict=True)
    ]
    out = _add_stability(out, stability)
    out["_abs_stat"] = out["stat"].abs().fillna(0.0)
    out = out.sort_values(
        ["supported_by_data", "score", "_abs_stat"], ascending=[False, False, False], kind="mergesort"
    )
    out["rank"] = np.arange(1, len(out) + 1)
    out["score"] = out["score"].round(6)
    return out[TARGET_COLUMNS].reset_index(drop=True)


def _leading_edges(curated_gsea: pd.DataFrame, gsea_fdr: float) -> dict[str, list[str]]:
    """Gene -> "TERM (NES .., FDR ..)" of every enriched curated set whose leading edge holds it."""
    sig_sets = curated_gsea.loc[curated_gsea["fdr"] < gsea_fdr] if len(curated_gsea) else curated_gsea
    le_map: dict[str, list[str]] = {}
    for term, nes, fdr, edge in zip(
        sig_sets["term"].astype(str),
        sig_sets["nes"].to_numpy(dtype=float),
        sig_sets["fdr"].to_numpy(dtype=float),
        sig_sets["leading_edge"].astype(str),
        strict=True,
    ):
        for g in edge.split(";"):
            if g:
                le_map.setdefault(g, []).append(f"{term} (NES {nes:+.2f}, FDR {_fmt_p(fdr)})")
    return le_map


def _gene_evidence(gene: str, sets: list[GeneSet]) -> GeneEvidence:
    """The gene-level evidence of a curated gene (the same in every set; best grade if not)."""
    found = [s.evidence_for(gene) for s in sets]
    return min(found, key=lambda e: e.grade) if found else GeneEvidence()


def _direction_text(direction: str, significant: bool, ev: GeneEvidence) -> str:
    """How the change relates to the gene-level literature direction, naming the source."""
    cited = ", ".join(citation_label(t) for t in ev.sources)
    if ev.grade == "C":
        return "no gene-level direction (grade C: review or pathway membership only)"
    if ev.direction in ("up", "down"):
        txt = f"literature: {ev.direction} in T2DM (grade {ev.grade}, {cited})"
        if significant:
            txt += "; change matches" if ev.direction == direction else "; change opposes it"
        return txt
    return f"literature: {ev.direction} (grade {ev.grade}, {cited})"


def _evidence_text(
    direction: str,
    lfc: float,
    padj: float,
    significant: bool,
    leading_edges: list[str],
    sets: list[GeneSet],
    gene_ev: GeneEvidence,
    literature: bool,
) -> str:
    """The ``evidence`` column of one gene: DE call, leading edges, curated sets, direction, literature."""
    parts = []
    if significant:
        parts.append(f"DE {direction}: log2FC {lfc:+.2f}, padj {_fmt_p(padj)}")
    elif np.isfinite(padj):
        parts.append(f"not significant (padj {_fmt_p(padj)})")
    else:
        parts.append("no padj (filtered: low mean count, Cook's outlier or all zero)")
    if leading_edges:
        parts.append("leading edge of " + ", ".join(leading_edges))
    if sets:
        txt = (
            "curated in "
            + ", ".join(s.id for s in sets)
            + "; "
            + _direction_text(direction, significant, gene_ev)
        )
        if literature:
            txt += "; literature-supported membership"
        parts.append(txt)
    return " | ".join(parts)


def _context(symbols: np.ndarray, context_gsea: pd.DataFrame | None, gsea_fdr: float) -> list[str]:
    """Enriched non-curated sets whose leading edge holds each gene (``;``-joined)."""
    if context_gsea is None or context_gsea.empty:
        return [""] * len(symbols)
    hits: dict[str, list[str]] = {}
    enriched = context_gsea[context_gsea["fdr"] < gsea_fdr]
    for term, edge in zip(enriched["term"].astype(str), enriched["leading_edge"].astype(str), strict=True):
        for g in edge.split(";"):
            if g:
                hits.setdefault(g, []).append(term)
    return [";".join(hits.get(str(g), [])[:5]) for g in symbols]


def _add_stability(out: pd.DataFrame, stability: pd.DataFrame | None) -> pd.DataFrame:
    """Join the leave-one-out columns (empty when no stability was computed)."""
    cols = ["stability_significant", "stability_rank_min", "stability_rank_max", "stability_flag"]
    if stability is None or stability.empty:
        for col in cols:
            out[col] = "" if col == "stability_flag" else np.nan
        return out
    st = stability.set_index("gene_id")
    for col in cols:
        out[col] = st[col].reindex(out["gene_id"]).to_numpy()
    out["stability_flag"] = out["stability_flag"].fillna("").astype(str)
    flagged = out["stability_flag"].str.startswith("rests on one sample").to_numpy()
    out.loc[flagged, "evidence"] = [
        f"{e} | UNSTABLE: {f} (significant in {s:.0%} of leave-one-out fits)"
        for e, f, s in zip(
            out.loc[flagged, "evidence"],
            out.loc[flagged, "stability_flag"],
            out.loc[flagged, "stability_significant"].astype(float),
            strict=True,
        )
    ]
    return out
