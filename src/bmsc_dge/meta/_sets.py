"""Set-level meta-analysis: each study's GSEA of a curated or Hallmark set, combined.

Method: the weighted Z-method (Stouffer's Z with weights; Whitlock 2005, J Evol Biol 18:1368,
doi:10.1111/j.1420-9101.2005.00917.x), weights the square roots of the studies' sample sizes
(Zaykin 2011, J Evol Biol 24:1836, doi:10.1111/j.1420-9101.2011.02297.x). Each study's two-sided
permutation p-value and the sign of its NES give a signed z, ``z_s = sign(NES) *
Phi^-1(1 - p_s / 2)``; ``Z = sum(w_s z_s) / sqrt(sum(w_s^2))``, two-sided p, BH within each
collection. Permutation p-values are never 0 (``(b + 1) / (m + 1)``), so ``z_s`` is finite; with
1,000 permutations ``|z_s| <= 3.3``. Consistency: ``n_up`` / ``n_down`` (studies with NES > 0 /
< 0) and the mean NES.

A set's meta leading edge holds the genes (in the report species) that sit in the set's leading
edge in at least two studies where the set is enriched at the GSEA FDR threshold; it feeds the
meta targets' leading-edge component as a study's leading edges feed its targets.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy.stats import norm

from bmsc_dge.config import CURATED
from bmsc_dge.deseq2 import bh_adjust

SET_META_COLUMNS = [
    "term",
    "collection",
    "n_studies",
    "z",
    "pval",
    "fdr",
    "mean_nes",
    "n_up",
    "n_down",
    "leading_edge",
]
COLLECTIONS = (CURATED, "hallmark")


def meta_sets(
    gseas: Mapping[str, pd.DataFrame],
    sample_sizes: Mapping[str, int],
    *,
    gsea_fdr: float = 0.05,
    min_studies: int = 2,
    symbol_maps: Mapping[str, Mapping[str, str]] | None = None,
) -> pd.DataFrame:
    """Combine each curated / Hallmark set's GSEA across studies.

    Parameters
    ----------
    gseas
        Study -> GSEA table (``term``, ``collection``, ``nes``, ``pval``, ``fdr``, ``leading_edge``).
    sample_sizes
        Study -> number of samples (weights ``sqrt(n)``).
    gsea_fdr
        FDR at which a study's set counts as enriched (for the meta leading edge).
    min_studies
        Sets tested in fewer studies are left out.
    symbol_maps
        Study -> {study symbol: report-species symbol} for leading-edge genes of other species.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SET_META_COLUMNS` plus ``<study>_nes`` and ``<study>_fdr`` per study,
        sorted by collection and p-value.
    """
    rows = []
    for study, g in gseas.items():
        sub = g[g["collection"].isin(COLLECTIONS) & np.isfinite(g["nes"]) & np.isfinite(g["pval"])]
        mapping = (symbol_maps or {}).get(study)
        edges = [
            ";".join(
                x
                for x in ((mapping.get(e) if mapping is not None else e) for e in str(le).split(";") if e)
                if x
            )
            if f < gsea_fdr
            else ""
            for le, f in zip(sub["leading_edge"].fillna(""), sub["fdr"].to_numpy(dtype=float), strict=True)
        ]
        rows.append(
            sub.assign(study=study, edge=edges)[["term", "collection", "study", "nes", "pval", "fdr", "edge"]]
        )
    long = pd.concat(rows, ignore_index=True)
    long["z"] = np.sign(long["nes"]) * norm.isf(np.clip(long["pval"], 1e-300, 1.0) / 2)
    long["w"] = long["study"].map(lambda s: np.sqrt(float(sample_sizes[s])))
    out = []
    for (term, collection), grp in long.groupby(["term", "collection"], sort=False):
        if len(grp) < min_studies:
            continue
        z = float((grp["w"] * grp["z"]).sum() / np.sqrt((grp["w"] ** 2).sum()))
        counts: dict[str, int] = {}
        for edge in grp["edge"]:
            for gene in set(filter(None, edge.split(";"))):
                counts[gene] = counts.get(gene, 0) + 1
        row = {
            "term": term,
            "collection": collection,
            "n_studies": len(grp),
            "z": z,
            "pval": float(2 * norm.sf(abs(z))),
            "mean_nes": float(grp["nes"].mean()),
            "n_up": int((grp["nes"] > 0).sum()),
            "n_down": int((grp["nes"] < 0).sum()),
            "leading_edge": ";".join(sorted(g for g, n in counts.items() if n >= 2)),
        }
        for s, nes, fdr in zip(grp["study"], grp["nes"], grp["fdr"], strict=True):
            row[f"{s}_nes"], row[f"{s}_fdr"] = float(nes), float(fdr)
        out.append(row)
    table = pd.DataFrame(out)
    if table.empty:
        return pd.DataFrame(columns=SET_META_COLUMNS)
    table["fdr"] = np.nan
    for collection in table["collection"].unique():
        idx = table["collection"] == collection
        table.loc[idx, "fdr"] = bh_adjust(table.loc[idx, "pval"].to_numpy())
    study_cols = [c for s in gseas for c in (f"{s}_nes", f"{s}_fdr") if c in table.columns]
    table = table.sort_values(["collection", "pval"], kind="mergesort")
    return table[SET_META_COLUMNS + study_cols].reset_index(drop=True)
