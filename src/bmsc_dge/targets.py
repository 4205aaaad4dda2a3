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
    0.5 for membership of any curated set, +0.25 when a literature reference (PMID/DOI) supports
    the gene in that set, +0.25 when the gene is significant (``padj < alpha``) and changes in
    the direction the literature expects for T2DM in one of its sets.

Ties are broken by the absolute Wald statistic. The ``evidence`` column spells out each
component in words.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from bmsc_dge.config import TargetWeights
from bmsc_dge.genesets.registry import GeneSet

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
    "evidence",
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
) -> pd.DataFrame:
    """Rank genes of one contrast as candidate targets.

    Parameters
    ----------
    de
        DE table (:data:`bmsc_dge.de.DE_COLUMNS`).
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
    significant = np.isfinite(padj) & (padj < alpha)
    out["direction"] = np.where(lfc.fillna(0) > 0, "up", np.where(lfc.fillna(0) < 0, "down", "none"))

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
    member: dict[str, list[GeneSet]] = {}
    for s in curated_sets:
        for g in s.genes:
            member.setdefault(g, []).append(s)

    sym = out["symbol"].astype(str).to_numpy()
    le_score = np.zeros(len(out))
    prior = np.zeros(len(out))
    le_txt, cur_txt, evidence = [], [], []
    for i, g in enumerate(sym):
        les = le_map.get(g, [])
        le_score[i] = min(1.0, len(les) / 2.0)
        sets = member.get(g, [])
        # Evidence was curated on human symbols; look up case-insensitively for mouse/rat sets.
        lit = any(
            any(t.startswith(("PMID", "DOI")) for t in s.evidence.get(g, s.evidence.get(g.upper(), [])))
            for s in sets
        )
        concordant = [s for s in sets if significant[i] and s.expected_t2dm == out["direction"].iat[i]]
        discordant = [
            s
            for s in sets
            if significant[i]
            and s.expected_t2dm in ("up", "down")
            and s.expected_t2dm != out["direction"].iat[i]
        ]
        prior[i] = (0.5 if sets else 0.0) + (0.25 if lit else 0.0) + (0.25 if concordant else 0.0)
        le_txt.append(";".join(x.split(" (")[0] for x in les))
        cur_txt.append(";".join(s.id for s in sets))
        parts = []
        if significant[i]:
            parts.append(f"DE {out['direction'].iat[i]}: log2FC {lfc.iat[i]:+.2f}, padj {_fmt_p(padj[i])}")
        elif np.isfinite(padj[i]):
            parts.append(f"not significant (padj {_fmt_p(padj[i])})")
        else:
            parts.append("no padj (filtered: low mean count, Cook's outlier or all zero)")
        if les:
            parts.append("leading edge of " + ", ".join(les))
        if sets:
            txt = "curated in " + ", ".join(s.id for s in sets)
            if concordant:
                txt += f"; change matches expected T2DM direction ({concordant[0].expected_t2dm})"
            elif discordant:
                txt += f"; change opposes expected T2DM direction ({discordant[0].expected_t2dm})"
            if lit:
                txt += "; literature-supported"
            parts.append(txt)
        evidence.append(" | ".join(parts))
    out["leading_edge_score"] = le_score
    out["prior_score"] = prior
    w = np.array([weights.de, weights.leading_edge, weights.prior], dtype=float)
    w = w / w.sum() if w.sum() > 0 else np.array([1.0, 0.0, 0.0])
    out["score"] = w[0] * out["de_score"] + w[1] * le_score + w[2] * prior
    out["leading_edge_sets"] = le_txt
    out["curated_sets"] = cur_txt
    out["evidence"] = evidence
    out["_abs_stat"] = out["stat"].abs().fillna(0.0)
    out = out.sort_values(["score", "_abs_stat"], ascending=[False, False], kind="mergesort")
    out["rank"] = np.arange(1, len(out) + 1)
    out["score"] = out["score"].round(6)
    return out[TARGET_COLUMNS].reset_index(drop=True)
