"""Pseudobulk of a simulated donors x cell types study: sums, donor-level sheet, refusals."""

import logging

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from bmsc_dge.errors import CountsError, SampleSheetError
from bmsc_dge.pp import pseudobulk
from bmsc_dge.simulate import simulate_single_cell

GENES = [f"G{i:03d}" for i in range(120)]


@pytest.fixture(scope="module")
def cells():
    return simulate_single_cell(GENES, n_donors=6, cells_per_donor=25, seed=4)


def test_sums_and_donor_sheet_match_a_hand_made_pseudobulk(cells):
    pb = pseudobulk(cells, sample_key="donor", groups_key="cell_type", min_counts=0)
    hand = (
        pd.DataFrame(cells.X, columns=GENES)
        .groupby([cells.obs["donor"].to_numpy(), cells.obs["cell_type"].to_numpy()])
        .sum()
    )
    assert pb.n_obs == 12 and pb.n_vars == len(GENES)
    for i, row in pb.obs.iterrows():
        np.testing.assert_array_equal(
            pb.X[pb.obs_names.get_loc(i)], hand.loc[(row["donor"], row["cell_type"])].to_numpy()
        )
    assert pb.X.dtype == np.int64 and np.array_equal(pb.layers["counts"], pb.X)
    # donor-level columns become the sample sheet; the per-cell phase does not
    assert {"donor", "cell_type", "condition", "sex", "n_cells", "n_counts"} <= set(pb.obs.columns)
    assert "phase" not in pb.obs.columns and pb.uns["pseudobulk"]["varying_columns"] == ["phase"]
    donors = cells.obs.drop_duplicates("donor").set_index("donor")
    for _, row in pb.obs.iterrows():
        assert row["condition"] == donors.loc[row["donor"], "condition"]
        assert row["n_cells"] == 25
    assert list(pb.var["symbol"]) == GENES


def test_small_profiles_are_dropped_with_a_warning(cells, caplog):
    few = cells[
        ~((cells.obs["donor"] == "D01") & (cells.obs["cell_type"] == "T_cell"))
        | (np.arange(cells.n_obs) % 25 < 3)
    ].copy()
    with caplog.at_level(logging.WARNING, logger="bmsc_dge"):
        pb = pseudobulk(few, sample_key="donor", groups_key="cell_type", min_cells=10, min_counts=0)
    assert pb.n_obs == 11
    assert "D01_T_cell (3 cells)" in caplog.text


def test_log_normalised_x_is_refused_naming_the_counts_layer(cells):
    lognorm = cells.copy()
    lognorm.X = np.log1p(lognorm.X / lognorm.X.sum(axis=1, keepdims=True) * 1e4)
    with pytest.raises(CountsError, match=r"X holds values such as .*not raw counts.*layer='counts'"):
        pseudobulk(lognorm, sample_key="donor", groups_key="cell_type")
    pb = pseudobulk(lognorm, sample_key="donor", groups_key="cell_type", layer="counts", min_counts=0)
    assert pb.X.sum() == cells.X.sum()


def test_unknown_key_and_missing_layer_are_named(cells):
    with pytest.raises(SampleSheetError, match=r"'patient' is not a column of adata\.obs"):
        pseudobulk(cells, sample_key="patient")
    with pytest.raises(CountsError, match="layer 'raw' not found"):
        pseudobulk(cells, sample_key="donor", layer="raw")


def test_sparse_input_gives_the_same_sums(cells):
    from scipy import sparse

    sp = ad.AnnData(
        X=sparse.csr_matrix(cells.X.astype(np.float32)), obs=cells.obs.copy(), var=cells.var.copy()
    )
    a = pseudobulk(sp, sample_key="donor", groups_key="cell_type", min_counts=0)
    b = pseudobulk(cells, sample_key="donor", groups_key="cell_type", min_counts=0)
    np.testing.assert_array_equal(a.X, b.X)
