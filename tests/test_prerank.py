"""bmsc-dge's pre-ranked GSEA against gseapy: same statistic, same formulas, permutation noise only."""

import gseapy
import numpy as np
import pandas as pd
import pytest

from bmsc_dge.enrichment._prerank import _es, prerank, running_score, walk_extremes

STATS = ["NES", "NOM p-val", "FDR q-val", "FWER p-val"]


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(21)
    genes = np.array([f"GENE{i}" for i in range(5000)])
    metric = rng.normal(size=genes.size)
    sets = {}
    for i in range(40):
        members = rng.choice(genes.size, int(rng.integers(10, 300)), replace=False)
        if i < 6:  # planted: shifted up or down
            metric[members] += 1.0 if i % 2 == 0 else -1.0
        sets[f"SET{i:02d}"] = list(genes[members])
    ranking = pd.Series(metric, index=genes).sort_values(ascending=False)
    return ranking, sets


def _gseapy(ranking, sets, seed):
    pre = gseapy.prerank(
        rnk=ranking,
        gene_sets=sets,
        permutation_num=1000,
        seed=seed,
        min_size=5,
        max_size=500,
        threads=1,
        outdir=None,
        no_plot=True,
        verbose=False,
    )
    return pre


@pytest.fixture(scope="module")
def compared(problem):
    ranking, sets = problem
    # add_one=False: gseapy's own b / m, so the permutation statistics can be compared with it
    ours = prerank(
        ranking,
        sets,
        permutations=1000,
        seed=1,
        min_size=5,
        max_size=500,
        curves_for=["SET00"],
        add_one=False,
    )
    g1, g2 = _gseapy(ranking, sets, 1), _gseapy(ranking, sets, 2)
    return ours, g1, g2


def test_hit_walk_equals_the_full_running_score():
    rng = np.random.default_rng(3)
    for weight in (1.0, 0.0, 2.0):
        w = np.abs(rng.normal(size=800)) ** weight
        for k in (1, 2, 17, 400):
            hits = np.sort(rng.choice(800, k, replace=False))
            res = running_score(hits, w)
            full = res.max() if abs(res.max()) > abs(res.min()) else res.min()
            tops, bottoms = walk_extremes(hits.astype(float), w[hits], 800)
            assert _es(tops, bottoms) == pytest.approx(full, abs=1e-12)


def test_scores_and_leading_edges_equal_gseapy(compared):
    ours, g1, _ = compared
    a = ours.table.set_index("Term")
    b = g1.res2d.set_index("Term").loc[a.index]
    np.testing.assert_allclose(a["ES"], b["ES"].astype(float), atol=1e-12)
    assert (a["Lead_genes"] == b["Lead_genes"]).all()
    assert (a["Tag %"] == b["Tag %"]).all() and (a["Gene %"] == b["Gene %"]).all()


def test_running_curve_equals_gseapy(compared):
    ours, g1, _ = compared
    np.testing.assert_allclose(ours.curves["SET00"]["res"], g1.results["SET00"]["RES"], atol=1e-12)
    assert ours.curves["SET00"]["hits"].tolist() == list(g1.results["SET00"]["hits"])


def test_permutation_statistics_within_gseapys_own_seed_to_seed_noise(compared):
    """Stated tolerance: for every statistic, the largest difference from gseapy (seed 1) is at most
    1.5x the largest difference between gseapy seed 1 and seed 2, plus 0.02."""
    ours, g1, g2 = compared
    a = ours.table.set_index("Term")
    b = g1.res2d.set_index("Term").loc[a.index]
    c = g2.res2d.set_index("Term").loc[a.index]
    for col in STATS:
        ours_gap = np.abs(a[col] - b[col].astype(float)).max()
        seed_gap = np.abs(c[col].astype(float) - b[col].astype(float)).max()
        assert ours_gap <= 1.5 * seed_gap + 0.02, (col, ours_gap, seed_gap)
    planted = [f"SET{i:02d}" for i in range(6)]
    assert (a.loc[planted, "FDR q-val"] < 0.05).all() and (
        b.loc[planted, "FDR q-val"].astype(float) < 0.05
    ).all()
    assert (np.sign(a.loc[planted, "NES"]) == [1, -1, 1, -1, 1, -1]).all()


def test_seeded_and_size_filtered(problem):
    ranking, sets = problem
    one = prerank(ranking, sets, permutations=200, seed=4, min_size=50, max_size=200)
    again = prerank(ranking, sets, permutations=200, seed=4, min_size=50, max_size=200)
    other = prerank(ranking, sets, permutations=200, seed=5, min_size=50, max_size=200)
    pd.testing.assert_frame_equal(one.table, again.table)
    assert not one.table["NES"].equals(other.table["NES"])
    assert one.table["size"].between(50, 200).all()
    expected = sum(50 <= len(v) <= 200 for v in sets.values())
    assert len(one.table) == expected


def test_no_set_passes_gives_empty_table(problem):
    ranking, _ = problem
    assert prerank(ranking, {"X": ["absent1", "absent2"]}, permutations=100).table.empty


def test_permutation_pvalues_are_never_zero(problem):
    """Phipson & Smyth: (b + 1) / (m + 1); the planted sets reach the floor and are flagged."""
    ranking, sets = problem
    res = prerank(ranking, sets, permutations=200, seed=1, min_size=5, max_size=500).table.set_index("Term")
    raw = prerank(ranking, sets, permutations=200, seed=1, min_size=5, max_size=500, add_one=False).table
    raw = raw.set_index("Term").loc[res.index]
    for col in ("NOM p-val", "FDR q-val", "FWER p-val"):
        assert (res[col] > 0).all(), col
        assert (res[col] >= raw[col] - 1e-12).all(), col  # never smaller than gseapy's b / m
    assert (raw["NOM p-val"] == 0).any()  # the trap: gseapy's formula gives 0 here
    flagged = res["pval_bound"].to_numpy(dtype=bool)
    np.testing.assert_array_equal(flagged, (raw["NOM p-val"] == 0).to_numpy())
    assert (res.loc[flagged, "NOM p-val"] <= 1 / 50).all()  # 1 / (m + 1) with m ~ half of 200
