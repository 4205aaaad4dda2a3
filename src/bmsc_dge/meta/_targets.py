"""Meta targets: significance on the meta padj first, then the curated prior and consistency.

The score is the one of a study's targets (:mod:`bmsc_dge.targets._rank`: DE component from the
meta padj and pooled log2FC, leading-edge component from curated sets significant in the set-level
meta, curated prior), multiplied by the **consistency** across studies, ``max(n_up, n_down) /
n_studies``. Significant genes (meta ``padj < alpha``) rank first, as in a study.

**Leave one study out**: the meta-analysis is repeated without each study in turn (a gene left
with one study gets that study's own z-test, metafor's ``k = 1`` case), with BH over genes; a
target significant with all studies that loses significance when some single study is dropped is
flagged ``rests on <study>``: its evidence depends on that study alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from bmsc_dge.calls import significant
from bmsc_dge.config import CURATED, TargetWeights
from bmsc_dge.deseq2 import bh_adjust
from bmsc_dge.genesets.registry import GeneSet
from bmsc_dge.meta._rma import rma
from bmsc_dge.targets import TARGET_COLUMNS, rank_targets

META_TARGET_COLUMNS = [
    *[c for c in TARGET_COLUMNS if not c.startswith("stability_") and c != "log2FoldChange_shrunk"],
    "n_studies",
    "n_up",
    "n_down",
    "consistency",
    "I2",
    "loso_significant",
    "loso_flag",
]


def leave_one_study_out(
    table: pd.DataFrame, studies: Sequence[str], method: str, alpha: float
) -> pd.DataFrame:
    """Repeat the meta-analysis without each study in turn.

    Per gene: the fraction of single-study drops after which it stays significant, and the studies
    whose drop costs a significant gene its significance.

    Returns
    -------
    pandas.DataFrame
        ``gene_id``, ``loso_significant`` (0-1), ``loso_flag`` (``rests on <study>[, <study>]`` or
        empty).
    """
    y = table[[f"{s}_log2FoldChange" for s in studies]].to_numpy(dtype=float)
    v = table[[f"{s}_lfcSE" for s in studies]].to_numpy(dtype=float) ** 2
    full = significant(table, alpha)
    kept = np.zeros(len(table))
    measured = np.zeros(len(table))
    lost: list[list[str]] = [[] for _ in range(len(table))]
    for j, study in enumerate(studies):
        has = np.isfinite(y[:, j])
        yj, vj = y.copy(), v.copy()
        yj[:, j] = np.nan
        res = rma(yj, vj, method, min_studies=1)
        sig = bh_adjust(res.pvalue) < alpha
        kept += np.where(has, sig, full)
        measured += 1
        for i in np.flatnonzero(full & has & ~sig):
            lost[i].append(study)
    return pd.DataFrame(
        {
            "gene_id": table["gene_id"].to_numpy(),
            "loso_significant": kept / np.maximum(measured, 1),
            "loso_flag": ["rests on " + ", ".join(s) if s else "" for s in lost],
        }
    )


def meta_targets(
    genes: pd.DataFrame,
    sets: pd.DataFrame,
    curated: Sequence[GeneSet],
    loso: pd.DataFrame,
    *,
    alpha: float,
    gsea_fdr: float,
    weights: TargetWeights,
) -> pd.DataFrame:
    """Rank the meta-analysed genes as targets (columns :data:`META_TARGET_COLUMNS`)."""
    de = genes[["gene_id", "symbol", "log2FoldChange", "padj", "stat"]].assign(log2FoldChange_shrunk=np.nan)
    curated_meta = (
        sets[sets["collection"] == CURATED].rename(columns={"mean_nes": "nes"}) if len(sets) else sets
    )
    if curated_meta.empty:
        curated_meta = pd.DataFrame(columns=["term", "nes", "fdr", "leading_edge"])
    ranked = rank_targets(de, curated_meta, curated, alpha=alpha, gsea_fdr=gsea_fdr, weights=weights)
    extra = genes.set_index("gene_id")[["n_studies", "n_up", "n_down", "I2"]]
    out = ranked.join(extra, on="gene_id")
    out["consistency"] = out[["n_up", "n_down"]].max(axis=1) / out["n_studies"]
    out = out.merge(loso, on="gene_id", how="left")
    out["loso_flag"] = out["loso_flag"].fillna("")
    out["score"] = (out["score"] * out["consistency"]).round(6)
    out["evidence"] = [
        f"{e} | {max(u, d)}/{n} studies {'up' if u >= d else 'down'}, I2 {i2:.0f}%"
        + (f" | UNSTABLE: {f} (significant in {s:.0%} of leave-one-study-out analyses)" if f else "")
        for e, u, d, n, i2, f, s in zip(
            out["evidence"],
            out["n_up"],
            out["n_down"],
            out["n_studies"],
            out["I2"].fillna(0.0),
            out["loso_flag"],
            out["loso_significant"].fillna(0.0),
            strict=True,
        )
    ]
    out["_abs_stat"] = out["stat"].abs().fillna(0.0)
    out = out.sort_values(
        ["supported_by_data", "score", "_abs_stat"], ascending=[False, False, False], kind="mergesort"
    )
    out["rank"] = np.arange(1, len(out) + 1)
    return out[META_TARGET_COLUMNS].reset_index(drop=True)
