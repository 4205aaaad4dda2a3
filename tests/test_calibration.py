"""Calibration on simulated studies: nulls stay null, planted truth keeps FDR at or below nominal.

Simulations use realistic dispersions (DESeq2 parametric trend 0.06 + 1/mu with log-normal
scatter, as in the bundled example) and are seeded.
"""

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from bmsc_dge.config import Contrast, DEConfig, GeneSetConfig
from bmsc_dge.deseq2 import contrast_table, fit_deseq2
from bmsc_dge.enrichment import ranking_from_de, run_prerank
from bmsc_dge.simulate import simulate_two_group

C = Contrast(name="c", variable="condition", target="T2DM", reference="control")
CFG = DEConfig(n_cpus=1, lfc_shrink=False)
N_GENES = 2000


def _de(seed: int, effects: pd.Series | None = None, n_per_group: int = 4) -> pd.DataFrame:
    genes = pd.DataFrame(
        {"gene_id": [f"g{i:05d}" for i in range(N_GENES)], "symbol": [f"G{i:05d}" for i in range(N_GENES)]}
    )
    study = simulate_two_group(
        genes,
        n_per_group=n_per_group,
        seed=seed,
        log2_effects=effects,
        lib_size_range=(8e6, 12e6),
        batch_sd=0.0,
    )
    mat = study.counts.to_numpy().T
    adata = ad.AnnData(
        X=mat,
        obs=pd.DataFrame(index=study.counts.columns),
        var=pd.DataFrame({"symbol": genes["symbol"].to_numpy()}, index=genes["gene_id"].to_numpy()),
    )
    adata.layers["counts"] = mat.copy()
    frame = study.samples[["condition"]].astype(str)
    fit = fit_deseq2(adata, frame, "~ condition", {"condition": "control"}, CFG)
    return contrast_table(fit, C, 0.05, CFG)


@pytest.fixture(scope="module")
def null_tables():
    return [_de(seed) for seed in (101, 102, 103)]


def test_null_studies_call_almost_nothing(null_tables):
    calls = sum(int((t["padj"] < 0.05).sum()) for t in null_tables)
    tested = sum(int(t["pvalue"].notna().sum()) for t in null_tables)
    assert calls / tested <= 0.002, (calls, tested)
    # p-values of a null study are roughly uniform: ~5% below 0.05 (DESeq2 is slightly conservative)
    p = pd.concat([t["pvalue"] for t in null_tables]).dropna()
    assert 0.02 <= (p < 0.05).mean() <= 0.07


def test_null_gene_sets_stay_null(null_tables):
    rng = np.random.default_rng(7)
    share = []
    for t in null_tables:
        ranking = ranking_from_de(t)
        sets = {
            f"S{i}": list(rng.choice(ranking.index, int(rng.integers(10, 60)), replace=False))
            for i in range(60)
        }
        res = run_prerank(
            ranking,
            sets,
            collection="null",
            settings=GeneSetConfig(permutations=500, multilevel=False),
            seed=11,
        )
        share.append((res.table["fdr"] < 0.05).mean())
    assert np.mean(share) <= 0.05, share


def test_planted_truth_fdr_at_or_below_nominal():
    """6 vs 6 donors, as the bundled example. At 4 vs 4 with this dispersion scatter the observed FDP
    is ~10% for R DESeq2 and for us alike (docs/statistics.md); that is DESeq2's behaviour, not ours."""
    fdps, n_calls = [], 0
    for seed in (201, 202, 203):
        rng = np.random.default_rng(seed)
        de_idx = rng.choice(N_GENES, 200, replace=False)
        lfc = rng.choice([-1, 1], 200) * rng.uniform(0.8, 2.5, 200)
        effects = pd.Series(lfc, index=[f"g{i:05d}" for i in de_idx])
        t = _de(seed, effects, n_per_group=6)
        called = t.loc[t["padj"] < 0.05, "gene_id"]
        false = (~called.isin(effects.index)).sum()
        fdps.append(false / max(len(called), 1))
        n_calls += len(called)
        assert len(called) > 50  # the test has power: most planted genes are found
    mean_fdp = float(np.mean(fdps))
    se = np.sqrt(0.05 * 0.95 / n_calls)
    assert mean_fdp <= 0.05 + 2 * se, (fdps, n_calls)
