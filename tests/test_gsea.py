import numpy as np
import pandas as pd
import pytest

from bmsc_dge.config import GeneSetConfig
from bmsc_dge.enrichment import GSEA_COLUMNS, ranking_from_de, run_prerank


def _ranking(seed=0, n=600):
    rng = np.random.default_rng(seed)
    genes = [f"G{i}" for i in range(n)]
    stat = rng.normal(0, 1, n)
    stat[:25] += 3.0  # G0..G24 shifted up
    return pd.Series(stat, index=genes).sort_values(ascending=False)


def test_ranking_collapses_symbols_and_drops_missing():
    de = pd.DataFrame(
        {
            "symbol": ["A", "A", "B", "C"],
            "baseMean": [10.0, 500.0, 5.0, 1.0],
            "stat": [1.0, -2.0, np.nan, 0.5],
        }
    )
    r = ranking_from_de(de)
    assert list(r.index) == ["C", "A"]
    assert r["A"] == -2.0  # the row with the larger baseMean represents A


@pytest.mark.parametrize("engine", ["bmsc-dge", "gseapy"])
def test_prerank_finds_shifted_set_and_is_seed_reproducible(engine):
    rnk = _ranking()
    sets = {"UP": [f"G{i}" for i in range(25)], "RANDOM": [f"G{i}" for i in range(300, 330)]}
    kw = {
        "collection": "test",
        "settings": GeneSetConfig(permutations=200, min_size=5, max_size=500, engine=engine),
        "seed": 9,
    }
    a = run_prerank(rnk, sets, **kw)
    b = run_prerank(rnk, sets, **kw)
    assert list(a.table.columns) == GSEA_COLUMNS
    pd.testing.assert_frame_equal(a.table, b.table)
    t = a.table.set_index("term")
    assert t.loc["UP", "nes"] > 1.5 and t.loc["UP", "fdr"] < 0.05
    assert t.loc["RANDOM", "fdr"] > 0.05
    assert t.loc["UP", "size"] == 25
    assert set(t.loc["UP", "leading_edge"].split(";")) <= set(sets["UP"])
    assert t.loc["UP", "fdr_scope"] == "per collection (test)"
    assert len(a.curves["UP"]["res"]) == len(rnk)


@pytest.mark.parametrize("engine", ["bmsc-dge", "gseapy"])
def test_prerank_with_no_set_large_enough_returns_empty_table(engine):
    res = run_prerank(
        _ranking(),
        {"TINY": ["G1", "G2"]},
        collection="x",
        settings=GeneSetConfig(permutations=100, min_size=5, max_size=500, engine=engine),
        seed=1,
    )
    assert res.table.empty and list(res.table.columns) == GSEA_COLUMNS
