"""ORA: equal to R's phyper/p.adjust on a committed reference, and to the exact tail of its counts."""

from fractions import Fraction
from math import comb
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bmsc_dge.enrichment import ORA_COLUMNS, de_gene_lists, ora
from bmsc_dge.genesets import read_gmt

DATA = Path(__file__).resolve().parents[1] / "data" / "ora"


@pytest.fixture(scope="module")
def result():
    de = pd.read_csv(DATA / "de.tsv", sep="\t")
    sets = {c: {t: g for t, (_d, g) in read_gmt(DATA / f"{c}.gmt").items()} for c in ("pathways", "programs")}
    return ora(de, sets, alpha=0.05, min_size=5, max_size=600)


def test_equals_r_phyper_and_p_adjust(result):
    ref = pd.read_csv(DATA / "reference.csv")
    assert list(result.columns) == ORA_COLUMNS
    key = ["collection", "direction", "term"]
    got = result.set_index(key).sort_index()
    want = ref.set_index(key).sort_index()
    assert got.index.equals(want.index)  # same sets tested (size filter, absent genes, duplicates)
    for col in ("set_size", "overlap", "universe", "de_genes"):
        np.testing.assert_array_equal(got[col].to_numpy(int), want[col].to_numpy(int), err_msg=col)
    np.testing.assert_allclose(got["pval"], want["pval"], rtol=1e-10, atol=0)
    np.testing.assert_allclose(got["padj"], want["padj"], rtol=1e-10, atol=0)
    assert (want["pval"] < 1e-6).any() and (want["overlap"] == 0).any()  # the reference has both ends


def test_pvalues_are_the_exact_hypergeometric_tail_of_their_counts(result):
    """P(X >= k) summed exactly in rationals from the table's own counts."""
    for row in result.itertuples():
        n_univ, size, drawn, k = row.universe, row.set_size, row.de_genes, row.overlap
        tail = Fraction(
            sum(comb(size, i) * comb(n_univ - size, drawn - i) for i in range(k, min(size, drawn) + 1)),
            comb(n_univ, drawn),
        )
        assert row.pval == pytest.approx(float(tail), rel=1e-10, abs=1e-300), row.term


def test_overlap_genes_are_the_significant_members_in_padj_order(result):
    de = pd.read_csv(DATA / "de.tsv", sep="\t")
    universe, lists = de_gene_lists(de, 0.05)
    sets = {t: g for t, (_d, g) in read_gmt(DATA / "pathways.gmt").items()}
    row = result[(result.term == "PATHWAYS_00") & (result.direction == "up")].iloc[0]
    genes = row.overlap_genes.split(";")
    assert len(genes) == row.overlap and set(genes) <= set(sets["PATHWAYS_00"]) & set(lists["up"])
    assert genes == [g for g in lists["up"] if g in set(genes)]
    assert row.universe == len(universe) and universe.is_unique
    # a duplicated symbol is represented once, by its higher-baseMean row
    assert de["symbol"].duplicated().sum() == 10


def test_no_significant_genes_gives_an_empty_table_with_the_columns():
    de = pd.DataFrame(
        {"symbol": ["A", "B"], "baseMean": [1.0, 2.0], "log2FoldChange": [1.0, -1.0], "padj": [0.5, 0.9]}
    )
    out = ora(de, {"c": {"S": ["A", "B"]}}, alpha=0.05, min_size=1)
    assert out.empty and list(out.columns) == ORA_COLUMNS
