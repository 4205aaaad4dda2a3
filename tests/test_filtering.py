import numpy as np
import pandas as pd
import pytest
from formulaic import model_matrix

from bmsc_dge.pp import filter_by_expr, filter_min_count, min_sample_size


def _design(groups):
    return np.asarray(model_matrix("~ g", pd.DataFrame({"g": groups})), dtype=float)


def test_min_sample_size_is_smallest_group_for_one_factor():
    assert min_sample_size(_design(["a"] * 3 + ["b"] * 5)) == pytest.approx(3.0, rel=1e-12)


def test_filter_by_expr_hand_computed():
    # Six samples, groups of 3; a filler gene pins every library at exactly 1e6 reads, so the
    # CPM cut-off is min_count / 1 = 10 CPM = 10 reads.
    genes = np.array(
        [
            [10, 10, 10, 0, 0, 0],  # 3 samples at the cut-off, total 30 -> keep
            [10, 10, 9, 0, 0, 0],  # only 2 samples reach it -> drop
            [5, 5, 5, 5, 5, 5],  # nowhere above -> drop
            [12, 11, 10, 0, 0, 0],  # keep
            [0, 0, 0, 14, 14, 14],  # keep (other group)
        ],
        dtype=float,
    ).T
    filler = 1e6 - genes.sum(axis=1, keepdims=True)
    counts = np.hstack([genes, filler])
    keep = filter_by_expr(counts, _design(["a"] * 3 + ["b"] * 3))
    assert keep.tolist() == [True, False, False, True, True, True]


def test_filter_by_expr_total_count_rule():
    genes = np.array([[8, 8, 0, 0]], dtype=float).T  # passes CPM in 2 samples but total 16 >= 15
    counts = np.hstack([genes, 8e5 - genes])
    keep = filter_by_expr(counts, _design(["a", "a", "b", "b"]), min_count=1, min_total_count=17)
    assert keep.tolist() == [False, True]


def test_large_n_reduction():
    # 30 samples in two groups of 15: n_min = 10 + (15 - 10) * 0.7 = 13.5 -> needs 14 samples
    design = _design(["a"] * 15 + ["b"] * 15)
    g = np.zeros((30, 2))
    g[:14, 0] = 100
    g[:13, 1] = 100
    counts = np.hstack([g, 1e6 - g.sum(axis=1, keepdims=True)])
    assert filter_by_expr(counts, design).tolist() == [True, False, True]


def test_min_count_rule():
    counts = np.array([[10, 10, 0], [10, 9, 0], [10, 10, 0]], dtype=float)
    assert filter_min_count(counts, 3).tolist() == [True, False, False]
