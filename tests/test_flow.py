"""End-to-end runs of the Prefect flow (against a temporary Prefect server)."""

import json

import numpy as np
import pandas as pd
import pytest

from flows.analysis import run_config

from .conftest import ROOT, write_study

DE_COLS = [
    "gene_id",
    "symbol",
    "baseMean",
    "log2FoldChange",
    "lfcSE",
    "stat",
    "pvalue",
    "padj",
    "log2FoldChange_shrunk",
]
GSEA_COLS = ["term", "collection", "size", "es", "nes", "pval", "fdr", "leading_edge"]


@pytest.mark.e2e
def test_small_study_outputs_and_reruns(prefect_harness, tmp_path):
    paths = write_study(tmp_path / "s", coordinated=0.5)
    first = run_config(paths["config"])
    name = "T2DM_vs_control"
    de = pd.read_csv(first / "tables" / "de" / f"{name}.deseq2.tsv", sep="\t")
    gsea = pd.read_csv(first / "tables" / "gsea" / f"{name}.gsea.tsv", sep="\t")
    targets = pd.read_csv(first / "tables" / "targets" / f"{name}.targets.tsv", sep="\t")
    assert list(de.columns)[: len(DE_COLS)] == DE_COLS
    assert set(GSEA_COLS) <= set(gsea.columns)
    assert list(targets.columns[:4]) == ["rank", "gene_id", "symbol", "score"] and "evidence" in targets
    assert "FOXQ1" in set(targets["symbol"].head(10))
    for f in (
        "summary.md",
        "manifest.json",
        "warnings.txt",
        "small.xlsx",
        "tables/qc/samples.tsv",
        "tables/genesets/coverage.tsv",
    ):
        assert (first / f).is_file(), f
    manifest = json.loads((first / "manifest.json").read_text())
    assert manifest["inputs"]["counts"]["sha256"] and manifest["seeds"]["gsea_permutations"] == 3
    assert manifest["versions"]["pydeseq2"] == "0.5.4"
    second = run_config(paths["config"])
    assert second != first and first.is_dir()
    assert (second.parent.parent / "latest").resolve() == second.resolve()
    # same seed, same inputs -> identical tables
    for sub in ("de", "gsea", "targets"):
        a = (first / "tables" / sub).iterdir().__next__()
        assert a.read_bytes() == (second / "tables" / sub / a.name).read_bytes()
    assert not list((first.parent.parent).glob(".partial-*"))


@pytest.fixture(scope="module")
def example_run(prefect_harness, tmp_path_factory):
    out = tmp_path_factory.mktemp("example")
    return run_config(ROOT / "configs" / "example.yaml", out)


@pytest.mark.e2e
def test_example_recovers_the_planted_biology(example_run):
    name = "T2DM_vs_control"
    targets = pd.read_csv(example_run / "tables" / "targets" / f"{name}.targets.tsv", sep="\t")
    assert "FOXQ1" in set(targets["symbol"].head(10))
    gsea = pd.read_csv(example_run / "tables" / "gsea" / f"{name}.gsea.tsv", sep="\t")
    cur = gsea[gsea["collection"] == "curated"].set_index("term")
    up = ["BMSC_FERROPTOSIS_DRIVERS"]
    down = [
        "BMSC_FERROPTOSIS_SUPPRESSORS",
        "BMSC_NIPA2_PGC1A_FOXO3A_MITOPHAGY_AXIS",
        "BMSC_WNT_AGONISTS",
        "BMSC_BMP_SMAD_SIGNALLING",
    ]
    for t in up:
        assert cur.loc[t, "nes"] > 0 and cur.loc[t, "fdr"] < 0.05, t
    for t in down:
        assert cur.loc[t, "nes"] < 0 and cur.loc[t, "fdr"] < 0.05, t


@pytest.mark.e2e
def test_example_random_sets_stay_null(example_run):
    """>= 95% of random gene sets of the curated sizes stay at FDR >= 0.05 on the example."""
    from bmsc_dge.gsea import ranking_from_de, run_prerank

    de = pd.read_csv(example_run / "tables" / "de" / "T2DM_vs_control.deseq2.tsv", sep="\t")
    ranking = ranking_from_de(de)
    gsea = pd.read_csv(example_run / "tables" / "gsea" / "T2DM_vs_control.gsea.tsv", sep="\t")
    sizes = gsea.loc[gsea["collection"] == "curated", "size"].to_numpy()
    rng = np.random.default_rng(2026)
    genes = ranking.index.to_numpy()
    sets = {
        f"RANDOM_{i:03d}": list(rng.choice(genes, int(rng.choice(sizes)), replace=False)) for i in range(200)
    }
    res = run_prerank(
        ranking, sets, collection="random", permutations=1000, seed=20261128, min_size=5, max_size=600
    )
    share_null = (res.table["fdr"] >= 0.05).mean()
    assert len(res.table) == 200
    assert share_null >= 0.95, share_null
