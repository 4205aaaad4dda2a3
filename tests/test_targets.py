import numpy as np
import pandas as pd
import pytest

from bmsc_dge.config import TargetWeights
from bmsc_dge.genesets import GeneSet
from bmsc_dge.genesets.evidence import GeneEvidence
from bmsc_dge.targets import TARGET_COLUMNS, rank_targets


def _de():
    return pd.DataFrame(
        {
            "gene_id": ["g1", "g2", "g3", "g4"],
            "symbol": ["FOXQ1", "NULL1", "GPX4", "LOW"],
            "baseMean": [500.0, 400.0, 300.0, 1.0],
            "log2FoldChange": [-2.4, 0.05, -0.9, 3.0],
            "log2FoldChange_shrunk": [-2.4, 0.01, -0.9, 0.5],
            "lfcSE": [0.2, 0.2, 0.2, 2.0],
            "stat": [-12.0, 0.25, -4.5, 1.5],
            "pvalue": [1e-30, 0.8, 1e-5, 0.1],
            "padj": [1e-26, 0.95, 1e-3, np.nan],
        }
    )


SETS = [
    GeneSet(
        id="FOXQ1_SET",
        name="f",
        description="",
        collection="curated",
        species="human",
        genes=("FOXQ1", "GPX4"),
        expected_t2dm="down",
        evidence={"FOXQ1": ["DOI:x"], "GPX4": ["KEGG:hsa04216"]},
        gene_evidence={
            "FOXQ1": GeneEvidence("down", "A", ("DOI:x",)),
            "GPX4": GeneEvidence("down", "B", ("DOI:y",)),
        },
    )
]
GSEA = pd.DataFrame({"term": ["FOXQ1_SET"], "nes": [-2.1], "fdr": [0.001], "leading_edge": ["FOXQ1;GPX4"]})


def test_score_components_by_hand():
    t = rank_targets(_de(), GSEA, SETS, alpha=0.05, gsea_fdr=0.05, weights=TargetWeights())
    assert list(t.columns) == TARGET_COLUMNS
    assert list(t["symbol"]) == ["FOXQ1", "GPX4", "NULL1", "LOW"]
    f = t.set_index("symbol")
    # FOXQ1: s_sig = 1 (capped), s_fc = 2.4/3 -> de = sqrt(0.8); leading edge of 1 set -> 0.5;
    # prior = 0.5 member + 0.25 literature + 0.25 x 1 direction credit (grade A, down as found)
    assert f.loc["FOXQ1", "de_score"] == pytest.approx(np.sqrt(0.8))
    assert f.loc["FOXQ1", "leading_edge_score"] == 0.5
    assert f.loc["FOXQ1", "prior_score"] == 1.0
    assert f.loc["FOXQ1", "score"] == pytest.approx(0.6 * np.sqrt(0.8) + 0.25 * 0.5 + 0.15 * 1.0, abs=1e-6)
    assert (f.loc["FOXQ1", "literature_direction"], f.loc["FOXQ1", "evidence_grade"]) == ("down", "A")
    assert f.loc["FOXQ1", "direction_sources"] == "DOI:x"
    # GPX4: KEGG membership only -> no literature bonus; grade B direction -> half the credit
    assert f.loc["GPX4", "prior_score"] == 0.5 + 0.25 * 0.5
    assert f.loc["GPX4", "evidence_grade"] == "B"
    # not curated: the evidence columns are empty
    assert (f.loc["NULL1", "literature_direction"], f.loc["NULL1", "evidence_grade"]) == ("", "")
    # no padj -> no DE credit, and the evidence says why
    assert f.loc["LOW", "de_score"] == 0.0
    assert "no padj" in f.loc["LOW", "evidence"]
    assert "leading edge of FOXQ1_SET" in f.loc["FOXQ1", "evidence"]
    assert "literature: down in T2DM (grade A, DOI:x); change matches" in f.loc["FOXQ1", "evidence"]
    assert list(t["rank"]) == [1, 2, 3, 4]


def test_discordant_direction_is_reported_and_not_rewarded():
    de = _de()
    de.loc[0, ["log2FoldChange", "log2FoldChange_shrunk", "stat"]] = [2.4, 2.4, 12.0]
    t = rank_targets(de, GSEA.iloc[0:0], SETS, alpha=0.05, gsea_fdr=0.05, weights=TargetWeights())
    f = t.set_index("symbol")
    assert f.loc["FOXQ1", "prior_score"] == 0.75
    assert "change opposes it" in f.loc["FOXQ1", "evidence"]


def test_grade_c_direction_earns_no_credit_whatever_the_set_expects():
    """A set expected down whose member has only review/pathway evidence (grade C): a significant
    change in the set's direction earns no direction credit, and the evidence says why."""
    sets = [
        GeneSet(
            id="REVIEW_SET",
            name="r",
            description="",
            collection="curated",
            species="human",
            genes=("FOXQ1", "GPX4"),
            expected_t2dm="down",
            evidence={"FOXQ1": ["GO:1"], "GPX4": ["GO:1"]},
            gene_evidence={"FOXQ1": GeneEvidence("unknown", "C", ("GO:1",))},
        )
    ]
    f = rank_targets(_de(), GSEA.iloc[0:0], sets, alpha=0.05, gsea_fdr=0.05, weights=TargetWeights())
    f = f.set_index("symbol")
    for g in ("FOXQ1", "GPX4"):  # GPX4 has no entry at all: grade C as well
        assert f.loc[g, "prior_score"] == 0.5
        assert (f.loc[g, "literature_direction"], f.loc[g, "evidence_grade"]) == ("unknown", "C")
        assert f.loc[g, "direction_sources"] == ""
        assert "no gene-level direction (grade C" in f.loc[g, "evidence"]


def test_weights_change_the_order():
    """Within the significant genes the weights decide: a strong gene outside any curated set leads
    by DE weight and falls behind a weaker curated gene when only the prior counts."""
    de = _de()
    de.loc[0, ["symbol", "log2FoldChange", "log2FoldChange_shrunk", "stat"]] = ["STRONG", -3.0, -3.0, -15.0]
    by_default = rank_targets(de, GSEA, SETS, alpha=0.05, gsea_fdr=0.05, weights=TargetWeights())
    assert list(by_default["symbol"].iloc[:2]) == ["STRONG", "GPX4"]
    only_prior = TargetWeights(de=0.0, leading_edge=0.0, prior=1.0)
    by_prior = rank_targets(de, GSEA, SETS, alpha=0.05, gsea_fdr=0.05, weights=only_prior)
    assert list(by_prior["symbol"].iloc[:2]) == ["GPX4", "STRONG"]
    # significance first whatever the weights: the non-significant genes stay below
    assert set(by_prior["symbol"].iloc[2:]) == {"NULL1", "LOW"}


def test_significance_first_prior_never_lifts_a_non_significant_gene():
    """A curated, literature-backed, leading-edge gene with padj 0.2 stays below a significant
    gene that is in no curated set (which is reported as a novel candidate with its context)."""
    de = pd.DataFrame(
        {
            "gene_id": ["a", "b", "c"],
            "symbol": ["FOXQ1", "NOVEL1", "GPX4"],
            "log2FoldChange": [-3.0, 0.4, -1.0],
            "log2FoldChange_shrunk": [-3.0, 0.4, -1.0],
            "stat": [-1.5, 3.5, -4.0],
            "padj": [0.2, 0.04, 0.001],
        }
    )
    context = pd.DataFrame(
        {"term": ["HALLMARK_X", "HALLMARK_Y"], "fdr": [0.01, 0.5], "leading_edge": ["NOVEL1;Z", "NOVEL1"]}
    )
    t = rank_targets(
        de, GSEA, SETS, alpha=0.05, gsea_fdr=0.05, weights=TargetWeights(), context_gsea=context
    ).set_index("symbol")
    assert t.loc["NOVEL1", "rank"] < t.loc["FOXQ1", "rank"]
    assert t.loc["GPX4", "rank"] == 1  # significant and curated
    assert bool(t.loc["NOVEL1", "supported_by_data"]) and not bool(t.loc["FOXQ1", "supported_by_data"])
    assert bool(t.loc["NOVEL1", "novel_candidate"]) and not bool(t.loc["GPX4", "novel_candidate"])
    assert t.loc["NOVEL1", "context_sets"] == "HALLMARK_X"  # HALLMARK_Y is not enriched
    assert "novel candidate" in t.loc["NOVEL1", "evidence"]
    # the non-significant gene still has the larger score: only the group order keeps it below
    assert t.loc["FOXQ1", "score"] > t.loc["NOVEL1", "score"]


def test_stability_columns_are_joined_and_flag_reaches_the_evidence():
    stab = pd.DataFrame(
        {
            "gene_id": ["g1", "g2", "g3", "g4"],
            "stability_significant": [1.0, 0.0, 0.5, 0.0],
            "stability_rank_min": [1, 50, 2, 90],
            "stability_rank_max": [1, 400, 300, 500],
            "stability_flag": ["stable", "", "rests on one sample (S3)", ""],
        }
    )
    t = rank_targets(_de(), GSEA, SETS, alpha=0.05, gsea_fdr=0.05, weights=TargetWeights(), stability=stab)
    f = t.set_index("symbol")
    assert f.loc["GPX4", "stability_flag"] == "rests on one sample (S3)"
    assert "UNSTABLE: rests on one sample (S3)" in f.loc["GPX4", "evidence"]
    assert f.loc["FOXQ1", "stability_significant"] == 1.0
