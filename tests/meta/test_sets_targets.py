"""Set-level meta (weighted Z) and leave-one-study-out, on hand-checkable numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from bmsc_dge.meta import leave_one_study_out, meta_genes, meta_sets


def _gsea(rows):
    return pd.DataFrame(rows, columns=["term", "collection", "nes", "pval", "fdr", "leading_edge"])


def test_weighted_z_combines_signed_permutation_p_values():
    a = _gsea([("S", "curated", -1.8, 0.002, 0.01, "FOXQ1;GPX4"), ("H", "hallmark", 1.2, 0.2, 0.5, "")])
    b = _gsea([("S", "curated", -1.5, 0.03, 0.04, "FOXQ1;RUNX2"), ("H", "hallmark", -1.1, 0.3, 0.6, "")])
    c = _gsea([("S", "curated", 0.9, 0.4, 0.7, "")])
    out = meta_sets({"a": a, "b": b, "c": c}, {"a": 6, "b": 8, "c": 4}).set_index("term")
    z = np.array([-norm.isf(0.001), -norm.isf(0.015), norm.isf(0.2)])
    w = np.sqrt([6, 8, 4])
    expected = (w * z).sum() / np.sqrt((w**2).sum())
    assert out.loc["S", "z"] == pytest.approx(expected, rel=1e-12)
    assert out.loc["S", "pval"] == pytest.approx(2 * norm.sf(abs(expected)), rel=1e-12)
    assert (out.loc["S", "n_up"], out.loc["S", "n_down"], out.loc["S", "n_studies"]) == (1, 2, 3)
    assert out.loc["S", "leading_edge"] == "FOXQ1"  # in the leading edge of >= 2 enriched studies
    assert out.loc["H", "n_studies"] == 2 and out.loc["S", "a_nes"] == -1.8
    # BH within each collection: one set per collection, fdr = p
    assert out.loc["H", "fdr"] == pytest.approx(out.loc["H", "pval"])


def test_sets_of_one_study_are_left_out():
    a = _gsea([("S", "curated", -1.8, 0.002, 0.01, "")])
    b = _gsea([("T", "curated", -1.8, 0.002, 0.01, "")])
    assert meta_sets({"a": a, "b": b}, {"a": 4, "b": 4}).empty


def _de(lfc, se):
    genes = [f"G{i}" for i in range(len(lfc))]
    return pd.DataFrame(
        {
            "gene_id": genes,
            "symbol": genes,
            "baseMean": 100.0,
            "log2FoldChange": lfc,
            "lfcSE": se,
            "padj": 0.5,
        }
    )


def test_leave_one_study_out_flags_genes_resting_on_one_study():
    # G0: strong and consistent in all three; G1: strong in study a only, others imprecise
    rng = np.random.default_rng(3)
    n = 300
    base = rng.normal(0, 0.05, (3, n))
    lfc = base.copy()
    se = np.full((3, n), 0.2)
    lfc[:, 0] = [-1.5, -1.4, -1.6]
    lfc[:, 1] = [1.5, 0.9, 1.1]
    se[1:, 1] = 0.9
    des = {s: _de(lfc[i], se[i]) for i, s in enumerate("abc")}
    table = meta_genes(des, dict.fromkeys("abc", "human")).table
    loso = leave_one_study_out(table, list("abc"), "reml", 0.05).set_index("gene_id")
    sig = table.set_index("gene_id")["padj"] < 0.05
    assert sig["G0"] and sig["G1"]
    assert loso.loc["G0", "loso_flag"] == "" and loso.loc["G0", "loso_significant"] == 1.0
    assert loso.loc["G1", "loso_flag"] == "rests on a"
    assert loso.loc["G1", "loso_significant"] == pytest.approx(2 / 3)
